"""Comparisons of a task's source and target (spec/API.md 3.15 create-compare-task, 3.16 query-compare-result):
the scope to compare, waiting for a compare task to finish, and its verdict."""

from __future__ import annotations

import time
from typing import Any

from opendrs.client.api import NOT_FOUND_CODES, DrsApi
from opendrs.client.errors import ClientError, NotFoundError, UsageError

DONE = frozenset({"SUCCESSFUL", "FAILED", "CANCELLED", "TIMEOUT_INTERRUPT"})  # compare task statuses
PENDING = frozenset({"COMPARING", "WAITING_FOR_COMPARISON"})  # compare results
POLL_SECONDS = 1.0


def key_prefix(kind: str) -> str:
    """The API's key prefix for a kind of data comparison: line_compare_... or content_compare_..."""
    return "line" if kind == "lines" else "content"


def create(api: DrsApi, job_id: str, info: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Create a data-level comparison; the answer and the compare task's id."""
    created = api.create_compare({"job_id": job_id, "data_level_compare_info": info})
    _refused(created, job_id)
    compare_id = (created.get("data_level_compare_create_result") or {}).get("compare_task_id")
    if not compare_id:
        raise ClientError(f"no comparison was created: {created}", None, job_id)
    return created, str(compare_id)


def scope(objects: list[str]) -> dict[str, Any]:
    """Everything the task copies (quick_comparison), or compare_object_infos for --object DB / DB.TABLE."""
    if not objects:
        return {"compare_mode": "quick_comparison"}
    tables: dict[str, list[str]] = {}
    for item in objects:
        database, _, table = item.partition(".")
        if not database:
            raise UsageError(f"--object must be DB or DB.TABLE, not {item!r}")
        tables.setdefault(database, [])
        if table:
            tables[database].append(table)
    infos = [{"db_name": db} | ({"table_name": names} if names else {}) for db, names in tables.items()]
    return {"compare_object_infos": infos}


def _refused(answer: dict[str, Any], job_id: str) -> None:
    """These endpoints may answer 200 with a top-level error_code (API.md 3.15, 3.16)."""
    if answer.get("error_code"):
        code = str(answer["error_code"])
        error = NotFoundError if code in NOT_FOUND_CODES else ClientError
        raise error(str(answer.get("error_msg") or "comparison refused"), code, job_id)


def _task(answer: dict[str, Any], compare_id: str) -> dict[str, Any]:
    listed = (answer.get("compare_task_list_results") or {}).get("compare_task_list") or []
    found: dict[str, Any] = next((item for item in listed if item.get("compare_task_id") == compare_id), {})
    return found


def _overview(answer: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    prefix = key_prefix(kind)
    found: list[dict[str, Any]] = (answer.get(f"{prefix}_compare_results") or {}).get(
        f"{prefix}_compare_overview"
    ) or []
    return found


def wait_result(api: DrsApi, job_id: str, kind: str, compare_id: str, timeout: float) -> dict[str, Any]:
    """Poll query-compare-result until the compare task finished (or, not listed, its results are in)."""
    prefix = key_prefix(kind)
    end = time.monotonic() + timeout
    while True:
        answer = api.query_compare(
            {"job_id": job_id, f"{prefix}_compare_id": compare_id, "current_page": 1, "per_page": 100}
        )
        _refused(answer, job_id)
        status = _task(answer, compare_id).get("compare_task_status")
        results = {str(item.get(f"{prefix}_compare_result")) for item in _overview(answer, kind)}
        if status in DONE or (status is None and results and not results & PENDING):
            return answer
        if time.monotonic() > end:
            raise ClientError(f"comparison {compare_id} not finished after {timeout:.0f} s", None, job_id)
        time.sleep(POLL_SECONDS)


def verdict(answer: dict[str, Any], kind: str, compare_id: str) -> str:
    """CONSISTENT, INCONSISTENT, or why there is no verdict (the compare task's status, or the results seen)."""
    status = _task(answer, compare_id).get("compare_task_status")
    if status not in (None, "SUCCESSFUL"):
        return str(status)
    prefix = key_prefix(kind)
    results = {str(item.get(f"{prefix}_compare_result")) for item in _overview(answer, kind)}
    if results == {"CONSISTENT"}:
        return "CONSISTENT"
    if "INCONSISTENT" in results:
        return "INCONSISTENT"
    return ", ".join(sorted(results)) or "NO_RESULT"
