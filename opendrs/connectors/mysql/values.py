"""Column values of binlog row images: the decoders, one per column type, and SQL literals writing them back.

A row image is a null bitmap and then, for each present non-NULL column, its value in the storage format the
table map's type and metadata describe. Decoders take (buffer, offset) and return (value, next offset).

Python values, chosen so that the applier can write each one back exactly:

| MySQL type                       | value                                                               |
|----------------------------------|---------------------------------------------------------------------|
| TINYINT..BIGINT (signed/unsigned)| int                                                                 |
| DECIMAL(p,s)                     | decimal.Decimal with exactly s fractional digits                    |
| FLOAT, DOUBLE                    | float (a FLOAT's 4-byte value widened exactly)                      |
| BIT(n)                           | int (BIT(64) up to 2**64-1)                                         |
| YEAR                             | int (0 for 0000)                                                    |
| DATE, DATETIME(n)                | datetime.date / naive datetime.datetime                             |
| TIMESTAMP(n)                     | datetime.datetime in UTC (tz-aware): the binlog holds epoch seconds |
| zero or partly zero dates        | TemporalText("0000-00-00"), distinct from None (NULL)               |
| TIME(n)                          | datetime.timedelta (negative and > 24 h allowed)                    |
| CHAR/VARCHAR/TEXT utf8*, latin1, ascii | str                                                           |
| text in other charsets           | bytes, exactly as stored                                            |
| BINARY/VARBINARY/BLOB, GEOMETRY  | bytes                                                               |
| ENUM                             | str (the member), or int 0 for the empty error value                |
| SET                              | frozenset[str] of members                                           |
| JSON (MySQL binary JSON)         | JsonText: the document as JSON text                                 |
"""

from __future__ import annotations

import codecs
import dataclasses
import datetime
import decimal
import json
import struct
from collections.abc import Callable, Sequence
from typing import Any

from opendrs.connectors.mysql import errors

Decoder = Callable[[bytes, int], tuple[Any, int]]


@dataclasses.dataclass(frozen=True, slots=True)
class TemporalText:
    """A DATE/DATETIME/TIMESTAMP that Python cannot hold (zero date, zero month or day), as MySQL prints it."""

    text: str


class JsonText(str):
    """A MySQL JSON document as JSON text (the applier writes it as a string; the server parses it)."""

    __slots__ = ()


# Column type codes of the table map (include/mysql_com.h enum_field_types; 140/141 are MariaDB's).
class FieldType:
    DECIMAL = 0
    TINY = 1
    SHORT = 2
    LONG = 3
    FLOAT = 4
    DOUBLE = 5
    NULL = 6
    TIMESTAMP = 7
    LONGLONG = 8
    INT24 = 9
    DATE = 10
    TIME = 11
    DATETIME = 12
    YEAR = 13
    NEWDATE = 14
    VARCHAR = 15
    BIT = 16
    TIMESTAMP2 = 17
    DATETIME2 = 18
    TIME2 = 19
    VARCHAR_COMPRESSED = 140
    BLOB_COMPRESSED = 141
    JSON = 245
    NEWDECIMAL = 246
    ENUM = 247
    SET = 248
    TINY_BLOB = 249
    MEDIUM_BLOB = 250
    LONG_BLOB = 251
    BLOB = 252
    VAR_STRING = 253
    STRING = 254
    GEOMETRY = 255


# Bytes of metadata each type carries in the table map; types not listed carry none.
METADATA_SIZE: dict[int, int] = {
    FieldType.FLOAT: 1,
    FieldType.DOUBLE: 1,
    FieldType.BLOB: 1,
    FieldType.GEOMETRY: 1,
    FieldType.JSON: 1,
    FieldType.BLOB_COMPRESSED: 1,
    FieldType.TIMESTAMP2: 1,
    FieldType.DATETIME2: 1,
    FieldType.TIME2: 1,
    FieldType.VARCHAR: 2,
    FieldType.VAR_STRING: 2,
    FieldType.VARCHAR_COMPRESSED: 2,
    FieldType.BIT: 2,
    FieldType.NEWDECIMAL: 2,
    FieldType.STRING: 2,
    FieldType.ENUM: 2,
    FieldType.SET: 2,
}

