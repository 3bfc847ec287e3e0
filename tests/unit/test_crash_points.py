"""opendrs.faults: an armed crash point kills its process with SIGKILL at the chosen pass, after one stderr line;
an unarmed one does nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from opendrs.faults import ENVIRONMENT_VARIABLE, REACHED

PROGRAM = """
from opendrs.faults import crash_point
for n in range(1, 4):
    print(f"before {n}", flush=True)
    crash_point("unit.other")
    crash_point("unit.point")
print("survived", flush=True)
"""


def _run(armed: str | None) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != ENVIRONMENT_VARIABLE}
    if armed is not None:
        env[ENVIRONMENT_VARIABLE] = armed
    return subprocess.run([sys.executable, "-c", PROGRAM], env=env, capture_output=True, text=True, timeout=30)


def test_an_unarmed_point_does_nothing() -> None:
    done = _run(None)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["before", "1", "before", "2", "before", "3", "survived"]


def test_the_named_point_kills_the_process_at_its_first_pass() -> None:
    done = _run("unit.point")
    assert done.returncode == -signal.SIGKILL
    assert done.stdout.split() == ["before", "1"]
    assert done.stderr == f"{REACHED} unit.point (pass 1)\n"


def test_a_pass_number_picks_the_nth_time_the_point_is_reached() -> None:
    done = _run("unit.point:3")
    assert done.returncode == -signal.SIGKILL
    assert done.stdout.split() == ["before", "1", "before", "2", "before", "3"]
    assert done.stderr == f"{REACHED} unit.point (pass 3)\n"
