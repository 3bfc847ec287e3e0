"""The XA transactions prepared at a full copy's snapshot: their changes, read from the binlog before it.

A prepared XA transaction is in no snapshot (it is not committed), and its rows are in the binlog at its XA
PREPARE, before the snapshot's position, where incremental sync starts; its XA COMMIT later brings none. So the copy
reads them from the binlog and keeps them on the target (prepared_xa.keep_only), as the applier keeps the changes
of the XA PREPAREs it meets; the applier applies them at the XA COMMIT, or forgets them at an XA ROLLBACK.

Where to read from: positions.xa_horizon(), read before the snapshot, is before the XA PREPARE of every XA
transaction prepared at the snapshot; each one's is checked to be between the two (SHOW BINLOG EVENTS), else
PreparedXaError, and the copy tries again. So a source where some XA transaction is prepared at every instant
still gets its snapshot, and only one prepared for seconds holds the copy up.
"""

from __future__ import annotations

from collections.abc import Sequence

from opendrs.connectors.mysql import errors, positions, snapshot, streaming
from opendrs.domain.replication import BinlogPosition, Endpoint, RowChange, Selection, position_key

READ_TIMEOUT = 60.0  # seconds: milliseconds of binlog, as a rule


def prepared_changes(
    source: Endpoint, since: BinlogPosition, taken: snapshot.Snapshot, selection: Selection, server_id: int
) -> dict[str, Sequence[RowChange]]:
    """The changes of selected tables of each XA transaction prepared at snapshot `taken` (taken after `since`, a
    positions.xa_horizon()), by xid; those that changed no selected table are left out."""
    if not taken.prepared_xa:
        return {}
    assert taken.position is not None
    end = position_key(taken.position)
    missing = set(taken.prepared_xa) - positions.xa_prepared_between(source, since, taken.position)
    if missing:
        raise snapshot.prepared_error(
            sorted(missing),
            "prepared on the source before the copy could find their XA PREPARE",
            "a copy taken now would miss their rows; it tries again",
        )
    wanted = set(taken.prepared_xa)
    changes: dict[str, Sequence[RowChange]] = {}
    with streaming.stream(source, since, selection, server_id, heartbeat_interval=0.2) as stream:
        while True:
            try:
                item = stream.next(timeout=READ_TIMEOUT)
            except TimeoutError:
                raise errors.RetriableError(
                    f"the binlog from {since} to {taken.position} was not read in time"
                ) from None
            if isinstance(item, streaming.Heartbeat):
                if position_key(item.position) >= end:
                    return changes
                continue
            at = position_key(item.end)
            if at > end:
                return changes
            step = item.xa
            if step is not None and step.phase == "prepare" and step.xid in wanted:
                # The last XA PREPARE of the xid before the snapshot is the one prepared at it.
                changes[step.xid] = [change for change in item.changes if isinstance(change, RowChange)]
            if at == end:
                return changes
