"""DRS v3 comparison (spec/API.md 3.15, 3.16): create compare tasks, query their results.

Paging (current_page / per_page) applies to every list of items in the results: object differences, tables,
differing rows, compare tasks; the per-database overviews are whole. Counts are totals.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Request
from pydantic import BaseModel, BeforeValidator, Field

from opendrs.api import context
from opendrs.api.responses import Json
from opendrs.api.schemas.common import JobId, Strict
from opendrs.domain import errors, paging
from opendrs.domain.compare import (
    CompareKind,
    CompareResult,
    CompareScope,
    CompareStatus,
    CompareTask,
    DataReport,
    ObjectReport,
    RowDiffKind,
    TableReport,
)
from opendrs.domain.errors import OpendrsError, Text
from opendrs.domain.times import list_time
from opendrs.service.compare import DataLevelRequest

router = APIRouter(tags=["DRS v3 comparison"])
T = TypeVar("T")

_Blank = BeforeValidator(lambda value: None if value in ("", {}) else value)
_START_TIME = Text("must be epoch milliseconds, e.g. 1599188556112", "必须是毫秒时间戳，如1599188556112")
_PAGE_RANGE = Text(
    "current_page must be at least 1 and per_page from 1 to 100", "current_page至少为1，per_page须在1到100之间"
)


class CompareObjectInfo(Strict):
    db_name: str = Field(min_length=1)
    table_name: list[Annotated[str, Field(min_length=1)]] | None = None


class DataLevelCompareInfo(Strict):
    conflict_policy: Literal["cancel", "keep"]
    compare_type: Literal["lines", "contents"]
    compare_mode: Annotated[Literal["quick_comparison"] | None, _Blank] = None
    start_time: Annotated[str | None, _Blank] = Field(None, description="epoch milliseconds; empty = now")
    compare_object_infos: list[CompareObjectInfo] | None = None


class CreateCompareTask(Strict):
    job_id: JobId
    object_level_compare_type: Annotated[Literal["objects"] | None, _Blank] = None
    data_level_compare_info: Annotated[DataLevelCompareInfo | None, _Blank] = None


class CreateResult(BaseModel):
    compare_task_id: str | None = None
    error_code: str | None = None
    error_msg: str | None = None


class CreateCompareTaskResponse(BaseModel):
    job_id: str
    object_level_compare_create_result: CreateResult | None = None
    data_level_compare_create_result: CreateResult | None = None


class QueryCompareResult(Strict):
    job_id: JobId
    object_level_compare_id: Annotated[str | None, _Blank] = None
    line_compare_id: Annotated[str | None, _Blank] = None
    content_compare_id: Annotated[str | None, _Blank] = None
    current_page: int
    per_page: int


@router.post(
    "/v3/{project_id}/jobs/create-compare-task",
    responses={200: {"model": CreateCompareTaskResponse}},
    summary="Create an object-level and/or a data-level (row count or content) comparison of a task",
)
def create_compare_task(project_id: str, body: CreateCompareTask, request: Request) -> Json:
    data = _data_level(body.data_level_compare_info)
    objects = body.object_level_compare_type is not None
    created = context.services(request).compare.create(project_id, body.job_id, objects, data)
    response: dict[str, Any] = {"job_id": body.job_id}
    if created.object_level is not None:
        response["object_level_compare_create_result"] = {"compare_task_id": created.object_level}
    if created.data_level is not None:
        response["data_level_compare_create_result"] = {"compare_task_id": created.data_level}
    return Json(response)


def _data_level(info: DataLevelCompareInfo | None) -> DataLevelRequest | None:
    if info is None:
        return None
    field = "data_level_compare_info"
    if info.compare_mode is None and not info.compare_object_infos:
        raise OpendrsError(errors.PARAMETER_EMPTY, field=f"{field}.compare_object_infos")
    start_at = None
    if info.start_time is not None:
        if not info.start_time.isdigit():
            raise OpendrsError(errors.PARAMETER_INVALID, field=f"{field}.start_time", hint=_START_TIME)
        start_at = int(info.start_time)
    scope = tuple(
        CompareScope(entry.db_name, tuple(entry.table_name or ())) for entry in info.compare_object_infos or ()
    )
    kind = CompareKind.LINES if info.compare_type == "lines" else CompareKind.CONTENTS
    return DataLevelRequest(info.conflict_policy, kind, () if info.compare_mode else scope, start_at)


@router.post(
    "/v3/{project_id}/jobs/query-compare-result",
    summary="The results of a task's comparisons, and the list of its compare tasks",
)
def query_compare_result(project_id: str, body: QueryCompareResult, request: Request) -> Json:
    if body.current_page < 1 or not 1 <= body.per_page <= paging.MAX_PER_PAGE:
        raise OpendrsError(errors.PAGE_INVALID, hint=_PAGE_RANGE)
    found = context.services(request).compare.find(
        project_id, body.job_id, body.object_level_compare_id, body.line_compare_id, body.content_compare_id
    )
    pages = _Pages(body.current_page, body.per_page)
    response: dict[str, Any] = {"job_id": body.job_id}
    if found.object_level is not None:
        response["object_level_compare_results"] = _object_results(found.object_level, pages)
    if found.lines is not None:
        response["line_compare_results"] = _line_results(found.lines, pages)
    if found.contents is not None:
        response["content_compare_results"] = _content_results(found.contents, pages)
    tasks = [
        {
            "compare_task_id": task.id,
            "compare_type": task.kind.value,
            "compare_task_status": task.status.value,
            "create_time": list_time(task.create_time),
            "end_time": list_time(task.end_time) if task.end_time else "",
        }
        for task in found.all
    ]
    response["compare_task_list_results"] = {
        "compare_task_list": pages.of(tasks),
        "compare_task_list_count": len(tasks),
    }
    return Json(response)


class _Pages:
    def __init__(self, current_page: int, per_page: int) -> None:
        self._start = (current_page - 1) * per_page
        self._per_page = per_page

    def of(self, items: Sequence[T]) -> list[T]:
        return list(items[self._start : self._start + self._per_page])


def _failure(task: CompareTask) -> dict[str, str]:
    return {"error_code": task.error_code, "error_msg": task.error_msg or ""} if task.error_code else {}


def _pending_result(task: CompareTask) -> CompareResult:
    if task.status is CompareStatus.RUNNING:
        return CompareResult.COMPARING
    if task.status is CompareStatus.WAITING_FOR_RUNNING:
        return CompareResult.WAITING_FOR_COMPARISON
    return CompareResult.FAILED_TO_COMPARE  # failed or cancelled before it had a report


def _object_results(task: CompareTask, pages: _Pages) -> dict[str, Any]:
    result: dict[str, Any] = {"compare_task_id": task.id, "object_compare_overview": [], "object_compare_details": {}}
    if task.report is not None:
        report = ObjectReport.decode(task.report)
        result["object_compare_overview"] = [
            {
                "object_type": count.object_type,
                "object_compare_result": count.result.value,
                "source_count": count.source_count,
                "target_count": count.target_count,
                "diff_count": count.diff_count,
            }
            for count in report.counts
        ]
        details: dict[str, list[dict[str, str]]] = {}
        for diff in pages.of(report.diffs):
            details.setdefault(diff.object_type, []).append(
                {
                    "source_db_name": diff.source_db_name,
                    "target_db_name": diff.target_db_name,
                    "source_db_value": diff.source_value,
                    "target_db_value": diff.target_value,
                    "error_message": diff.message,
                }
            )
        result["object_compare_details"] = details
    return result | _failure(task)


def _data_report(task: CompareTask) -> DataReport | None:
    return DataReport.decode(task.report) if task.report is not None else None


def _overview(task: CompareTask, report: DataReport | None, kind: CompareKind, key: str) -> list[dict[str, str]]:
    if report is None:
        pending = _pending_result(task).value
        return [{"source_db_name": s.db_name, "target_db_name": s.db_name, key: pending} for s in task.scope]
    return [
        {"source_db_name": source, "target_db_name": target, key: report.database_result(source, kind).value}
        for source, target in report.databases()
    ]


def _by_database(tables: Sequence[TableReport], entry: Callable[[TableReport], dict[str, Any]]) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = {}
    for table in tables:
        grouped.setdefault(table.source.schema, []).append(entry(table))
    return grouped


def _line_results(task: CompareTask, pages: _Pages) -> dict[str, Any]:
    report = _data_report(task)
    overview = _overview(task, report, CompareKind.LINES, "line_compare_result")
    details = []
    if report is not None:
        totals = _by_database(report.tables, _line_detail)
        for database, entries in _by_database(pages.of(report.tables), _line_detail).items():
            details.append(
                {
                    "source_db_name": database,
                    "line_compare_detail": entries,
                    "line_compare_detail_count": len(totals[database]),
                }
            )
    return {
        "compare_task_id": task.id,
        "line_compare_overview": overview,
        "line_compare_overview_count": len(overview),
        "line_compare_details": details,
    } | _failure(task)


def _line_detail(table: TableReport) -> dict[str, Any]:
    return {
        "source_table_name": table.source.name,
        "target_table_name": table.target.name,
        "source_row_num": table.source_rows,
        "target_row_num": table.target_rows,
        "diff_row_num": abs(table.source_rows - table.target_rows),
        "line_compare_result": table.count_result.value,
        "message": table.message,
    }


def _content_detail(table: TableReport) -> dict[str, Any]:
    return {
        "source_db_name": table.source.schema,
        "target_db_name": table.target.schema,
        "source_table_name": table.source.name,
        "target_table_name": table.target.name,
        "source_row_num": table.source_rows,
        "target_row_num": table.target_rows,
        "diff_row_num": table.diffs_total,
        "line_compare_result": table.count_result.value,
        "content_compare_result": table.result.value,
        "message": table.message,
    }


def _content_results(task: CompareTask, pages: _Pages) -> dict[str, Any]:
    report = _data_report(task)
    overview = _overview(task, report, CompareKind.CONTENTS, "content_compare_result")
    details: list[dict[str, Any]] = []
    diffs: list[dict[str, Any]] = []
    if report is not None:
        compared = [table for table in report.tables if table.result is not CompareResult.CAN_NOT_COMPARE]
        uncompared = [table for table in report.tables if table.result is CompareResult.CAN_NOT_COMPARE]
        totals = _by_database(compared, _content_detail)
        untotals = _by_database(uncompared, _content_detail)
        shown = _by_database(pages.of(compared), _content_detail)
        unshown = _by_database(pages.of(uncompared), _content_detail)
        for database in dict.fromkeys([*shown, *unshown]):
            details.append(
                {
                    "source_db_name": database,
                    "content_compare_detail": shown.get(database, []),
                    "content_compare_detail_count": len(totals.get(database, [])),
                    "content_uncompare_detail": unshown.get(database, []),
                    "content_uncompare_detail_count": len(untotals.get(database, [])),
                }
            )
        rows = [(table, diff) for table in report.tables for diff in table.diffs]
        by_table: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for table, diff in pages.of(rows):
            by_table.setdefault((table.source.schema, table.source.name), []).append(
                {
                    "source_select_sql": diff.source_sql,
                    "target_select_sql": diff.target_sql,
                    "source_key_value": list(diff.key) if diff.kind is not RowDiffKind.EXTRA else [],
                    "target_key_value": list(diff.key) if diff.kind is not RowDiffKind.MISSING else [],
                }
            )
        counts = {(table.source.schema, table.source.name): len(table.diffs) for table in report.tables}
        diffs = [
            {
                "source_db_name": database,
                "source_table_name": table,
                "content_compare_diff": entries,
                "content_compare_diff_count": counts[(database, table)],
            }
            for (database, table), entries in by_table.items()
        ]
    return {
        "compare_task_id": task.id,
        "content_compare_overview": overview,
        "content_compare_overview_count": len(overview),
        "content_compare_details": details,
        "content_compare_diffs": diffs,
    } | _failure(task)
