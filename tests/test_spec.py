"""spec/openapi.yaml is valid, agrees with the documentation page, and loads cleanly in schemathesis."""

from __future__ import annotations

import copy
import json
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import schemathesis
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from schemathesis.core.errors import InvalidStateMachine
from schemathesis.core.result import Ok

from vpsconform.catalog import SPEC_DIR, load_openapi, load_requirements

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

# The operationIds the rest of the project keys on, per documented operation.
OPERATION_IDS = {
    ("GET", "/api/v1/snapshots/"): "listSnapshots",
    ("POST", "/api/v1/snapshots/"): "createSnapshot",
    ("POST", "/api/v1/snapshots/{snapshot_id}/restore/"): "restoreSnapshot",
    ("DELETE", "/api/v1/snapshots/{snapshot_id}/"): "deleteSnapshot",
}
# Links for stateful testing: (source operationId, status, link name) -> (target operationId, parameters).
EXPECTED_LINKS = {
    ("createSnapshot", "201", "RestoreCreatedSnapshot"): (
        "restoreSnapshot",
        {"snapshot_id": "$response.body#/id"},
    ),
    ("createSnapshot", "201", "DeleteCreatedSnapshot"): (
        "deleteSnapshot",
        {"snapshot_id": "$response.body#/id"},
    ),
    ("restoreSnapshot", "200", "DeleteRestoredSnapshot"): (
        "deleteSnapshot",
        {"snapshot_id": "$request.path.snapshot_id"},
    ),
}
DOC_TYPES = {"integer": "integer", "string": "string", "boolean": "boolean", "number": "number"}
PARAM_TABLES = {"Query parameters": "query", "Path parameters": "path"}


# --- the documentation page -------------------------------------------------------------------------------


@dataclass
class DocOperation:
    """What the page documents for one `## METHOD PATH` section."""

    method: str
    path: str
    summary: str
    statuses: dict[str, str] = field(default_factory=dict)
    parameters: dict[tuple[str, str], tuple[str, bool]] = field(default_factory=dict)
    body_fields: dict[str, tuple[str, bool]] = field(default_factory=dict)
    request_body: Any = None
    request_url: str | None = None
    response_example: Any = None


def _table_after(lines: list[str], label: str) -> list[list[str]] | None:
    """The data rows of the markdown table that follows the line `label`, or None if there is no such line."""
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == label)
    except StopIteration:
        return None
    rows: list[list[str]] = []
    for line in lines[start + 1 :]:
        stripped = line.strip()
        if not stripped and not rows:
            continue
        if not stripped.startswith("|"):
            break
        cells = [cell.strip() for cell in stripped.strip("|").split("|")]
        rows.append(cells)
    if len(rows) < 2 or not all(re.fullmatch(r":?-+:?", cell) for cell in rows[1]):
        raise AssertionError(f"the table after {label!r} has no header separator row")
    return rows[2:]


def _parse_params(rows: list[list[str]], label: str) -> dict[str, tuple[str, bool]]:
    """{name: (type, required)} from a `| Parameter | Type | Required | Description |` table."""
    result = {}
    for row in rows:
        assert len(row) == 4, f"unexpected row in {label!r}: {row}"
        name, doc_type, required, _ = row
        assert required in ("Yes", "No"), f"{label}: {name} has Required={required!r}"
        result[name] = (DOC_TYPES[doc_type], required == "Yes")
    return result


