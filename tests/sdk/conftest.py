"""The unmodified official Huawei Cloud SDK pointed at the session `server`, in both authentication modes.

Every client fixture (`drs3`, `drs5`, `ecs`) is parametrized over `auth_mode` (the clients of both modes are
built once per server, so that pytest only has to group tests by the session's `server`):

* ``aksk``: ``BasicCredentials(ak, sk, project_id)`` with an access key made by ``opendrs admin create-access-key``;
  the SDK signs every request with ``SDK-HMAC-SHA256`` (spec/AUTH.md 2);
* ``token``: the token credentials of spec/AUTH.md 5 option 1, a subclass whose class name is exactly
  ``BasicCredentials`` that sends ``X-Auth-Token`` and ``X-Project-Id`` instead of a signature.

Every response the SDK receives is recorded (`Traffic`), so that tests can read the raw headers (X-Request-Id)
and bodies the SDK does not parse (the `job_id` of an asynchronous operation), and so that the refusal tests can
check that no secret ever came back.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any, TypeVar

import pytest
import requests
from huaweicloudsdkcore.auth import credentials as sdk_credentials
from huaweicloudsdkcore.client import Client
from huaweicloudsdkcore.http.http_client import HttpClient
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkcore.http.http_handler import HttpHandler
from huaweicloudsdkcore.region.region import Region
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer
from huaweicloudsdkdrs.v3 import (
    BatchCreateJobReq,
    BatchCreateJobsRequest,
    BatchListJobStatusRequest,
    BatchQueryJobReqPage,
    CreateJobReq,
    Endpoint,
)
from huaweicloudsdkdrs.v3 import DrsClient as DrsV3Client
from huaweicloudsdkdrs.v5 import DrsClient as DrsV5Client
from huaweicloudsdkecs.v2 import EcsClient, ShowJobRequest, ShowJobResponse

from tests.harness import Api, Server, Tenant, new_task_spec, run_opendrs, wait_for

AUTH_MODES = ("aksk", "token")
ClientT = TypeVar("ClientT", bound=Client)


class BasicCredentials(sdk_credentials.BasicCredentials):  # type: ignore[misc]  # the SDK is untyped
    """Token credentials (spec/AUTH.md 5, option 1), for SDK clients that authenticate with X-Auth-Token.

    The class name must be exactly ``BasicCredentials``: ``ClientBuilder.build()`` checks credentials by
    ``__class__.__name__``. No AK/SK is involved, so nothing is signed and no ``Authorization`` is sent.
    """

    def __init__(self, token: str, project_id: str) -> None:
        super().__init__(project_id=project_id)
        self.token = token

    def process_auth_request(self, request: SdkRequest, http_client: HttpClient) -> Future[SdkRequest]:
        # Without AK/SK the base class would fetch temporary keys from the ECS metadata service: skip that.
        future: Future[SdkRequest] = http_client.executor.submit(self.sign_request, request)
        return future

    def sign_request(self, request: SdkRequest) -> SdkRequest:
        request.header_params["X-Auth-Token"] = self.token
        request.header_params["X-Project-Id"] = self.project_id
        Signer.process_request_uri(request)  # only builds path?query, as the SDK does for pre-signed requests
        return request


TokenCredentials = BasicCredentials


@dataclasses.dataclass(frozen=True)
class AccessKey:
    access: str
    secret: str


@dataclasses.dataclass(frozen=True)
class Exchange:
    """One request the SDK sent and the response it got (header names lower-case)."""

    method: str
    url: str
    request_headers: dict[str, str]
    status: int
    headers: dict[str, str]
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


@dataclasses.dataclass
class Traffic:
    """Everything the SDK received from one server, and the secrets that must never come back or be logged."""

    exchanges: list[Exchange] = dataclasses.field(default_factory=list)
    secrets: set[str] = dataclasses.field(default_factory=set)
    bodies: list[str] = dataclasses.field(default_factory=list)  # response bodies seen by other clients

    def handler(self) -> HttpHandler:
        return HttpHandler().add_response_handler(self._record)

    def _record(self, **kwargs: Any) -> None:
        response: requests.Response = kwargs["response"]
        sent = response.request
        self.exchanges.append(
            Exchange(
                method=str(sent.method),
                url=str(sent.url),
                request_headers={name.lower(): str(value) for name, value in sent.headers.items()},
                status=response.status_code,
                headers={name.lower(): value for name, value in response.headers.items()},
                text=response.text,
            )
        )

    def last(self) -> Exchange:
        return self.exchanges[-1]

    def all_bodies(self) -> list[str]:
        return [exchange.text for exchange in self.exchanges] + self.bodies


@pytest.fixture(scope="session")
def traffic(server: Server) -> Traffic:
    return Traffic()


def create_access_key(server: Server, tenant: Tenant, traffic: Traffic) -> AccessKey:
    created = run_opendrs(server.env, "admin", "create-access-key", "--domain", tenant.domain, "--user", tenant.user)
    key = AccessKey(created["access"], created["secret"])
    traffic.secrets.update({key.secret, tenant.password})
    return key


@pytest.fixture(scope="session")
def access_key(server: Server, tenant: Tenant, traffic: Traffic) -> AccessKey:
    return create_access_key(server, tenant, traffic)


@pytest.fixture(scope="session")
def other_access_key(server: Server, other_tenant: Tenant, traffic: Traffic) -> AccessKey:
    return create_access_key(server, other_tenant, traffic)


@pytest.fixture(scope="session")
def token(api: Api, traffic: Traffic) -> str:
    traffic.secrets.update({api.token, api.tenant.password})
    return api.token


def http_config() -> HttpConfig:
    config = HttpConfig.get_default_config()
    config.timeout = (5, 30)
    config.retry_times = 0
    return config


@contextmanager
def sdk_client(
    client_type: type[ClientT],
    credentials: sdk_credentials.Credentials,
    server: Server,
    traffic: Traffic,
    region: Region | None = None,
) -> Iterator[ClientT]:
    """A client of `client_type` on the server's plain-http endpoint (or, with `region`, on the region's)."""
    builder = client_type.new_builder().with_credentials(credentials).with_http_config(http_config())
    builder = builder.with_http_handler(traffic.handler())
    builder = builder.with_region(region) if region is not None else builder.with_endpoints([server.base_url])
    client: ClientT = builder.build()
    try:
        yield client
    finally:
        client.close()


@dataclasses.dataclass(frozen=True)
class Clients:
    drs3: DrsV3Client
    drs5: DrsV5Client
    ecs: EcsClient


@contextmanager
def clients_for(credentials: sdk_credentials.Credentials, server: Server, traffic: Traffic) -> Iterator[Clients]:
    with (
        sdk_client(DrsV3Client, credentials, server, traffic) as drs3,
        sdk_client(DrsV5Client, credentials, server, traffic) as drs5,
        sdk_client(EcsClient, credentials, server, traffic) as ecs,
    ):
        yield Clients(drs3, drs5, ecs)


@pytest.fixture(scope="session")
def sdk_clients(
    server: Server, tenant: Tenant, access_key: AccessKey, token: str, traffic: Traffic
) -> Iterator[dict[str, Clients]]:
    """The `tenant`'s clients in each mode: AK/SK signing, or an X-Auth-Token (built once per server)."""
    signing = sdk_credentials.BasicCredentials(access_key.access, access_key.secret, tenant.project_id)
    with (
        clients_for(signing, server, traffic) as aksk,
        clients_for(TokenCredentials(token, tenant.project_id), server, traffic) as by_token,
    ):
        yield {"aksk": aksk, "token": by_token}


