"""ctrf.json, badge.svg, attestation.json: schema validity, the predicate, signing, `vpsconform verify`."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from test_cli import assert_one_line_error, remote_args, vpsconform

from vpsconform.catalog import spec_hash
from vpsconform.cli import main
from vpsconform.config import build_config
from vpsconform.errors import ConfigError, KeyProblem
from vpsconform.redaction import Redactor
from vpsconform.reference.server import RunningTarget
from vpsconform.reporting import write_all
from vpsconform.reporting.attestation import PREDICATE_TYPE, STATEMENT_TYPE, ci_run_url, result_of
from vpsconform.reporting.badge import COLOURS, badge_value
from vpsconform.reporting.ctrf import ctrf_document, ctrf_schema
from vpsconform.reporting.files import ATTESTED
from vpsconform.reporting.signing import PAYLOAD_TYPE

FIXTURES = Path(__file__).parent / "fixtures" / "report_samples"
FAKE_TOKEN = "vpsc-fake-token-7f3a9c1e"


def fixture(name: str, **changes: Any) -> dict[str, Any]:
    """A stored report.json, optionally relabelled (rendering shows what the model concluded)."""
    report = json.loads((FIXTURES / name / "report.json").read_text(encoding="utf-8"))
    report.update(changes)
    return report


RUNS = {
    "conformant": lambda: fixture("conformant"),
    "nonconformant": lambda: fixture("nonconformant"),
    "incomplete": lambda: fixture("nonconformant", verdict="incomplete"),
    "error": lambda: fixture("nonconformant", verdict="error", interrupted="interrupted by SIGINT"),
}


def pem_pair(folder: Path, kind: str = "ed25519") -> tuple[Path, Path]:
    """A fresh private key (PKCS#8 PEM) and its public key, written under ``folder``."""
    private: Any = {
        "ed25519": ed25519.Ed25519PrivateKey.generate,
        "ecdsa": lambda: ec.generate_private_key(ec.SECP256R1()),
        "rsa": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
    }[kind]()
    key, pub = folder / f"{kind}.pem", folder / f"{kind}.pub"
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    pub.write_bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return key, pub


def verify(*args: str) -> tuple[int, list[str]]:
    """`vpsconform verify ARGS`: exit status and the non-empty lines it printed (stdout and stderr)."""
    done = CliRunner().invoke(main, ["verify", *args])
    assert "Traceback" not in done.output
    return done.exit_code, [line for line in done.output.splitlines() if line.strip()]


def flip_one_byte(path: Path, offset: int = 200) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def statement_in(folder: Path) -> dict[str, Any]:
    document = json.loads((folder / "attestation.json").read_text(encoding="utf-8"))
    if "payloadType" in document:
        return json.loads(base64.b64decode(document["payload"]))
    return document


@pytest.mark.parametrize("verdict", list(RUNS))
def test_ctrf_is_schema_valid_one_test_per_requirement(verdict: str, tmp_path: Path) -> None:
    report = RUNS[verdict]()
    write_all(report, tmp_path, Redactor({}))
    document = json.loads((tmp_path / "ctrf.json").read_text(encoding="utf-8"))
    jsonschema.Draft7Validator(ctrf_schema(), format_checker=jsonschema.FormatChecker()).validate(document)
    tests = document["results"]["tests"]
    assert [t["testId"] for t in tests] == [e["id"] for e in report["requirements"]]
    assert document["results"]["summary"]["tests"] == len(tests)
    assert sum(document["results"]["summary"][s] for s in ("passed", "failed", "skipped", "other")) == len(
        tests
    )
    assert document["extra"]["vpsconform.verdict"] == verdict


def test_ctrf_statuses_text_suite_and_evidence() -> None:
    report = fixture("nonconformant")
    tests = {t["testId"]: t for t in ctrf_document(report)["results"]["tests"]}
    expected = {"pass": "passed", "warn": "passed", "fail": "failed", "skip": "skipped"}
    expected |= {"inconclusive": "other", "error": "other"}
    for entry in report["requirements"]:
        test = tests[entry["id"]]
        assert test["status"] == expected[entry["verdict"]] and test["rawStatus"] == entry["verdict"]
        assert test["name"] == f"{entry['id']} {entry['title']}"
        assert test["suite"] == [entry["area"]]
        if entry["verdict"] == "fail" and entry["findings"] and entry["findings"][0]["evidence"]:
            assert entry["message"] in test["message"] and "curl" in test["message"]
    invalid = ctrf_document(report)
    invalid["results"]["tests"][0]["status"] = "warn"  # the schema is really applied
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(invalid, ctrf_schema())


@pytest.mark.parametrize(
    ("verdict", "warns", "result"),
    [
        ("conformant", 0, "PASSED"),
        ("conformant", 2, "WARNED"),
        ("incomplete", 0, "WARNED"),
        ("nonconformant", 0, "FAILED"),
        ("error", 0, "FAILED"),
    ],
)
def test_result_from_the_verdict(verdict: str, warns: int, result: str) -> None:
    assert result_of({"verdict": verdict, "summary": {"warn": warns}}) == result


def test_statement_subjects_and_predicate(tmp_path: Path) -> None:
    report = fixture("nonconformant")
    write_all(report, tmp_path, Redactor({}))
    statement = statement_in(tmp_path)
    assert statement["_type"] == STATEMENT_TYPE and statement["predicateType"] == PREDICATE_TYPE
    names = [s["name"] for s in statement["subject"]]
    assert names == list(ATTESTED)
    assert {"report.json", "report.html", "ctrf.json", "spec/openapi.yaml", "spec/requirements.yaml"} <= set(
        names
    )
    predicate = statement["predicate"]
    assert predicate["result"] == "FAILED" and predicate["verdict"] == "nonconformant"
    by = {v: [e["id"] for e in report["requirements"] if e["verdict"] == v] for v in ("pass", "warn", "fail")}
    assert (predicate["passedTests"], predicate["warnedTests"], predicate["failedTests"]) == (
        by["pass"],
        by["warn"],
        by["fail"],
    )
    assert predicate["outOfScope"] == report["scope"]["out_of_scope"]
    assert predicate["unjudgedTests"] == [u["id"] for u in report["scope"]["unjudged"]]
    config = {c["name"]: c for c in predicate["configuration"]}
    assert config["vpsconform"]["annotations"]["version"] == report["suite"]["version"]
    contract = config["spec/openapi.yaml + spec/requirements.yaml"]
    assert contract["annotations"]["specHash"] == spec_hash(tmp_path / "spec")
    assert config["run configuration"]["annotations"]["seed"] == report["target"]["seed"]
    assert config["suite strength (kill matrix)"]["annotations"] == report["suite"]["strength"]
    assert spec_hash(tmp_path / "spec") == spec_hash()  # the contract as bundled, byte for byte


@pytest.mark.parametrize(
    ("verdict", "value", "colour"),
    [
        ("conformant", "conformant 69/69", "conformant"),
        ("incomplete", "incomplete 24/66, 3 out of scope", "incomplete"),
        ("nonconformant", "nonconformant 24/66, 3 out of scope", "nonconformant"),
    ],
)
def test_badge_says_verdict_judged_and_scope(verdict: str, value: str, colour: str, tmp_path: Path) -> None:
    report = fixture("conformant" if verdict == "conformant" else "nonconformant", verdict=verdict)
    assert badge_value(report) == value
    smoke = copy.deepcopy(report)
    smoke["scope"].update(must_in_scope=40, judged=40)
    assert badge_value(smoke).endswith("40/40, 29 out of scope")
    write_all(report, tmp_path, Redactor({}))
    svg = (tmp_path / "badge.svg").read_text(encoding="utf-8")
    assert "vpsconform" in svg and value in svg and COLOURS[colour] in svg


@pytest.mark.parametrize("kind", ["ed25519", "ecdsa"])
def test_signed_envelope_verifies_with_the_public_key(kind: str, tmp_path: Path) -> None:
    key, pub = pem_pair(tmp_path, kind)
    folder = tmp_path / "run"
    write_all(fixture("conformant"), folder, Redactor({}), sign_key=key)
    envelope = json.loads((folder / "attestation.json").read_text(encoding="utf-8"))
    assert envelope["payloadType"] == PAYLOAD_TYPE and len(envelope["signatures"]) == 1
    assert statement_in(folder)["predicate"]["result"] == "PASSED"
    code, lines = verify(str(folder), "--key", str(pub))
    assert (code, len(lines)) == (0, 1) and "signature verified" in lines[0], lines
    code, lines = verify(str(folder))
    assert code == 0 and "signature not checked" in lines[0]


@pytest.mark.parametrize("name", ["report.json", "ctrf.json", "spec/requirements.yaml"])
@pytest.mark.parametrize("signed", [True, False], ids=["signed", "unsigned"])
def test_one_changed_byte_exits_1_naming_the_file(name: str, signed: bool, tmp_path: Path) -> None:
    key, pub = pem_pair(tmp_path)
    folder = tmp_path / "run"
    write_all(fixture("nonconformant"), folder, Redactor({}), sign_key=key if signed else None)
    assert verify(str(folder))[0] == 0
    flip_one_byte(folder / name)
    code, lines = verify(str(folder), *(["--key", str(pub)] if signed else []))
    assert code == 1 and lines == [f"vpsconform: {name}: sha256 differs from the attestation"]


def test_wrong_key_and_a_forged_payload_exit_1(tmp_path: Path) -> None:
    key, pub = pem_pair(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    _, wrong = pem_pair(other)
    folder = tmp_path / "run"
    write_all(fixture("nonconformant"), folder, Redactor({}), sign_key=key)
    assert verify(str(folder), "--key", str(wrong)) == (
        1,
        ["vpsconform: signature does not verify with this key"],
    )
    # Edit report.json and re-point the statement at it: the digests match, the signature no longer does.
    flip_one_byte(folder / "report.json")
    envelope = json.loads((folder / "attestation.json").read_text(encoding="utf-8"))
    statement = statement_in(folder)
    statement["subject"][0]["digest"]["sha256"] = hashlib.sha256(
        (folder / "report.json").read_bytes()
    ).hexdigest()
    envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    (folder / "attestation.json").write_text(json.dumps(envelope), encoding="utf-8")
    assert verify(str(folder), "--key", str(pub)) == (
        1,
        ["vpsconform: signature does not verify with this key"],
    )
    assert verify(str(folder))[0] == 0, "without the key only the digests are checked, and they match"


def test_an_unsigned_attestation_fails_when_a_key_is_expected(tmp_path: Path) -> None:
    _, pub = pem_pair(tmp_path)
    write_all(fixture("conformant"), tmp_path / "run", Redactor({}))
    code, lines = verify(str(tmp_path / "run"), "--key", str(pub))
    assert code == 1 and "not signed" in lines[0] and len(lines) == 1


def test_a_removed_file_exits_1(tmp_path: Path) -> None:
    write_all(fixture("conformant"), tmp_path, Redactor({}))
    (tmp_path / "ctrf.json").unlink()
    assert verify(str(tmp_path)) == (1, ["vpsconform: ctrf.json: missing (the attestation lists it)"])


def test_unusable_input_exits_2_with_one_line(tmp_path: Path) -> None:
    assert verify() == (
        2,
        ["vpsconform: error: verify needs a report folder: vpsconform verify DIR [--key PUB]"],
    )
    assert verify(str(tmp_path / "nowhere")) == (
        2,
        [f"vpsconform: error: no report folder at {tmp_path / 'nowhere'}"],
    )
    code, lines = verify(str(tmp_path))
    assert code == 2 and len(lines) == 1 and "has no attestation.json" in lines[0]
    write_all(fixture("conformant"), tmp_path, Redactor({}))
    code, lines = verify(str(tmp_path), "--key", str(tmp_path / "missing.pub"))
    assert code == 2 and len(lines) == 1 and "cannot read key" in lines[0]
    code, lines = verify(str(tmp_path), "--key", str(tmp_path / "report.json"))
    assert code == 2 and len(lines) == 1 and "not a PEM public key" in lines[0]


def test_unusable_signing_keys_are_refused_before_the_run(tmp_path: Path) -> None:
    rsa_key, _ = pem_pair(tmp_path, "rsa")
    ed_key, pub = pem_pair(tmp_path)
    encrypted = tmp_path / "encrypted.pem"
    private = serialization.load_pem_private_key(ed_key.read_bytes(), None)
    encrypted.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    for path, reason in [
        (tmp_path / "absent.pem", "cannot read key"),
        (pub, "not a PEM private key"),
        (rsa_key, "is not ed25519 or ECDSA"),
        (encrypted, "encrypted"),
    ]:
        with pytest.raises(KeyProblem, match=reason):
            write_all(fixture("conformant"), tmp_path / "never", Redactor({}), sign_key=path)
        assert not (tmp_path / "never").exists(), "a bad key is found before anything is written"
        flags = {"target": "http://127.0.0.1:9", "token": "t", "server_ids": ["1"], "sign_key": str(path)}
        with pytest.raises(ConfigError, match=reason) as caught:
            build_config(flags, {})
        assert "\n" not in str(caught.value) and str(caught.value).startswith("--sign-key")
    env = {"VPSCONFORM_TOKEN": "t", "VPSCONFORM_SIGN_KEY": str(ed_key)}
    assert build_config({"target": "http://127.0.0.1:9", "server_ids": ["1"]}, env).sign_key == str(ed_key)


def test_no_secret_in_any_new_file(tmp_path: Path) -> None:
    key, pub = pem_pair(tmp_path)
    report = fixture("nonconformant")
    report["target"]["note"] = f"token {FAKE_TOKEN}"
    report["requirements"][0]["message"] = f"bad token {FAKE_TOKEN}"
    folder = tmp_path / "run"
    write_all(report, folder, Redactor({FAKE_TOKEN: "VPSCONFORM_TOKEN"}), sign_key=key)
    private_pem = key.read_text(encoding="ascii")
    body = "".join(private_pem.strip().splitlines()[1:-1])
    for path in folder.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            assert FAKE_TOKEN not in text and body not in text, path
    payload = json.dumps(statement_in(folder))
    assert FAKE_TOKEN not in payload and body not in payload
    assert "VPSCONFORM_TOKEN" in (folder / "ctrf.json").read_text(encoding="utf-8")
    assert str(key) not in (folder / "report.json").read_text(encoding="utf-8")
    assert verify(str(folder), "--key", str(pub))[0] == 0


def test_run_refuses_an_unusable_sign_key_in_one_line(tmp_path: Path) -> None:
    args = ["--target", "http://127.0.0.1:9", "--token", "t", "--server-id", "1"]
    done = vpsconform("run", *args, "--sign-key", str(tmp_path / "absent.pem"))
    assert_one_line_error(done, 2, "--sign-key: cannot read key")


@pytest.mark.slow
def test_the_embedded_run_writes_ctrf_badge_and_a_signed_attestation(tmp_path: Path) -> None:
    key, pub = pem_pair(tmp_path)
    folder = tmp_path / "run"
    done = vpsconform(
        "run", "--select", "auth", "--seed", "5", "--report-dir", str(folder), "--sign-key", str(key)
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    document = json.loads((folder / "ctrf.json").read_text(encoding="utf-8"))
    jsonschema.Draft7Validator(ctrf_schema(), format_checker=jsonschema.FormatChecker()).validate(document)
    assert "conformant" in (folder / "badge.svg").read_text(encoding="utf-8")
    predicate = statement_in(folder)["predicate"]
    assert predicate["result"] in ("PASSED", "WARNED")
    contract = next(c for c in predicate["configuration"] if "digest" in c and "specHash" in c["annotations"])
    assert verify(str(folder), "--key", str(pub))[0] == 0
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    assert contract["annotations"]["specHash"] == report["suite"]["spec_hash"], "the run's own contract"
    assert report["tests"] and all(t["duration_s"] > 0 for t in report["tests"])
    seconds = {t["test"]: t["duration_s"] for t in report["tests"]}
    for entry in report["requirements"]:
        own = [seconds[name] for name in entry["tests"] if name in seconds]
        assert entry["time_s"] == (round(sum(own), 3) if own else None), entry["id"]
    assert sum(1 for e in report["requirements"] if e["time_s"]) >= 8
    assert report["timing"]["timed_tests"] == len(report["tests"])
    assert report["timing"]["wall_s"] >= max(t["duration_s"] for t in report["tests"])
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert (
        "Where the time went" in html
        and f"Every test, in the order it finished ({len(report['tests'])})" in html
    )
    cases = {
        c.get("name").split(" ")[0]: c for c in ET.parse(folder / "junit.xml").getroot().iter("testcase")
    }
    assert all(float(cases[e["id"]].get("time")) == (e["time_s"] or 0) for e in report["requirements"])
    flip_one_byte(folder / "report.json")
    assert verify(str(folder), "--key", str(pub)) == (
        1,
        ["vpsconform: report.json: sha256 differs from the attestation"],
    )


@pytest.mark.slow
def test_a_remote_run_keeps_tokens_out_of_the_new_files(
    reference_target: RunningTarget, tmp_path: Path
) -> None:
    key, pub = pem_pair(tmp_path)
    folder = tmp_path / "run"
    args = [
        *remote_args(reference_target),
        "--time-scale",
        "0.01",
        "--select",
        "auth",
        "--report-dir",
        str(folder),
    ]
    done = vpsconform("run", *args, env={"VPSCONFORM_SIGN_KEY": str(key)})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    token = reference_target.account("main").token
    private_body = "".join(key.read_text(encoding="ascii").strip().splitlines()[1:-1])
    texts = [p.read_text(encoding="utf-8") for p in folder.rglob("*") if p.is_file()]
    texts.append(json.dumps(statement_in(folder)))
    assert all(token not in text and private_body not in text for text in texts)
    assert verify(str(folder), "--key", str(pub))[0] == 0


def test_the_predicate_links_the_ci_run_that_made_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    github = {
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "org/audit",
        "GITHUB_RUN_ID": "42",
    }
    assert ci_run_url(github) == "https://github.com/org/audit/actions/runs/42"
    assert ci_run_url({"CI_JOB_URL": "https://gitlab.example/org/audit/-/jobs/7"}).endswith("/jobs/7")
    assert ci_run_url({}) is None
    for name, value in github.items():
        monkeypatch.setenv(name, value)
    write_all(fixture("conformant"), tmp_path, Redactor({}))
    assert statement_in(tmp_path)["predicate"]["url"] == "https://github.com/org/audit/actions/runs/42"
