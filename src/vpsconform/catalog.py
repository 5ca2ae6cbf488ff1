"""Load the OpenAPI spec and the requirement catalog that the whole suite is built on."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from vpsconform.paths import SPEC_DIR

__all__ = [
    "BINDING",
    "FUZZES",
    "LEVELS",
    "OPENAPI_FILE",
    "REQUIREMENTS_FILE",
    "SPEC_DIR",
    "Requirement",
    "judged_by",
    "load_openapi",
    "load_requirements",
    "spec_hash",
]

OPENAPI_FILE = "openapi.yaml"
REQUIREMENTS_FILE = "requirements.yaml"
LEVELS = frozenset({"MUST", "SHOULD", "interpretation"})
#: Levels that bind: their failure fails the requirement and the run; an interpretation's only warns.
BINDING = frozenset({"MUST", "SHOULD"})
# Sources that are not quotes of the documentation page.
NON_QUOTE_SOURCES = frozenset({"decision", "silent"})

_ID_RE = re.compile(r"^[A-Z]+-\d{2}$")
_REQUIRED_FIELDS = ("id", "title", "level", "source", "operations")
_OPTIONAL_FIELDS = ("rationale", "decision", "accept", "warn", "judges", "fuzz", "model")
#: The marker of the tests that judge generated requests against every requirement with a `fuzz` key.
FUZZES = "fuzzes"
#: Run-wide observations a requirement may stand for (its `judges` key).
JUDGES = frozenset({"every-response", "create-window", "restore-window"})
#: Rules of the history model (model_check) a requirement may be judged by (its `model` key).
MODEL_RULES = frozenset(
    {
        "no-server-error",
        "documented-status",
        "snapshot-status",
        "status-final",
        "size-integer",
        "created-at-fixed",
        "completes-in-window",
        "unique-ids",
        "gone-after-delete",
        "delete-only-named",
        "list-all-own",
        "list-filter-exact",
        "count-matches",
        "server-limit",
        "refused-leaves-nothing",
        "unknown-server",
        "tenant-ours-hidden",
        "tenant-theirs-hidden",
    }
)
_KNOWN_FIELDS = frozenset(_REQUIRED_FIELDS + _OPTIONAL_FIELDS)


@dataclass(frozen=True, slots=True)
class Requirement:
    """One checkable clause of the catalog (spec/requirements.yaml)."""

    id: str
    title: str
    level: str
    source: str
    rationale: str | None
    decision: str | None
    accept: tuple[int | str, ...]
    warn: tuple[int | str, ...]
    operations: tuple[str, ...]
    judges: str | None = None
    fuzz: tuple[str, ...] = ()
    model: str | None = None

    @property
    def binding(self) -> bool:
        """Whether the level binds (MUST or SHOULD): a failure fails the run; an interpretation's warns."""
        return self.level in BINDING

    @property
    def is_quote(self) -> bool:
        """Whether `source` quotes the documentation page (rather than being `decision` or `silent`)."""
        return self.source not in NON_QUOTE_SOURCES


def load_openapi(path: Path | None = None) -> dict[str, Any]:
    """Parse spec/openapi.yaml (or `path`) into a dict."""
    path = path or SPEC_DIR / OPENAPI_FILE
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected an OpenAPI document (a mapping), got {type(data).__name__}")
    return data


def spec_hash(spec_dir: Path | None = None) -> str:
    """Return a short sha256 (12 hex chars) of openapi.yaml + requirements.yaml, identifying the contract."""
    spec_dir = spec_dir or SPEC_DIR
    digest = hashlib.sha256()
    for name in (OPENAPI_FILE, REQUIREMENTS_FILE):
        digest.update((spec_dir / name).read_bytes())
    return digest.hexdigest()[:12]


def _string(entry: dict[str, Any], field: str, where: str) -> str:
    """Return `entry[field]` as a non-empty string, or raise a ValueError naming the entry."""
    value = entry.get(field)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where}: field {field!r} must be a non-empty string, got {value!r}")
    return value


def _optional_string(entry: dict[str, Any], field: str, where: str) -> str | None:
    """Return `entry[field]` as a non-empty string, None when absent, or raise a ValueError."""
    if entry.get(field) is None:
        return None
    return _string(entry, field, where)


