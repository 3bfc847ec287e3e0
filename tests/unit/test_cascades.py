"""Which child rows an ON UPDATE action moves, as statements on the child alone (cascades.MovedRows)."""

from __future__ import annotations

from typing import Any

from opendrs.connectors.mysql.cascades import CascadingKey, MovedRows
from opendrs.connectors.mysql.values import literal
from opendrs.domain.replication import TableRef


def key(columns: tuple[str, ...], referenced: tuple[str, ...], on_update: str = "CASCADE") -> CascadingKey:
    return CascadingKey(TableRef("s", "child"), "`s`.`child`", columns, referenced, "RESTRICT", on_update)


def unpadded(_column: str, value: Any) -> Any:
    return value


def test_an_updated_row_moves_the_children_that_reference_its_old_key_to_the_new_one() -> None:
    row = MovedRows({"id": 5, "v": "x"}, frozenset(), {"id": 55, "v": "y"})
    moved = row.through(key(("pid",), ("id",)), unpadded)
    assert moved == MovedRows({"pid": 5}, frozenset(), {"pid": 55})
    assert moved.condition == "`pid`=5"
    assert moved.assignments == "`pid`=55"


def test_set_null_sets_every_column_of_the_key() -> None:
    row = MovedRows({"a": 1, "b": 2}, frozenset(), {"a": 10, "b": 2})
    moved = row.through(key(("x", "y"), ("a", "b"), on_update="SET NULL"), unpadded)
    assert moved == MovedRows({"x": 1, "y": 2}, frozenset(), {"x": None, "y": None})
    assert moved.assignments == "`x`=NULL,`y`=NULL"


def test_a_key_that_did_not_change_or_was_null_moves_nothing() -> None:
    unchanged = MovedRows({"id": 5, "v": "x"}, frozenset(), {"id": 5, "v": "y"})
    assert unchanged.through(key(("pid",), ("id",)), unpadded) == MovedRows({"pid": 5}, frozenset(), {})
    null = MovedRows({"id": None}, frozenset(), {"id": 1})
    assert null.through(key(("pid",), ("id",)), unpadded) == MovedRows({"pid": None}, frozenset(), {})


def test_below_the_first_level_the_rows_are_found_by_the_key_columns_that_moved_and_no_null_in_the_others() -> None:
    cities = MovedRows({"code": "AA"}, frozenset(), {"code": "ZZ"})
    streets = cities.through(key(("code", "n"), ("code", "n")), unpadded)
    assert streets == MovedRows({"code": "AA"}, frozenset({"n"}), {"code": "ZZ"})
    assert streets.condition == f"`code`={literal('AA')} AND `n` IS NOT NULL"
    houses = streets.through(key(("code", "n", "s"), ("code", "n", "s"), on_update="SET NULL"), unpadded)
    assert houses == MovedRows({"code": "AA"}, frozenset({"n", "s"}), {"code": None, "n": None, "s": None})
    # A child whose key leaves out `s` cannot tell a house that moved from one with s NULL that did not.
    assert houses is not None
    assert houses.through(key(("code", "n"), ("code", "n")), unpadded) is None


def test_values_are_compared_as_the_target_stores_them() -> None:
    row = MovedRows({"id": b"a"}, frozenset(), {"id": b"a\0"})
    padded = row.through(key(("pid",), ("id",)), lambda _column, value: value.ljust(2, b"\0"))
    assert padded == MovedRows({"pid": b"a\0"}, frozenset(), {})
