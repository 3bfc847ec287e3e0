"""DRS v3 task APIs through the unmodified official SDK (huaweicloudsdkdrs.v3.DrsClient), AK/SK and token."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkdrs.v3 import (
    BatchCreateJobReq,
    BatchCreateJobsRequest,
    BatchDeleteJobReq,
    BatchDeleteJobsRequest,
    BatchListJobDetailsRequest,
    BatchListJobStatusRequest,
    BatchListProgressesRequest,
    BatchQueryJobReqPage,
    BatchQueryProgressReq,
    DeleteJobReq,
    DrsClient,
    PageReq,
    QueryJobsReq,
    ResourceTag,
    ShowJobListRequest,
)
from huaweicloudsdkecs.v2 import EcsClient

from opendrs.domain.tasks import Progress
from opendrs.store import tasks as task_store
from tests.harness import Server, Tenant
from tests.sdk.conftest import (
    AccessKey,
    Clients,
    Traffic,
    batch_create,
    create_job_req,
    unique_name,
    wait_operation,
    wait_status,
)

JOB_ID = re.compile(r"^[0-9a-z]{8}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{12}$")
REQUEST_ID = re.compile(r"^[0-9a-f]{32}$")
UNKNOWN = "9a470239-2308-4bb5-a6bc-1040402fjb21"
NOT_FOUND_EN = f"Task information not found: {UNKNOWN}."
NOT_FOUND_ZH = f"未找到任务信息：{UNKNOWN}。"


@dataclass(frozen=True)
class Created:
    id: str
    name: str


@pytest.fixture(scope="module")
def three(sdk_clients: dict[str, Clients]) -> list[Created]:
    """Three tasks created through the SDK (signing), waited for until CONFIGURATION; both modes read them."""
    drs3 = sdk_clients["aksk"].drs3
    jobs = [create_job_req() for _ in range(3)]
    ids, _ = batch_create(drs3, jobs)
    for job_id in ids:
        wait_status(drs3, job_id, "CONFIGURATION")
    return [Created(job_id, job.name) for job_id, job in zip(ids, jobs, strict=True)]


def ids_of(created: list[Created]) -> list[str]:
    return [task.id for task in created]


def test_each_mode_authenticates_as_intended(
    drs3: DrsClient, auth_mode: str, traffic: Traffic, tenant: Tenant, access_key: AccessKey, token: str
) -> None:
    response = drs3.batch_list_job_status(BatchListJobStatusRequest(body=BatchQueryJobReqPage(jobs=[UNKNOWN])))

    assert response.status_code == 200
    sent = traffic.last().request_headers
    assert sent["x-project-id"] == tenant.project_id
    assert sent["content-type"] == "application/json"
    assert sent["user-agent"].startswith("huaweicloud-usdk-python/3.0")
    if auth_mode == "aksk":
        assert "x-auth-token" not in sent
        assert sent["authorization"].startswith(
            f"SDK-HMAC-SHA256 Access={access_key.access}, "
            "SignedHeaders=content-type;host;user-agent;x-project-id;x-sdk-date, Signature="
        )
    else:
        assert sent["x-auth-token"] == token
        assert "authorization" not in sent
        assert "x-sdk-date" not in sent


# batch-creation ------------------------------------------------------------------------------------------


def test_batch_create_answers_creating_tasks_that_become_configuration(drs3: DrsClient) -> None:
    jobs = [create_job_req(), create_job_req(description="made by the sdk")]
    response = drs3.batch_create_jobs(BatchCreateJobsRequest(body=BatchCreateJobReq(jobs=jobs)))

    assert response.status_code == 202
    assert response.count == 2
    assert [result.name for result in response.results] == [job.name for job in jobs]
    for result in response.results:
        assert JOB_ID.match(result.id), result.id
        assert result.status == "CREATING"
        assert result.create_time.isdigit() and len(result.create_time) == 13
        assert (result.error_code, result.error_msg) == (None, None)
    assert json.loads(response.raw_content)["job_id"]  # the operation, for the ECS job API
    for result in response.results:
        wait_status(drs3, result.id, "CONFIGURATION")


def test_batch_create_reports_an_unsupported_engine_per_job(drs3: DrsClient) -> None:
    good = create_job_req()
    bad = create_job_req(engine_type="mongodb", source_endpoint={"db_type": "mongodb"})
    response = drs3.batch_create_jobs(BatchCreateJobsRequest(body=BatchCreateJobReq(jobs=[good, bad])))

    assert response.status_code == 202
    assert response.count == 2
    assert response.results[0].status == "CREATING"
    failed = response.results[1]
    assert (failed.id, failed.name, failed.status) == (None, bad.name, "failed")
    assert failed.error_code == "DRS.M00302"
    assert failed.error_msg == (
        "The transfer schema is invalid, please refer to supported transfer schema: "
        "engine_type mongodb is not supported by opendrs; supported: mysql, postgresql, redis."
    )


def test_batch_create_with_a_duplicate_name_is_a_400(drs3: DrsClient, traffic: Traffic) -> None:
    name = unique_name()
    jobs = [create_job_req(), create_job_req()]
    jobs[0].name, jobs[1].name = name, name.upper()
    with pytest.raises(ClientRequestException) as raised:
        drs3.batch_create_jobs(BatchCreateJobsRequest(body=BatchCreateJobReq(jobs=jobs)))

    error = raised.value
    assert error.status_code == 400
    assert error.error_code == "DRS.M00301"
    assert error.error_msg == f"There are duplicate name in request: {name}."
    assert error.request_id == traffic.last().headers["x-request-id"]


# batch-status ---------------------------------------------------------------------------------------------


def test_batch_status_of_every_task_in_request_order(drs3: DrsClient, three: list[Created]) -> None:
    asked = list(reversed(ids_of(three)))
    response = drs3.batch_list_job_status(BatchListJobStatusRequest(body=BatchQueryJobReqPage(jobs=asked)))

    assert response.status_code == 200
    assert response.count == 3
    assert [(r.id, r.status, r.error_code, r.error_message) for r in response.results] == [
        (job_id, "CONFIGURATION", None, None) for job_id in asked
    ]


@pytest.mark.parametrize(
    ("cur_page", "per_page", "expected"),
    [(1, 2, slice(0, 2)), (2, 2, slice(2, 3)), (0, 0, slice(0, 3)), (1, 0, slice(0, 3))],
)
def test_batch_status_page_req(
    drs3: DrsClient, three: list[Created], cur_page: int, per_page: int, expected: slice
) -> None:
    body = BatchQueryJobReqPage(jobs=ids_of(three), page_req=PageReq(cur_page=cur_page, per_page=per_page))
    response = drs3.batch_list_job_status(BatchListJobStatusRequest(body=body))

    assert [result.id for result in response.results] == ids_of(three)[expected]
    assert response.count == len(ids_of(three)[expected])


def test_batch_status_of_an_unknown_id_is_a_per_job_error(drs3: DrsClient, three: list[Created]) -> None:
    body = BatchQueryJobReqPage(jobs=[three[0].id, UNKNOWN])
    response = drs3.batch_list_job_status(BatchListJobStatusRequest(body=body))

    assert response.count == 2
    assert response.results[0].status == "CONFIGURATION"
    unknown = response.results[1]
    assert (unknown.id, unknown.status, unknown.error_code) == (UNKNOWN, None, "DRS.M05003")
    assert unknown.error_message == NOT_FOUND_EN


def test_batch_status_in_chinese_with_x_language(drs3: DrsClient) -> None:
    request = BatchListJobStatusRequest(x_language="zh-cn", body=BatchQueryJobReqPage(jobs=[UNKNOWN]))
    response = drs3.batch_list_job_status(request)

    assert response.results[0].error_message == NOT_FOUND_ZH


def test_a_malformed_id_is_a_400_with_the_request_id(drs3: DrsClient, traffic: Traffic) -> None:
    body = BatchQueryJobReqPage(jobs=[UNKNOWN, "not-an-id"])
    with pytest.raises(ClientRequestException) as raised:
        drs3.batch_list_job_status(BatchListJobStatusRequest(body=body))

    error = raised.value
    assert error.status_code == 400
    assert error.error_code == "DRS.M00202"
    assert error.error_msg == (
        "The value of parameter jobs[1] is invalid: must be a job id such as 9a470239-2308-4bb5-a6bc-1040402fjb21."
    )
    answer = traffic.last()
    assert answer.status == 400
    assert REQUEST_ID.match(answer.headers["x-request-id"])
    assert error.request_id == answer.headers["x-request-id"]


def test_a_page_beyond_the_last_is_a_400(drs3: DrsClient, three: list[Created]) -> None:
    body = BatchQueryJobReqPage(jobs=ids_of(three), page_req=PageReq(cur_page=4, per_page=1))
    with pytest.raises(ClientRequestException) as raised:
        drs3.batch_list_job_status(BatchListJobStatusRequest(body=body))

    assert raised.value.status_code == 400
    assert raised.value.error_code == "DRS.M00211"
    assert raised.value.error_msg == (
        "The value of Page exceeds the upper limit: cur_page 4 is beyond the last page 3."
    )


# batch-detail ---------------------------------------------------------------------------------------------


def test_batch_details(drs3: DrsClient, three: list[Created]) -> None:
    body = BatchQueryJobReqPage(jobs=[three[1].id, UNKNOWN])
    response = drs3.batch_list_job_details(BatchListJobDetailsRequest(body=body))

    assert response.status_code == 200
    assert response.count == 2
    detail = response.results[0]
    assert (detail.id, detail.name, detail.status) == (three[1].id, three[1].name, "CONFIGURATION")
    assert (detail.db_use_type, detail.task_type, detail.net_type, detail.job_direction) == (
        "migration",
        "FULL_INCR_TRANS",
        "eip",
        "up",
    )
    assert detail.source_endpoint.db_type == "mysql"
    assert detail.target_endpoint.db_type == "mysql"
    assert detail.inst_info.engine_type == "mysql"
    assert detail.inst_info.status == "active"
    assert detail.create_time.isdigit() and detail.create_time != "0"
    assert detail.actual_start_time == "0"
    assert (detail.error_code, detail.error_message) == (None, None)
    unknown = response.results[1]
    assert (unknown.id, unknown.status, unknown.error_code, unknown.error_message) == (
        UNKNOWN,
        None,
        "DRS.M05003",
        NOT_FOUND_EN,
    )


def test_batch_details_never_return_a_database_password(drs3: DrsClient, traffic: Traffic) -> None:
    password = f"db-pw-{unique_name()}"
    traffic.secrets.add(password)
    endpoint = {"db_type": "mysql", "ip": "10.0.0.5", "db_port": 3306, "db_user": "root", "db_password": password}
    ids, _ = batch_create(drs3, [create_job_req(source_endpoint=endpoint)])
    wait_status(drs3, ids[0], "CONFIGURATION")

    response = drs3.batch_list_job_details(BatchListJobDetailsRequest(body=BatchQueryJobReqPage(jobs=ids)))

    source = response.results[0].source_endpoint
    assert (source.ip, source.db_port, source.db_user, source.db_password) == ("10.0.0.5", 3306, "root", None)
    assert password not in response.raw_content.decode()


# batch-progress -------------------------------------------------------------------------------------------


def test_batch_progress_before_any_measurement(drs3: DrsClient, three: list[Created]) -> None:
    body = BatchQueryProgressReq(jobs=[three[0].id, UNKNOWN])
    response = drs3.batch_list_progresses(BatchListProgressesRequest(body=body))

    assert response.status_code == 202
    assert response.count == 2
    progress = response.results[0]
    assert progress.job_id == three[0].id
    assert (progress.progress, progress.transfer_status, progress.task_mode) == (
        "0",
        "CONFIGURATION",
        "FULL_INCR_TRANS",
    )
    assert (progress.incre_trans_delay, progress.incre_trans_delay_millis) == ("-1", "-1")
    assert (progress.process_time, progress.remaining_time) == ("0", "0")
    assert (progress.apply_rows_rate, progress.apply_bytes_rate) == (-1, -1)
    assert progress.progress_map is None
    unknown = response.results[1]
    assert (unknown.job_id, unknown.error_code, unknown.error_msg) == (UNKNOWN, "DRS.M05003", NOT_FOUND_EN)


def test_batch_progress_map_from_a_measurement(drs3: DrsClient, server: Server) -> None:
    ids, _ = batch_create(drs3, [create_job_req()])
    wait_status(drs3, ids[0], "CONFIGURATION")
    # What the replication engine records as it measures a full transfer.
    measured = Progress(
        progress=42,
        struct_percent=100,
        data_percent=42,
        index_percent=0,
        data_remaining_seconds=120,
        remaining_seconds=300,
        process_time=1_700_000_000_000,
    )
    engine = server.engine()
    try:
        with engine.begin() as connection:
            task_store.save_progress(connection, ids[0], measured, 1_700_000_000_000)
    finally:
        engine.dispose()

    response = drs3.batch_list_progresses(BatchListProgressesRequest(body=BatchQueryProgressReq(jobs=ids)))

    progress = response.results[0]
    assert (progress.progress, progress.remaining_time, progress.process_time) == ("42", "300", "1700000000000")
    assert set(progress.progress_map) == {"struct", "data", "index"}
    assert {key: (info.completed, info.remaining_time) for key, info in progress.progress_map.items()} == {
        "struct": ("100%", None),
        "data": ("42%", "120"),
        "index": ("0%", None),
    }


# list -----------------------------------------------------------------------------------------------------


def test_list_jobs_by_ids(drs3: DrsClient, three: list[Created]) -> None:
    query = QueryJobsReq(cur_page=1, per_page=10, db_use_type="migration", name=",".join(ids_of(three)))
    response = drs3.show_job_list(ShowJobListRequest(body=query))

    assert response.status_code == 200
    assert response.total_record == 3
    assert {job.id: job.name for job in response.jobs} == {task.id: task.name for task in three}
    for job in response.jobs:
        assert (job.status, job.engine_type, job.db_use_type, job.net_type) == (
            "CONFIGURATION",
            "mysql",
            "migration",
            "eip",
        )
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", job.create_time), job.create_time
        assert job.node_new_framework is True
        assert job.billing_tag is False
        actions = job.job_action
        assert "FREE_RESOURCE" in actions.available_actions  # a CONFIGURATION task can be stopped...
        assert "DELETE" in actions.unavailable_actions  # ...but not deleted before that
        assert not set(actions.available_actions) & set(actions.unavailable_actions)
        assert job.job_action.current_action is None


def test_list_jobs_pages_and_filters(drs3: DrsClient, three: list[Created]) -> None:
    names = ",".join(ids_of(three))
    page = drs3.show_job_list(
        ShowJobListRequest(body=QueryJobsReq(cur_page=2, per_page=2, db_use_type="migration", name=names))
    )
    assert page.total_record == 3
    assert len(page.jobs) == 1

    by_name = drs3.show_job_list(
        ShowJobListRequest(body=QueryJobsReq(cur_page=1, per_page=10, db_use_type="migration", name=three[2].name))
    )
    assert [job.id for job in by_name.jobs] == [three[2].id]

    stopped = drs3.show_job_list(
        ShowJobListRequest(
            body=QueryJobsReq(
                cur_page=1, per_page=10, db_use_type="migration", name=names, status="RELEASE_RESOURCE_COMPLETE"
            )
        )
    )
    assert (stopped.total_record, stopped.jobs) == (0, [])


def test_list_jobs_by_tags_instance_and_ip(drs3: DrsClient) -> None:
    """The SDK sends `tags` as a map (QueryJobsReq.tags: dict(str, str)), the docs as a list: both are filters."""
    marker = unique_name("tag")
    target = {"db_type": "mysql", "inst_id": f"{marker}in01", "ip": "10.9.8.7"}
    job = create_job_req(tags=[ResourceTag(key="marker", value=marker)], target_endpoint=target)
    ids, _ = batch_create(drs3, [job, create_job_req()])
    wait_status(drs3, ids[0], "CONFIGURATION")

    for query in (
        QueryJobsReq(cur_page=1, per_page=10, db_use_type="migration", tags={"marker": marker}),
        QueryJobsReq(cur_page=1, per_page=10, db_use_type="migration", instance_ids=[f"{marker}in01"]),
        QueryJobsReq(cur_page=1, per_page=10, db_use_type="migration", instance_ip="10.9.8.7", name=",".join(ids)),
    ):
        listed = drs3.show_job_list(ShowJobListRequest(body=query))
        assert [(found.id, found.name) for found in listed.jobs] == [(ids[0], job.name)], query
        assert listed.total_record == 1


def test_list_jobs_with_a_bad_db_use_type_is_a_400(drs3: DrsClient) -> None:
    with pytest.raises(ClientRequestException) as raised:
        drs3.show_job_list(ShowJobListRequest(body=QueryJobsReq(cur_page=1, per_page=10, db_use_type="nope")))

    assert raised.value.status_code == 400
    assert raised.value.error_code == "DRS.M00202"
    assert raised.value.error_msg == (
        "The value of parameter db_use_type is invalid: must be one of migration, sync or cloudDataGuard."
    )


# batch-jobs (stop, delete) --------------------------------------------------------------------------------


def delete_jobs(drs3: DrsClient, delete_type: str, job_ids: list[str]) -> tuple[list[tuple[str, str, str | None]], str]:
    jobs = [DeleteJobReq(delete_type=delete_type, job_id=job_id) for job_id in job_ids]
    response = drs3.batch_delete_jobs(BatchDeleteJobsRequest(body=BatchDeleteJobReq(jobs=jobs)))
    assert response.status_code == 202
    assert response.count == len(job_ids)
    operation_id: str = json.loads(response.raw_content)["job_id"]
    return [(result.id, result.status, result.error_code) for result in response.results], operation_id


def test_terminate_then_delete(drs3: DrsClient, ecs: EcsClient) -> None:
    ids, _ = batch_create(drs3, [create_job_req(), create_job_req()])
    for job_id in ids:
        wait_status(drs3, job_id, "CONFIGURATION")

    refused, _ = delete_jobs(drs3, "delete", ids)
    assert refused == [(job_id, "failed", "DRS.M01504") for job_id in ids]

    stopped, operation_id = delete_jobs(drs3, "terminate", [*ids, UNKNOWN])
    assert stopped == [(ids[0], "success", None), (ids[1], "success", None), (UNKNOWN, "failed", "DRS.M05003")]
    for job_id in ids:
        wait_status(drs3, job_id, "RELEASE_RESOURCE_COMPLETE")
    terminated = wait_operation(ecs, operation_id)
    assert (terminated.status, terminated.job_type) == ("FAIL", "batchDeleteJobs")  # one of the three was unknown
    assert [(sub.job_type, sub.status) for sub in terminated.entities.sub_jobs] == [
        ("terminateJob", "SUCCESS"),
        ("terminateJob", "SUCCESS"),
        ("terminateJob", "FAIL"),
    ]
    assert terminated.entities.sub_jobs[2].error_code == "DRS.M05003"

    deleted, operation_id = delete_jobs(drs3, "delete", ids)
    assert deleted == [(job_id, "success", None) for job_id in ids]
    for job_id in ids:
        wait_status(drs3, job_id, "DELETED")
    assert wait_operation(ecs, operation_id).status == "SUCCESS"
    listed = drs3.show_job_list(
        ShowJobListRequest(body=QueryJobsReq(cur_page=1, per_page=10, db_use_type="migration", name=",".join(ids)))
    )
    assert (listed.total_record, listed.jobs) == (0, [])


def test_refused_deletion_says_why(drs3: DrsClient, three: list[Created]) -> None:
    jobs = [DeleteJobReq(delete_type="delete", job_id=three[0].id)]
    response = drs3.batch_delete_jobs(BatchDeleteJobsRequest(body=BatchDeleteJobReq(jobs=jobs)))

    result = response.results[0]
    assert (result.id, result.status, result.error_code) == (three[0].id, "failed", "DRS.M01504")
    assert result.error_msg == (
        "Another operation is being performed on the migration task or the migration task is abnormal. "
        "The task is CONFIGURATION; stop it first (delete_type terminate)."
    )
