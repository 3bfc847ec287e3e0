"""Asynchronous operations as the ECS job API shows them."""

from __future__ import annotations

import sqlalchemy as sa

from opendrs.domain import errors
from opendrs.domain.operations import Operation
from opendrs.store import database
from opendrs.store import operations as store


class OperationService:
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def get(self, project_id: str, operation_id: str) -> Operation:
        with database.reading(self._engine) as connection:
            operation = store.get(connection, project_id, operation_id)
        if operation is None:
            raise errors.NotFoundError(errors.OPERATION_NOT_FOUND, id=operation_id)
        return operation