def _list(entry: dict[str, Any], field: str, where: str, item_types: tuple[type, ...]) -> tuple[Any, ...]:
    """Return `entry[field]` (default empty) as a tuple after checking it is a list of `item_types`."""
    value = entry.get(field, [])
    if not isinstance(value, list):
        raise ValueError(f"{where}: field {field!r} must be a list, got {type(value).__name__}")
    for item in value:
        if isinstance(item, bool) or not isinstance(item, item_types):
            names = " or ".join(t.__name__ for t in item_types)
            raise ValueError(f"{where}: field {field!r} holds {item!r}; every item must be {names}")
    return tuple(value)


def _parse_entry(entry: Any, index: int, path: Path) -> Requirement:
    """Validate one raw catalog entry and build its Requirement."""
    where = f"{path}: requirements[{index}]"
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: expected a mapping, got {type(entry).__name__}")
    if isinstance(entry.get("id"), str):
        where = f"{path}: requirement {entry['id']}"
    missing = [field for field in _REQUIRED_FIELDS if field not in entry]
    if missing:
        raise ValueError(f"{where}: missing required field(s) {', '.join(missing)}")
    unknown = sorted(set(entry) - _KNOWN_FIELDS)
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {', '.join(map(str, unknown))}")
    req_id = _string(entry, "id", where)
    if not _ID_RE.match(req_id):
        raise ValueError(f"{where}: id {req_id!r} is not of the form AREA-NN (capitals, hyphen, 2 digits)")
    level = _string(entry, "level", where)
    if level not in LEVELS:
        raise ValueError(f"{where}: level {level!r} is not one of {', '.join(sorted(LEVELS))}")
    source = _string(entry, "source", where)
    decision = _optional_string(entry, "decision", where)
    if source == "decision" and decision is None:
        raise ValueError(f"{where}: source is 'decision' but no 'decision' key names the product decision")
    if decision is not None and source != "decision":
        raise ValueError(f"{where}: has decision {decision!r} but its source is not 'decision'")
    operations = _list(entry, "operations", where, (str,))
    if not operations:
        raise ValueError(f"{where}: field 'operations' must name at least one operationId")
    judges = _optional_string(entry, "judges", where)
    if judges is not None and judges not in JUDGES:
        raise ValueError(f"{where}: judges {judges!r} is not one of {', '.join(sorted(JUDGES))}")
    model = _optional_string(entry, "model", where)
    if model is not None and model not in MODEL_RULES:
        raise ValueError(f"{where}: model {model!r} is not one of {', '.join(sorted(MODEL_RULES))}")
    return Requirement(
        id=req_id,
        title=_string(entry, "title", where),
        level=level,
        source=source,
        rationale=_optional_string(entry, "rationale", where),
        decision=decision,
        accept=_list(entry, "accept", where, (int, str)),
        warn=_list(entry, "warn", where, (int, str)),
        operations=operations,
        judges=judges,
        fuzz=_list(entry, "fuzz", where, (str,)),
        model=model,
    )


def load_requirements(path: Path | None = None) -> dict[str, Requirement]:
    """Load spec/requirements.yaml (or `path`) as {id: Requirement} in file order; ValueError if malformed."""
    path = path or SPEC_DIR / REQUIREMENTS_FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or "requirements" not in data:
        raise ValueError(f"{path}: expected a mapping with a top-level 'requirements' list")
    entries = data["requirements"]
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"{path}: 'requirements' must be a non-empty list")
    catalog: dict[str, Requirement] = {}
    for index, entry in enumerate(entries):
        requirement = _parse_entry(entry, index, path)
        if requirement.id in catalog:
            raise ValueError(f"{path}: duplicate requirement id {requirement.id} (requirements[{index}])")
        catalog[requirement.id] = requirement
    judged = [r.judges for r in catalog.values() if r.judges]
    if len(judged) != len(set(judged)):
        raise ValueError(f"{path}: a `judges` value is claimed by more than one requirement")
    rules = [r.model for r in catalog.values() if r.model]
    if len(rules) != len(set(rules)):
        raise ValueError(f"{path}: a `model` rule is claimed by more than one requirement")
    return catalog


def judged_by(catalog: dict[str, Requirement], observation: str) -> str | None:
    """The ID of the requirement that stands for a run-wide observation (its `judges` key), if any."""
    return next((r.id for r in catalog.values() if r.judges == observation), None)
