"""Foreign keys whose ON DELETE / ON UPDATE actions change other tables' rows, and the rows an update moves.

The binlog holds none of the rows a cascade changes (InnoDB changes them below the server's logging), so the
target must run them itself: with foreign key checks on where the target holds what the source held, and as
statements of our own where it may not (a catch-up over a copy; see applier.Applier).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from opendrs.connectors.mysql.connection import quote_identifier
from opendrs.connectors.mysql.values import literal, same
from opendrs.domain.replication import TableRef

ACTIONS = frozenset({"CASCADE", "SET NULL"})  # the referential actions that change the child's rows
MAX_DEPTH = 15  # InnoDB fails a statement whose cascades nest deeper


@dataclasses.dataclass(frozen=True)
class CascadingKey:
    """A foreign key whose ON DELETE or ON UPDATE action (CASCADE, SET NULL) changes rows of `child` when a row of
    the table it references is deleted, or its referenced columns change."""

    child: TableRef  # on the target
    child_sql: str  # `schema`.`table`
    columns: tuple[str, ...]  # the child's
    referenced: tuple[str, ...]  # the parent's, in the same order
    on_delete: str  # CASCADE, SET NULL, or another (RESTRICT...), which changes nothing
    on_update: str


def read_keys(cursor: Any, ref: TableRef) -> tuple[CascadingKey, ...]:
    """The foreign keys referencing table `ref` whose actions change rows."""
    cursor.execute(
        "SELECT k.TABLE_SCHEMA, k.TABLE_NAME, k.CONSTRAINT_NAME, r.DELETE_RULE, r.UPDATE_RULE, k.COLUMN_NAME,"
        " k.REFERENCED_COLUMN_NAME FROM information_schema.REFERENTIAL_CONSTRAINTS r"
        " JOIN information_schema.KEY_COLUMN_USAGE k ON k.CONSTRAINT_SCHEMA = r.CONSTRAINT_SCHEMA"
        " AND k.CONSTRAINT_NAME = r.CONSTRAINT_NAME AND k.TABLE_NAME = r.TABLE_NAME"
        " WHERE r.UNIQUE_CONSTRAINT_SCHEMA = %s AND r.REFERENCED_TABLE_NAME = %s"
        " AND k.REFERENCED_COLUMN_NAME IS NOT NULL"  # the key's own columns, not a unique key of the same name
        " AND (r.DELETE_RULE IN ('CASCADE', 'SET NULL') OR r.UPDATE_RULE IN ('CASCADE', 'SET NULL'))"
        " ORDER BY k.TABLE_SCHEMA, k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION",
        (ref.schema, ref.name),
    )
    keys: dict[tuple[str, str, str, str, str], list[tuple[str, str]]] = {}
    for schema, table, name, on_delete, on_update, column, referenced in cursor.fetchall():
        key = (str(schema), str(table), str(name), str(on_delete), str(on_update))
        keys.setdefault(key, []).append((str(column), str(referenced)))
    return tuple(
        CascadingKey(
            TableRef(schema, table),
            f"{quote_identifier(schema)}.{quote_identifier(table)}",
            tuple(column for column, _ in parts),
            tuple(referenced for _, referenced in parts),
            on_delete,
            on_update,
        )
        for (schema, table, _, on_delete, on_update), parts in keys.items()
    )


def equalities(columns: Sequence[str], values: Sequence[Any] | None, separator: str = ",") -> str:
    """`column=value` for each column (NULL for each without `values`), joined by `separator`."""
    literals = [literal(value) for value in values] if values is not None else ["NULL"] * len(columns)
    return separator.join(f"{quote_identifier(c)}={v}" for c, v in zip(columns, literals, strict=True))


@dataclasses.dataclass(frozen=True)
class MovedRows:
    """Rows an update moved: those with the `old` values and no NULL in `not_null`, whose `new` columns it set.

    An updated row is the first level (`old` and `new` its whole before and after images); each ON UPDATE action
    below it moves the child rows that reference them, found by their key's columns alone."""

    old: Mapping[str, Any]
    not_null: frozenset[str]
    new: Mapping[str, Any]

    def through(self, key: CascadingKey, padded: Callable[[str, Any], Any]) -> MovedRows | None:
        """The rows of `key`'s child that its ON UPDATE action moves when these rows move (none moved if `new` is
        empty); None if no statement on the child alone finds them: its key lacks a column that tells the moved
        rows from the others. `padded(column, value)` is a value of this table as the target stores it."""
        referenced = set(key.referenced)
        if not (referenced <= self.old.keys() or self.old.keys() | self.not_null <= referenced):
            return None
        pairs = list(zip(key.columns, key.referenced, strict=True))
        old = {column: padded(parent, self.old[parent]) for column, parent in pairs if parent in self.old}
        if any(value is None for value in old.values()):
            return MovedRows(old, frozenset(), {})  # a NULL references nothing
        changed = {
            column: padded(parent, self.new[parent])
            for column, parent in pairs
            if parent in self.new and (column not in old or not same(padded(parent, self.new[parent]), old[column]))
        }
        if not changed:
            return MovedRows(old, frozenset(), {})
        new = changed if key.on_update == "CASCADE" else dict.fromkeys(key.columns)
        return MovedRows(old, frozenset(key.columns) - old.keys(), new)

    @property
    def condition(self) -> str:
        """Where these rows are: a NULL in any column of a foreign key references nothing (MATCH SIMPLE)."""
        parts = [f"{quote_identifier(column)}={literal(value)}" for column, value in self.old.items()]
        return " AND ".join(parts + [f"{quote_identifier(column)} IS NOT NULL" for column in sorted(self.not_null)])

    @property
    def assignments(self) -> str:
        return equalities(list(self.new), list(self.new.values()))
