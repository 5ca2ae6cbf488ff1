"""attestation.json: an in-toto Statement with the test-result predicate over a report folder, and `verify`.

The subject is every file of the folder that states the result (report.json, report.html, ctrf.json, ...)
and the contract as bundled (spec/openapi.yaml, spec/requirements.yaml), each by sha256. With a key the
statement is signed in a DSSE envelope. Beyond the predicate's fields it carries the run's ``verdict``, the
requirements it left unjudged and those out of scope (in-toto consumers ignore fields they do not know).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from vpsconform.catalog import spec_hash
from vpsconform.errors import KeyProblem
from vpsconform.reporting.signing import load_public_key, open_envelope, sign, signed_by

ATTESTATION_JSON = "attestation.json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://in-toto.io/attestation/test-result/v0.1"
#: The contract as bundled, copied into every report folder and attested with it.
SPEC_FILES = ("spec/openapi.yaml", "spec/requirements.yaml")
EXIT_INTACT, EXIT_CHANGED, EXIT_UNUSABLE = 0, 1, 2


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def result_of(report: dict[str, Any]) -> str:
    """PASSED (conformant, no warning), WARNED (conformant with warnings, or incomplete), else FAILED."""
    verdict = report["verdict"]
    if verdict == "conformant":
        return "WARNED" if report.get("summary", {}).get("warn") else "PASSED"
    return "WARNED" if verdict == "incomplete" else "FAILED"


def ci_run_url(env: Mapping[str, str] = os.environ) -> str | None:
    """The CI job that ran the suite (GitHub Actions, GitLab CI), for the predicate's ``url``; else None."""
    github = [env.get(name) for name in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")]
    if all(github):
        return "{}/{}/actions/runs/{}".format(*github)
    return env.get("CI_JOB_URL") or None


def configuration(report: dict[str, Any], folder: Path) -> list[dict[str, Any]]:
    """ResourceDescriptors of what the run used: the suite, the contract, the run's options, its strength."""
    suite = report.get("suite", {})
    contract = hashlib.sha256(b"".join((folder / name).read_bytes() for name in SPEC_FILES)).hexdigest()
    strength = suite.get("strength") or {"measured": False}
    target = report.get("target", {})
    return [
        {
            "name": "vpsconform",
            "uri": f"pkg:pypi/vpsconform@{suite.get('version', '')}",
            "annotations": {"version": suite.get("version")},
        },
        {
            "name": " + ".join(SPEC_FILES),
            "digest": {"sha256": contract},
            "annotations": {"specHash": spec_hash(folder / "spec")},  # of the files attested
        },
        {
            "name": "run configuration",
            "digest": {"sha256": hashlib.sha256(_canonical(target)).hexdigest()},
            "annotations": {**target, "seed": target.get("seed")},
        },
        {
            "name": "suite strength (kill matrix)",
            "digest": {"sha256": hashlib.sha256(_canonical(strength)).hexdigest()},
            "annotations": strength,
        },
    ]


def statement(report: dict[str, Any], folder: Path, subjects: list[str]) -> dict[str, Any]:
    """The in-toto Statement over ``subjects`` (paths relative to ``folder``)."""
    by_verdict: dict[str, list[str]] = {}
    for entry in report["requirements"]:
        by_verdict.setdefault(entry["verdict"], []).append(entry["id"])
    scope = report.get("scope", {})
    url = ci_run_url()
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": name, "digest": {"sha256": sha256_file(folder / name)}} for name in subjects],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "result": result_of(report),
            "configuration": configuration(report, folder),
            **({"url": url} if url else {}),
            "passedTests": by_verdict.get("pass", []),
            "warnedTests": by_verdict.get("warn", []),
            "failedTests": by_verdict.get("fail", []),
            "verdict": report["verdict"],
            "scope": scope.get("statement", ""),
            "unjudgedTests": [item["id"] for item in scope.get("unjudged", [])],
            "outOfScope": list(scope.get("out_of_scope", [])),
        },
    }


def attestation_text(document: dict[str, Any], signer: Any = None) -> str:
    """attestation.json's text: the statement, or with a signer its DSSE envelope."""
    if signer is None:
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    return json.dumps(sign(_canonical(document), signer), indent=2) + "\n"


