"""Binlog events the stream must not skip: it stops, naming what it cannot replicate."""

from __future__ import annotations

from typing import Any, cast

import pytest

from opendrs.connectors.mysql import errors, streaming
from opendrs.domain.replication import Selection


def test_an_incident_event_stops_the_stream() -> None:
    """A source that lost changes it could not log writes an incident (only a debug build makes one on demand)."""
    body = b"\x01\x00\x00"  # LOST_EVENTS, and an empty message
    header = streaming.HEADER.pack(0, streaming.EventType.INCIDENT, 1, streaming.HEADER_SIZE + len(body), 9, 0)

    class OnePacket:
        def read(self) -> bytes:
            return b"\x00" + header + body  # an OK status byte, then the event

    context = streaming._Context(Selection(), {})
    with pytest.raises(errors.UnsupportedEventError, match="binlog incident"):
        streaming._next_event(cast(Any, OnePacket()), context, cast(Any, None))
