"""A model of the documented contract, checked over the run's whole history (see history.py).

The history is replayed in answer order through a model of the documented state — per snapshot, per
server, per account — and every response is held to what the docs allow, wherever in the run it was seen:
a scenario, generated traffic, a watch or the cleanup. Each rule is named; the catalog's ``model`` key says
which requirement a rule judges, so no requirement ID is written here. A rule reports its violations with
the records that show them, and how many checks it made (the evidence a pass rests on).

False alarms are the design constraint: a list reflects the target at some instant between its request
and its answer (``t0``..``t1``), so a rule only compares observations whose order is certain; a snapshot
named by any delete or restore (whatever the answer, lost ones too, leniently parsed ids included) is no
longer expected anywhere; snapshots on servers the run was not given are never expected; and a new name at
a deleted id is a new snapshot (providers may reuse ids).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from vpsconform.contract import SERVERS, SNAPSHOT_LIMIT, SNAPSHOTS
from vpsconform.ledger import snapshot_id_of
from vpsconform.model_types import (
    ACCOUNTS,
    UNITS,
    Context,
    RuleResult,
    Snap,
    path_ids,
    server_of,
    template,
    when,
)

__all__ = ["Context", "Model", "RuleResult", "path_ids"]


class Model:
    """The documented state, replayed from a history; ``results`` holds what every rule found."""

    def __init__(self, context: Context, rules: Iterable[str]) -> None:
        self.context = context
        self.results = {rule: RuleResult(unit=UNITS.get(rule, "snapshots")) for rule in rules}
        self.snaps: dict[int, Snap] = {}
        self.owner = {s: a for a, ids in context.servers.items() for s in ids}
        self.refused: dict[str, dict[str, Any]] = {}  # name of a refused create -> its record
        self.named: set[str] = set()  # names sent by creates that were accepted or whose answer was lost
        self.made: set[int] = set()  # ids some 201 answered with
        self.absent_servers: dict[tuple[str, int], dict[str, Any]] = {}
        self.servers_api = False
        self.reported: set[tuple[str, Any]] = set()
        #: Sends and answers of every delete or restore that may have named an id (lost ones included).
        self.touches: dict[int, list[tuple[float, float]]] = {}
        self.deletes: list[tuple[float, float, int, dict[str, Any]]] = []  # 204 deletes: t0, t1, id, record
        self.servers_of: dict[int, set[Any]] = {}

    # --- bookkeeping ------------------------------------------------------------------------------------
    def _count(self, rule: str, subject: Any, checks: int = 1) -> None:
        result = self.results[rule]
        result.checks += checks
        result.subjects.add(subject)

    def _violate(self, rule: str, message: str, *records: dict[str, Any], subject: Any = None) -> None:
        """Record a violation (once per subject, when one is given: a snapshot listed 100 times is one)."""
        if subject is not None:
            if (rule, subject) in self.reported:
                return
            self.reported.add((rule, subject))
        self.results[rule].violations.append((message, list(records)))

    # --- replay -----------------------------------------------------------------------------------------
    def replay(self, records: Iterable[dict[str, Any]]) -> None:
        """Feed every record, in answer order."""
        records = list(records)
        self._survey(records)
        for record in records:
            if record.get("kind") == "exchange":
                self._exchange(record)
            elif record.get("kind") == "lost":
                self._unanswered(record)
        self._leftovers()

    def _survey(self, records: list[dict[str, Any]]) -> None:
        """Before the replay: every delete and restore sent (answered later or never too), every id's server.

        A list answered while a delete was still in flight may already miss the snapshot, so what may have
        removed a snapshot is known up front, not only once its answer comes in.
        """
        for record in records:
            path = urlsplit(record["url"]).path if "url" in record else ""
            if path.startswith(SERVERS) and record.get("status") == 200:
                self.servers_api = True  # it answers for some server: a 404 from it means "no such server"
            segment = path[len(SNAPSHOTS) :].split("/")[0] if path.startswith(SNAPSHOTS) else ""
            body = record.get("response")
            if segment and record["method"] in ("DELETE", "POST") and record.get("kind") != "refused":
                for snapshot_id in path_ids(segment):
                    self.touches.setdefault(snapshot_id, []).append((record["t0"], record["t1"]))
                deleted = snapshot_id_of(segment)
                if record["method"] == "DELETE" and record.get("status") == 204 and deleted:
                    self.deletes.append((record["t0"], record["t1"], deleted, record))
            items = body.get("results") if isinstance(body, dict) else None
            for entry in items if isinstance(items, list) else [body] if record.get("status") == 201 else []:
                if isinstance(entry, dict) and server_of(entry) is not None:
                    listed = snapshot_id_of(entry.get("id"))
                    if listed is not None:
                        self.servers_of.setdefault(listed, set()).add(server_of(entry))

    def touched(self, snap: Snap, before: float) -> bool:
        """Whether a delete or restore that may have named it was sent before ``before``, since its birth."""
        return any(t0 < before and t1 >= snap.born for t0, t1 in self.touches.get(snap.id, ()))

    def _exchange(self, record: dict[str, Any]) -> None:
        url = urlsplit(record["url"])
        path, method, status = url.path, record["method"], record["status"]
        self._response(record, method, path, status)
        who = record.get("who")
        if path.startswith(SERVERS) and method == "GET" and who in ACCOUNTS:
            self._server_read(record, path, status, who)
        if not path.startswith(SNAPSHOTS):
            return
        segment = path[len(SNAPSHOTS) :].split("/")[0]
        if method in ("DELETE", "POST") and segment:
            self._named(record, segment, method, status)
        if who not in ACCOUNTS:
            return
        if method == "GET" and not segment and status == 200:
            self._list(record, url.query, who)
        elif method == "POST" and not segment:
            self._create(record, status, who)

    def _response(self, record: dict[str, Any], method: str, path: str, status: int) -> None:
        self._count("no-server-error", "responses")
        if status >= 500:
            self._violate("no-server-error", f"{method} {path} -> {status}: a server error", record)
        codes = self.context.documented.get((method, template(path)))
        if codes is not None and 200 <= status < 400:
            self._count("documented-status", (method, template(path)))
            if status not in codes:
                self._violate("documented-status", f"{method} {path} -> {status}: not documented", record)

    def _server_read(self, record: dict[str, Any], path: str, status: int, who: str) -> None:
        server_id = snapshot_id_of(path[len(SERVERS) :].strip("/"))
        if server_id is None:
            return
        if status == 404 and server_id not in self.owner:
            self.absent_servers.setdefault((who, server_id), record)

    def _named(self, record: dict[str, Any], segment: str, method: str, status: int) -> None:
        """A delete or restore naming a path id: what it may have removed, and a 204 that surely did."""
        canonical = snapshot_id_of(segment)
        snap = self.snaps.get(canonical) if canonical is not None else None
        if method == "DELETE" and status == 204 and snap is not None:
            snap.gone_t1 = record["t1"]

    def _unanswered(self, record: dict[str, Any]) -> None:
        path = urlsplit(record["url"]).path
        segment = path[len(SNAPSHOTS) :].split("/")[0] if path.startswith(SNAPSHOTS) else ""
        if segment and record["method"] in ("DELETE", "POST"):
            self._named(record | {"status": 0}, segment, record["method"], 0)
        elif not segment and record["method"] == "POST" and isinstance(record.get("body"), dict):
            name = record["body"].get("name")
            if isinstance(name, str):
                self.named.add(name)

    # --- creates ----------------------------------------------------------------------------------------
    def _create(self, record: dict[str, Any], status: int, who: str) -> None:
        sent_body = record.get("body")
        sent: dict[str, Any] = sent_body if isinstance(sent_body, dict) else {}
        name, server_id = sent.get("name"), snapshot_id_of(sent.get("server_id"))
        if 400 <= status < 500:
            if status == 404 and server_id is not None and (who, server_id) in self.absent_servers:
                self._count("unknown-server", server_id)
            if isinstance(name, str) and name not in self.named:
                self.refused.setdefault(name, record)
            return
        if isinstance(name, str):
            self.named.add(name)
        body = record.get("response")
        snapshot_id = snapshot_id_of(body.get("id")) if isinstance(body, dict) else None
        if status != 201 or snapshot_id is None or not isinstance(body, dict):
            return
        self._unknown_server(record, who, server_id)
        previous = self.snaps.get(snapshot_id)
        self._count("unique-ids", snapshot_id)
        if snapshot_id in self.made and previous is not None and not self.touched(previous, record["t1"]):
            self._violate(
                "unique-ids",
                f"create answered 201 with id {snapshot_id}, which an earlier 201 gave",
                *[*previous.refs[:1], record],
            )
        self.made.add(snapshot_id)
        server = server_of(body) if server_of(body) is not None else server_id
        snap = Snap(snapshot_id, name, server_id if server_id is not None else server, record["t1"])
        snap.created_t1 = record["t1"]
        self.snaps[snapshot_id] = snap
        self._observe(snap, body, record)

    def _unknown_server(self, record: dict[str, Any], who: str, server_id: int | None) -> None:
        absent = self.absent_servers.get((who, server_id)) if server_id is not None else None
        if absent is None or not self.servers_api:
            return
        self._count("unknown-server", server_id)
        if absent["t1"] < record["t0"]:
            message = f"create on server {server_id} answered 201; the servers API had said it does not exist"
            self._violate("unknown-server", message, absent, record)

    # --- lists ------------------------------------------------------------------------------------------
    def _list(self, record: dict[str, Any], query: str, who: str) -> None:
        body = record.get("response")
        if not isinstance(body, dict) or not isinstance(body.get("results"), list):
            return
        items = [item for item in body["results"] if isinstance(item, dict)]
        params = parse_qs(query, keep_blank_values=True)
        scope = snapshot_id_of(params["server_id"][0]) if list(params) == ["server_id"] else None
        complete = not params or (scope is not None and len(params["server_id"]) == 1)
        complete = complete and body.get("next") is None
        count = body.get("count")
        if isinstance(count, int) and not isinstance(count, bool):
            self._count("count-matches", record["ref"])
            if count < len(items) or (complete and count != len(items)):
                self._violate("count-matches", f"count {count} with {len(items)} results", record)
        if len(self.context.servers.get("foreign", ())) and self.context.servers.get("main"):
            self._count("tenant-theirs-hidden" if who == "main" else "tenant-ours-hidden", record["ref"])
        seen = set()
        for item in items:
            snapshot_id = snapshot_id_of(item.get("id"))
            if snapshot_id is not None:
                seen.add(snapshot_id)
                self._listed(record, item, snapshot_id, who, scope)
        if complete:
            self._limit(record, items)
            self._missing(record, who, scope, seen)

    def _listed(
        self, record: dict[str, Any], item: dict[str, Any], snapshot_id: int, who: str, scope: Any
    ) -> None:
        server = server_of(item)
        if scope is not None:
            self._count("list-filter-exact", scope)
            if server != scope:
                self._violate(
                    "list-filter-exact", f"list of server {scope} shows {snapshot_id} of {server}", record
                )
        owner = self.owner.get(server) if server is not None else None
        if owner is not None and owner != who:
            rule = "tenant-ours-hidden" if owner == "main" else "tenant-theirs-hidden"
            message = f"the {who} account's list shows snapshot {snapshot_id} of server {server}"
            self._violate(rule, message, record)
        snap = self.snaps.get(snapshot_id)
        if (
            snap is not None
            and snap.name != item.get("name")
            and (snap.gone_t1 or self.touched(snap, record["t1"]))
        ):
            snap = None  # a new snapshot at a freed id
        if snap is not None and snap.gone_t1 is not None:
            self._count("gone-after-delete", snapshot_id)
            if snap.gone_t1 < record["t0"]:
                message = f"snapshot {snapshot_id} is listed after its delete answered 204"
                self._violate("gone-after-delete", message, snap.refs[-1], record, subject=snapshot_id)
                return
        if snap is None:
            snap = Snap(snapshot_id, item.get("name"), server, record["t1"])
            self.snaps[snapshot_id] = snap
        self._observe(snap, item, record)

    def _observe(self, snap: Snap, item: dict[str, Any], record: dict[str, Any]) -> None:
        """One sighting of a snapshot: its status, size, created_at and window against what came before."""
        status = item.get("status")
        self._count("snapshot-status", snap.id)
        if status not in self.context.statuses:
            message = f"snapshot {snap.id} has status {status!r}"
            self._violate("snapshot-status", message, record, subject=snap.id)
        if snap.completed_t1 is not None and snap.completed_t1 < record["t0"]:
            self._count("status-final", snap.id)
            if status != "completed":
                message = f"snapshot {snap.id} was completed and is now {status!r}"
                self._violate("status-final", message, snap.refs[-1], record, subject=snap.id)
        if status == "completed":
            self._count("size-integer", snap.id)
            size = item.get("size_mb")
            if not isinstance(size, int) or isinstance(size, bool):
                message = f"completed snapshot {snap.id} has size_mb {size!r}"
                self._violate("size-integer", message, record, subject=snap.id)
            if snap.completed_t1 is None:
                snap.completed_t1 = record["t1"]
        self._window(snap, status, record)
        created_at = when(item.get("created_at"))
        if created_at is not None and snap.created_at is None:
            snap.created_at = created_at
        elif created_at is not None and snap.created_at is not None:
            self._count("created-at-fixed", snap.id)
            if abs((created_at - snap.created_at).total_seconds()) >= 1:
                message = f"snapshot {snap.id}'s created_at moved from {snap.created_at} to {created_at}"
                self._violate("created-at-fixed", message, snap.refs[0], record, subject=snap.id)
        snap.refs = [*snap.refs[:1], record]

    def _window(self, snap: Snap, status: Any, record: dict[str, Any]) -> None:
        """Completed within the window of its 201 (a status seen after completion is status-final's)."""
        if snap.created_t1 is None or (snap.completed_t1 is not None and snap.completed_t1 < record["t1"]):
            return
        if status == "completed":
            self._count("completes-in-window", snap.id)
        elif status == "in_progress" and record["t0"] - snap.created_t1 > self.context.create_max:
            self._count("completes-in-window", snap.id)
            waited = record["t0"] - snap.created_t1
            message = f"snapshot {snap.id} still in_progress {waited:.1f} s after its 201"
            self._violate("completes-in-window", message, snap.refs[0], record, subject=snap.id)

    def _limit(self, record: dict[str, Any], items: list[dict[str, Any]]) -> None:
        per_server: dict[Any, int] = {}
        for item in items:
            server = server_of(item)
            per_server[server] = per_server.get(server, 0) + 1
        for server, held in per_server.items():
            if server not in self.owner:  # only the servers the run was given are its to judge
                continue
            self._count("server-limit", server)
            if held > SNAPSHOT_LIMIT:
                message = f"server {server} is listed with {held} snapshots"
                self._violate("server-limit", message, record, subject=server)

    def _missing(self, record: dict[str, Any], who: str, scope: Any, seen: set[int]) -> None:
        """Every snapshot that surely exists on a server of the account (and the filter) must be listed."""
        for snap in list(self.snaps.values()):
            if self.owner.get(snap.server) != who or (scope is not None and snap.server != scope):
                continue
            if snap.gone_t1 is not None and snap.gone_t1 < record["t0"]:
                self._count("gone-after-delete", snap.id)  # a list after its delete that could show it
            if snap.born >= record["t0"] or self.touched(snap, record["t1"]) or snap.vanished:
                continue
            rule = "list-filter-exact" if scope is not None else "list-all-own"
            self._count(rule, snap.id)
            neighbour = self._neighbour_deleted(snap, record["t1"])
            if neighbour is not None:
                self._count("delete-only-named", snap.id)
            if snap.id in seen:
                continue
            if neighbour is not None:
                message = f"snapshot {snap.id} vanished after the delete of {neighbour[2]}, its neighbour"
                self._violate("delete-only-named", message, neighbour[3], record)
            else:
                message = f"snapshot {snap.id} of server {snap.server} is missing from the list"
                self._violate(rule, message, record)
            snap.vanished = True  # reported once; no longer expected

    def _neighbour_deleted(
        self, snap: Snap, before: float
    ) -> tuple[float, float, int, dict[str, Any]] | None:
        """The last 204 delete of another snapshot of its server sent since it was known to exist."""
        found = [
            d
            for d in self.deletes
            if d[2] != snap.id
            and snap.server in self.servers_of.get(d[2], ())
            and d[0] < before
            and d[1] > snap.born
        ]
        return found[-1] if found else None

    def _leftovers(self) -> None:
        """A create refused with a 4xx leaves nothing: no later list shows its name at an id no 201 gave."""
        for name, refused in self.refused.items():
            if name in self.named:
                continue
            self._count("refused-leaves-nothing", name)
            for snap in self.snaps.values():
                if snap.name == name and snap.id not in self.made and snap.born > refused["t1"]:
                    message = f"the create of {name!r} was refused, yet snapshot {snap.id} carries that name"
                    self._violate("refused-leaves-nothing", message, refused, snap.refs[0])
                    break
