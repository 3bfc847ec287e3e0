"""ECS job API (GET /v1/{project_id}/jobs/{job_id}) through the unmodified official SDK, AK/SK and token."""

from __future__ import annotations

import re
import uuid

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkdrs.v3 import DrsClient as DrsV3Client
from huaweicloudsdkecs.v2 import EcsClient, ShowJobRequest

from tests.harness import Server, Tenant
from tests.sdk.conftest import (
    AccessKey,
    Traffic,
    batch_create,
    create_job_req,
    sdk_client,
    wait_operation,
    wait_status,
)

ISO_MILLIS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
OPERATION_ID = re.compile(r"^[0-9a-f]{32}$")


def test_batch_creation_operation_succeeds_with_one_sub_job_per_task(drs3: DrsV3Client, ecs: EcsClient) -> None:
    ids, operation_id = batch_create(drs3, [create_job_req(), create_job_req()])
    assert OPERATION_ID.match(operation_id), operation_id

    operation = wait_operation(ecs, operation_id)

    assert operation.status_code == 200
    assert (operation.status, operation.job_id, operation.job_type) == ("SUCCESS", operation_id, "batchCreateJobs")
    assert (operation.error_code, operation.fail_reason) == (None, None)
    assert ISO_MILLIS.match(operation.begin_time) and ISO_MILLIS.match(operation.end_time)
    assert operation.begin_time <= operation.end_time
    assert operation.entities.sub_jobs_total == 2
    assert len(operation.entities.sub_jobs) == 2
    for sub in operation.entities.sub_jobs:
        assert (sub.status, sub.job_type, sub.error_code, sub.fail_reason) == ("SUCCESS", "createJob", None, None)
        assert OPERATION_ID.match(sub.job_id), sub.job_id
        assert ISO_MILLIS.match(sub.begin_time) and ISO_MILLIS.match(sub.end_time)
        assert sub.entities.errorcode_message is None
    assert len({sub.job_id for sub in operation.entities.sub_jobs}) == 2
    # The SDK's SubJobEntities has no field for the task id; the raw answer names the tasks.
    raw = operation.raw_content.decode()
    assert all(job_id in raw for job_id in ids)
    for job_id in ids:
        wait_status(drs3, job_id, "CONFIGURATION")


def test_a_refused_creation_makes_the_operation_fail(drs3: DrsV3Client, ecs: EcsClient) -> None:
    bad = create_job_req(engine_type="mongodb", source_endpoint={"db_type": "mongodb"})
    _, operation_id = batch_create(drs3, [create_job_req(), bad])

    operation = wait_operation(ecs, operation_id)

    assert operation.status == "FAIL"
    good_sub, bad_sub = operation.entities.sub_jobs
    assert good_sub.status == "SUCCESS"
    assert (bad_sub.status, bad_sub.error_code) == ("FAIL", "DRS.M00302")
    assert bad_sub.fail_reason == bad_sub.entities.errorcode_message
    assert bad_sub.fail_reason.startswith("The transfer schema is invalid")


def test_unknown_job_is_a_404(ecs: EcsClient, traffic: Traffic) -> None:
    unknown = uuid.uuid4().hex
    with pytest.raises(ClientRequestException) as raised:
        ecs.show_job(ShowJobRequest(job_id=unknown))

    error = raised.value
    assert error.status_code == 404
    assert error.error_code == "Ecs.0404"
    assert error.error_msg == f"The job {unknown} does not exist."
    assert error.request_id == traffic.last().headers["x-request-id"]


def test_another_projects_job_is_a_404(
    drs3: DrsV3Client,
    ecs: EcsClient,
    traffic: Traffic,
    server: Server,
    other_tenant: Tenant,
    other_access_key: AccessKey,
) -> None:
    _, operation_id = batch_create(drs3, [create_job_req()])
    assert wait_operation(ecs, operation_id).status == "SUCCESS"
    credentials = BasicCredentials(other_access_key.access, other_access_key.secret, other_tenant.project_id)

    with (
        sdk_client(EcsClient, credentials, server, traffic) as other_ecs,
        pytest.raises(ClientRequestException) as raised,
    ):
        other_ecs.show_job(ShowJobRequest(job_id=operation_id))

    assert raised.value.status_code == 404
    assert raised.value.error_code == "Ecs.0404"