# Columns the SIGNEDNESS optional metadata has a bit for, in column order (MariaDB counts YEAR too).
NUMERIC_TYPES = frozenset(
    {
        FieldType.TINY,
        FieldType.SHORT,
        FieldType.INT24,
        FieldType.LONG,
        FieldType.LONGLONG,
        FieldType.NEWDECIMAL,
        FieldType.FLOAT,
        FieldType.DOUBLE,
        FieldType.YEAR,
    }
)


@dataclasses.dataclass(frozen=True)
class ColumnSpec:
    """One column of a table map: its binlog type and what the optional metadata says about it."""

    name: str
    type: int  # FieldType; for CHAR/ENUM/SET the real type, from the metadata
    metadata: int  # type-specific: max length, precision<<8|scale, fsp, length bytes...
    unsigned: bool = False
    charset: str | None = None  # character set name of text columns, "binary" for binary strings
    members: tuple[str, ...] = ()  # ENUM / SET member names, in definition order


def decoder_for(column: ColumnSpec) -> Decoder:
    """The decoder of one column's values."""
    factory = _FACTORIES.get(column.type)
    if factory is None:
        raise errors.UnsupportedEventError(f"column {column.name!r} has binlog type {column.type}, not supported")
    return factory(column)


# --- integers and floats ------------------------------------------------------------------------------------


def _fixed(fmt: str) -> Decoder:
    unpack = struct.Struct(fmt).unpack_from
    size = struct.calcsize(fmt)

    def decode(buf: bytes, pos: int) -> tuple[Any, int]:
        return unpack(buf, pos)[0], pos + size

    return decode


_INT_FORMATS = {
    FieldType.TINY: ("<b", "<B"),
    FieldType.SHORT: ("<h", "<H"),
    FieldType.LONG: ("<i", "<I"),
    FieldType.LONGLONG: ("<q", "<Q"),
}


def _integer(column: ColumnSpec) -> Decoder:
    signed, unsigned = _INT_FORMATS[column.type]
    return _fixed(unsigned if column.unsigned else signed)


def _int24(column: ColumnSpec) -> Decoder:
    signed = not column.unsigned

    def decode(buf: bytes, pos: int) -> tuple[Any, int]:
        return int.from_bytes(buf[pos : pos + 3], "little", signed=signed), pos + 3

    return decode


def _float(column: ColumnSpec) -> Decoder:
    # FLOAT is 4 bytes: widening to a Python float is exact, and repr() round-trips it.
    return _fixed("<f" if column.type == FieldType.FLOAT else "<d")


def _year(column: ColumnSpec) -> Decoder:
    # One byte: year - 1900, and 0 for the year 0000.
    def decode(buf: bytes, pos: int) -> tuple[Any, int]:
        value = buf[pos]
        return (1900 + value if value else 0), pos + 1

    return decode


def _bit(column: ColumnSpec) -> Decoder:
    # Metadata: low byte bits % 8, high byte whole bytes; stored big-endian.
    size = (column.metadata >> 8) + (1 if column.metadata & 0xFF else 0)

    def decode(buf: bytes, pos: int) -> tuple[Any, int]:
        return int.from_bytes(buf[pos : pos + size], "big"), pos + size

    return decode


# --- DECIMAL -----------------------------------------------------------------------------------------------

# Binary DECIMAL (strings/decimal.c bin2decimal): groups of 9 digits in 4 bytes, big-endian, a shorter leading
# (integer) and trailing (fraction) group; the top bit of the first byte set for positive numbers, and every
# byte inverted for negative ones.
_DIG2BYTES = (0, 1, 1, 2, 2, 3, 3, 4, 4, 4)
_INVERT = bytes(255 - b for b in range(256))


