"""The precheck's srcBinlogCompressCheck against a real MariaDB source: compressed binlog events cannot be read, so
a source with log_bin_compress ON fails the precheck of a task that replicates."""

from __future__ import annotations

from opendrs.connectors.mysql import checks
from opendrs.domain.replication import Selection
from tests.integration.mysql.conftest import Server, precheck_item

ITEM = "srcBinlogCompressCheck"


def test_log_bin_compress_on_fails_and_off_passes(source: Server, target: Server, database: str) -> None:
    selection = Selection(databases=(database,))
    source.execute("SET GLOBAL log_bin_compress = ON")
    try:
        compressed = precheck_item(ITEM, source.endpoint, target.endpoint, selection)
    finally:
        source.execute("SET GLOBAL log_bin_compress = OFF")
    plain = precheck_item(ITEM, source.endpoint, target.endpoint, selection)

    assert compressed.result is checks.Verdict.FAILED, compressed
    assert "set it OFF on the source" in compressed.reason, compressed
    assert plain.result is checks.Verdict.PASSED, plain
