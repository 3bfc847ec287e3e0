"""The worker's doorbell (opendrs/doorbell.py): a ring ends a wait at once, one listener per name, and ringing
with nobody listening is no error."""

from __future__ import annotations

import threading
import time
import uuid

from opendrs import doorbell


def _name() -> str:
    return doorbell.name_for(f"sqlite:///{uuid.uuid4()}")


def test_a_ring_ends_the_wait_at_once_and_every_ring_so_far_is_heard() -> None:
    name = _name()
    with doorbell.listening(name) as bell:
        assert bell is not None
        threading.Timer(0.1, doorbell.ring, (name,)).start()
        started = time.monotonic()
        bell.wait(30)
        assert time.monotonic() - started < 10
        for _ in range(3):
            doorbell.ring(name)
        bell.wait(30)  # the three rings: one wake
        started = time.monotonic()
        bell.wait(0.2)  # nothing left: the full timeout
        assert time.monotonic() - started >= 0.2


def test_one_listener_per_name_and_a_name_per_store() -> None:
    name = _name()
    with doorbell.listening(name) as first, doorbell.listening(name) as second:
        assert first is not None and second is None
    with doorbell.listening(name) as again:  # free once the first is closed
        assert again is not None
    assert doorbell.name_for("sqlite:///a") != doorbell.name_for("sqlite:///b")


def test_ringing_with_nobody_listening_is_no_error() -> None:
    doorbell.ring(_name())