def _decimal(column: ColumnSpec) -> Decoder:
    precision, scale = column.metadata >> 8, column.metadata & 0xFF
    int_full, int_rest = divmod(precision - scale, 9)
    frac_full, frac_rest = divmod(scale, 9)
    int_groups = ([_DIG2BYTES[int_rest]] if int_rest else []) + [4] * int_full
    int_digits = ([int_rest] if int_rest else []) + [9] * int_full
    frac_groups = [(4, 9)] * frac_full + ([(_DIG2BYTES[frac_rest], frac_rest)] if frac_rest else [])
    size = sum(int_groups) + sum(n for n, _ in frac_groups)

    def decode(buf: bytes, pos: int) -> tuple[Any, int]:
        raw = bytearray(buf[pos : pos + size])
        negative = not raw[0] & 0x80
        raw[0] ^= 0x80
        if negative:
            raw = bytearray(raw.translate(_INVERT))
        offset = 0
        integer = 0
        for nbytes, ndigits in zip(int_groups, int_digits, strict=True):
            integer = integer * 10**ndigits + int.from_bytes(raw[offset : offset + nbytes], "big")
            offset += nbytes
        text = ("-" if negative else "") + str(integer)
        if frac_groups:
            digits = []
            for nbytes, ndigits in frac_groups:
                digits.append(str(int.from_bytes(raw[offset : offset + nbytes], "big")).zfill(ndigits))
                offset += nbytes
            text += "." + "".join(digits)
        return decimal.Decimal(text), pos + size

    return decode


# --- temporal types ------------------------------------------------------------------------------------------

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
ZERO_TIMESTAMP = TemporalText("0000-00-00 00:00:00")


def _fraction(fsp: int) -> tuple[int, int]:
    """(bytes, multiplier to microseconds) of the fractional part for fsp 0..6 (my_time.h my_datetime_binary)."""
    nbytes = (fsp + 1) // 2
    return nbytes, (1, 10000, 100, 1)[nbytes]


def _read_fraction(buf: bytes, pos: int, nbytes: int, scale: int) -> int:
    return int.from_bytes(buf[pos : pos + nbytes], "big") * scale if nbytes else 0


def _date_value(year: int, month: int, day: int) -> Any:
    if year and month and day:
        try:
            return datetime.date(year, month, day)
        except ValueError:
            pass  # e.g. 2021-02-30 under ALLOW_INVALID_DATES
    return TemporalText(f"{year:04d}-{month:02d}-{day:02d}")


def _datetime_value(year: int, month: int, day: int, hms: tuple[int, int, int], micro: int) -> Any:
    if year and month and day:
        try:
            return datetime.datetime(year, month, day, *hms, micro)
        except ValueError:
            pass
    text = f"{year:04d}-{month:02d}-{day:02d} {hms[0]:02d}:{hms[1]:02d}:{hms[2]:02d}"
    return TemporalText(f"{text}.{micro:06d}" if micro else text)


def _date(column: ColumnSpec) -> Decoder:
    # 3 bytes little-endian: day in bits 0-4, month in 5-8, year above.
    def decode(buf: bytes, pos: int) -> tuple[Any, int]:
        value = buf[pos] | buf[pos + 1] << 8 | buf[pos + 2] << 16
        return _date_value(value >> 9, (value >> 5) & 15, value & 31), pos + 3

    return decode


def _datetime2(column: ColumnSpec) -> Decoder:
    # 5 bytes big-endian + 0x8000000000: 1 sign bit, 17 bits year*13+month, 5 day, 5 hour, 6 minute, 6 second.
    nbytes, scale = _fraction(column.metadata)

    def decode(buf: bytes, pos: int) -> tuple[Any, int]:
        packed = int.from_bytes(buf[pos : pos + 5], "big") - 0x8000000000
        micro = _read_fraction(buf, pos + 5, nbytes, scale)
        ymd, hms = packed >> 17, packed & 0x1FFFF
        year_month = ymd >> 5
        value = _datetime_value(
            year_month // 13, year_month % 13, ymd & 31, (hms >> 12, (hms >> 6) & 63, hms & 63), micro
        )
        return value, pos + 5 + nbytes

    return decode


def _timestamp2(column: ColumnSpec) -> Decoder:
    # 4 bytes big-endian seconds since the epoch (UTC, whatever the session time zone), then the fraction.
    nbytes, scale = _fraction(column.metadata)

    def decode(buf: bytes, pos: int) -> tuple[Any, int]:
        seconds = int.from_bytes(buf[pos : pos + 4], "big")
        micro = _read_fraction(buf, pos + 4, nbytes, scale)
        if not seconds and not micro:
            return ZERO_TIMESTAMP, pos + 4 + nbytes
        return _EPOCH + datetime.timedelta(seconds=seconds, microseconds=micro), pos + 4 + nbytes

    return decode


