"""Creating a trigger waits for its table's metadata lock, which any open transaction on the table holds: the wait is
bounded, and its failure names the trigger (the full copy's last step and a stop's rely on it)."""

from __future__ import annotations

import time

import pytest

from opendrs.connectors.mysql import catalog, structure
from opendrs.domain.replication import Selection
from tests.integration.mysql.conftest import Server


def test_a_trigger_on_a_table_in_use_fails_after_the_wait_naming_it(source: Server, database: str) -> None:
    source.execute(
        f"CREATE TABLE {database}.t (id INT PRIMARY KEY)",
        f"CREATE TRIGGER {database}.t_bump BEFORE INSERT ON {database}.t FOR EACH ROW SET NEW.id = NEW.id + 1",
    )
    selection = Selection(databases=(database,))
    with source.connect() as reader:
        (trigger,) = catalog.list_triggers_and_events(reader, selection)
    holder = source.connect()
    creator = source.connect()
    try:
        with holder.cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute(f"SELECT COUNT(*) FROM {database}.t")  # holds t's metadata lock until it ends
        began = time.monotonic()
        with pytest.raises(structure.ObjectInUseError, match=f"the trigger t_bump on {database}.t could not be"):
            structure.create_triggers_and_events(creator, [trigger], selection, lock_wait=1)
        assert time.monotonic() - began < 5
        holder.rollback()
        structure.create_triggers_and_events(creator, [trigger], selection, lock_wait=1)  # the same session goes on
    finally:
        holder.close()
        creator.close()
    assert source.query(f"SHOW TRIGGERS FROM {database}")[0][0] == "t_bump"
