"""Precheck runs and how their items add up to a verdict."""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class Precheck:
    id: str
    task_id: str
    mode: str  # forStartJob | forRetryJob
    status: str  # pending | running | done
    items: list[dict[str, Any]]  # {item, group, result PASSED|ALARM|FAILED, failed_reason, data}
    created_at: int
    finished_at: int | None = None

    @property
    def done(self) -> bool:
        return self.status == "done"

    @property
    def passed(self) -> bool:
        """Done, and no item FAILED (an ALARM is a warning, not a blocker)."""
        return self.done and all(item["result"] != "FAILED" for item in self.items)

    @property
    def passed_rate(self) -> int:
        """Percent of items PASSED or ALARM."""
        if not self.items:
            return 100 if self.done else 0
        good = sum(1 for item in self.items if item["result"] != "FAILED")
        return good * 100 // len(self.items)
