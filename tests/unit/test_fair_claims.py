"""How a worker picks the tasks it claims, so that tasks spread over several workers."""

from __future__ import annotations

from opendrs.engine.worker import NEW_TASK_HEADSTART_MS, fair_claims
from opendrs.store.leases import Claimable

NOW = 1_000_000


def new_tasks(count: int, age_ms: int = 0) -> list[Claimable]:
    return [Claimable(f"new-{i}", 0, NOW - age_ms) for i in range(count)]


def orphans(count: int) -> list[Claimable]:
    """Tasks whose worker died: their lease expired (version > 0)."""
    return [Claimable(f"orphan-{i}", 3, NOW - 60_000) for i in range(count)]


def ids(claims: list[Claimable]) -> list[str]:
    return [claim.task_id for claim in claims]


def test_an_idle_worker_takes_one_new_task_and_leaves_the_rest_to_idle_workers_for_a_while() -> None:
    assert ids(fair_claims(new_tasks(6), 0, 4, {}, NOW)) == ["new-0"]


def test_new_tasks_nobody_took_during_the_headstart_go_to_a_busy_worker_up_to_its_room() -> None:
    assert ids(fair_claims(new_tasks(6, NEW_TASK_HEADSTART_MS), 1, 3, {}, NOW)) == ["new-0", "new-1", "new-2"]


def test_a_worker_takes_no_more_than_its_fair_share() -> None:
    # 2 held here, 2 + 2 by two others, 3 claimable: 9 tasks over 3 workers, 3 each.
    assert ids(fair_claims(orphans(3), 2, 10, {"b": 2, "c": 2}, NOW)) == ["orphan-0"]
    assert fair_claims(orphans(1), 3, 10, {"b": 1, "c": 1}, NOW) == []


def test_a_dead_workers_tasks_are_shared_by_the_survivors_at_once() -> None:
    # The dead worker's leases expired: it is not among the live workers; no headstart for tasks that ran before.
    assert ids(fair_claims(orphans(2), 2, 2, {"b": 2}, NOW)) == ["orphan-0"]


def test_a_lone_worker_takes_everything_it_has_room_for() -> None:
    assert ids(fair_claims(orphans(5), 0, 4, {}, NOW)) == ["orphan-0", "orphan-1", "orphan-2", "orphan-3"]
