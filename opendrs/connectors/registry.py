"""Which connector serves which db_type. Only this module names concrete connectors; drivers load lazily."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Protocol

from opendrs.domain.replication import Endpoint, Selection


class CheckResult(Protocol):
    ok: bool
    reason: str
    auth_failed: bool
    version: str


class Item(Protocol):
    item: str
    group: str
    result: str
    reason: str
    data: str


class Checks(Protocol):
    """What the service needs of an engine's connector before a task starts."""

    def check_connection(self, endpoint: Endpoint) -> CheckResult: ...

    def precheck(
        self, source: Endpoint, target: Endpoint, selection: Selection, *, full: bool, incremental: bool, retry: bool
    ) -> Sequence[Item]: ...


_CHECKS = {"mysql": "opendrs.connectors.mysql.checks"}


def supported_db_types() -> tuple[str, ...]:
    return tuple(_CHECKS)


def checks_for(db_type: str) -> Checks | None:
    module = _CHECKS.get(db_type)
    if module is None:
        return None
    checks: Checks = importlib.import_module(module)
    return checks
