"""A task's rows in the target's `opendrs_meta` schema, deleted once the task is over.

The schema holds, for each task, its fence (fences.py), its checkpoint (applier.py) and the changes of XA
transactions prepared on the source (prepared_xa.py). None of them means anything once the task has ended: a copy
that is all there is completed, or a replicating task stopped for good. Deleting the fence last also refuses any
write a worker that lost the task might still try.
"""

from __future__ import annotations

import pymysql

from opendrs.connectors.mysql import applier, fences, prepared_xa
from opendrs.connectors.mysql import connection as mysql

_NO_SUCH_TABLE = 1146  # a table the task never needed was never created


def forget(connection: mysql.Connection, task_id: str) -> None:
    """Delete every row of `task_id` in opendrs_meta (autocommit)."""
    for table in (applier.CHECKPOINTS, prepared_xa.TABLE, fences.FENCES):
        with connection.cursor() as cursor:
            try:
                cursor.execute(f"DELETE FROM {table} WHERE task_id = %s", (task_id,))
            except pymysql.err.ProgrammingError as exc:
                if exc.args[0] != _NO_SUCH_TABLE:
                    raise
