"""spec/requirements.yaml is well formed and quotes the page; catalog.py loads it."""

from __future__ import annotations

import ast
import dataclasses
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from vpsconform import catalog, paths
from vpsconform.catalog import SPEC_DIR, Requirement, load_openapi, load_requirements, spec_hash

REPO_ROOT = Path(__file__).resolve().parents[1]
ID_RE = re.compile(
    r"^(AUTH|LIST|CREATE|VALID|LIMIT|NOTFOUND|RESTORE|DATA|DELETE|LIFECYCLE|TIME|SCHEMA|ROBUST|TENANT)-\d{2}$"
)
LEVELS = {"MUST", "SHOULD", "interpretation"}
# The product decisions; each must be recorded by at least one MUST requirement.
PRODUCT_DECISIONS = {
    "auth-first",
    "limit-all-states",
    "delete-frees-slot",
    "limit-per-server",
    "limit-concurrent",
    "restore-while-restoring",
    "delete-gone",
    "tenant-isolation",
    "name-rule",
    "no-5xx",
    "durations",
    "size-and-time",
    "restore-overwrites",
    "round-trip",
}


def fold(text: str) -> str:
    """Collapse every run of whitespace to one space."""
    return " ".join(text.split())


@pytest.fixture(scope="module")
def raw_entries() -> list[dict[str, Any]]:
    """The catalog's entries as plain YAML, independent of the loader."""
    data = yaml.safe_load((REPO_ROOT / "spec" / "requirements.yaml").read_text(encoding="utf-8"))
    return data["requirements"]


@pytest.fixture(scope="module")
def requirements() -> dict[str, Requirement]:
    """The catalog as the project loads it."""
    return load_requirements()


@pytest.fixture(scope="module")
def page(docs_page: Path) -> str:
    """The documentation page, whitespace folded."""
    return fold(docs_page.read_text(encoding="utf-8"))


# --- the catalog's content ----------------------------------------------------------------------------------


def test_ids_are_unique_and_well_formed(raw_entries: list[dict[str, Any]]) -> None:
    ids = [entry["id"] for entry in raw_entries]
    duplicates = sorted({rid for rid in ids if ids.count(rid) > 1})
    assert not duplicates, f"duplicate IDs: {duplicates}"
    malformed = [rid for rid in ids if not ID_RE.match(rid)]
    assert not malformed, f"malformed IDs: {malformed}"


def test_levels_and_titles(raw_entries: list[dict[str, Any]]) -> None:
    for entry in raw_entries:
        assert entry["level"] in LEVELS, f"{entry['id']}: level {entry['level']!r}"
        assert isinstance(entry["title"], str), entry["id"]
        assert entry["title"].strip(), f"{entry['id']}: empty title"


def test_loader_keeps_every_entry_in_file_order(
    raw_entries: list[dict[str, Any]], requirements: dict[str, Requirement]
) -> None:
    assert list(requirements) == [entry["id"] for entry in raw_entries]
    for entry in raw_entries:
        requirement = requirements[entry["id"]]
        assert requirement.title == entry["title"]
        assert requirement.source == entry["source"]
        assert requirement.operations == tuple(entry["operations"])
        assert requirement.accept == tuple(entry.get("accept", []))
        assert requirement.warn == tuple(entry.get("warn", []))
        assert requirement.decision == entry.get("decision")
        assert requirement.judges == entry.get("judges")
        assert requirement.fuzz == tuple(entry.get("fuzz", []))


def test_quoted_sources_appear_verbatim_on_the_page(requirements: dict[str, Requirement], page: str) -> None:
    missing = [
        (rid, req.source)
        for rid, req in requirements.items()
        if req.is_quote and fold(req.source) not in page
    ]
    assert not missing, f"sources not found verbatim on the page: {missing}"


def test_quote_check_can_fail(page: str) -> None:
    """The verbatim check is not vacuous: a paraphrase of a real sentence is not on the page."""
    assert fold("You can have a maximum of 5 snapshots per server.") in page
    assert fold("You can have at most 5 snapshots per server.") not in page


def test_decisions_silences_and_interpretations_have_a_rationale(
    requirements: dict[str, Requirement],
) -> None:
    for rid, req in requirements.items():
        if not req.is_quote or req.level == "interpretation":
            assert req.rationale and req.rationale.strip(), (
                f"{rid} ({req.level}, {req.source}) has no rationale"
            )


