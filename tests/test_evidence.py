"""Evidence and verdict plumbing: redaction, curl reproductions, status matching, aggregation."""

from __future__ import annotations

import shlex
import sys

import httpx
import pytest

from vpsconform.catalog import load_requirements
from vpsconform.client import ApiClient
from vpsconform.errors import ProbeError
from vpsconform.probes import Probes
from vpsconform.ratelimit import RateLimiter
from vpsconform.redaction import Redactor
from vpsconform.reporting import run_verdict
from vpsconform.verdicts import Checker, Findings, Undecidable, Verdict, aggregate, status_matches

CATALOG = load_requirements()


def test_redactor_replaces_every_secret_with_its_variable() -> None:
    redact = Redactor({"abc123": "VPSCONFORM_TOKEN", "abc123-long": "VPSCONFORM_FOREIGN_TOKEN"})
    text = redact("Bearer abc123 and Bearer abc123-long in /x?t=abc123")
    assert "abc123" not in text.replace("${VPSCONFORM", "")
    assert (
        text
        == "Bearer ${VPSCONFORM_TOKEN} and Bearer ${VPSCONFORM_FOREIGN_TOKEN} in /x?t=${VPSCONFORM_TOKEN}"
    )


def test_exchanges_are_redacted_and_curl_reproduces_them() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"echo": request.headers["Authorization"]})

    seen = []
    client = ApiClient(
        "http://target.test",
        "s3cr3t-token",
        redactor=Redactor({"s3cr3t-token": "VPSCONFORM_TOKEN"}),
        limiter=RateLimiter(0),
        timeout=5,
        observers=[lambda e, r: seen.append(e)],
    )
    client._http = httpx.Client(transport=httpx.MockTransport(handler))
    client.create_snapshot(7, "it's")
    exchange = seen[0]
    dumped = repr(exchange.to_dict())
    assert "s3cr3t-token" not in dumped and "${VPSCONFORM_TOKEN}" in dumped
    words = shlex.split(exchange.curl())
    assert words[:6] == ["curl", "-sS", "-i", "-X", "POST", "-H"]
    assert "authorization: bearer ${vpsconform_token}" in [word.lower() for word in words]
    assert words[-1] == "http://target.test/api/v1/snapshots/"
    assert '{"server_id": 7, "name": "it\'s"}' in words
    assert exchange.summary() == "POST /api/v1/snapshots/ -> 400"


@pytest.mark.parametrize(
    ("status", "patterns", "expected"),
    [
        (400, [400], True),
        (422, [400, "4xx"], True),
        (500, ["4xx"], False),
        (201, [200], False),
        (204, ["2xx"], True),
    ],
)
def test_status_matching(status: int, patterns: list, expected: bool) -> None:
    assert status_matches(status, patterns) is expected


def test_must_fails_interpretation_warns_and_aggregation_orders_verdicts() -> None:
    findings = Findings()
    checker = Checker(CATALOG, "t::one", findings)
    assert checker.that("LIMIT-02", False, "6th create answered 201") is False
    assert checker.that("RESTORE-06", False, "in-progress restore accepted") is False
    checker.that("LIMIT-01", True, "5 creates answered 201")
    other = Checker(CATALOG, "t::two", findings)
    other.that("LIMIT-02", True, "6th create answered 400")
    other.inconclusive("LIMIT-03", "no room")
    results = {r.requirement.id: r for r in aggregate(CATALOG, findings, "not run")}
    assert results["LIMIT-02"].verdict is Verdict.FAIL and results["LIMIT-02"].tests == ["t::one", "t::two"]
    assert results["RESTORE-06"].verdict is Verdict.WARN
    assert results["LIMIT-01"].verdict is Verdict.PASS
    assert results["LIMIT-03"].verdict is Verdict.INCONCLUSIVE
    assert results["DATA-01"].verdict is Verdict.SKIP and results["DATA-01"].message == "not run"
    assert [f.requirement for f in checker.failures()] == ["LIMIT-02"]
    assert run_verdict(list(results.values())) == "nonconformant"


