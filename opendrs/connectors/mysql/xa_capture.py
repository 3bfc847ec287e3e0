"""The XA transactions prepared where a replication starts: their changes, read from the binlog before it.

A prepared XA transaction is in no snapshot (it is not committed), and its rows are in the binlog at its XA
PREPARE, before the snapshot's position, where incremental sync starts; its XA COMMIT later brings none. So the copy
reads them from the binlog and keeps them on the target (prepared_xa.keep_only), as the applier keeps the changes
of the XA PREPAREs it meets; the applier applies them at the XA COMMIT, or forgets them at an XA ROLLBACK. An
incremental-only task does the same for those prepared where it starts (positions.start_position).

Where to read from: positions.xa_horizon(), read before the snapshot, is before the XA PREPARE of every XA
transaction prepared at the snapshot; each one's is checked to be between the two (SHOW BINLOG EVENTS), else
PreparedXaError, and the copy tries again. So a source where some XA transaction is prepared at every instant
still gets its snapshot, and only one prepared for seconds holds the copy up.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import pymysql

from opendrs.connectors.mysql import connection as mysql
from opendrs.connectors.mysql import errors, fences, positions, prepared_xa, snapshot, streaming
from opendrs.domain.replication import BinlogPosition, Endpoint, RowChange, Selection, position_key

READ_TIMEOUT = 60.0  # seconds: milliseconds of binlog, as a rule
PART_BYTES = 1 << 20  # a prepared XA transaction's changes are kept in parts of this much text at most


def snapshot_changes(
    source: Endpoint, since: BinlogPosition, taken: snapshot.Snapshot, selection: Selection, server_id: int
) -> dict[str, Sequence[RowChange]]:
    """prepared_changes() of the XA transactions prepared at snapshot `taken` (taken after `since`, a
    positions.xa_horizon()); PreparedXaError if the XA PREPARE of one is not after `since`."""
    if not taken.prepared_xa:
        return {}
    assert taken.position is not None
    missing = set(taken.prepared_xa) - positions.xa_prepared_between(source, since, taken.position)
    if missing:
        raise snapshot.prepared_error(
            sorted(missing),
            "prepared on the source before the copy could find their XA PREPARE",
            "a copy taken now would miss their rows; it tries again",
        )
    return prepared_changes(source, since, taken.position, taken.prepared_xa, selection, server_id)


def prepared_changes(
    source: Endpoint,
    since: BinlogPosition,
    until: BinlogPosition,
    xids: Collection[str],
    selection: Selection,
    server_id: int,
) -> dict[str, Sequence[RowChange]]:
    """The changes of selected tables of the last XA PREPARE of each of `xids` in the binlog from `since` to
    `until`, by xid; those that changed no selected table are left out."""
    if not xids:
        return {}
    end = position_key(until)
    wanted = set(xids)
    changes: dict[str, Sequence[RowChange]] = {}
    with streaming.stream(source, since, selection, server_id, heartbeat_interval=0.2) as stream:
        while True:
            try:
                item = stream.next(timeout=READ_TIMEOUT)
            except TimeoutError:
                raise errors.RetriableError(f"the binlog from {since} to {until} was not read in time") from None
            if isinstance(item, streaming.Heartbeat):
                if position_key(item.position) >= end:
                    return changes
                continue
            at = position_key(item.end)
            if at > end:
                return changes
            step = item.xa
            if step is not None and step.phase == "prepare" and step.xid in wanted:
                # The last XA PREPARE of the xid before `until` is the one prepared there.
                changes[step.xid] = [change for change in item.changes if isinstance(change, RowChange)]
            if at == end:
                return changes


def keep(target: Endpoint, fence: fences.Fence, changes: Mapping[str, Sequence[RowChange]]) -> None:
    """Make `changes` all that the target keeps for the fence's task (prepared_xa.keep_only), under `fence`, raised
    first. Failures to reach the target are errors.RetriableError."""
    fences.raise_fence(target, fence)
    try:
        with mysql.connect(target, autocommit=False) as connection:
            prepared_xa.keep_only(connection, fence, changes, PART_BYTES)
    except (pymysql.err.MySQLError, OSError) as exc:
        raise errors.classify(exc) from exc
