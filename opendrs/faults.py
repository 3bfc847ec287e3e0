"""Named crash points, for the fault-injection tests: the process dies at an exact step, as with kill -9.

`crash_point("copy.chunk.committed")` does nothing unless the environment variable OPENDRS_CRASH_AT names that
point when the process starts: "name" dies the first time the point is reached, "name:n" the n-th time. The
process then writes one line naming the point to stderr and sends itself SIGKILL: no cleanup, no lease released,
no connection closed politely, exactly like a crash. The variable is read once, at import: a point that is not
armed costs one comparison.

A point's name says where it is: the phase, then the step ("apply.after_commit"). Points live on one line each,
in the engine and the connectors; this module sits outside the layers so that both may import it.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

ENVIRONMENT_VARIABLE = "OPENDRS_CRASH_AT"
REACHED = "opendrs crash point reached:"  # the stderr line's prefix, which tests look for


def _armed(value: str | None) -> tuple[str, int] | None:
    """(point, pass) from "name" or "name:n"; None when unset."""
    if not value:
        return None
    name, _, count = value.partition(":")
    return name, int(count) if count else 1


_ARMED = _armed(os.environ.get(ENVIRONMENT_VARIABLE))
_passes = 0
_lock = threading.Lock()


def crash_point(name: str) -> None:
    """Die here with SIGKILL if OPENDRS_CRASH_AT names this point (and this is its pass)."""
    if _ARMED is None or name != _ARMED[0]:
        return
    global _passes
    with _lock:
        _passes += 1
        if _passes < _ARMED[1]:
            return
        sys.stderr.write(f"{REACHED} {name} (pass {_passes})\n")
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)