def test_decision_entries_name_their_decision(requirements: dict[str, Requirement]) -> None:
    for rid, req in requirements.items():
        if req.source == "decision":
            assert req.decision, f"{rid} is a decision without a decision key"
    unknown = {req.decision for req in requirements.values() if req.decision} - PRODUCT_DECISIONS
    assert not unknown, f"decision keys that are not product decisions (typo?): {sorted(unknown)}"


@pytest.mark.parametrize("decision", sorted(PRODUCT_DECISIONS))
def test_every_product_decision_is_a_must(requirements: dict[str, Requirement], decision: str) -> None:
    carriers = [rid for rid, req in requirements.items() if req.decision == decision and req.level == "MUST"]
    assert carriers, f"product decision {decision!r} is carried by no MUST requirement"


def test_operations_are_operation_ids_of_the_spec(requirements: dict[str, Requirement]) -> None:
    spec = load_openapi()
    operation_ids = {
        operation["operationId"]
        for item in spec["paths"].values()
        for method, operation in item.items()
        if method in ("get", "put", "post", "delete", "patch", "head", "options", "trace")
    }
    assert len(operation_ids) == 4
    for rid, req in requirements.items():
        assert req.operations, f"{rid} names no operation"
        unknown = set(req.operations) - operation_ids
        assert not unknown, f"{rid} names operations missing from spec/openapi.yaml: {sorted(unknown)}"


# --- catalog.py ---------------------------------------------------------------------------------------------


def test_requirement_is_frozen(requirements: dict[str, Requirement]) -> None:
    requirement = requirements["AUTH-01"]
    assert [f.name for f in dataclasses.fields(Requirement)] == [
        "id",
        "title",
        "level",
        "source",
        "rationale",
        "decision",
        "accept",
        "warn",
        "operations",
        "judges",
        "fuzz",
        "model",
    ]
    with pytest.raises(dataclasses.FrozenInstanceError):
        requirement.level = "SHOULD"  # type: ignore[misc]
    assert requirement.accept == (401,)
    assert requirements["VALID-05"].accept == (400, "4xx")
    assert requirements["LIST-06"].warn == (400, 404)
    assert requirements["AUTH-01"].rationale is None
    assert requirements["AUTH-03"].decision == "auth-first"


def test_spec_dir_is_the_repository_spec_without_a_bundle() -> None:
    assert (REPO_ROOT / "spec").resolve() == SPEC_DIR.resolve()


def test_project_dirs_prefer_the_bundled_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module_file = tmp_path / "site-packages" / "vpsconform" / "paths.py"
    module_file.parent.mkdir(parents=True)
    monkeypatch.setattr(paths, "__file__", str(module_file))
    assert paths.project_dir("spec") == tmp_path / "spec"
    bundled = module_file.parent / "_bundled" / "suites"
    bundled.mkdir(parents=True)
    assert paths.project_dir("suites") == bundled


def test_load_openapi() -> None:
    spec = load_openapi()
    assert spec["openapi"].startswith("3.1")
    assert "/api/v1/snapshots/" in spec["paths"]


def test_load_openapi_rejects_a_non_mapping(tmp_path: Path) -> None:
    path = tmp_path / "openapi.yaml"
    path.write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(ValueError, match="expected an OpenAPI document"):
        load_openapi(path)


def test_spec_hash_covers_both_files(tmp_path: Path) -> None:
    value = spec_hash()
    assert re.fullmatch(r"[0-9a-f]{12}", value)
    assert spec_hash() == value
    spec_copy = tmp_path / "spec"
    shutil.copytree(SPEC_DIR, spec_copy)
    assert spec_hash(spec_copy) == value
    for name in ("openapi.yaml", "requirements.yaml"):
        original = (spec_copy / name).read_bytes()
        (spec_copy / name).write_bytes(original + b"\n# changed\n")
        assert spec_hash(spec_copy) != value, f"{name} is not part of the hash"
        (spec_copy / name).write_bytes(original)


