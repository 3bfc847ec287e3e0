"""Comparisons of a task's source and target (spec/API.md 3.15, 3.16): compare tasks and what they found.

A compare task is one of three kinds: object level (databases, tables, columns, indexes, views), row counts
(`lines`) or contents (`contents`: row counts and every row's values). The API records it WAITING_FOR_RUNNING;
one worker claims it (a lease with a fencing token), runs it and stores its report.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping, Sequence
from typing import Any

from opendrs.domain.replication import Selection, TableRef
from opendrs.domain.states import TaskStatus


class CompareKind(enum.StrEnum):
    """`compare_type` in the compare task list."""

    OBJECTS = "object"
    LINES = "lines"
    CONTENTS = "contents"

    @property
    def data_level(self) -> bool:
        return self is not CompareKind.OBJECTS


class CompareStatus(enum.StrEnum):
    RUNNING = "RUNNING"
    WAITING_FOR_RUNNING = "WAITING_FOR_RUNNING"
    SUCCESSFUL = "SUCCESSFUL"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    TIMEOUT_INTERRUPT = "TIMEOUT_INTERRUPT"
    FULL_DOING = "FULL_DOING"
    INCRE_DOING = "INCRE_DOING"


UNFINISHED = frozenset({CompareStatus.WAITING_FOR_RUNNING, CompareStatus.RUNNING})


class CompareResult(enum.StrEnum):
    CONSISTENT = "CONSISTENT"
    INCONSISTENT = "INCONSISTENT"
    COMPARING = "COMPARING"
    WAITING_FOR_COMPARISON = "WAITING_FOR_COMPARISON"
    FAILED_TO_COMPARE = "FAILED_TO_COMPARE"
    TARGET_DB_NOT_EXIT = "TARGET_DB_NOT_EXIT"  # sic: the v3 contract's spelling
    CAN_NOT_COMPARE = "CAN_NOT_COMPARE"


# Where a compare task may be created: the target holds the copied data (full transfer done, incremental
# running, failed or paused). Before that there is nothing to compare; after a stop the task is released.
COMPARABLE_STATUSES = frozenset(
    {
        TaskStatus.FULL_TRANSFER_COMPLETE,
        TaskStatus.INCRE_TRANSFER_STARTED,
        TaskStatus.INCRE_TRANSFER_FAILED,
        TaskStatus.PAUSING,
    }
)


class RowDiffKind(enum.StrEnum):
    MISSING = "missing"  # on the source, not on the target
    EXTRA = "extra"  # on the target, not on the source
    DIFFERENT = "different"  # on both, with other values


@dataclasses.dataclass(frozen=True)
class CompareScope:
    """One `compare_object_infos` entry: a source database and some of its tables (none: all of them)."""

    db_name: str
    tables: tuple[str, ...] = ()


def scope_selection(scope: Sequence[CompareScope], task_selection: Selection) -> Selection:
    """The source objects a data comparison covers; the task's own selection when `scope` is empty."""
    if not scope:
        return task_selection
    databases = tuple(entry.db_name for entry in scope if not entry.tables)
    tables = tuple(TableRef(entry.db_name, name) for entry in scope for name in entry.tables)
    return Selection(databases, tables, task_selection.renames)


@dataclasses.dataclass(frozen=True)
class CompareTask:
    id: str
    task_id: str
    project_id: str
    kind: CompareKind
    status: CompareStatus
    scope: tuple[CompareScope, ...]  # data level only; () = the task's whole selection
    start_at: int  # epoch ms; not run before
    create_time: int
    end_time: int | None = None
    error_code: str | None = None
    error_msg: str | None = None
    report: Mapping[str, Any] | None = None  # ObjectReport or DataReport, encoded


# --- What a comparison found -----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ObjectDiff:
    """One object that differs: its description on each side ("" where it is missing) and why."""

    object_type: str  # DB, TABLE, COLUMN, INDEX, VIEW
    source_db_name: str
    target_db_name: str
    source_value: str
    target_value: str
    message: str


@dataclasses.dataclass(frozen=True)
class ObjectCount:
    object_type: str
    source_count: int
    target_count: int
    diff_count: int

    @property
    def result(self) -> CompareResult:
        return CompareResult.CONSISTENT if self.diff_count == 0 else CompareResult.INCONSISTENT


@dataclasses.dataclass(frozen=True)
class ObjectReport:
    counts: tuple[ObjectCount, ...]
    diffs: tuple[ObjectDiff, ...]

    def encode(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def decode(cls, data: Mapping[str, Any]) -> ObjectReport:
        return cls(
            tuple(ObjectCount(**count) for count in data["counts"]),
            tuple(ObjectDiff(**diff) for diff in data["diffs"]),
        )


@dataclasses.dataclass(frozen=True)
class RowDiff:
    """A row that differs, named by its key values (all its values for a table without a key)."""

    kind: RowDiffKind
    key: tuple[str, ...]
    source_sql: str
    target_sql: str


@dataclasses.dataclass(frozen=True)
class TableReport:
    source: TableRef
    target: TableRef
    source_rows: int
    target_rows: int
    result: CompareResult  # of the row counts (lines) or of the contents
    message: str = ""
    diffs: tuple[RowDiff, ...] = ()  # contents only
    diffs_total: int = 0  # differing rows found; only the first MAX_REPORTED_ROWS are listed

    @property
    def count_result(self) -> CompareResult:
        if self.result in (CompareResult.CAN_NOT_COMPARE, CompareResult.TARGET_DB_NOT_EXIT):
            return self.result
        return CompareResult.CONSISTENT if self.source_rows == self.target_rows else CompareResult.INCONSISTENT


MAX_REPORTED_ROWS = 1000  # differing rows listed per table


@dataclasses.dataclass(frozen=True)
class DataReport:
    tables: tuple[TableReport, ...]
    missing_databases: tuple[str, ...] = ()  # selected source databases absent from the target

    def encode(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def decode(cls, data: Mapping[str, Any]) -> DataReport:
        tables = []
        for table in data["tables"]:
            diffs = tuple(
                RowDiff(RowDiffKind(diff["kind"]), tuple(diff["key"]), diff["source_sql"], diff["target_sql"])
                for diff in table["diffs"]
            )
            tables.append(
                TableReport(
                    TableRef(**table["source"]),
                    TableRef(**table["target"]),
                    int(table["source_rows"]),
                    int(table["target_rows"]),
                    CompareResult(table["result"]),
                    table["message"],
                    diffs,
                    int(table["diffs_total"]),
                )
            )
        return cls(tuple(tables), tuple(data.get("missing_databases", ())))

    def databases(self) -> list[tuple[str, str]]:
        """(source, target) database names, in order of first appearance."""
        seen: dict[str, str] = {}
        for table in self.tables:
            seen.setdefault(table.source.schema, table.target.schema)
        return list(seen.items())

    def database_result(self, source_db: str, kind: CompareKind) -> CompareResult:
        if source_db in self.missing_databases:
            return CompareResult.TARGET_DB_NOT_EXIT
        tables = [table for table in self.tables if table.source.schema == source_db]
        results = [table.count_result if kind is CompareKind.LINES else table.result for table in tables]
        return (
            CompareResult.CONSISTENT
            if all(r is CompareResult.CONSISTENT for r in results)
            else (CompareResult.INCONSISTENT)
        )
