"""Parsing and validation of client input: JSON bodies, the create parameters and integer ids."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from vpsconform.reference.errors import ApiError, invalid
from vpsconform.reference.options import TargetOptions

NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]+")
NAME_MAX_LENGTH = 255
_INTEGER = re.compile(r"[+-]?[0-9]+")


@dataclass(frozen=True)
class CreateRequest:
    """A validated create: the server, the snapshot name and the stored description."""

    server_id: int
    name: str
    description: str | None


def _reject_constant(name: str) -> Any:
    """Refuse NaN and Infinity, which are not JSON."""
    raise ValueError(f"{name} is not valid JSON")


def parse_json(raw: bytes) -> Any:
    """Decode a JSON document; anything undecodable is a 400, never a crash."""
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise ApiError(
            400, "parse_error", "JSON parse error - the body is not a valid JSON document."
        ) from exc


def _json_type(value: Any) -> str:
    """The JSON name of a decoded value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "string" if isinstance(value, str) else "array"


def parse_int(text: str) -> int | None:
    """An ASCII decimal integer (optional sign), or None for anything else, absurdly long ones included."""
    if not _INTEGER.fullmatch(text):
        return None
    try:
        return int(text)
    except ValueError:  # more digits than int() accepts
        return None


def _server_id(body: dict[str, Any], options: TargetOptions) -> tuple[int | None, str | None]:
    """The create's server_id, or the reason it is refused."""
    if "server_id" not in body:
        return None, "This field is required."
    value = body["server_id"]
    if value is None:
        return None, "This field may not be null."
    if isinstance(value, int) and not isinstance(value, bool):
        return value, None
    if isinstance(value, str) and options.variant("numeric-strings"):
        number = parse_int(value)
        if number is not None:
            return number, None
    return None, "A valid integer is required."


def _name(body: dict[str, Any]) -> tuple[str | None, str | None]:
    """The create's name, or the reason it is refused."""
    if "name" not in body:
        return None, "This field is required."
    value = body["name"]
    if value is None:
        return None, "This field may not be null."
    if not isinstance(value, str):
        return None, "Not a valid string."
    if not value:
        return None, "This field may not be blank."
    if len(value) > NAME_MAX_LENGTH:
        return None, f"Ensure this field has no more than {NAME_MAX_LENGTH} characters."
    if not NAME_PATTERN.fullmatch(value):
        return None, "Only ASCII letters, digits, hyphens and underscores are allowed."
    return value, None


def _description(body: dict[str, Any], options: TargetOptions) -> tuple[str | None, str | None]:
    """The create's stored description, or the reason it is refused."""
    value = body.get("description")
    if value is None:
        return ("" if options.variant("empty-description") else None), None
    if not isinstance(value, str):
        return None, "Not a valid string."
    return value, None


def parse_create(raw: bytes, options: TargetOptions) -> CreateRequest:
    """Validate a create body completely (every field error reported at once) before any lookup."""
    body = parse_json(raw)
    if not isinstance(body, dict):
        raise invalid(f"Invalid data. Expected a JSON object, but got {_json_type(body)}.")
    server_id, server_error = _server_id(body, options)
    name, name_error = _name(body)
    description, description_error = _description(body, options)
    problems = [
        f"{field}: {error}"
        for field, error in (
            ("server_id", server_error),
            ("name", name_error),
            ("description", description_error),
        )
        if error
    ]
    if problems or server_id is None or name is None:
        raise invalid(" ".join(problems))
    return CreateRequest(server_id, name, description)
