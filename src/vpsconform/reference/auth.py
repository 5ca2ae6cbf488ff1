"""Bearer-token authentication, checked before anything else on every API route."""

from __future__ import annotations

import re

from vpsconform.reference.errors import ApiError
from vpsconform.reference.options import TargetOptions
from vpsconform.reference.seed import Account
from vpsconform.reference.store import Store

_WHITESPACE = re.compile(r"[ \t]+")
_TOKEN68 = re.compile(
    r"[A-Za-z0-9._~+/-]+=*"
)  # RFC 7235 token68: what a "well-formed" bearer token looks like


def _challenge(options: TargetOptions, invalid_token: bool) -> str:
    """The WWW-Authenticate value (RFC 6750 §3): error only when a token was sent and refused."""
    if options.variant("bare-challenge"):
        return "Bearer"
    return 'Bearer realm="api", error="invalid_token"' if invalid_token else 'Bearer realm="api"'


def _refuse(options: TargetOptions, message: str, invalid_token: bool) -> ApiError:
    """A 401 with its challenge header."""
    code = "authentication_failed" if invalid_token else "not_authenticated"
    status = 403 if options.fault("auth-403") else 401
    return ApiError(status, code, message, {"WWW-Authenticate": _challenge(options, invalid_token)})


def authenticate(header: str | None, store: Store) -> Account:
    """The account behind an `Authorization: Bearer <token>` header (scheme case-insensitive), else 401."""
    options = store.options
    if not header and options.fault("auth-missing-header-allowed"):
        return store.primary_account()
    parts = _WHITESPACE.split(header.strip(" \t")) if header else []
    if not parts or parts[0].lower() != "bearer":
        raise _refuse(options, "Authentication credentials were not provided.", invalid_token=False)
    if len(parts) == 1:
        raise _refuse(options, "Invalid token header. No credentials provided.", invalid_token=False)
    if len(parts) > 2:
        raise _refuse(
            options, "Invalid token header. Token string should not contain spaces.", invalid_token=True
        )
    account = store.account_for_token(parts[1])
    if account is None and options.fault("auth-any-token") and _TOKEN68.fullmatch(parts[1]):
        return store.primary_account()
    if account is None and options.fault("open-auth-unknown"):
        return store.primary_account()
    if account is None:
        raise _refuse(options, "Invalid token.", invalid_token=True)
    return account


def session_only(store: Store) -> ApiError:
    """The refusal of an endpoint that accepts only session cookies (which this API never issues)."""
    return _refuse(store.options, "Authentication credentials were not provided.", invalid_token=False)
