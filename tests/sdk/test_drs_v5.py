"""DRS v5 batch-async APIs through the unmodified official SDK (huaweicloudsdkdrs.v5.DrsClient), AK/SK and token."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkdrs.v3 import DrsClient as DrsV3Client
from huaweicloudsdkdrs.v5 import (
    AsyncCreateJobReq,
    BaseEndpoint,
    BatchAsyncCreateJobReq,
    BatchAsyncUpdateJobReq,
    BatchCreateJobsAsyncRequest,
    CommitAsyncJobRequest,
    DbObject,
    DrsClient,
    JobBaseInfo,
    JobEndpointInfo,
    JobNodeInfo,
    JobNodeSpecInfo,
    ListAsyncJobDetailRequest,
    ListAsyncJobDetailResponse,
    ListAsyncJobsRequest,
    PolicyConfig,
    UpdateBatchAsyncJobsRequest,
    UpdateJob,
    UpdateJobReq,
)
from huaweicloudsdkecs.v2 import EcsClient

from tests.harness import Tenant, wait_for
from tests.sdk.conftest import Traffic, unique_name, wait_operation, wait_status

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
JOB_ID = re.compile(r"^[0-9a-z]{8}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{12}$")
ISO_SECONDS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
FAILED, VALIDATED, COMMITTED = (
    "ASYNC_JOB_VALIDATE_FAILED",
    "AUTO_PARAM_VALIDATE_SUCCESS",
    "COMMIT_SUCCESS",
)


def endpoint(role: str, password: str, port: str = "3306") -> JobEndpointInfo:
    return JobEndpointInfo(
        db_type="mysql",
        endpoint_type="offline",
        endpoint_role=role,
        endpoint=BaseEndpoint(
            endpoint_name="mysql",
            ip="10.0.0.5" if role == "so" else "10.0.0.6",
            db_port=port,
            db_user="root",
            db_password=password,
        ),
    )


def job_spec(name: str, password: str, source_port: str = "3306") -> AsyncCreateJobReq:
    return AsyncCreateJobReq(
        base_info=JobBaseInfo(
            name=name,
            job_type="migration",
            engine_type="mysql-to-mysql",
            job_direction="up",
            task_type="FULL_INCR_TRANS",
            net_type="eip",
            description="batch async through the sdk",
        ),
        source_endpoint=[endpoint("so", password, source_port)],
        target_endpoint=[endpoint("ta", password)],
        policy_config=PolicyConfig(),
        db_object=DbObject(object_scope="all"),
        node_info=JobNodeInfo(spec=JobNodeSpecInfo(node_type="high")),
    )


def password(traffic: Traffic) -> str:
    secret = f"pw-{uuid.uuid4().hex}"
    traffic.secrets.add(secret)
    return secret


def submit(drs5: DrsClient, *jobs: AsyncCreateJobReq) -> str:
    response = drs5.batch_create_jobs_async(BatchCreateJobsAsyncRequest(body=BatchAsyncCreateJobReq(jobs=list(jobs))))
    assert response.status_code == 200
    async_job_id: str = response.job.async_job_id
    assert UUID.match(async_job_id), async_job_id
    return async_job_id


def wait_async_status(drs5: DrsClient, async_job_id: str, expected: str) -> None:
    def reached() -> bool:
        response = drs5.list_async_jobs(ListAsyncJobsRequest(async_job_id=async_job_id))
        assert response.total_count == 1
        return bool(response.jobs[0].status == expected)

    wait_for(reached, f"async job {async_job_id} to reach {expected}")


def detail(drs5: DrsClient, async_job_id: str) -> ListAsyncJobDetailResponse:
    response: ListAsyncJobDetailResponse = drs5.list_async_job_detail(
        ListAsyncJobDetailRequest(async_job_id=async_job_id)
    )
    assert response.status_code == 200
    return response


def test_create_validate_commit(
    drs5: DrsClient, drs3: DrsV3Client, ecs: EcsClient, traffic: Traffic, tenant: Tenant
) -> None:
    name, secret = unique_name(), password(traffic)
    async_job_id = submit(drs5, job_spec(name, secret))

    wait_async_status(drs5, async_job_id, VALIDATED)
    listed = drs5.list_async_jobs(ListAsyncJobsRequest(async_job_id=async_job_id))
    summary = listed.jobs[0]
    assert (summary.async_job_id, summary.status) == (async_job_id, VALIDATED)
    assert (summary.domain_name, summary.user_name) == (tenant.domain, tenant.user)
    assert ISO_SECONDS.match(summary.create_time), summary.create_time

    before = detail(drs5, async_job_id)
    assert before.total_count == 1
    job = before.jobs[0]
    assert JOB_ID.match(job.id), job.id
    assert job.status == VALIDATED
    assert (job.base_info.name, job.base_info.engine_type, job.base_info.job_type) == (
        name,
        "mysql-to-mysql",
        "migration",
    )
    source = job.source_endpoint[0]
    assert (source.endpoint_role, source.db_type, source.endpoint.ip, source.endpoint.db_port) == (
        "so",
        "mysql",
        "10.0.0.5",
        "3306",
    )
    assert source.endpoint.db_password is None
    assert job.target_endpoint[0].endpoint.db_password is None
    assert job.logs == []
    assert ISO_SECONDS.match(job.create_time)
    assert secret not in before.raw_content.decode()

    committed = drs5.commit_async_job(CommitAsyncJobRequest(async_job_id=async_job_id))
    assert committed.status_code == 200
    assert (committed.job.async_job_id, committed.job.status, committed.job.msg) == (
        async_job_id,
        COMMITTED,
        "1 of 1 tasks created",
    )
    operation = wait_operation(ecs, json.loads(committed.raw_content)["job_id"])
    assert (operation.status, operation.job_type) == ("SUCCESS", "commitAsyncJob")

    wait_status(drs3, job.id, "CONFIGURATION")
    after = detail(drs5, async_job_id)
    assert (after.jobs[0].id, after.jobs[0].status) == (job.id, "CONFIGURATION")
    assert drs5.list_async_jobs(ListAsyncJobsRequest(async_job_id=async_job_id)).jobs[0].status == COMMITTED


def test_invalid_spec_is_fixed_with_update_then_committed(drs5: DrsClient, traffic: Traffic) -> None:
    name, secret = unique_name(), password(traffic)
    async_job_id = submit(drs5, job_spec(name, secret, source_port="70000"))

    wait_async_status(drs5, async_job_id, FAILED)
    job = detail(drs5, async_job_id).jobs[0]
    assert job.status == FAILED
    assert [(log.level, log.message) for log in job.logs] == [
        ("ERROR", "source_endpoint[0].endpoint.db_port must be a port number from 1 to 65535")
    ]

    with pytest.raises(ClientRequestException) as raised:
        drs5.commit_async_job(CommitAsyncJobRequest(async_job_id=async_job_id))
    assert raised.value.status_code == 400
    assert raised.value.error_code == "DRS.10000001"
    assert raised.value.error_msg == (
        "Failed: commit needs status AUTO_PARAM_VALIDATE_SUCCESS, the async job is ASYNC_JOB_VALIDATE_FAILED."
    )

    fix = UpdateJob(job_id=job.id, source_endpoint=[endpoint("so", secret)], target_endpoint=[endpoint("ta", secret)])
    updated = drs5.update_batch_async_jobs(
        UpdateBatchAsyncJobsRequest(
            async_job_id=async_job_id, body=BatchAsyncUpdateJobReq(jobs=[UpdateJobReq(type="network", params=fix)])
        )
    )
    assert updated.status_code == 200
    assert [(result.id, result.name, result.status, result.error_code) for result in updated.jobs] == [
        (job.id, name, "success", None)
    ]

    wait_async_status(drs5, async_job_id, VALIDATED)
    fixed = detail(drs5, async_job_id).jobs[0]
    assert (fixed.status, fixed.source_endpoint[0].endpoint.db_port, fixed.logs) == (VALIDATED, "3306", [])

    committed = drs5.commit_async_job(CommitAsyncJobRequest(async_job_id=async_job_id))
    assert committed.job.status == COMMITTED


def test_update_of_an_unknown_entry_fails_per_job(drs5: DrsClient, traffic: Traffic) -> None:
    async_job_id = submit(drs5, job_spec(unique_name(), password(traffic)))
    wait_async_status(drs5, async_job_id, VALIDATED)
    stranger = "9a470239-2308-4bb5-a6bc-1040402fjb21"

    updated = drs5.update_batch_async_jobs(
        UpdateBatchAsyncJobsRequest(
            async_job_id=async_job_id,
            body=BatchAsyncUpdateJobReq(
                jobs=[UpdateJobReq(type="policy", params=UpdateJob(job_id=stranger, policy_config=PolicyConfig()))]
            ),
        )
    )

    result = updated.jobs[0]
    assert (result.id, result.status, result.error_code) == (stranger, "failed", "DRS.10000001")
    assert result.error_msg == "Failed: params.job_id must name one of the async job's jobs."
    # Nothing was accepted: the async job is not validated again.
    assert drs5.list_async_jobs(ListAsyncJobsRequest(async_job_id=async_job_id)).jobs[0].status == VALIDATED


def test_list_filters_sorting_and_paging(drs5: DrsClient, traffic: Traffic, tenant: Tenant) -> None:
    first = submit(drs5, job_spec(unique_name(), password(traffic)))
    second = submit(drs5, job_spec(unique_name(), password(traffic), source_port="0"))
    wait_async_status(drs5, first, VALIDATED)
    wait_async_status(drs5, second, FAILED)

    mine = drs5.list_async_jobs(
        ListAsyncJobsRequest(domain_name=tenant.domain, user_name=tenant.user, limit=1000, sort_dir="asc")
    )
    ids = [job.async_job_id for job in mine.jobs]
    assert mine.total_count == len(ids) >= 2
    assert {first, second} <= set(ids)
    times = [job.create_time for job in mine.jobs]
    assert times == sorted(times)
    assert {(job.domain_name, job.user_name) for job in mine.jobs} == {(tenant.domain, tenant.user)}

    newest_first = drs5.list_async_jobs(ListAsyncJobsRequest(limit=1000, sort_dir="desc", sort_key="create_time"))
    desc_times = [job.create_time for job in newest_first.jobs]
    assert desc_times == sorted(desc_times, reverse=True)
    assert newest_first.total_count == mine.total_count

    window = drs5.list_async_jobs(ListAsyncJobsRequest(offset=1, limit=1, sort_dir="asc"))
    assert window.total_count == mine.total_count
    assert [job.async_job_id for job in window.jobs] == ids[1:2]

    failed = drs5.list_async_jobs(ListAsyncJobsRequest(status=FAILED, limit=1000))
    assert second in {job.async_job_id for job in failed.jobs}
    assert first not in {job.async_job_id for job in failed.jobs}
    assert {job.status for job in failed.jobs} == {FAILED}
    assert failed.total_count == len(failed.jobs)

    both = drs5.list_async_jobs(ListAsyncJobsRequest(async_job_id=second, status=FAILED))
    assert [job.async_job_id for job in both.jobs] == [second]
    assert drs5.list_async_jobs(ListAsyncJobsRequest(async_job_id=second, status=VALIDATED)).total_count == 0


def test_detail_pages_over_the_jobs_of_a_batch(drs5: DrsClient, traffic: Traffic) -> None:
    names = [unique_name(), unique_name(), unique_name()]
    async_job_id = submit(drs5, *(job_spec(name, password(traffic)) for name in names))
    wait_async_status(drs5, async_job_id, VALIDATED)

    everything = detail(drs5, async_job_id)
    page = drs5.list_async_job_detail(ListAsyncJobDetailRequest(async_job_id=async_job_id, offset=1, limit=1))

    assert everything.total_count == 3
    assert {job.base_info.name for job in everything.jobs} == set(names)
    assert page.total_count == 3
    assert [job.id for job in page.jobs] == [everything.jobs[1].id]


@pytest.mark.parametrize("user_name", ["nobody", "a b/é~*+&=", "100%", "x=1&y=2"])
def test_list_filter_values_with_awkward_characters(drs5: DrsClient, user_name: str) -> None:
    """The SDK's RFC 3986 query encoding (%20, %2F, %C3%A9, %2A...) reaches the server signed and intact."""
    response = drs5.list_async_jobs(ListAsyncJobsRequest(user_name=user_name, offset=0, limit=10))

    assert response.status_code == 200
    assert (response.total_count, response.jobs) == (0, [])


