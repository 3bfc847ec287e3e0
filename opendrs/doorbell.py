"""A doorbell from the API to the worker of the same store on this host: an idle worker acts at once on a command
that gives it work (a task created, started, paused, resumed, prechecked or stopped), not at its next poll.

The bell is a Unix datagram socket in Linux's abstract namespace (no file to clean up, no path length to mind),
named after the store, so `opendrs serve`'s HTTP processes reach its worker whichever of them took the request.
One worker per store and host listens; any other (a second process, or workers on other hosts) only polls, as
every worker did before. A ring nobody hears is lost, harmlessly: the worker's poll finds the work anyway.

A ring wakes a worker for one more pass over the store, nothing else: any local process may ring it.
"""

from __future__ import annotations

import contextlib
import hashlib
import select
import socket
from collections.abc import Iterator


def name_for(store_url: str) -> str:
    """The bell's name for a store (a digest: the URL may hold a password)."""
    return "opendrs-" + hashlib.sha256(store_url.encode()).hexdigest()[:24]


def ring(name: str) -> None:
    """Wake the worker listening on `name`, if any; never blocks, never fails."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        sock.sendto(b"\0", _address(name))


class Listener:
    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def wait(self, timeout: float) -> bool:
        """Return after `timeout` seconds (False), or as soon as the bell rings (True; every ring so far is heard)."""
        readable, _, _ = select.select([self._sock], [], [], timeout)
        if readable:
            with contextlib.suppress(BlockingIOError):
                while self._sock.recv(16):
                    pass
        return bool(readable)


@contextlib.contextmanager
def listening(name: str) -> Iterator[Listener | None]:
    """Listen on `name` for the block; None if another process listens already (or the host has no such socket)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        sock.bind(_address(name))
    except OSError:
        sock.close()
        yield None
        return
    sock.setblocking(False)
    with sock:
        yield Listener(sock)


def _address(name: str) -> str:
    return "\0" + name  # the abstract namespace: a leading NUL byte
