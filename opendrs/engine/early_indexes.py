"""The plain indexes of a big table, built online while its last chunks are still loading.

A table's deferred indexes are a single-threaded sort on the target once its data is in: for a big table, a long
tail with a core idle. Once half of a big table's chunks are in, a thread adds its plain secondary indexes online
(ALGORITHM=INPLACE, LOCK=NONE); InnoDB's online log brings them the rows loaded meanwhile. The copy thread that
loads the table's last chunk waits for that thread, then builds what is left (FULLTEXT, SPATIAL, foreign keys)
as before. A server that refuses the online build leaves it all to that step.

Starting the ALTER waits for the table's chunk transactions in flight to commit, and holds new ones back until
it has begun: one chunk's pause, against much of the sort overlapped with the copy.
"""

from __future__ import annotations

import contextvars
import logging
import threading

import pymysql

from opendrs.connectors.mysql import catalog, interrupt, structure
from opendrs.connectors.mysql import connection as mysql
from opendrs.domain.replication import Endpoint, Selection, TableRef

log = logging.getLogger(__name__)

MIN_CHUNKS = 4  # a smaller table builds its indexes after its data: little to overlap, not worth a pause
START_AT = 0.5  # the share of the table's chunks copied before its build starts

_NOT_ONLINE = 1846  # ER_ALTER_OPERATION_NOT_SUPPORTED_REASON: this ALTER cannot run with LOCK=NONE


class EarlyIndexes:
    """The online index builds of one copy run, a thread per big table; not thread-safe (call under the copy lock,
    except wait() and close())."""

    def __init__(self, target: Endpoint, selection: Selection, stop: threading.Event) -> None:
        self._target = target
        self._selection = selection
        self._stop = stop  # a pause or stop interrupts the builds
        self._builds: dict[TableRef, _Build | None] = {}  # None: the table has no plain index to build

    def maybe_start(self, info: catalog.TableInfo, chunks_total: int, chunks_done: int) -> None:
        """Start building `info`'s plain indexes if the table is big and far enough along, and no build runs yet."""
        if info.table in self._builds or chunks_total < MIN_CHUNKS or chunks_done < START_AT * chunks_total:
            return
        definitions = structure.split_structure(info, self._selection).indexes.values()
        if not any(definition.startswith(structure.PLAIN_INDEX) for definition in definitions):
            self._builds[info.table] = None  # asked once, not at every chunk
            return
        build = _Build(self._target, info, self._selection, self._stop)
        self._builds[info.table] = build
        build.thread.start()

    def wait(self, table: TableRef) -> None:
        """Wait for `table`'s build, if one was started; raise what made it fail."""
        build = self._builds.get(table)
        if build is not None:
            build.join()

    def close(self) -> None:
        """Wait for every build (the copy ended, or failed: nothing may keep altering the target after it)."""
        for build in self._builds.values():
            if build is not None:
                build.thread.join()


class _Build:
    def __init__(self, target: Endpoint, info: catalog.TableInfo, selection: Selection, stop: threading.Event) -> None:
        self._target = target
        self._info = info
        self._selection = selection
        self._stop = stop
        self._error: BaseException | None = None
        run = contextvars.copy_context().run  # its log lines name the task
        self.thread = threading.Thread(target=run, args=(self._build,), name=f"indexes {info.table}", daemon=True)

    def join(self) -> None:
        self.thread.join()
        if self._error is not None:
            raise self._error

    def _build(self) -> None:
        try:
            with mysql.connect(self._target) as target, interrupt.interrupted_by(self._stop, target, self._target):
                structure.build_plain_indexes_online(target, self._info, self._selection)
            log.info("indexes built online", extra={"action": "early_indexes", "table": str(self._info.table)})
        except pymysql.err.MySQLError as error:
            if error.args and error.args[0] == _NOT_ONLINE:
                log.info("indexes left for after the data", extra={"action": "early_indexes", "reason": str(error)})
                return
            if interrupt.was_interrupted(error) and self._stop.is_set():
                return  # rolled back: the copy thread that waits for it sees the stop
            self._error = error
        except BaseException as error:
            self._error = error