def _time2(column: ColumnSpec) -> Decoder:
    # 3 bytes big-endian + 0x800000 (1 sign bit, 1 unused, 10 hour, 6 minute, 6 second) then the fraction, the
    # whole a signed "packed" number (my_time.c my_time_packed_from_binary).
    fsp = column.metadata
    nbytes, scale = _fraction(fsp)
    size = 3 + nbytes

    def decode(buf: bytes, pos: int) -> tuple[Any, int]:
        if fsp >= 5:
            packed = int.from_bytes(buf[pos : pos + 6], "big") - 0x800000000000
        else:
            intpart = int.from_bytes(buf[pos : pos + 3], "big") - 0x800000
            frac = int.from_bytes(buf[pos + 3 : pos + size], "big")
            if intpart < 0 and frac:
                intpart += 1
                frac -= 1 << (8 * nbytes)
            packed = (intpart << 24) + frac * scale
        negative = packed < 0
        packed = -packed if negative else packed
        hms, micro = packed >> 24, packed & 0xFFFFFF
        delta = datetime.timedelta(hours=hms >> 12, minutes=(hms >> 6) & 63, seconds=hms & 63, microseconds=micro)
        return (-delta if negative else delta), pos + size

    return decode


def _timestamp(column: ColumnSpec) -> Decoder:
    # Pre-5.6 TIMESTAMP: 4 bytes little-endian epoch seconds.
    def decode(buf: bytes, pos: int) -> tuple[Any, int]:
        seconds = int.from_bytes(buf[pos : pos + 4], "little")
        value = _EPOCH + datetime.timedelta(seconds=seconds) if seconds else ZERO_TIMESTAMP
        return value, pos + 4

    return decode


