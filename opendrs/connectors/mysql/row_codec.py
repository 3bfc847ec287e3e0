"""Row changes as JSON text and back, exactly: for changes that must wait on the target (prepared_xa.py).

JSON, not pickle: the text sits in a table of the target, which others can write, and decoding it must never run
code. Plain values (None, int, str, float) are JSON's own; every other type the stream decodes (values.py) is a
two-item list [tag, payload], which no plain value is.
"""

from __future__ import annotations

import datetime
import decimal
import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from opendrs.connectors.mysql import errors
from opendrs.connectors.mysql.values import JsonText, TemporalText
from opendrs.domain.replication import Row, RowChange, TableRef

_PLAIN = (type(None), int, str, float)

_ENCODERS: dict[type, tuple[str, Callable[[Any], Any]]] = {
    JsonText: ("json", str),
    bytes: ("bytes", bytes.hex),
    bytearray: ("bytes", bytearray.hex),
    decimal.Decimal: ("decimal", str),
    datetime.datetime: ("datetime", datetime.datetime.isoformat),  # keeps a TIMESTAMP's UTC offset
    datetime.date: ("date", datetime.date.isoformat),
    datetime.timedelta: ("time", lambda value: [value.days, value.seconds, value.microseconds]),
    frozenset: ("set", sorted),
    TemporalText: ("temporal", lambda value: value.text),
}

_DECODERS: dict[str, Callable[[Any], Any]] = {
    "json": JsonText,
    "bytes": bytes.fromhex,
    "decimal": decimal.Decimal,
    "datetime": datetime.datetime.fromisoformat,
    "date": datetime.date.fromisoformat,
    "time": lambda parts: datetime.timedelta(days=parts[0], seconds=parts[1], microseconds=parts[2]),
    "set": frozenset,
    "temporal": TemporalText,
}


def encode(change: RowChange) -> str:
    """One change as one line of JSON (ASCII only)."""
    return json.dumps(
        [
            change.table.schema,
            change.table.name,
            change.kind,
            _encode_row(change.before),
            _encode_row(change.after),
            change.foreign_key_checks,
            change.only_cascades,
        ],
        separators=(",", ":"),
    )


def decode(line: str) -> RowChange:
    schema, name, kind, before, after, checks, only_cascades = json.loads(line)
    return RowChange(TableRef(schema, name), kind, _decode_row(before), _decode_row(after), checks, only_cascades)


def encode_all(changes: Iterable[RowChange], max_bytes: int) -> Iterator[str]:
    """The changes as texts of lines, each text at most about `max_bytes` (one change may make it longer); one
    text at a time, so that a transaction of millions of changes is never encoded whole in memory."""
    lines: list[str] = []
    size = 0
    for change in changes:
        line = encode(change)
        if lines and size + len(line) > max_bytes:
            yield "\n".join(lines)
            lines, size = [], 0
        lines.append(line)
        size += len(line) + 1
    if lines:
        yield "\n".join(lines)


def decode_all(texts: Iterable[str]) -> Iterator[RowChange]:
    return (decode(line) for text in texts for line in text.split("\n"))


def _encode_row(row: Row | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {column: _encode_value(value) for column, value in row.items()}


def _encode_value(value: Any) -> Any:
    if type(value) in _PLAIN:
        return value
    try:
        tag, encode_value = _ENCODERS[type(value)]
    except KeyError:
        raise errors.UnsupportedEventError(f"cannot keep a {type(value).__name__} value") from None
    return [tag, encode_value(value)]


def _decode_row(row: dict[str, Any] | None) -> Row | None:
    if row is None:
        return None
    return {column: _decode_value(value) for column, value in row.items()}


def _decode_value(value: Any) -> Any:
    if type(value) is list:
        tag, payload = value
        return _DECODERS[tag](payload)
    return value