@pytest.fixture(params=AUTH_MODES)
def auth_mode(request: pytest.FixtureRequest) -> str:
    """Every SDK test runs once with AK/SK signing and once with a token."""
    mode: str = request.param
    return mode


@pytest.fixture
def drs3(sdk_clients: dict[str, Clients], auth_mode: str) -> DrsV3Client:
    return sdk_clients[auth_mode].drs3


@pytest.fixture
def drs5(sdk_clients: dict[str, Clients], auth_mode: str) -> DrsV5Client:
    return sdk_clients[auth_mode].drs5


@pytest.fixture
def ecs(sdk_clients: dict[str, Clients], auth_mode: str) -> EcsClient:
    return sdk_clients[auth_mode].ecs


# Common steps through the SDK -------------------------------------------------------------------------


def unique_name(prefix: str = "sdk") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def create_job_req(**overrides: Any) -> CreateJobReq:
    """A v3 MySQL task spec (tests.harness.new_task_spec) as the SDK's request model."""
    spec = new_task_spec(name=unique_name(), **overrides)
    for role in ("source_endpoint", "target_endpoint"):
        spec[role] = Endpoint(**spec[role])
    return CreateJobReq(**spec)


def batch_create(drs3: DrsV3Client, jobs: list[CreateJobReq]) -> tuple[list[str], str]:
    """Create tasks; (their ids, the operation id). The SDK does not parse `job_id`: it is read from the body."""
    response = drs3.batch_create_jobs(BatchCreateJobsRequest(body=BatchCreateJobReq(jobs=jobs)))
    assert response.status_code == 202
    operation_id: str = json.loads(response.raw_content)["job_id"]
    return [result.id for result in response.results], operation_id


def status_of(drs3: DrsV3Client, job_id: str) -> str | None:
    response = drs3.batch_list_job_status(BatchListJobStatusRequest(body=BatchQueryJobReqPage(jobs=[job_id])))
    assert response.results[0].id == job_id
    status: str | None = response.results[0].status
    return status


def wait_status(drs3: DrsV3Client, job_id: str, expected: str) -> None:
    wait_for(lambda: status_of(drs3, job_id) == expected, f"task {job_id} to reach {expected}")


def wait_operation(ecs: EcsClient, operation_id: str) -> ShowJobResponse:
    def finished() -> ShowJobResponse | None:
        response: ShowJobResponse = ecs.show_job(ShowJobRequest(job_id=operation_id))
        return response if response.status in ("SUCCESS", "FAIL") else None

    return wait_for(finished, f"operation {operation_id} to finish")
