"""How each column type travels exactly: its LOAD DATA field, and its key values as SQL literals.

The source formats every field for `LOAD DATA ... CHARACTER SET binary FIELDS TERMINATED BY ','
ENCLOSED BY '\\'' ESCAPED BY '\\\\'`: QUOTE() writes exactly that syntax (quotes, backslash escapes, NUL as
\\0, and a bare NULL for NULL, which LOAD DATA reads as NULL when fields are enclosed). Character columns go
as their raw bytes in their own character set, so no conversion can alter them on the way.
"""

from __future__ import annotations

import re

from opendrs.connectors.mysql import catalog
from opendrs.connectors.mysql.connection import quote_identifier

# The LOAD DATA clause that reads what field_expression() writes.
LOAD_FORMAT = (
    "CHARACTER SET binary FIELDS TERMINATED BY ',' ENCLOSED BY '\\'' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n'"
)

_NUMBER_TYPES = catalog.INTEGER_TYPES | {"decimal"}
# Key literals leave TIMESTAMP out: its text depends on the time zone of the session that reads it.
_TEMPORAL_TYPES = frozenset({"date", "datetime", "time", "year"})
_STRING_TYPES = frozenset({"char", "varchar", "binary", "varbinary"})
# Types whose text never holds a separator, quote or backslash (FLOAT is left out: it needs widening).
_PLAIN_TEXT_TYPES = _NUMBER_TYPES | _TEMPORAL_TYPES | {"double", "timestamp"}

_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_TEMPORAL = re.compile(r"-?[0-9][0-9:. -]*")
_HEX = re.compile(r"([0-9A-F]{2})*")


def field_expression(column: catalog.Column) -> str:
    """The SQL expression whose value is the column's LOAD DATA field, quoted and escaped."""
    name = quote_identifier(column.name)
    if column.data_type in _PLAIN_TEXT_TYPES and not column.nullable:
        return name  # digits, signs, dots, dashes and colons need no quotes, and saving QUOTE() is measurable
    if column.data_type == "float":
        # MariaDB prints FLOAT with 6 significant digits; the double it widens to prints exactly.
        return f"QUOTE(CAST({name} AS DOUBLE))"
    # The stored bytes: text in its own character set (else CONCAT_WS would convert all fields to one), and
    # MariaDB's UUID and INET types in the binary form that LOAD DATA ... CHARACTER SET binary expects.
    return f"QUOTE(CAST({name} AS BINARY))"


def line_expression(columns: tuple[catalog.Column, ...]) -> str:
    """The SQL expression whose value is one LOAD DATA line (without its newline) of `columns`."""
    return "CONCAT_WS(',', " + ", ".join(field_expression(column) for column in columns) + ")"


def can_bound_ranges(column: catalog.Column) -> bool:
    """Whether key ranges can be bounded by literals of this column's values, in the order the index sorts them."""
    return column.data_type in _NUMBER_TYPES | _TEMPORAL_TYPES | _STRING_TYPES


def literal_source(column: catalog.Column, value: str | None = None) -> str:
    """The SQL expression to read `value` (the column itself by default) as text that `literal()` turns into a
    SQL literal."""
    value = value or quote_identifier(column.name)
    if column.data_type in _STRING_TYPES:
        return f"HEX({value})"  # the bytes in the column's own character set
    return f"CAST({value} AS CHAR)"


def literal(column: catalog.Column, text: str) -> str:
    """A SQL literal of the value that `literal_source()` read as `text`; compared in the column's collation."""
    if column.data_type in _STRING_TYPES:
        _check(_HEX, text, column)
        introducer = f"_{column.charset} " if column.charset is not None else ""
        return f"{introducer}X'{text}'"
    if column.data_type in _NUMBER_TYPES:
        _check(_NUMBER, text, column)
        return text
    _check(_TEMPORAL, text, column)
    return f"'{text}'"


def _check(pattern: re.Pattern[str], text: str, column: catalog.Column) -> None:
    # Values are pasted into SQL: refuse anything that is not what the type prints.
    if not pattern.fullmatch(text):
        raise ValueError(f"unexpected {column.data_type} key value {text!r} in column {column.name}")