def parse_docs(text: str) -> dict[tuple[str, str], DocOperation]:
    """Every `## METHOD PATH — summary` section of the page with its tables and examples."""
    heading = re.compile(r"^## (GET|POST|PUT|PATCH|DELETE) (\S+) — (.+)$")
    sections: list[tuple[re.Match[str] | None, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("## "):
            sections.append((heading.match(line), []))
        elif sections:
            sections[-1][1].append(line)
    operations: dict[tuple[str, str], DocOperation] = {}
    for match, lines in sections:
        if match is None:
            continue
        op = DocOperation(method=match[1], path=match[2], summary=match[3].strip())
        statuses = _table_after(lines, "Response status codes")
        assert statuses, f"{op.method} {op.path}: no 'Response status codes' table"
        op.statuses = {code: meaning for code, meaning in statuses}
        for label, location in PARAM_TABLES.items():
            rows = _table_after(lines, label)
            if rows is not None:
                for name, spec in _parse_params(rows, label).items():
                    op.parameters[(location, name)] = spec
        rows = _table_after(lines, "Request body parameters")
        if rows is not None:
            op.body_fields = _parse_params(rows, "Request body parameters")
        body = "\n".join(lines)
        blocks = re.findall(r"^```(\w*)\n(.*?)^```", body, re.M | re.S)
        for lang, content in blocks:
            if lang == "json":
                assert op.response_example is None, f"{op.method} {op.path}: two JSON examples"
                op.response_example = json.loads(content)
            elif content.lstrip().startswith("curl"):
                url = re.search(r'curl -X \w+ "([^"]+)"', content)
                assert url, f"{op.method} {op.path}: curl example without a URL"
                op.request_url = url[1]
                data = re.search(r"-d '(.*?)'", content, re.S)
                if data:
                    op.request_body = json.loads(data[1])
        operations[(op.method, op.path)] = op
    return operations


@pytest.fixture(scope="module")
def docs(docs_page: Path) -> dict[tuple[str, str], DocOperation]:
    """The parsed documentation page."""
    parsed = parse_docs(docs_page.read_text(encoding="utf-8"))
    assert parsed, f"no `## METHOD PATH` sections found in {docs_page}"
    return parsed


# --- the spec -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    """spec/openapi.yaml as a dict."""
    return load_openapi()


def resolve(spec: dict[str, Any], node: Any) -> Any:
    """Follow local `$ref`s until `node` is not a reference."""
    seen = set()
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), f"only local references are expected, got {ref}"
        assert ref not in seen, f"reference cycle at {ref}"
        seen.add(ref)
        node = spec
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def operations(spec: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """{(METHOD, path): operation object} of the spec."""
    return {
        (method.upper(), path): item[method]
        for path, item in spec["paths"].items()
        for method in HTTP_METHODS
        if method in item
    }


def op_by_id(spec: dict[str, Any], operation_id: str) -> dict[str, Any]:
    """The operation object with this operationId."""
    found = [op for op in operations(spec).values() if op.get("operationId") == operation_id]
    assert len(found) == 1, f"operationId {operation_id} found {len(found)} times"
    return found[0]


def spec_parameters(spec: dict[str, Any], path: str, op: dict[str, Any]) -> dict[tuple[str, str], dict]:
    """{(in, name): parameter} of an operation, path-item parameters included."""
    params = [*spec["paths"][path].get("parameters", []), *op.get("parameters", [])]
    resolved = [resolve(spec, param) for param in params]
    return {(param["in"], param["name"]): param for param in resolved}


def object_shape(spec: dict[str, Any], schema: Any) -> tuple[dict[str, Any], set[str]]:
    """(properties, required) of an object schema, merged through `$ref` and `allOf`."""
    schema = resolve(spec, schema)
    properties = dict(schema.get("properties", {}))
    required = set(schema.get("required", []))
    for part in schema.get("allOf", []):
        sub_properties, sub_required = object_shape(spec, part)
        properties.update(sub_properties)
        required |= sub_required
    return properties, required


def walk(node: Any, trail: str = "") -> Any:
    """Yield (trail, mapping) for every mapping in the document."""
    if isinstance(node, dict):
        yield trail, node
        for key, value in node.items():
            yield from walk(value, f"{trail}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, f"{trail}/{index}")


def schema_validator(spec: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    """A Draft 2020-12 validator for `schema` whose `#/components/...` references resolve into the spec."""
    root = {"$schema": "https://json-schema.org/draft/2020-12/schema", "components": spec["components"]}
    root["allOf"] = [schema]
    Draft202012Validator.check_schema(root)
    return Draft202012Validator(root, format_checker=Draft202012Validator.FORMAT_CHECKER)


def media_examples(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any], Any]]:
    """(where, schema, value) for every example embedded in a media type or parameter of the spec."""
    found = []
    for (method, path), op in operations(spec).items():
        label = f"{method} {path}"
        media = [("request", resolve(spec, op.get("requestBody", {})).get("content", {}))]
        media += [(status, resolve(spec, r).get("content", {})) for status, r in op["responses"].items()]
        for where, content in media:
            for media_type, obj in content.items():
                for name, example in obj.get("examples", {}).items():
                    found.append((f"{label} {where} {media_type} {name}", obj["schema"], example["value"]))
                if "example" in obj:
                    found.append((f"{label} {where} {media_type}", obj["schema"], obj["example"]))
        for (location, name), param in spec_parameters(spec, path, op).items():
            for example_name, example in param.get("examples", {}).items():
                found.append((f"{label} {location} {name} {example_name}", param["schema"], example["value"]))
    return found


def documented_example(op: dict[str, Any], status: str | None = None) -> Any:
    """The single `documented` example of an operation's request body, or of one of its responses."""
    holder = op["requestBody"] if status is None else op["responses"][status]
    examples = holder["content"]["application/json"]["examples"]
    assert list(examples) == ["documented"], f"expected one `documented` example, got {list(examples)}"
    return examples["documented"]["value"]


# --- validity -----------------------------------------------------------------------------------------------


def test_spec_is_valid_openapi_31(spec: dict[str, Any]) -> None:
    assert spec["openapi"] == "3.1.0"
    validate(spec, cls=OpenAPIV31SpecValidator)


def test_validator_rejects_a_broken_spec(spec: dict[str, Any]) -> None:
    broken = copy.deepcopy(spec)
    broken["paths"]["/api/v1/snapshots/"]["get"]["responses"]["200"]["description"] = 42
    with pytest.raises(Exception, match="42"):
        validate(broken, cls=OpenAPIV31SpecValidator)


def test_servers_and_global_bearer_auth(spec: dict[str, Any]) -> None:
    assert spec["servers"] == [{"url": "https://admin.vps.org"}]
    assert spec["security"] == [{"bearerAuth": []}]
    scheme = spec["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    overriding = [label for label, op in operations(spec).items() if "security" in op]
    assert not overriding, f"operations override the global security: {overriding}"


# --- the spec against the page ------------------------------------------------------------------------------


def test_paths_are_exactly_the_documented_ones(spec: dict[str, Any], docs: dict) -> None:
    assert set(docs) == set(OPERATION_IDS), "the page's sections changed; update OPERATION_IDS and the spec"
    assert set(operations(spec)) == set(docs)
    assert set(spec["paths"]) == {path for _, path in docs}


@pytest.mark.parametrize(("method", "path"), list(OPERATION_IDS), ids=list(OPERATION_IDS.values()))
def test_operation_id_and_summary(spec: dict[str, Any], docs: dict, method: str, path: str) -> None:
    op = operations(spec)[(method, path)]
    assert op["operationId"] == OPERATION_IDS[(method, path)]
    assert op["summary"] == docs[(method, path)].summary


@pytest.mark.parametrize(("method", "path"), list(OPERATION_IDS), ids=list(OPERATION_IDS.values()))
def test_status_codes_match_the_page(spec: dict[str, Any], docs: dict, method: str, path: str) -> None:
    responses = operations(spec)[(method, path)]["responses"]
    documented = docs[(method, path)].statuses
    assert sorted(responses) == sorted(documented)
    for status, meaning in documented.items():
        assert resolve(spec, responses[status])["description"] == meaning, f"{method} {path} {status}"


@pytest.mark.parametrize(("method", "path"), list(OPERATION_IDS), ids=list(OPERATION_IDS.values()))
def test_response_content(spec: dict[str, Any], method: str, path: str) -> None:
    """Success bodies are JSON with a schema; 204 and error responses declare no content at all."""
    for status, response in operations(spec)[(method, path)]["responses"].items():
        response = resolve(spec, response)
        if status.startswith("2") and status != "204":
            assert list(response.get("content", {})) == ["application/json"], f"{method} {path} {status}"
            assert "schema" in response["content"]["application/json"]
        else:
            assert "content" not in response, f"{method} {path} {status} must not assert a body"
            assert "headers" not in response, f"{method} {path} {status} must not assert headers"


@pytest.mark.parametrize(("method", "path"), list(OPERATION_IDS), ids=list(OPERATION_IDS.values()))
def test_parameters_match_the_page(spec: dict[str, Any], docs: dict, method: str, path: str) -> None:
    op = operations(spec)[(method, path)]
    declared = {
        key: (resolve(spec, param["schema"])["type"], param.get("required", False))
        for key, param in spec_parameters(spec, path, op).items()
    }
    assert declared == docs[(method, path)].parameters


@pytest.mark.parametrize(("method", "path"), list(OPERATION_IDS), ids=list(OPERATION_IDS.values()))
def test_request_body_matches_the_page(spec: dict[str, Any], docs: dict, method: str, path: str) -> None:
    op = operations(spec)[(method, path)]
    documented = docs[(method, path)].body_fields
    if not documented:
        assert "requestBody" not in op
        return
    body = resolve(spec, op["requestBody"])
    assert body["required"] is True
    assert list(body["content"]) == ["application/json"]
    properties, required = object_shape(spec, body["content"]["application/json"]["schema"])
    declared = {
        name: (resolve(spec, schema)["type"], name in required) for name, schema in properties.items()
    }
    assert declared == documented


def test_name_rule(spec: dict[str, Any]) -> None:
    """The name is 1+ ASCII letters, digits, hyphens and underscores, with no maximum length."""
    properties, _ = object_shape(
        spec, op_by_id(spec, "createSnapshot")["requestBody"]["content"]["application/json"]["schema"]
    )
    name = properties["name"]
    assert name["pattern"] == "^[A-Za-z0-9_-]+$"
    assert name["minLength"] == 1
    validator = schema_validator(spec, name)
    for good in ("a", "before-update_snapshot-01", "A" * 300):
        assert validator.is_valid(good), good
    for bad in ("", "has space", "dot.name", "ümlaut", "slash/", "new\nline"):
        assert not validator.is_valid(bad), bad


def test_spec_states_no_undocumented_limits(spec: dict[str, Any]) -> None:
    """No length limits, no enums and no closed objects anywhere: the page states none of them."""
    forbidden = {"maxLength", "maxItems", "maxProperties", "maximum", "exclusiveMaximum", "enum", "const"}
    without_examples = {key: value for key, value in spec.items() if key != "info"}
    for trail, node in walk(without_examples):
        if "/examples" in trail:
            continue
        assert not forbidden & set(node), f"{trail} declares {forbidden & set(node)}"
        assert node.get("additionalProperties", True) is not False, f"{trail} closes its object"
        assert "unevaluatedProperties" not in node, f"{trail} closes its object"


@pytest.mark.parametrize(("method", "path"), list(OPERATION_IDS), ids=list(OPERATION_IDS.values()))
def test_embedded_examples_are_the_pages(spec: dict[str, Any], docs: dict, method: str, path: str) -> None:
    op = operations(spec)[(method, path)]
    doc = docs[(method, path)]
    success = next(status for status in op["responses"] if status.startswith("2"))
    if doc.response_example is None:
        assert "content" not in op["responses"][success]
    else:
        assert documented_example(op, success) == doc.response_example
    if doc.request_body is None:
        assert "requestBody" not in op
    else:
        assert documented_example(op) == doc.request_body
    # Parameter examples are the values in the curl example's URL.
    assert doc.request_url
    url = urlsplit(doc.request_url)
    template = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path))
    match = re.fullmatch(template, url.path)
    assert match, f"the example URL {doc.request_url} does not match {path}"
    expected = {("path", k): v for k, v in match.groupdict().items()}
    expected |= {("query", k): v for k, v in parse_qsl(url.query)}
    embedded = {
        key: str(param["examples"]["documented"]["value"])
        for key, param in spec_parameters(spec, path, op).items()
        if "examples" in param
    }
    assert embedded == expected


def test_every_example_validates_against_its_schema(spec: dict[str, Any]) -> None:
    examples = media_examples(spec)
    # 1 request body + 3 response bodies + 1 query and 2 path parameter examples
    assert len(examples) == 7, [where for where, _, _ in examples]
    for where, schema, value in examples:
        errors = [error.message for error in schema_validator(spec, schema).iter_errors(value)]
        assert not errors, f"{where}: {errors}"


def _mutations() -> list[tuple[str, str, Any]]:
    """(operationId/status, JSON pointer into the documented example, replacement or KeyError to delete)."""
    return [
        ("listSnapshots/200", "count", KeyError),
        ("listSnapshots/200", "results/0/size_mb", "5120"),
        ("listSnapshots/200", "results/0/created_at", "yesterday"),
        ("listSnapshots/200", "results/1/server/id", "12345"),
        ("listSnapshots/200", "results/1/description", KeyError),
        ("listSnapshots/200", "next", 3),
        ("createSnapshot/201", "message", KeyError),
        ("createSnapshot/201", "status", None),
        ("createSnapshot/201", "id", 8.5),
        ("createSnapshot/201", "server/name", KeyError),
        ("createSnapshot/request", "name", "before update"),
        ("createSnapshot/request", "server_id", KeyError),
        ("createSnapshot/request", "description", 7),
        ("restoreSnapshot/200", "snapshot/created_at", KeyError),
        ("restoreSnapshot/200", "server/status", KeyError),
        ("restoreSnapshot/200", "message", ["a"]),
    ]


@pytest.mark.parametrize(("target", "pointer", "replacement"), _mutations())
def test_schemas_reject_a_damaged_example(
    spec: dict[str, Any], target: str, pointer: str, replacement: Any
) -> None:
    operation_id, status = target.split("/")
    op = op_by_id(spec, operation_id)
    if status == "request":
        schema, value = op["requestBody"]["content"]["application/json"]["schema"], documented_example(op)
    else:
        schema, value = (
            op["responses"][status]["content"]["application/json"]["schema"],
            documented_example(op, status),
        )
    damaged = copy.deepcopy(value)
    *parents, last = pointer.split("/")
    node = damaged
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if replacement is KeyError:
        del node[last]
    else:
        node[last] = replacement
    assert not schema_validator(spec, schema).is_valid(damaged), (
        f"{target} accepted {pointer} = {replacement!r}"
    )


@pytest.mark.parametrize(
    ("target", "extra"),
    [
        ("listSnapshots/200", {"next": None, "previous": "https://x/?page=1", "page_size": 20}),
        ("createSnapshot/201", {"eta": 5}),
    ],
)
def test_schemas_accept_undocumented_extras(spec: dict[str, Any], target: str, extra: dict[str, Any]) -> None:
    operation_id, status = target.split("/")
    op = op_by_id(spec, operation_id)
    schema = op["responses"][status]["content"]["application/json"]["schema"]
    value = {**documented_example(op, status), **extra}
    assert schema_validator(spec, schema).is_valid(value)


def test_status_is_open_and_nullables_accept_null(spec: dict[str, Any]) -> None:
    op = op_by_id(spec, "listSnapshots")
    schema = op["responses"]["200"]["content"]["application/json"]["schema"]
    value = documented_example(op, "200")
    value["results"][0] |= {"status": "failed", "size_mb": None, "description": None}
    value["results"][1] |= {"status": "in_progress"}
    assert schema_validator(spec, schema).is_valid(value)


def _required_everywhere(spec: dict[str, Any], schema: Any, example: Any, trail: str) -> list[str]:
    """Fields of `example` that its schema does not declare required (recursively)."""
    schema = resolve(spec, schema)
    problems = []
    if isinstance(example, dict):
        properties, required = object_shape(spec, schema)
        for key, value in example.items():
            if key not in required:
                problems.append(f"{trail}/{key}")
            elif key in properties:
                problems += _required_everywhere(spec, properties[key], value, f"{trail}/{key}")
    elif isinstance(example, list) and example:
        problems += _required_everywhere(spec, schema["items"], example[0], f"{trail}/0")
    return problems


def test_documented_response_fields_are_required(spec: dict[str, Any]) -> None:
    for operation_id, status in (
        ("listSnapshots", "200"),
        ("createSnapshot", "201"),
        ("restoreSnapshot", "200"),
    ):
        op = op_by_id(spec, operation_id)
        schema = op["responses"][status]["content"]["application/json"]["schema"]
        missing = _required_everywhere(spec, schema, documented_example(op, status), "")
        assert not missing, f"{operation_id} {status}: documented but not required: {missing}"
    properties, required = object_shape(spec, spec["components"]["schemas"]["SnapshotList"])
    assert {"next", "previous"} <= set(properties)
    assert not {"next", "previous"} & required


# --- x-requirements -----------------------------------------------------------------------------------------


def _requirement_lists(spec: dict[str, Any]) -> list[tuple[str, str, str, list[str]]]:
    """(operationId, status or '', label, x-requirements) for every operation and response."""
    found = []
    for (method, path), op in operations(spec).items():
        found.append((op["operationId"], "", f"{method} {path}", op.get("x-requirements")))
        for status, response in op["responses"].items():
            found.append(
                (op["operationId"], status, f"{method} {path} {status}", response.get("x-requirements"))
            )
    return found


def test_every_operation_and_response_names_requirements(spec: dict[str, Any]) -> None:
    for _, _, label, ids in _requirement_lists(spec):
        assert isinstance(ids, list), f"{label}: no x-requirements list"
        assert ids, f"{label}: empty x-requirements"
        assert len(ids) == len(set(ids)), f"{label}: duplicate IDs in x-requirements"


def test_x_requirements_exist_in_the_catalog(spec: dict[str, Any]) -> None:
    catalog = load_requirements()
    unknown = [
        (label, rid)
        for _, _, label, ids in _requirement_lists(spec)
        for rid in ids or []
        if rid not in catalog
    ]
    assert not unknown, f"x-requirements name IDs missing from spec/requirements.yaml: {unknown}"


def test_operation_requirements_agree_with_the_catalog(spec: dict[str, Any]) -> None:
    """An operation names exactly the requirements the catalog applies to it; responses name a subset."""
    catalog = load_requirements()
    for operation_id, status, label, ids in _requirement_lists(spec):
        if status:
            assert set(ids) <= set(op_by_id(spec, operation_id)["x-requirements"]), label
            for rid in ids:
                assert operation_id in catalog[rid].operations, (
                    f"{label}: {rid} does not apply to {operation_id}"
                )
        else:
            expected = {rid for rid, req in catalog.items() if operation_id in req.operations}
            assert set(ids) == expected, (
                f"{label}: missing {expected - set(ids)}, extra {set(ids) - expected}"
            )


def test_expected_statuses_are_carried_by_their_responses(spec: dict[str, Any]) -> None:
    """A requirement accepting a documented status is named by that response of one of its operations."""
    catalog = load_requirements()
    for rid, requirement in catalog.items():
        codes = {str(code) for code in requirement.accept if isinstance(code, int)}
        candidates = [
            (operation_id, code)
            for operation_id in requirement.operations
            for code in codes
            if code in op_by_id(spec, operation_id)["responses"]
        ]
        if candidates:
            carriers = [
                (operation_id, code)
                for operation_id, code in candidates
                if rid in op_by_id(spec, operation_id)["responses"][code]["x-requirements"]
            ]
            assert carriers, f"{rid} accepts {sorted(codes)} but no response among {candidates} names it"


def test_unauthorized_responses_carry_the_auth_requirements(spec: dict[str, Any]) -> None:
    for op in operations(spec).values():
        assert {"AUTH-01", "AUTH-02", "AUTH-03"} <= set(op["responses"]["401"]["x-requirements"])


# --- schemathesis -------------------------------------------------------------------------------------------


def load_with_schemathesis(raw: dict[str, Any] | None = None) -> tuple[Any, list[warnings.WarningMessage]]:
    """Load the spec file (or `raw`) in schemathesis with a default config, recording every Python warning."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        config = schemathesis.Config()
        if raw is None:
            schema = schemathesis.openapi.from_path(SPEC_DIR / "openapi.yaml", config=config)
        else:
            schema = schemathesis.openapi.from_dict(copy.deepcopy(raw), config=config)
        schema.validate()
        errors = [result.err() for result in schema.get_all_operations() if not isinstance(result, Ok)]
        assert not errors, f"schemathesis could not process operations: {errors}"
        analysis = list(schema.iter_schema_warnings())
        assert not analysis, f"schemathesis schema warnings: {[(w.kind, w.message) for w in analysis]}"
    return schema, list(caught)


def explicit_links(schema: Any) -> dict[tuple[str, str, str], tuple[str, dict[str, str]]]:
    """The spec's own (non-inferred) links as the state machine resolved them; raises if one is broken."""
    machine = schema.as_state_machine()
    by_label = {f"{method} {path}": operation_id for (method, path), operation_id in OPERATION_IDS.items()}
    links = {}
    for transitions in machine._transitions.operations.values():
        for link in transitions.outgoing:
            if link.is_inferred:
                continue
            key = (by_label[link.source.label], link.status_code, link.name)
            links[key] = (by_label[link.target.label], {p.name: p.expression for p in link.parameters})
    return links


def _ok_operations(schema: Any) -> list[Any]:
    """The API operations schemathesis built from the spec."""
    return [result.ok() for result in schema.get_all_operations()]


def test_schemathesis_loads_the_spec_without_warnings() -> None:
    schema, caught = load_with_schemathesis()
    assert not caught, f"warnings while loading: {[str(w.message) for w in caught]}"
    labels = {op.label for op in _ok_operations(schema)}
    assert labels == {f"{method} {path}" for method, path in OPERATION_IDS}


def test_schemathesis_resolves_every_link(spec: dict[str, Any]) -> None:
    schema, _ = load_with_schemathesis()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        links = explicit_links(schema)
    assert not caught, f"warnings while building the state machine: {[str(w.message) for w in caught]}"
    assert links == EXPECTED_LINKS
    declared = {
        (op["operationId"], status, name)
        for op in operations(spec).values()
        for status, response in op["responses"].items()
        for name in response.get("links", {})
    }
    assert declared == set(EXPECTED_LINKS), "every declared link must be resolved by schemathesis"


def test_link_body_pointers_name_required_response_fields(spec: dict[str, Any]) -> None:
    """schemathesis does not check `$response.body#/...` pointers; a typo would silently extract nothing."""
    for (operation_id, status, name), (_, parameters) in EXPECTED_LINKS.items():
        response = op_by_id(spec, operation_id)["responses"][status]
        for expression in parameters.values():
            if not expression.startswith("$response.body#/"):
                continue
            schema: Any = response["content"]["application/json"]["schema"]
            for part in expression.removeprefix("$response.body#/").split("/"):
                properties, required = object_shape(spec, schema)
                assert part in required, f"{name}: {expression} names no required field ({part})"
                schema = properties[part]
            assert resolve(spec, schema)["type"] == "integer", f"{name}: {expression} is not an id"


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda links: links["RestoreCreatedSnapshot"].update(operationId="restoreSnapshots"), "not found"),
        (
            lambda links: links["DeleteCreatedSnapshot"].update(parameters={"id": "$response.body#/id"}),
            "`id`",
        ),
        (
            lambda links: links["DeleteCreatedSnapshot"].update(parameters={"snapshot_id": "$resp.body#/id"}),
            "Invalid",
        ),
    ],
    ids=["unknown-operation", "unknown-parameter", "bad-expression"],
)
def test_a_broken_link_fails_the_link_check(spec: dict[str, Any], damage: Any, message: str) -> None:
    broken = copy.deepcopy(spec)
    damage(broken["paths"]["/api/v1/snapshots/"]["post"]["responses"]["201"]["links"])
    schema, _ = load_with_schemathesis(broken)
    with pytest.raises(InvalidStateMachine, match=message):
        explicit_links(schema)


def test_a_broken_request_link_fails_the_link_check(spec: dict[str, Any]) -> None:
    broken = copy.deepcopy(spec)
    restore = broken["paths"]["/api/v1/snapshots/{snapshot_id}/restore/"]["post"]
    restore["responses"]["200"]["links"]["DeleteRestoredSnapshot"]["parameters"] = {
        "snapshot_id": "$request.path.id"
    }
    schema, _ = load_with_schemathesis(broken)
    with pytest.raises(InvalidStateMachine, match="non-existent path parameter"):
        explicit_links(schema)
