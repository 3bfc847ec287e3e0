"""Comparisons through the DRS API (create-compare-task, query-compare-result) of a task in incremental sync while
a writer keeps changing the source: consistent first, then exactly the differences made on the target behind the
replication's back (in a table the writer leaves alone), with their keys; and the results' paging."""

from __future__ import annotations

from typing import Any

from tests.e2e import mysql_helpers as my
from tests.e2e.mysql_helpers import execute, quote
from tests.harness import Api, wait_for
from tests.servers import MariadbServer

CREATE = f"{my.JOBS}/create-compare-task"
QUERY = f"{my.JOBS}/query-compare-result"
COMPARE_DEADLINE = 180.0


def create_comparisons(api: Api, job: str, *, objects: bool, compare_type: str | None) -> tuple[str | None, str | None]:
    body: dict[str, Any] = {"job_id": job}
    if objects:
        body["object_level_compare_type"] = "objects"
    if compare_type:
        body["data_level_compare_info"] = {
            "conflict_policy": "cancel",
            "compare_type": compare_type,
            "compare_mode": "quick_comparison",
        }
    response = api.post(CREATE, body)
    assert response.status_code == 200, response.text
    created = response.json()
    object_id = (created.get("object_level_compare_create_result") or {}).get("compare_task_id")
    data_id = (created.get("data_level_compare_create_result") or {}).get("compare_task_id")
    return object_id, data_id


def _query(api: Api, job: str, page: int = 1, per_page: int = 100, **ids: str | None) -> dict[str, Any]:
    response = api.post(QUERY, {"job_id": job, "current_page": page, "per_page": per_page, **ids})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def wait_comparisons(api: Api, job: str, *compare_ids: str | None) -> None:
    def done() -> bool:
        listed = _query(api, job)["compare_task_list_results"]["compare_task_list"]
        statuses = {task["compare_task_id"]: task["compare_task_status"] for task in listed}
        failed = {key: value for key, value in statuses.items() if key in compare_ids and value == "FAILED"}
        assert not failed, _query(api, job, object_level_compare_id=compare_ids[0])
        return all(statuses.get(compare_id) == "SUCCESSFUL" for compare_id in compare_ids if compare_id)

    try:
        wait_for(done, f"comparisons {compare_ids} to finish", COMPARE_DEADLINE)
    except AssertionError as error:
        log = "\n".join(line for line in api.server.log_text().splitlines() if "compar" in line or job in line)
        raise AssertionError(f"{error}\n{_query(api, job)}\n--- the service's log of comparisons:\n{log}") from None


def _create_quiet_table(source: MariadbServer, schema: str) -> None:
    """A table the writer never touches: differences made there on the target stay."""
    s = quote(schema)
    execute(
        source,
        f"CREATE TABLE {s}.quiet (id INT NOT NULL PRIMARY KEY, v VARCHAR(30), n INT NULL, KEY v (v))",
        f"INSERT INTO {s}.quiet SELECT seq, CONCAT('q', seq), IF(seq % 4 = 0, NULL, seq) FROM {s}.seq_1_to_300",
    )