def test_catalog_module_does_not_import_test_tooling() -> None:
    tree = ast.parse(Path(catalog.__file__).read_text(encoding="utf-8"))
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    imported |= {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
    }
    assert not imported & {"pytest", "schemathesis", "hypothesis"}


GOOD = {"id": "AUTH-01", "title": "t", "level": "MUST", "source": "s", "operations": ["listSnapshots"]}


def _yaml(*entries: Any) -> str:
    """A catalog file holding `entries`."""
    return yaml.safe_dump({"requirements": json.loads(json.dumps(list(entries)))}, sort_keys=False)


MALFORMED = [
    pytest.param("requirements: [unclosed\n", "not valid YAML", id="bad-yaml"),
    pytest.param("- id: AUTH-01\n", "top-level 'requirements' list", id="top-level-list"),
    pytest.param("other: []\n", "top-level 'requirements' list", id="no-requirements-key"),
    pytest.param("requirements: []\n", "non-empty list", id="empty-list"),
    pytest.param(_yaml("AUTH-01"), r"requirements\[0\]: expected a mapping", id="entry-not-mapping"),
    pytest.param(
        _yaml({k: v for k, v in GOOD.items() if k != "title"}),
        "AUTH-01: missing required field.*title",
        id="missing-title",
    ),
    pytest.param(_yaml({**GOOD, "severity": "high"}), "AUTH-01: unknown field.*severity", id="unknown-field"),
    pytest.param(
        _yaml(GOOD, {**GOOD, "title": "again"}), "duplicate requirement id AUTH-01", id="duplicate-id"
    ),
    pytest.param(
        _yaml({**GOOD, "id": "auth-1"}), "id 'auth-1' is not of the form AREA-NN", id="bad-id-format"
    ),
    pytest.param(_yaml({**GOOD, "id": 7}), "field 'id' must be a non-empty string", id="id-not-string"),
    pytest.param(_yaml({**GOOD, "level": "MAY"}), "level 'MAY' is not one of", id="bad-level"),
    pytest.param(
        _yaml({**GOOD, "title": "  "}), "field 'title' must be a non-empty string", id="blank-title"
    ),
    pytest.param(_yaml({**GOOD, "source": "decision"}), "no 'decision' key", id="decision-without-key"),
    pytest.param(
        _yaml({**GOOD, "decision": "auth-first"}), "its source is not 'decision'", id="key-without-decision"
    ),
    pytest.param(
        _yaml({**GOOD, "operations": "listSnapshots"}),
        "field 'operations' must be a list",
        id="operations-not-list",
    ),
    pytest.param(_yaml({**GOOD, "operations": []}), "at least one operationId", id="no-operations"),
    pytest.param(_yaml({**GOOD, "operations": [3]}), "field 'operations' holds 3", id="operation-not-string"),
    pytest.param(
        _yaml({**GOOD, "accept": [{"code": 401}]}), "field 'accept' holds", id="accept-item-mapping"
    ),
    pytest.param(_yaml({**GOOD, "warn": [True]}), "field 'warn' holds True", id="warn-item-bool"),
    pytest.param(
        _yaml({**GOOD, "judges": "everything"}), "judges 'everything' is not one of", id="bad-judges"
    ),
    pytest.param(_yaml({**GOOD, "fuzz": "server_error"}), "field 'fuzz' must be a list", id="fuzz-not-list"),
    pytest.param(
        _yaml({**GOOD, "rationale": ""}), "field 'rationale' must be a non-empty string", id="blank-rationale"
    ),
]


@pytest.mark.parametrize(("content", "message"), MALFORMED)
def test_load_requirements_rejects_a_malformed_catalog(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "requirements.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message) as excinfo:
        load_requirements(path)
    assert str(path) in str(excinfo.value), "the error must name the file"


def test_load_requirements_accepts_a_minimal_catalog(tmp_path: Path) -> None:
    path = tmp_path / "requirements.yaml"
    path.write_text(
        _yaml(GOOD, {**GOOD, "id": "AUTH-02", "source": "decision", "decision": "x"}), encoding="utf-8"
    )
    loaded = load_requirements(path)
    assert list(loaded) == ["AUTH-01", "AUTH-02"]
    assert loaded["AUTH-01"] == Requirement(
        "AUTH-01", "t", "MUST", "s", None, None, (), (), ("listSnapshots",)
    )
