"""Parsing and validation of client input: JSON bodies, the create parameters and integer ids."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from vpsconform.reference.errors import ApiError, invalid, server_error
from vpsconform.reference.options import TargetOptions

NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]+")
NAME_MAX_LENGTH = 255
# Name checks that injected faults use instead of NAME_PATTERN.fullmatch.
_NAME_PATTERN_STAR = re.compile(r"[A-Za-z0-9_-]*")
_NAME_PATTERN_DOLLAR = re.compile(r"^[A-Za-z0-9_-]+$")  # with re.match, "$" also matches before a final "\n"
_NAME_MAX_LENGTH_32 = 32
NAME_COLUMN_WIDTH = 64  # the column width of the robust-long-name-500 fault (no validation guards it)
_INTEGER = re.compile(r"[+-]?[0-9]+")
_LEADING_DIGITS = re.compile(r"[+-]?\d+")  # \d: any Unicode decimal digit, as parseInt-like parsers take


@dataclass(frozen=True)
class CreateRequest:
    """A validated create: the server, the snapshot name and the stored description."""

    server_id: int
    name: str | None  # None only when a fault defaults a missing name (the store then names it)
    description: str | None


def _reject_constant(name: str) -> Any:
    """Refuse NaN and Infinity, which are not JSON."""
    raise ValueError(f"{name} is not valid JSON")


def parse_json(raw: bytes, options: TargetOptions | None = None) -> Any:
    """Decode a JSON document; anything undecodable is a 400, never a crash."""
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        if (
            isinstance(exc, RecursionError)
            and options is not None
            and options.fault("robust-deep-nesting-500")
        ):
            raise server_error() from exc  # only ValueError was caught: nesting crashes the request
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


def forgiving_int(text: str) -> int | None:
    """What a forgiving id parser makes of a path segment (the lenient-ids fault), or None.

    Percent-decoded once more, trimmed, then the first of int() (Unicode digits), int(x, 0) (hex),
    int(float(x)) and leading digits that yields a number: "%31", " 1000 ", "١٢٣", "0x3e8", "1e3", "1000abc".
    """
    text = unquote(text).strip()
    for convert in (int, _int_any_base, _int_via_float, _int_of_leading_digits):
        try:
            return convert(text)
        except (ValueError, OverflowError):
            continue
    return None


def _int_any_base(text: str) -> int:
    """int(text, 0): "0x3e8", "0o1750", "0b1111101000"."""
    return int(text, 0)


def _int_via_float(text: str) -> int:
    """int(float(text)): "1e3", "1.5"."""
    return int(float(text))


def _int_of_leading_digits(text: str) -> int:
    """The leading digits, as parseInt takes them: "1000abc" -> 1000."""
    leading = _LEADING_DIGITS.match(text)
    if leading is None:
        raise ValueError(f"no leading digits in {text!r}")
    return int(leading.group())


def _server_id(body: dict[str, Any], options: TargetOptions) -> tuple[int | None, str | None]:
    """The create's server_id, or the reason it is refused."""
    if "server_id" not in body:
        return None, "This field is required."
    value = body["server_id"]
    if value is None:
        return None, "This field may not be null."
    if options.fault("valid-bool-server-id") and isinstance(value, int | float) and math.isfinite(value):
        return int(value), None  # int() coercion: True -> 1, 12345.5 -> 12345
    if isinstance(value, int) and not isinstance(value, bool):
        return value, None
    if isinstance(value, str) and options.variant("numeric-strings"):
        number = parse_int(value)
        if number is not None:
            return number, None
    return None, "A valid integer is required."


def _name_allowed(value: str, options: TargetOptions) -> bool:
    """Whether a name is made of the documented characters (as the faults get it wrong, when injected)."""
    if options.fault("valid-unicode-names"):
        return all(c.isalnum() or c in "-_" for c in value)
    if options.fault("valid-dollar-anchor"):
        return _NAME_PATTERN_DOLLAR.match(value) is not None
    if options.fault("valid-empty-name"):
        return _NAME_PATTERN_STAR.fullmatch(value) is not None
    return NAME_PATTERN.fullmatch(value) is not None


def _name(body: dict[str, Any], options: TargetOptions) -> tuple[str | None, str | None]:
    """The create's name, or the reason it is refused."""
    if "name" not in body:
        if options.fault("valid-missing-name-defaulted"):
            return None, None
        return None, "This field is required."
    value = body["name"]
    if value is None:
        return None, "This field may not be null."
    if not isinstance(value, str):
        return None, "Not a valid string."
    if not value and not options.fault("valid-empty-name"):
        return None, "This field may not be blank."
    if len(value) > NAME_MAX_LENGTH and not options.fault("robust-long-name-500"):
        return None, f"Ensure this field has no more than {NAME_MAX_LENGTH} characters."
    if options.fault("valid-name-max-32") and len(value) > _NAME_MAX_LENGTH_32:
        return None, f"Ensure this field has no more than {_NAME_MAX_LENGTH_32} characters."
    if not _name_allowed(value, options):
        return None, "Only ASCII letters, digits, hyphens and underscores are allowed."
    return value, None


def _description(body: dict[str, Any], options: TargetOptions) -> tuple[str | None, str | None]:
    """The create's stored description, or the reason it is refused."""
    value = body.get("description")
    if value is None and "description" in body and options.fault("robust-null-description-500"):
        raise server_error()  # `.strip()` on None
    if value is None:
        return ("" if options.variant("empty-description") else None), None
    if not isinstance(value, str):
        return None, "Not a valid string."
    return value, None


def parse_create(raw: bytes, options: TargetOptions) -> CreateRequest:
    """Validate a create body completely (every field error reported at once) before any lookup."""
    body = parse_json(raw, options)
    if isinstance(body, list) and body and options.fault("valid-array-unwrapped"):
        body = body[0]
    if not isinstance(body, dict):
        raise invalid(f"Invalid data. Expected a JSON object, but got {_json_type(body)}.")
    server_id, server_id_error = _server_id(body, options)
    name, name_error = _name(body, options)
    description, description_error = _description(body, options)
    problems = [
        f"{field}: {error}"
        for field, error in (
            ("server_id", server_id_error),
            ("name", name_error),
            ("description", description_error),
        )
        if error
    ]
    if problems or server_id is None:  # a None name without a problem is a default (a fault)
        raise invalid(" ".join(problems))
    return CreateRequest(server_id, name, description)