def test_comparison_during_incremental_sync(
    drs: Api, source: MariadbServer, target: MariadbServer, schema: str
) -> None:
    my.Writer.create_tables(source, schema, pk_rows=2000)
    _create_quiet_table(source, schema)
    job = my.replicating_task(drs, source, target, [schema])

    # Some 50 transactions a second: a loaded machine's applier keeps up, so that each recheck waits for little.
    with my.writing(source, schema, pause=0.02) as writer:
        writer.wait_for_transactions(50, "writes during the incremental phase")
        objects_id, contents_id = create_comparisons(drs, job, objects=True, compare_type="contents")
        wait_comparisons(drs, job, objects_id, contents_id)
        writer.wait_for_transactions(20, "writes between the comparisons")
        _, lines_id = create_comparisons(drs, job, objects=False, compare_type="lines")
        wait_comparisons(drs, job, lines_id)
        consistent = _query(
            drs, job, object_level_compare_id=objects_id, line_compare_id=lines_id, content_compare_id=contents_id
        )

        s = quote(schema)
        execute(  # on the target, behind the replication's back
            target,
            f"DELETE FROM {s}.quiet WHERE id IN (5, 6)",
            f"INSERT INTO {s}.quiet VALUES (900, 'extra', NULL)",
            f"UPDATE {s}.quiet SET n = 70 WHERE id = 8",  # NULL on the source
            f"ALTER TABLE {s}.quiet MODIFY n BIGINT NULL",
            f"ALTER TABLE {s}.quiet DROP INDEX v",
        )
        objects_id, contents_id = create_comparisons(drs, job, objects=True, compare_type="contents")
        wait_comparisons(drs, job, objects_id, contents_id)
        found = _query(drs, job, object_level_compare_id=objects_id, content_compare_id=contents_id)
        pages = [_query(drs, job, page, 1, content_compare_id=contents_id) for page in (1, 2, 3, 4, 5)]

    objects = consistent["object_level_compare_results"]
    assert {item["object_type"]: item["object_compare_result"] for item in objects["object_compare_overview"]} == {
        "DB": "CONSISTENT",
        "TABLE": "CONSISTENT",
        "COLUMN": "CONSISTENT",
        "INDEX": "CONSISTENT",
        "VIEW": "CONSISTENT",
        "ROUTINE": "CONSISTENT",
    }
    assert objects["object_compare_details"] == {}
    contents = consistent["content_compare_results"]
    assert contents["content_compare_overview"] == [
        {"source_db_name": schema, "target_db_name": schema, "content_compare_result": "CONSISTENT"}
    ]
    [details] = contents["content_compare_details"]
    assert {
        table["source_table_name"]: table["content_compare_result"] for table in details["content_compare_detail"]
    } == {
        "quiet": "CONSISTENT",
        "w_comp": "CONSISTENT",
        "w_nokey": "CONSISTENT",
        "w_pk": "CONSISTENT",
    }
    assert contents["content_compare_diffs"] == []
    lines = consistent["line_compare_results"]
    assert lines["line_compare_overview"][0]["line_compare_result"] == "CONSISTENT"
    [line_details] = lines["line_compare_details"]
    assert {table["line_compare_result"] for table in line_details["line_compare_detail"]} == {"CONSISTENT"}

    differences = found["object_level_compare_results"]
    assert {item["object_type"]: item["diff_count"] for item in differences["object_compare_overview"]} == {
        "DB": 0,
        "TABLE": 0,
        "COLUMN": 1,
        "INDEX": 1,
        "VIEW": 0,
        "ROUTINE": 0,
    }
    [column] = differences["object_compare_details"]["COLUMN"]
    assert column["source_db_value"].startswith("quiet.n #3 int(11) NULL")
    assert column["target_db_value"].startswith("quiet.n #3 bigint(20) NULL")
    [index] = differences["object_compare_details"]["INDEX"]
    assert (index["source_db_value"], index["target_db_value"]) == ("quiet.v (v)", "")

    changed = found["content_compare_results"]
    [details] = changed["content_compare_details"]
    tables = {table["source_table_name"]: table for table in details["content_compare_detail"]}
    assert {name: table["content_compare_result"] for name, table in tables.items()} == {
        "quiet": "INCONSISTENT",
        "w_comp": "CONSISTENT",
        "w_nokey": "CONSISTENT",
        "w_pk": "CONSISTENT",
    }
    quiet = tables["quiet"]
    assert (quiet["source_row_num"], quiet["target_row_num"], quiet["diff_row_num"]) == (300, 299, 4)
    assert quiet["line_compare_result"] == "INCONSISTENT"
    [diffs] = changed["content_compare_diffs"]
    assert (diffs["source_table_name"], diffs["content_compare_diff_count"]) == ("quiet", 4)
    keys = {
        (tuple(diff["source_key_value"]), tuple(diff["target_key_value"])) for diff in diffs["content_compare_diff"]
    }
    assert keys == {((("5",), ())), (("6",), ()), ((), ("900",)), (("8",), ("8",))}
    [eight] = [diff for diff in diffs["content_compare_diff"] if diff["source_key_value"] == ["8"]]
    assert my.query(target, eight["target_select_sql"]) == [(8, "q8", 70)]
    assert my.query(source, eight["source_select_sql"]) == [(8, "q8", None)]

    paged = [page["content_compare_results"]["content_compare_diffs"] for page in pages]
    assert [len(page[0]["content_compare_diff"]) if page else 0 for page in paged] == [1, 1, 1, 1, 0]
    assert all(page[0]["content_compare_diff_count"] == 4 for page in paged[:4])
    every = {
        tuple(
            page[0]["content_compare_diff"][0]["source_key_value"]
            + ["|"]
            + page[0]["content_compare_diff"][0]["target_key_value"]
        )
        for page in paged[:4]
    }
    assert len(every) == 4  # each page shows another row


def test_validation_errors(drs: Api, source: MariadbServer, target: MariadbServer, schema: str) -> None:
    unknown = "9a470239-2308-4bb5-a6bc-1040402fjb21"
    response = drs.post(CREATE, {"job_id": unknown, "object_level_compare_type": "objects"})
    assert (response.status_code, response.json()["error_code"]) == (400, "DRS.M05003")
    job = my.configure_task(drs, source, target, "FULL_INCR_TRANS", [schema])
    bad = {"conflict_policy": "cancel", "compare_type": "checksums", "compare_mode": "quick_comparison"}
    response = drs.post(CREATE, {"job_id": job, "data_level_compare_info": bad})
    assert (response.status_code, response.json()["error_code"]) == (400, "DRS.M00202")
    assert "compare_type" in response.json()["error_msg"]