def _datetime(column: ColumnSpec) -> Decoder:
    # Pre-5.6 DATETIME: 8 bytes little-endian, the decimal number YYYYMMDDhhmmss.
    def decode(buf: bytes, pos: int) -> tuple[Any, int]:
        date, time = divmod(int.from_bytes(buf[pos : pos + 8], "little"), 1000000)
        hms = (time // 10000, time // 100 % 100, time % 100)
        return _datetime_value(date // 10000, date // 100 % 100, date % 100, hms, 0), pos + 8

    return decode


def _time(column: ColumnSpec) -> Decoder:
    # Pre-5.6 TIME: 3 bytes little-endian signed, the decimal number (-)HHHMMSS.
    def decode(buf: bytes, pos: int) -> tuple[Any, int]:
        value = int.from_bytes(buf[pos : pos + 3], "little", signed=True)
        hours, rest = divmod(abs(value), 10000)
        delta = datetime.timedelta(hours=hours, minutes=rest // 100, seconds=rest % 100)
        return (-delta if value < 0 else delta), pos + 3

    return decode


# --- strings ---------------------------------------------------------------------------------------------------


def _mysql_latin1_errors(exc: UnicodeError) -> tuple[str, int]:
    # MySQL's latin1 is cp1252 plus the five bytes cp1252 leaves undefined (0x81 0x8D 0x8F 0x90 0x9D), which
    # it maps to U+0081... U+009D; the server converts those code points back to the same bytes.
    assert isinstance(exc, UnicodeDecodeError)
    return chr(exc.object[exc.start]), exc.start + 1


codecs.register_error("opendrs_mysql_latin1", _mysql_latin1_errors)

# Character sets whose bytes decode exactly to str (and the server converts the str back to the same bytes).
_TEXT_CODECS: dict[str, tuple[str, str]] = {
    "utf8mb4": ("utf-8", "strict"),
    "utf8mb3": ("utf-8", "strict"),
    "utf8": ("utf-8", "strict"),
    "ascii": ("ascii", "strict"),
    "latin1": ("cp1252", "opendrs_mysql_latin1"),
}


def text_converter(charset: str | None) -> Callable[[bytes], Any]:
    """bytes -> str for the character sets we can decode exactly; bytes unchanged for the others."""
    codec = _TEXT_CODECS.get(charset or "binary")
    if codec is None:
        return bytes
    encoding, handler = codec

    def convert(raw: bytes) -> Any:
        try:
            return raw.decode(encoding, handler)
        except UnicodeDecodeError:
            return raw  # not valid in its charset (a lax source): keep the bytes, written back as they are

    return convert


def _length_prefixed(prefix: int, convert: Callable[[bytes], Any]) -> Decoder:
    def decode(buf: bytes, pos: int) -> tuple[Any, int]:
        end = pos + prefix
        length = buf[pos] if prefix == 1 else int.from_bytes(buf[pos:end], "little")
        return convert(buf[end : end + length]), end + length

    return decode


def _varchar(column: ColumnSpec) -> Decoder:
    # Metadata: the maximum length in bytes; a 1-byte length prefix below 256, else 2.
    return _length_prefixed(1 if column.metadata < 256 else 2, text_converter(column.charset))


def _char(column: ColumnSpec) -> Decoder:
    # CHAR/BINARY are logged without their trailing pad (spaces, or NUL for BINARY); the server pads again on write.
    return _length_prefixed(1 if column.metadata < 256 else 2, text_converter(column.charset))


def _blob(column: ColumnSpec) -> Decoder:
    # Metadata: the size of the length prefix (1 TINYBLOB, 2 BLOB, 3 MEDIUMBLOB, 4 LONGBLOB); TEXT is a BLOB too.
    return _length_prefixed(column.metadata, text_converter(column.charset))


def _geometry(column: ColumnSpec) -> Decoder:
    # SRID + WKB, the server's own storage format, which it accepts back as a binary string.
    return _length_prefixed(column.metadata, bytes)


def _enum(column: ColumnSpec) -> Decoder:
    size = column.metadata & 0xFF  # 1 or 2 bytes: the member's 1-based index, 0 for the error value ''
    members: Sequence[Any] = (0, *column.members)

    def decode(buf: bytes, pos: int) -> tuple[Any, int]:
        index = buf[pos] if size == 1 else int.from_bytes(buf[pos : pos + size], "little")
        return members[index], pos + size

    return decode


def _set(column: ColumnSpec) -> Decoder:
    size = column.metadata & 0xFF  # 1, 2, 3, 4 or 8 bytes: a bitmask of members
    members = column.members

    def decode(buf: bytes, pos: int) -> tuple[Any, int]:
        mask = int.from_bytes(buf[pos : pos + size], "little")
        return frozenset(m for i, m in enumerate(members) if mask >> i & 1), pos + size

    return decode


def _json(column: ColumnSpec) -> Decoder:
    # MySQL's binary JSON (MariaDB's JSON is LONGTEXT and never arrives as this type).
    from pymysqlreplication import json_binary

    prefix = column.metadata

    def decode(buf: bytes, pos: int) -> tuple[Any, int]:
        end = pos + prefix
        length = int.from_bytes(buf[pos:end], "little")
        data = buf[end : end + length]
        document = json_binary.parse_json(data[0], data[1:]) if length else None
        return JsonText(json.dumps(document, default=_json_default, ensure_ascii=False)), end + length

    return decode


def _json_default(value: object) -> object:
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    if isinstance(value, decimal.Decimal):
        return float(value)
    return str(value)


_FACTORIES: dict[int, Callable[[ColumnSpec], Decoder]] = {
    FieldType.TINY: _integer,
    FieldType.SHORT: _integer,
    FieldType.LONG: _integer,
    FieldType.LONGLONG: _integer,
    FieldType.INT24: _int24,
    FieldType.FLOAT: _float,
    FieldType.DOUBLE: _float,
    FieldType.YEAR: _year,
    FieldType.BIT: _bit,
    FieldType.NEWDECIMAL: _decimal,
    FieldType.DATE: _date,
    FieldType.DATETIME2: _datetime2,
    FieldType.TIMESTAMP2: _timestamp2,
    FieldType.TIME2: _time2,
    FieldType.TIMESTAMP: _timestamp,
    FieldType.DATETIME: _datetime,
    FieldType.TIME: _time,
    FieldType.VARCHAR: _varchar,
    FieldType.VAR_STRING: _varchar,
    FieldType.STRING: _char,
    FieldType.BLOB: _blob,
    FieldType.GEOMETRY: _geometry,
    FieldType.ENUM: _enum,
    FieldType.SET: _set,
    FieldType.JSON: _json,
}


# --- values back to SQL: literals that write them exactly ----------------------------------------------------

_ESCAPES = str.maketrans({"\0": "\\0", "\n": "\\n", "\r": "\\r", "\x1a": "\\Z", "'": "\\'", '"': '\\"', "\\": "\\\\"})


def _str_literal(value: str) -> str:
    # The connection is utf8mb4 and NO_BACKSLASH_ESCAPES is off; the server converts to the column's charset.
    return "'" + value.translate(_ESCAPES) + "'"


def _bytes_literal(value: bytes) -> str:
    # A binary string: copied byte for byte into any column, whatever its charset.
    return "X'" + value.hex() + "'"


def _float_literal(value: float) -> str:
    # repr() is the shortest text that reads back as the same double; the exponent makes MySQL read it as a
    # double (correctly rounded) rather than as a DECIMAL.
    text = repr(value)
    return text if "e" in text else text + "e0"


def _decimal_literal(value: decimal.Decimal) -> str:
    return format(value, "f")  # never exponent notation, which MySQL would read as a double


def _datetime_literal(value: datetime.datetime) -> str:
    if value.tzinfo is not None:  # TIMESTAMP: written in UTC, the session's time zone
        value = value.astimezone(datetime.UTC).replace(tzinfo=None)
    return "'" + value.isoformat(" ") + "'"


def _date_literal(value: datetime.date) -> str:
    return "'" + value.isoformat() + "'"


def _time_literal(value: datetime.timedelta) -> str:
    micro = (value.days * 86400 + value.seconds) * 1_000_000 + value.microseconds
    sign = "-" if micro < 0 else ""
    seconds, micro = divmod(abs(micro), 1_000_000)
    return f"'{sign}{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}.{micro:06d}'"


def _set_literal(value: frozenset[str]) -> str:
    return _str_literal(",".join(sorted(value)))


_LITERALS: dict[type, Callable[[Any], str]] = {
    type(None): lambda _: "NULL",
    int: str,
    str: _str_literal,
    JsonText: _str_literal,
    bytes: _bytes_literal,
    bytearray: _bytes_literal,
    float: _float_literal,
    decimal.Decimal: _decimal_literal,
    datetime.datetime: _datetime_literal,
    datetime.date: _date_literal,
    datetime.timedelta: _time_literal,
    frozenset: _set_literal,
    TemporalText: lambda v: "'" + v.text + "'",
}


def same(a: Any, b: Any) -> bool:
    """Equal and of the same type; floats also by sign (0.0 vs -0.0 are different bytes)."""
    if type(a) is not type(b) or a != b:
        return False
    return not isinstance(a, float) or str(a) == str(b)


def literal(value: Any) -> str:
    """`value` (as the stream decodes it) as an SQL literal that writes it back exactly."""
    try:
        return _LITERALS[type(value)](value)
    except KeyError:
        raise errors.UnsupportedEventError(f"cannot write a {type(value).__name__} value") from None


RowDecode = Callable[[bytes, int], tuple[dict[str, Any], int]]

# Fixed-size columns read with one struct for a run of them: the struct code by (type, unsigned).
_STRUCT_CODES: dict[tuple[int, bool], str] = {
    (FieldType.TINY, False): "b",
    (FieldType.TINY, True): "B",
    (FieldType.SHORT, False): "h",
    (FieldType.SHORT, True): "H",
    (FieldType.LONG, False): "i",
    (FieldType.LONG, True): "I",
    (FieldType.LONGLONG, False): "q",
    (FieldType.LONGLONG, True): "Q",
    (FieldType.FLOAT, False): "f",
    (FieldType.FLOAT, True): "f",
    (FieldType.DOUBLE, False): "d",
    (FieldType.DOUBLE, True): "d",
}


class RowDecoder:
    """Decodes the row images of one table map with one set of present columns.

    Rows without NULLs (the common case) go through a function generated for the table, as dataclasses and
    namedtuple do: runs of fixed-size numbers are read by one struct, short strings inline, the rest through
    the column decoders; the row dict is built in one expression. Rows with NULLs take the generic loop.
    """

    __slots__ = ("decode", "decoders", "names")

    def __init__(self, columns: Sequence[ColumnSpec], present: Sequence[int]) -> None:
        chosen = [columns[i] for i in present]
        self.names = tuple(c.name for c in chosen)
        self.decoders = tuple(decoder_for(c) for c in chosen)
        self.decode: RowDecode = _compile(chosen, self.decoders, self._decode_with_nulls)

    @classmethod
    def build(cls, columns: Sequence[ColumnSpec], present: Sequence[int]) -> RowDecoder:
        return cls(columns, present)

    def _decode_with_nulls(self, buf: bytes, pos: int, nulls: int) -> tuple[dict[str, Any], int]:
        names = self.names
        row: dict[str, Any] = {}
        for i, decode in enumerate(self.decoders):
            if nulls >> i & 1:
                row[names[i]] = None
            else:
                row[names[i]], pos = decode(buf, pos)
        return row, pos


def _compile(
    columns: Sequence[ColumnSpec], decoders: Sequence[Decoder], with_nulls: Callable[[bytes, int, int], Any]
) -> RowDecode:
    nbytes = (len(columns) + 7) >> 3
    namespace: dict[str, Any] = {"with_nulls": with_nulls}
    lines = [
        "def decode(buf, pos):",
        # The server sets the unused high bits of the last bitmap byte: mask them off.
        f"    nulls = int.from_bytes(buf[pos:pos + {nbytes}], 'little') & {(1 << len(columns)) - 1}",
        f"    if nulls: return with_nulls(buf, pos + {nbytes}, nulls)",
        f"    pos += {nbytes}",
    ]
    run: list[tuple[int, str]] = []  # fixed-size columns not read yet: (index, struct code)

    def flush() -> None:
        if run:
            fmt = "<" + "".join(code for _, code in run)
            namespace[f"s{run[0][0]}"] = struct.Struct(fmt).unpack_from
            targets = "".join(f"v{i}, " for i, _ in run)
            lines.append(f"    {targets}= s{run[0][0]}(buf, pos); pos += {struct.calcsize(fmt)}")
            run.clear()

    for i, column in enumerate(columns):
        code = _STRUCT_CODES.get((column.type, column.unsigned))
        if code is not None:
            run.append((i, code))
            continue
        flush()
        prefix = _string_prefix(column)
        if prefix:
            length = "buf[pos]" if prefix == 1 else "buf[pos] | buf[pos + 1] << 8"
            lines.append(f"    end = pos + {prefix} + ({length}); v{i} = buf[pos + {prefix}:end]; pos = end")
            if column.charset in _TEXT_CODECS:
                namespace[f"c{i}"] = text_converter(column.charset)
                lines.append(f"    v{i} = v{i}.decode('ascii') if v{i}.isascii() else c{i}(v{i})")
            elif column.charset != "binary":
                namespace[f"c{i}"] = text_converter(column.charset)
                lines.append(f"    v{i} = c{i}(v{i})")
        else:
            namespace[f"d{i}"] = decoders[i]
            lines.append(f"    v{i}, pos = d{i}(buf, pos)")
    flush()
    row = ", ".join(f"{column.name!r}: v{i}" for i, column in enumerate(columns))
    lines.append(f"    return {{{row}}}, pos")
    # The code comes from column types and repr() of column names: no value of the data is ever in it.
    exec("\n".join(lines), namespace)
    decode: RowDecode = namespace["decode"]
    return decode


def _string_prefix(column: ColumnSpec) -> int:
    """Bytes of the length prefix of strings read inline (VARCHAR, CHAR, TINYBLOB/BLOB), else 0."""
    if column.type in (FieldType.VARCHAR, FieldType.VAR_STRING, FieldType.STRING):
        return 1 if column.metadata < 256 else 2
    if column.type == FieldType.BLOB and column.metadata in (1, 2):
        return column.metadata
    return 0
