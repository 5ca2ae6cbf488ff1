"""ROBUST and SCHEMA: property-based requests generated from spec/openapi.yaml, valid and invalid.

Hypothesis drives schemathesis' strategies for every operation; each request goes through the run's client
(rate limit, evidence, cleanup ledger) and each answer through schemathesis' response checks, mapped onto
the catalog. Catches: 5xx on odd input, bodies that break the documented shape, undocumented success codes,
non-JSON success bodies.
"""

from __future__ import annotations

import random

import pytest
from _helpers import new_snapshot_id
from hypothesis import HealthCheck, Phase, given, reject, seed, settings
from schemathesis import GenerationMode

from vpsconform.contract import SNAPSHOT_LIMIT
from vpsconform.errors import ObservationFailed
from vpsconform.fuzzing import judge, load_schema, make_safe, send

SCHEMA = load_schema()
OPERATIONS = [op.ok() for op in SCHEMA.get_all_operations()]
EXAMPLES = {"smoke": 10, "standard": 40, "deep": 250}
#: Generated requests of one operation the target may leave unanswered before the rest are not sent: a
#: target that never answers some bodies is not waited on for every example like them.
LOST_LIMIT = 3


@pytest.fixture(scope="module")
def tombstones(api, servers, names):
    """Ids of snapshots this run created and deleted: safe targets for generated restores and deletes."""
    ids = []
    with servers.lease() as server_id:
        if server_id is not None:
            snapshot_id = new_snapshot_id(api.create_snapshot(server_id, names("tombstone")))
            if snapshot_id is not None:
                api.delete_snapshot(snapshot_id)
                ids.append(snapshot_id)
    return ids


@pytest.mark.requirement("ROBUST-02")
@pytest.mark.fuzzes  # and every requirement whose catalog entry has a `fuzz` key
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.label)
def test_generated_requests(operation, mode, api, check, run_config, run_state, servers, names, tombstones):
    """Generated requests never get a 5xx, and successful answers match the documented shapes."""
    rng = random.Random(run_config.seed)
    seen: set[tuple[str, str]] = set()
    sent: list[int] = []
    lost: list[str] = []

    @seed(run_config.seed)
    @settings(
        max_examples=EXAMPLES[run_config.profile],
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def explore(case):
        if len(lost) >= LOST_LIMIT:
            reject()
        make_safe(case, targets, tombstones, rng, names.prefix)
        try:
            response = send(api, case, run_state.liveness.answer_timeout(run_config.request_timeout))
            sent.append(response.status_code)
            judge(check, case, response, seen)
            snapshot_id = new_snapshot_id(response)
            if snapshot_id is not None:
                api.delete_snapshot(snapshot_id)  # free the slot at once; the ledger tracks it either way
        except ObservationFailed:
            lost.append(operation.label)  # our observation failed, not the target: discard the example
            reject()

    if operation.method.upper() == "GET":
        targets = servers.ids  # reads touch nothing: any configured server may be named
        explore()
    else:
        with servers.lease(room=(SNAPSHOT_LIMIT, 1)) as server_id:  # generated writes land on it alone
            if server_id is None:
                check.inconclusive("ROBUST-02", f"{operation.label}: no configured server had room")
                return
            targets = (server_id,)
            explore()
    check.that(
        "ROBUST-02",
        bool(sent),
        f"{operation.label}: {len(sent)} generated requests, none a server error"
        + (f" ({len(lost)} more lost in transit, not judged)" if lost else "")
        + (f"; after {LOST_LIMIT} unanswered, no more were sent" if len(lost) >= LOST_LIMIT else ""),
    )
