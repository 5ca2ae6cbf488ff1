"""JSON representations of snapshots, lists, restores and servers, shaped by the variants."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from vpsconform.reference.options import TargetOptions
from vpsconform.reference.rows import TIMESTAMP_FORMAT, RestoreView, ServerView, SnapshotView

CREATE_MESSAGE = "Snapshot is being created. This may take 3-10 minutes depending on server size."
RESTORE_MESSAGE = "Server is being restored from snapshot. This may take 5-15 minutes."
REGION = "eu-central-1"


def _id(value: int, options: TargetOptions) -> int | str:
    """An id as the bodies render it: an integer (a string with the string-ids fault)."""
    return str(value) if options.fault("string-ids") else value


def snapshot(view: SnapshotView, options: TargetOptions) -> dict[str, Any]:
    """A snapshot as documented in the list and create examples."""
    size: int | str | None = view.size_mb
    if size is not None and options.fault("lifecycle-size-string"):
        size = str(size)
    body: dict[str, Any] = {
        "id": _id(view.id, options),
        "server": {"id": _id(view.server_id, options), "name": view.server_name},
        "name": view.name,
        "status": view.status,
        "size_mb": size,
        "created" if options.fault("schema-renamed-created-at") else "created_at": view.created_at,
        "description": view.description,
    }
    if options.variant("extra-fields"):
        body |= {"region": REGION, "updated_at": view.updated_at}
    return body


def created(view: SnapshotView, options: TargetOptions) -> dict[str, Any]:
    """The 201 body of a create: the snapshot plus the documented message."""
    body = snapshot(view, options)
    if options.fault("create-wrong-server"):
        body["server"]["id"] = _id(view.id, options)  # the nested serializer reads `id`, not `server.id`
    if options.fault("schema-no-message"):
        return body
    return body | {"message": CREATE_MESSAGE}


def snapshot_list(
    views: list[SnapshotView], options: TargetOptions, count: int | None = None
) -> dict[str, Any] | list[dict[str, Any]]:
    """The unpaginated list: count equals the number of results (unless a fault passes another `count`)."""
    if options.fault("list-bare-array"):
        return [snapshot(v, options) for v in views]
    body: dict[str, Any] = {"count": len(views) if count is None else count}
    if options.variant("pagination-keys"):
        body |= {"next": None, "previous": None}
    body["results"] = [snapshot(v, options) for v in views]
    if options.fault("list-drops-description"):
        for item in body["results"]:
            item["description"] = None
    if options.variant("extra-fields"):
        body["generated_at"] = datetime.now(UTC).strftime(TIMESTAMP_FORMAT)
    return body


def restore(view: RestoreView, options: TargetOptions) -> dict[str, Any]:
    """The 200 body of a restore, as in the documented example."""
    body: dict[str, Any] = {
        "status": "success",
        "message": RESTORE_MESSAGE,
        "snapshot": {
            "id": _id(view.snapshot.id, options),
            "name": view.snapshot.name,
            "created_at": view.snapshot.created_at,
        },
        "server": {
            "id": _id(view.server.id, options),
            "name": view.server.name,
            "status": view.server.status,
        },
    }
    if options.fault("restore-wrong-snapshot-echo"):  # copy-paste slip: the server's id in the snapshot block
        body["snapshot"]["id"] = _id(view.server.id, options)
    if options.variant("extra-fields"):
        body["snapshot"]["status"] = view.snapshot.status
        body["server"]["region"] = REGION
        body["started_at"] = view.started_at
    if options.fault("schema-restore-no-snapshot"):
        del body["snapshot"]
    return body


def server(view: ServerView, options: TargetOptions) -> dict[str, Any]:
    """A server in the read-only servers API."""
    return {"id": _id(view.id, options), "name": view.name, "status": view.status, "disk_gb": view.disk_gb}


def server_list(views: list[ServerView], options: TargetOptions) -> dict[str, Any]:
    """The servers list: count equals the number of results."""
    return {"count": len(views), "results": [server(v, options) for v in views]}
