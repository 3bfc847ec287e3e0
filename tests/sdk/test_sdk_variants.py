"""SDK variations a user may switch on: async clients, no Content-Type on GET, no project id at all."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkcore.signer.algorithm import SigningAlgorithm
from huaweicloudsdkdrs.v3 import BatchListJobStatusRequest, BatchQueryJobReqPage, DrsAsyncClient
from huaweicloudsdkdrs.v3 import DrsClient as DrsV3Client
from huaweicloudsdkdrs.v5 import DrsAsyncClient as DrsV5AsyncClient
from huaweicloudsdkdrs.v5 import DrsClient as DrsV5Client
from huaweicloudsdkdrs.v5 import ListAsyncJobsRequest
from huaweicloudsdkecs.v2 import EcsAsyncClient, EcsClient, ShowJobRequest

from tests.harness import Server, Tenant
from tests.sdk.conftest import AccessKey, TokenCredentials, Traffic, http_config

UNKNOWN = "9a470239-2308-4bb5-a6bc-1040402fjb21"
UNKNOWN_OPERATION = "0" * 32


@pytest.fixture
def mode_credentials(auth_mode: str, tenant: Tenant, access_key: AccessKey, token: str) -> BasicCredentials:
    if auth_mode == "aksk":
        return BasicCredentials(access_key.access, access_key.secret, tenant.project_id)
    return TokenCredentials(token, tenant.project_id)


@pytest.fixture
def no_content_type_on_get(
    mode_credentials: BasicCredentials, server: Server, traffic: Traffic
) -> Iterator[tuple[DrsV5Client, EcsClient]]:
    config = http_config()
    config.ignore_content_type_for_get_request = True
    drs5 = DrsV5Client.new_builder().with_credentials(mode_credentials).with_http_config(config)
    ecs = EcsClient.new_builder().with_credentials(mode_credentials).with_http_config(config)
    built = [
        builder.with_http_handler(traffic.handler()).with_endpoints([server.base_url]).build()
        for builder in (drs5, ecs)
    ]
    try:
        yield built[0], built[1]
    finally:
        for client in built:
            client.close()


def test_async_clients(mode_credentials: BasicCredentials, server: Server, traffic: Traffic) -> None:
    """Async clients sign in an executor and skip request hooks; both modes still work (AUTH.md 5)."""
    clients = [
        client_type.new_builder()
        .with_credentials(mode_credentials)
        .with_http_config(http_config())
        .with_http_handler(traffic.handler())
        .with_endpoints([server.base_url])
        .build()
        for client_type in (DrsAsyncClient, DrsV5AsyncClient, EcsAsyncClient)
    ]
    drs3, drs5, ecs = clients
    try:
        status = drs3.batch_list_job_status_async(
            BatchListJobStatusRequest(body=BatchQueryJobReqPage(jobs=[UNKNOWN]))
        ).result()
        listed = drs5.list_async_jobs_async(ListAsyncJobsRequest(limit=1, sort_dir="asc")).result()
        with pytest.raises(ClientRequestException) as raised:
            ecs.show_job_async(ShowJobRequest(job_id=UNKNOWN_OPERATION)).result()
    finally:
        for client in clients:
            client.close()

    assert (status.count, status.results[0].error_code) == (1, "DRS.M05003")
    assert listed.status_code == 200
    assert (raised.value.status_code, raised.value.error_code) == (404, "Ecs.0404")


def test_gets_without_content_type(
    auth_mode: str, no_content_type_on_get: tuple[DrsV5Client, EcsClient], traffic: Traffic
) -> None:
    """HttpConfig.ignore_content_type_for_get_request: nothing to sign or check for Content-Type (AUTH.md 2.5)."""
    drs5, ecs = no_content_type_on_get

    listed = drs5.list_async_jobs(ListAsyncJobsRequest(limit=1, user_name="nobody at all"))
    sent = traffic.last().request_headers
    with pytest.raises(ClientRequestException) as raised:
        ecs.show_job(ShowJobRequest(job_id=UNKNOWN_OPERATION))

    assert (listed.status_code, listed.total_count) == (200, 0)
    assert "content-type" not in sent
    if auth_mode == "aksk":
        assert "SignedHeaders=host;user-agent;x-project-id;x-sdk-date," in sent["authorization"]
    assert (raised.value.status_code, raised.value.error_code) == (404, "Ecs.0404")
    assert "content-type" not in traffic.last().request_headers


def test_without_a_project_id_the_path_carries_a_placeholder(
    server: Server, traffic: Traffic, access_key: AccessKey
) -> None:
    """AK/SK, no project id, no region: the SDK sends /v3/%7Bproject_id%7D/... (AUTH.md 3); it is refused."""
    credentials = BasicCredentials(access_key.access, access_key.secret)
    client = (
        DrsV3Client.new_builder()
        .with_credentials(credentials)
        .with_http_config(http_config())
        .with_http_handler(traffic.handler())
        .with_endpoints([server.base_url])
        .build()
    )
    try:
        with pytest.raises(ClientRequestException) as raised:
            client.batch_list_job_status(BatchListJobStatusRequest(body=BatchQueryJobReqPage(jobs=[UNKNOWN])))
    finally:
        client.close()

    assert traffic.last().url == f"{server.base_url}/v3/%7Bproject_id%7D/jobs/batch-status"
    assert raised.value.status_code == 403
    assert raised.value.error_code == "DRS.M00261"
    assert raised.value.error_msg == "Invalid project ID: the credentials are not valid for project {project_id}."


@pytest.mark.parametrize("algorithm", [SigningAlgorithm.HMAC_SM3, SigningAlgorithm.ECDSA_P256_SHA256])
def test_other_signing_algorithms_are_refused(
    algorithm: SigningAlgorithm, server: Server, traffic: Traffic, tenant: Tenant, access_key: AccessKey
) -> None:
    """Opt-in SDK signers (AUTH.md 2.6) are not SDK-HMAC-SHA256: a 401 APIGW.0301 that says what is expected."""
    config = http_config()
    config.signing_algorithm = algorithm
    credentials = BasicCredentials(access_key.access, access_key.secret, tenant.project_id)
    client = (
        DrsV3Client.new_builder()
        .with_credentials(credentials)
        .with_http_config(config)
        .with_http_handler(traffic.handler())
        .with_endpoints([server.base_url])
        .build()
    )
    try:
        with pytest.raises(ClientRequestException) as raised:
            client.batch_list_job_status(BatchListJobStatusRequest(body=BatchQueryJobReqPage(jobs=[UNKNOWN])))
    finally:
        client.close()

    assert traffic.last().request_headers["authorization"].startswith(f"SDK-{algorithm.name.replace('_', '-')} ")
    assert (raised.value.status_code, raised.value.error_code) == (401, "APIGW.0301")
    assert raised.value.error_msg == (
        "Incorrect IAM authentication information: verify aksk signature fail, the Authorization header is not "
        "SDK-HMAC-SHA256 Access=..., SignedHeaders=..., Signature=...."
    )