def test_list_with_an_unknown_status_is_a_400(drs5: DrsClient) -> None:
    with pytest.raises(ClientRequestException) as raised:
        drs5.list_async_jobs(ListAsyncJobsRequest(status="DONE"))

    assert raised.value.status_code == 400
    assert raised.value.error_code == "DRS.M00202"
    assert raised.value.error_msg == (
        "The value of parameter status is invalid: must be one of ASYNC_JOB_VALIDATING, ASYNC_JOB_VALIDATE_FAILED, "
        "AUTO_PARAM_VALIDATE_SUCCESS, COMMIT_SUCCESS."
    )


def test_detail_of_an_unknown_async_job_is_a_400(drs5: DrsClient, traffic: Traffic) -> None:
    unknown = str(uuid.uuid4())
    with pytest.raises(ClientRequestException) as raised:
        drs5.list_async_job_detail(ListAsyncJobDetailRequest(async_job_id=unknown))

    assert raised.value.status_code == 400
    assert raised.value.error_code == "DRS.10000010"
    assert raised.value.error_msg == f"Job does not exist, please check job ID: {unknown}."
    assert raised.value.request_id == traffic.last().headers["x-request-id"]


def test_commit_of_an_unknown_async_job_is_a_400(drs5: DrsClient) -> None:
    unknown = str(uuid.uuid4())
    with pytest.raises(ClientRequestException) as raised:
        drs5.commit_async_job(CommitAsyncJobRequest(async_job_id=unknown))

    assert raised.value.status_code == 400
    assert raised.value.error_code == "DRS.10000010"
