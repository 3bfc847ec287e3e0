"""Running a recorded precheck against the task's real endpoints."""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa

from opendrs.connectors import registry
from opendrs.domain.prechecks import Precheck
from opendrs.domain.times import now_ms
from opendrs.engine.endpoints import wiring
from opendrs.keys import Keys
from opendrs.store import database
from opendrs.store import prechecks as precheck_store
from opendrs.store import tasks as task_store

log = logging.getLogger(__name__)


def run(engine: sa.Engine, keys: Keys, precheck: Precheck) -> None:
    """Run one claimed precheck and store its items; a check that cannot run is a FAILED item."""
    with engine.connect() as connection:
        task = next(iter(task_store.get_many_by_id(connection, [precheck.task_id]).values()))
        secrets = task_store.secrets_of(connection, task.id)
    wired = wiring(task, secrets, keys)
    items: list[dict[str, Any]]
    db_type = str(task.source_endpoint.get("db_type"))
    checks = registry.checks_for(db_type)
    if checks is None:
        items = [_failed("engineSupportCheck", "db_version", f"db_type {db_type} is not supported by opendrs")]
    elif wired.source is None or wired.target is None:
        missing = "source" if wired.source is None else "target"
        reason = f"the {missing} endpoint has no ip: set it with batch-modification"
        items = [_failed("endpointConfiguredCheck", "db_connection", reason)]
    else:
        try:
            found = checks.precheck(
                wired.source,
                wired.target,
                wired.selection,
                full=task.task_type != "INCR_TRANS",
                incremental=task.task_type != "FULL_TRANS",
                retry=precheck.mode == "forRetryJob",
            )
            items = [
                {"item": i.item, "group": i.group, "result": str(i.result), "failed_reason": i.reason, "data": i.data}
                for i in found
            ]
        except Exception as exc:
            # A precheck that cannot finish still answers, with the cause, instead of showing 0% for ever.
            log.exception("precheck of task %s could not run", task.id, extra={"task_id": task.id})
            items = [_failed("checkError", "db_params", f"the precheck could not run: {exc!r}")]
    with database.writing(engine) as connection:
        precheck_store.finish(connection, precheck.id, items, now_ms())
    failed = [item["item"] for item in items if item["result"] == "FAILED"]
    log.info("precheck of task %s done; failed: %s", task.id, failed or "none", extra={"task_id": task.id})


def _failed(item: str, group: str, reason: str) -> dict[str, Any]:
    return {"item": item, "group": group, "result": "FAILED", "failed_reason": reason, "data": ""}
