"""A task's endpoints and selection as the connectors take them: secrets decrypted at the last moment."""

from __future__ import annotations

import dataclasses

from opendrs.domain.replication import Endpoint, Selection, endpoint_from, selection_from
from opendrs.domain.tasks import Task
from opendrs.keys import Keys


@dataclasses.dataclass(frozen=True)
class Wiring:
    source: Endpoint | None
    target: Endpoint | None
    selection: Selection


def wiring(task: Task, secrets: dict[str, str], keys: Keys) -> Wiring:
    def endpoint(role: str) -> Endpoint | None:
        encrypted = secrets.get(f"{role}.db_password")
        password = keys.decrypt(encrypted) if encrypted else ""
        return endpoint_from(getattr(task, role), password)

    return Wiring(endpoint("source_endpoint"), endpoint("target_endpoint"), selection_from(task.objects))
