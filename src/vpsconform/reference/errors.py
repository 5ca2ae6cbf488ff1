"""API errors raised by the store, validation and auth, rendered in the target's error layout."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vpsconform.reference.options import TargetOptions
from vpsconform.reference.responses import JSONResponse


class ApiError(Exception):
    """A client-visible error: HTTP status, machine code, human message and extra headers."""

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def not_found(what: str = "Not found.") -> ApiError:
    """404 that never tells an absent object from another account's."""
    return ApiError(404, "not_found", what)


def invalid(message: str, code: str = "invalid") -> ApiError:
    """400 for a request the API refuses (bad parameters, limit, state)."""
    return ApiError(400, code, message)


def server_error() -> ApiError:
    """A deliberate 500, answered as a response (injected faults only; the faithful target never crashes)."""
    return ApiError(500, "server_error", "Internal server error.")


def error_body(code: str, message: str, options: TargetOptions) -> dict[str, Any]:
    """The JSON body of an error in the layout the options select."""
    if options.variant("error-layout"):
        return {"error": {"code": code, "message": message}}
    return {"detail": message}


def error_response(error: ApiError, options: TargetOptions) -> JSONResponse:
    """Render `error` as a JSON response with its headers."""
    return JSONResponse(error_body(error.code, error.message, options), error.status, headers=error.headers)
