"""The official SDK's CreateCompareTask and ListCompareResult (query-compare-result) against opendrs: the request
models it sends are accepted and the response models it parses are filled."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkdrs.v3 import (
    CompareObjectInfo,
    CreateCompareTaskReq,
    CreateCompareTaskRequest,
    CreateDataLevelCompareReq,
    DrsClient,
    ListCompareResultRequest,
    ListCompareResultResponse,
    QueryCompareResultReq,
)

from opendrs.store import schema
from tests.harness import Server, wait_for
from tests.sdk.conftest import batch_create, create_job_req, wait_status

UNKNOWN = "9a470239-2308-4bb5-a6bc-1040402fjb21"
FAR_FUTURE = "4102444800000"  # the data comparison stays WAITING_FOR_RUNNING


@pytest.fixture
def task(drs3: DrsClient, server: Server) -> str:
    """A task where comparisons are allowed (PAUSING, written into the store), without endpoints."""
    ids, _ = batch_create(drs3, [create_job_req()])
    wait_status(drs3, ids[0], "CONFIGURATION")
    engine = server.engine()
    try:
        with engine.begin() as connection:
            connection.execute(sa.update(schema.tasks).where(schema.tasks.c.id == ids[0]).values(status="PAUSING"))
    finally:
        engine.dispose()
    return ids[0]


def _query(drs3: DrsClient, job: str, **ids: str) -> ListCompareResultResponse:
    body = QueryCompareResultReq(job_id=job, current_page=1, per_page=10, **ids)
    response: ListCompareResultResponse = drs3.list_compare_result(ListCompareResultRequest(body=body))
    return response


def test_create_and_query_compare_tasks(drs3: DrsClient, task: str) -> None:
    data_level = CreateDataLevelCompareReq(
        conflict_policy="cancel",
        compare_type="lines",
        start_time=FAR_FUTURE,
        compare_object_infos=[CompareObjectInfo(db_name="shop", table_name=["orders"])],
    )
    created = drs3.create_compare_task(
        CreateCompareTaskRequest(
            body=CreateCompareTaskReq(
                job_id=task, object_level_compare_type="objects", data_level_compare_info=data_level
            )
        )
    )
    assert created.status_code == 200
    assert created.job_id == task
    object_id = created.object_level_compare_create_result.compare_task_id
    lines_id = created.data_level_compare_create_result.compare_task_id
    assert object_id and lines_id and object_id != lines_id

    waiting = _query(drs3, task, line_compare_id=lines_id).line_compare_results
    assert waiting.compare_task_id == lines_id
    [overview] = waiting.line_compare_overview
    assert (overview.source_db_name, overview.line_compare_result) == ("shop", "WAITING_FOR_COMPARISON")
    assert waiting.line_compare_overview_count == 1

    # The task has no endpoints: its object comparison fails, naming why.
    def failed() -> ListCompareResultResponse | None:
        response = _query(drs3, task, object_level_compare_id=object_id)
        return response if response.object_level_compare_results.error_code else None

    response = wait_for(failed, "the object comparison to fail")
    assert response.object_level_compare_results.error_code == "DRS.M05204"
    listed = response.compare_task_list_results
    assert listed.compare_task_list_count == 2
    statuses = {
        item.compare_task_id: (item.compare_type, item.compare_task_status) for item in listed.compare_task_list
    }
    assert statuses == {object_id: ("object", "FAILED"), lines_id: ("lines", "WAITING_FOR_RUNNING")}


def test_errors_reach_the_sdk_as_contract_errors(drs3: DrsClient, task: str) -> None:
    with pytest.raises(ClientRequestException) as unknown:
        drs3.create_compare_task(
            CreateCompareTaskRequest(body=CreateCompareTaskReq(job_id=UNKNOWN, object_level_compare_type="objects"))
        )
    assert (unknown.value.status_code, unknown.value.error_code) == (400, "DRS.M05003")

    bad = CreateDataLevelCompareReq(conflict_policy="cancel", compare_type="rows", compare_mode="quick_comparison")
    with pytest.raises(ClientRequestException) as invalid:
        drs3.create_compare_task(
            CreateCompareTaskRequest(body=CreateCompareTaskReq(job_id=task, data_level_compare_info=bad))
        )
    assert (invalid.value.status_code, invalid.value.error_code) == (400, "DRS.M00202")