def test_a_warning_alone_keeps_a_run_conformant_and_an_error_makes_it_incomplete() -> None:
    findings = Findings()
    Checker(CATALOG, "t", findings).warn("RESTORE-07", "server active")
    others = set(CATALOG) - {"RESTORE-07", "DATA-01"}
    assert run_verdict(aggregate(CATALOG, findings, ""), others | {"DATA-01"}) == "conformant"
    Checker(CATALOG, "t", findings).record("DATA-01", Verdict.ERROR, "probe failed")
    assert run_verdict(aggregate(CATALOG, findings, ""), others) == "incomplete"


def test_undecidable_ends_the_test_with_its_open_requirements_inconclusive() -> None:
    findings = Findings()
    checker = Checker(CATALOG, "t", findings, declared=("LIMIT-01", "LIMIT-02", "LIMIT-07"))
    checker.that("LIMIT-01", True, "5 creates answered 201")
    with pytest.raises(Undecidable, match="list unreadable"):
        checker.undecidable("list unreadable")
    assert [(f.requirement, f.verdict) for f in findings] == [
        ("LIMIT-01", Verdict.PASS),
        ("LIMIT-02", Verdict.INCONCLUSIVE),
        ("LIMIT-07", Verdict.INCONCLUSIVE),
    ]
    assert not isinstance(Undecidable("x"), Exception)  # no `except Exception` on the way swallows it
    with pytest.raises(Undecidable):
        checker.undecidable("no room", ["LIMIT-01"])  # named requirements are recorded as they are
    assert [f.message for f in findings.for_test("t")][-1] == "no room"


def test_unknown_requirement_is_a_suite_bug() -> None:
    with pytest.raises(KeyError, match="NOPE-01"):
        Checker(CATALOG, "t", Findings()).that("NOPE-01", True, "x")


def test_probes_substitute_inside_arguments_without_a_shell(tmp_path) -> None:
    store = tmp_path / "marker"
    script = "import sys,pathlib; p=pathlib.Path(sys.argv[2]);"
    write = f"{sys.executable} -c '{script} p.write_text(sys.argv[1])' data-{{marker}}-{{server_id}} {store}"
    read = f"{sys.executable} -c '{script} print(p.read_text())' {{server_id}} {store}"
    probes = Probes(write, read)
    probes.write(42, "a b;$(rm -rf /)")
    assert probes.read(42) == "data-a b;$(rm -rf /)-42"


def test_probe_failures_are_one_line_errors() -> None:
    with pytest.raises(ProbeError, match="exited 1: boom"):
        Probes(
            f"{sys.executable} -c 'import sys; sys.exit(\"boom\")' {{server_id}} {{marker}}",
            "true {server_id}",
        ).write(1, "m")
    with pytest.raises(ProbeError, match="command not found"):
        Probes("/nonexistent/probe {server_id} {marker}", "x {server_id}").write(1, "m")
    with pytest.raises(ProbeError, match="printed nothing"):
        Probes("true {server_id} {marker}", "true {server_id}").read(1)
    with pytest.raises(ProbeError, match=r"within 0\.2 s"):
        Probes(
            f"{sys.executable} -c 'import time; time.sleep(5)' {{server_id}} {{marker}}",
            "x {server_id}",
            timeout=0.2,
        ).write(1, "m")


def paged_client(pages: dict[str, httpx.Response]) -> tuple[ApiClient, list[str]]:
    """A client whose transport serves fixed list pages by URL, recording the URLs asked for."""
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        return pages.get(str(request.url), httpx.Response(404))

    client = ApiClient(
        "http://target.test", "t", redactor=Redactor({}), limiter=RateLimiter(0), timeout=5, observers=[]
    )
    client._http = httpx.Client(transport=httpx.MockTransport(handler))
    return client, asked


def page(ids: list[int], next_link: str | None) -> httpx.Response:
    return httpx.Response(200, json={"count": 9, "results": [{"id": i} for i in ids], "next": next_link})


def test_list_all_follows_next_links_on_the_same_origin_only() -> None:
    first = "http://target.test/api/v1/snapshots/"
    client, _ = paged_client({first: page([1, 2], "?page=2"), first + "?page=2": page([3], None)})
    assert [i["id"] for i in client.list_all()[1]] == [1, 2, 3]
    client, asked = paged_client({first: page([1], "https://elsewhere.test/api/v1/snapshots/?page=2")})
    assert client.list_all()[1] is None and asked == [first]  # the token never goes to another host
    client, _ = paged_client({first: page([1], "?page=2")})  # page 2 answers 404
    assert client.list_all()[1] is None
