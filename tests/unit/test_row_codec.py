"""Row changes kept as JSON text (prepared XA transactions) come back exactly: every value type the stream decodes."""

from __future__ import annotations

import datetime
import decimal

import pytest

from opendrs.connectors.mysql import errors, row_codec
from opendrs.connectors.mysql.values import JsonText, TemporalText
from opendrs.domain.replication import RowChange, TableRef

VALUES = {
    "null": None,
    "int": -(2**63),
    "uint": 2**64 - 1,
    "text": "ünï😀 ' \" \\ \0 \n",
    "undecodable": b"\xff\xfe".decode("utf-8", "surrogateescape"),
    "json": JsonText('{"k": [1, 2.5]}'),
    "bytes": bytes(range(256)),
    "empty_bytes": b"",
    "float": 0.1,
    "negative_zero": -0.0,
    "double": 1.7976931348623157e308,
    "decimal": decimal.Decimal("-99999999999999999999999999999999999.999999999999999999999999999999"),
    "decimal_scale": decimal.Decimal("1.10"),
    "datetime": datetime.datetime(2020, 2, 29, 12, 34, 56, 123456),
    "timestamp": datetime.datetime(2038, 1, 19, 3, 14, 7, 999999, tzinfo=datetime.UTC),
    "date": datetime.date(1000, 1, 1),
    "time": datetime.timedelta(hours=-838, minutes=-59, seconds=-59),
    "time_fraction": -datetime.timedelta(microseconds=1),
    "set": frozenset({"r", "é"}),
    "empty_set": frozenset(),
    "zero_date": TemporalText("0000-00-00 00:00:00"),
    "enum_error": 0,
}


def test_every_value_type_comes_back_equal_and_of_its_type() -> None:
    change = RowChange(TableRef("db", "t"), "update", dict(VALUES), {"int": 1}, foreign_key_checks=False)
    back = row_codec.decode(row_codec.encode(change))
    assert back == change
    assert back.before is not None
    for column, value in VALUES.items():
        assert type(back.before[column]) is type(value), column
    assert str(back.before["negative_zero"]) == "-0.0"
    assert str(back.before["decimal_scale"]) == "1.10"
    assert list(back.before) == list(VALUES), "columns keep their order"


def test_texts_are_ascii_and_split_at_the_size_given() -> None:
    changes = [RowChange(TableRef("db", "t"), "insert", None, {"id": i, "v": "é" * 50}) for i in range(100)]
    texts = list(row_codec.encode_all(changes, 2000))
    assert len(texts) > 1
    assert all(text.isascii() and len(text) <= 2000 for text in texts)
    assert list(row_codec.decode_all(texts)) == changes


def test_a_value_of_an_unknown_type_is_refused() -> None:
    change = RowChange(TableRef("db", "t"), "insert", None, {"v": object()})
    with pytest.raises(errors.UnsupportedEventError, match="object"):
        row_codec.encode(change)
