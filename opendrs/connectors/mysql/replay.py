"""Row images of a large transaction given back to a MariaDB target as the source's binlog had them.

A transaction past spill.SPILL_ROWS keeps its later rows events as the binlog gave them (spill.add_rows). Decoding
them in Python and writing them back as SQL was most of what such a transaction cost (500,000 rows inserted, then
updated: 11 s, against 1.9 s for a native replica; 2.4 s against 1.5 s so). Instead the applier sends each part to the
target as a BINLOG statement: the source's format description event once per session, then a table map (with the
target's names) and one rows event holding the part's row images, base64-encoded. The target applies them as a
native replica would, in C, inside the applier's open transaction: they commit with the checkpoint, or roll back
with it.

A replica matches columns by position and trusts the table map for their meaning, so a part is replayed only
where the target table says the same (`mismatch`): the same column names in the same order, the same signedness,
character sets and ENUM/SET members. Column types must be identical too: with slave_type_conversions empty (the
applier checks) the target refuses any other (error 1677), and the applier then writes the transaction as SQL.
"""

from __future__ import annotations

import binascii
import re
import time
import zlib
from collections.abc import Sequence
from typing import NamedTuple

from opendrs.connectors.mysql import values
from opendrs.domain.replication import TableRef

_TABLE_MAP = 19
_TABLE_MAP_FLAGS = b"\x01\x00"  # TM_BIT_LEN_EXACT_F, as servers write them
_STMT_END_F = 0x0001  # the statement's last rows event: the target closes its tables after it
_HEADER_SIZE = 19
_CHECKSUM_SIZE = 4
_TABLE_ID_SIZE = 6
_NAMES_SIZE = 2 * (1 + 3 * 64 + 1)  # a schema's and a table's: length, 64 utf8mb3 characters at most, NUL


class Origin(NamedTuple):
    """What a rows event needs, besides its row images, to be given to a target as it came."""

    format_description: bytes  # the source's format description event in force, as it came (CRC included)
    checksum: bool  # the source's events end with a CRC32
    event_type: int
    head: bytes  # the rows event's body before its row images: table id, flags, column count, bitmaps
    table_map: bytes  # the body of its table map after the table id and flags: names, types, metadata
    columns: tuple[values.ColumnSpec, ...]  # the table map's columns, parsed


class TargetColumn(NamedTuple):
    name: str
    column_type: str  # information_schema.COLUMNS.COLUMN_TYPE: "int(10) unsigned", "enum('a','b')"...
    charset: str | None  # CHARACTER_SET_NAME: None for columns that hold no text


def binlog_statement(events: bytes) -> str:
    """The statement that has the target apply `events` (the format description first, once per session)."""
    return "BINLOG '" + binascii.b2a_base64(events, newline=False).decode("ascii") + "'"


def rows_events(origin: Origin, rows: bytes, target: TableRef, server_id: int) -> bytes:
    """A table map naming `target` and one rows event holding `rows`, as a BINLOG statement carries them."""
    table_id = origin.head[:_TABLE_ID_SIZE]
    flags = int.from_bytes(origin.head[6:8], "little") | _STMT_END_F
    table_map = table_id + _TABLE_MAP_FLAGS + _names(target) + _after_names(origin.table_map)
    rows_event = table_id + flags.to_bytes(2, "little") + origin.head[8:] + rows
    return _event(_TABLE_MAP, table_map, server_id, origin.checksum) + _event(
        origin.event_type, rows_event, server_id, origin.checksum
    )


def statement_size(origin: Origin, rows: bytes) -> int:
    """Bytes of the BINLOG statement of `rows`, at most (the format description included)."""
    events = (
        len(origin.format_description)
        + 2 * (_HEADER_SIZE + _CHECKSUM_SIZE + _TABLE_ID_SIZE + 2)
        + _NAMES_SIZE
        + len(origin.table_map)
        + len(origin.head)
        + len(rows)
    )
    return len("BINLOG ''") + 4 * (events + 2) // 3


def mismatch(source: Sequence[values.ColumnSpec], target: Sequence[TargetColumn]) -> str | None:
    """Why the target table would take the source's row images differently from what they mean; None if it would not."""
    if [c.name for c in source] != [c.name for c in target]:
        return "its columns are not the source's, in the source's order"
    for ours, theirs in zip(source, target, strict=True):
        if ours.type in (values.FieldType.ENUM, values.FieldType.SET):
            if tuple(ours.members) != _members(theirs.column_type):
                return f"column {ours.name} has other members"
        elif ours.type in _SIGNED_TYPES and ours.unsigned != (" unsigned" in theirs.column_type):
            return f"column {ours.name} differs in sign"
        elif ours.charset is not None and ours.charset != (theirs.charset or "binary"):
            return f"column {ours.name} has another character set"
    return None


def refusal(version: str, type_conversions: str) -> str | None:
    """Why a target of this `version` and slave_type_conversions cannot take row images as they came; None if it can."""
    if "mariadb" not in version.lower():
        return "only MariaDB targets are given rows events (MySQL's are untested)"
    if type_conversions:
        return f"its slave_type_conversions ({type_conversions}) would convert the values of other column types"
    return None


def _names(table: TableRef) -> bytes:
    schema, name = table.schema.encode(), table.name.encode()
    return bytes([len(schema)]) + schema + b"\0" + bytes([len(name)]) + name + b"\0"


def _after_names(body: bytes) -> bytes:
    pos = body[0] + 2  # length, schema, NUL
    return body[pos + body[pos] + 2 :]


def _event(event_type: int, body: bytes, server_id: int, checksum: bool) -> bytes:
    length = _HEADER_SIZE + len(body) + (_CHECKSUM_SIZE if checksum else 0)
    header = (
        int(time.time()).to_bytes(4, "little")
        + bytes([event_type])
        + server_id.to_bytes(4, "little")
        + length.to_bytes(4, "little")
        + b"\0\0\0\0"  # its position in a binlog file: none
        + b"\0\0"  # flags
    )
    event = header + body
    return event + zlib.crc32(event).to_bytes(_CHECKSUM_SIZE, "little") if checksum else event


_SIGNED_TYPES = values.NUMERIC_TYPES - {values.FieldType.YEAR}  # a YEAR is "unsigned" in the table map only
_MEMBER = re.compile(r"'((?:[^'\\]|''|\\.)*)'")


def _members(column_type: str) -> tuple[str, ...]:
    """The members of an ENUM or SET column type as information_schema writes it (quotes doubled)."""
    return tuple(m.replace("''", "'") for m in _MEMBER.findall(column_type))