@dataclasses.dataclass(frozen=True)
class Verification:
    """The outcome of `verify`: an exit status and the one line that says it."""

    code: int
    line: str


class _Ends(Exception):
    """Verification ends early with this outcome."""

    def __init__(self, code: int, line: str) -> None:
        super().__init__(line)
        self.outcome = Verification(code, line)


def _statement_of(document: Any, key_path: Path | None) -> tuple[dict[str, Any], str]:
    """The statement inside attestation.json and how its signature was checked; _Ends when it cannot be."""
    if isinstance(document, dict) and "payloadType" in document:
        try:
            envelope = open_envelope(document)
        except ValueError as exc:
            raise _Ends(EXIT_CHANGED, f"{ATTESTATION_JSON}: {exc}") from None
        if key_path is not None and not signed_by(envelope, load_public_key(key_path)):
            raise _Ends(EXIT_CHANGED, "signature does not verify with this key")
        how = (
            f"signature verified with {key_path}"
            if key_path
            else "signed, signature not checked (give --key)"
        )
        try:
            document = json.loads(envelope.payload)
        except ValueError:
            raise _Ends(EXIT_CHANGED, f"{ATTESTATION_JSON}: its payload is not JSON") from None
    elif key_path is not None:
        raise _Ends(EXIT_CHANGED, f"{ATTESTATION_JSON} is not signed, but --key was given")
    else:
        how = "unsigned: digests only"
    ok = isinstance(document, dict) and document.get("predicateType") == PREDICATE_TYPE
    if not ok or not isinstance(document.get("subject"), list):
        raise _Ends(EXIT_CHANGED, f"{ATTESTATION_JSON}: not an in-toto test-result statement")
    return document, how


def _changed(folder: Path, subjects: list[Any]) -> str | None:
    """The line naming what differs from the attested subjects, or None when every file matches."""
    missing, differing = [], []
    for subject in subjects:
        name = str(subject.get("name", "")) if isinstance(subject, dict) else ""
        relative = PurePosixPath(name)
        if not name or relative.is_absolute() or ".." in relative.parts:
            return f"{ATTESTATION_JSON}: subject {name!r} is not a file of the report folder"
        path = folder / relative
        if not path.is_file():
            missing.append(name)
        elif sha256_file(path) != subject.get("digest", {}).get("sha256"):
            differing.append(name)
    if differing:
        return f"{', '.join(differing)}: sha256 differs from the attestation"
    if missing:
        return f"{', '.join(missing)}: missing (the attestation lists it)"
    return None


def verify_folder(folder: Path, key_path: Path | None = None) -> Verification:
    """Check a report folder against its attestation.json: the signature (with a key), then every digest."""
    if not folder.is_dir():
        return Verification(EXIT_UNUSABLE, f"no report folder at {folder}")
    attestation = folder / ATTESTATION_JSON
    if not attestation.is_file():
        return Verification(EXIT_UNUSABLE, f"{folder} has no {ATTESTATION_JSON}")
    try:
        if key_path is not None:
            load_public_key(key_path)
        document = json.loads(attestation.read_bytes())
        found, how = _statement_of(document, key_path)
    except KeyProblem as exc:
        return Verification(EXIT_UNUSABLE, str(exc))
    except _Ends as end:
        return end.outcome
    except (OSError, ValueError) as exc:
        return Verification(EXIT_CHANGED, f"{ATTESTATION_JSON}: not readable JSON ({exc})")
    changed = _changed(folder, found["subject"])
    if changed:
        return Verification(EXIT_CHANGED, changed)
    return Verification(EXIT_INTACT, f"intact: {len(found['subject'])} files match the attestation ({how})")


def statement_of_folder(folder: Path) -> dict[str, Any] | None:
    """The statement in a folder's attestation.json (signed or not), for the published site; else None."""
    try:
        document = json.loads((folder / ATTESTATION_JSON).read_bytes())
        if isinstance(document, dict) and "payloadType" in document:
            document = json.loads(base64.b64decode(document["payload"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return document if isinstance(document, dict) else None
