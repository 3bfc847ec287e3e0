"""Forged, stale and cross-project requests are refused with the right status; no secret leaks.

Raw requests are signed with opendrs.api.signing.sign_request (the SDK's algorithm, spec/AUTH.md 2.3) and sent
with httpx, so that one part at a time can be broken; the same refusals are then checked through the SDK.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException, SdkException
from huaweicloudsdkcore.region.region import Region
from huaweicloudsdkdrs.v3 import BatchListJobStatusRequest, BatchQueryJobReqPage
from huaweicloudsdkdrs.v3 import DrsClient as DrsV3Client
from huaweicloudsdkecs.v2 import EcsClient, ShowJobRequest

from opendrs.api import signing
from tests.harness import Api, Server, Tenant, token_request
from tests.sdk.conftest import AccessKey, Clients, TokenCredentials, Traffic, create_access_key, http_config, sdk_client

UNKNOWN = "9a470239-2308-4bb5-a6bc-1040402fjb21"
BODY = json.dumps({"jobs": [UNKNOWN]}).encode()
SIGNATURE_FAIL = "Incorrect IAM authentication information: verify aksk signature fail, "
UNKNOWN_KEY = SIGNATURE_FAIL + "the access key is unknown."
MISMATCH = SIGNATURE_FAIL + "the signature does not match the request."
STALE = SIGNATURE_FAIL + "X-Sdk-Date is more than 15 minutes away from the server time."
UNSIGNED_HOST = SIGNATURE_FAIL + "SignedHeaders must include host and x-sdk-date, and every signed header must be sent."


class Raw:
    """Requests signed by hand, one part at a time breakable; every answer body is kept for the leak check."""

    def __init__(self, server: Server, traffic: Traffic) -> None:
        self.server = server
        self.traffic = traffic
        self.host = urlsplit(server.base_url).netloc
        self.http = httpx.Client(base_url=server.base_url, timeout=30)

    def send(
        self,
        key: AccessKey,
        method: str,
        path: str,
        *,
        query: str = "",
        body: bytes = b"",
        project_id: str | None = None,
        signed_at: dt.datetime | None = None,
        extra: Mapping[str, str] | None = None,
        tamper: bytes | None = None,
        authorization: Callable[[str], str] | None = None,
    ) -> httpx.Response:
        """Sign the request as the SDK would; `tamper` replaces the body after signing, `authorization`
        rewrites the Authorization value."""
        headers = {
            "Host": self.host,
            "User-Agent": "huaweicloud-usdk-python/3.0; opendrs-tests",
            "X-Sdk-Date": signing.format_sdk_date(signed_at or dt.datetime.now(dt.UTC)),
        }
        if method != "GET":
            headers["Content-Type"] = "application/json"
        if project_id is not None:
            headers["X-Project-Id"] = project_id
        headers.update(extra or {})
        value = signing.sign_request(key.access, key.secret, method, path, query, headers, body)
        if authorization is not None:
            value = authorization(value)
        return self.request(
            method,
            path + (f"?{query}" if query else ""),
            {**headers, "Authorization": value},
            tamper if tamper is not None else body,
        )

    def request(self, method: str, target: str, headers: Mapping[str, str], body: bytes = b"") -> httpx.Response:
        response = self.http.request(method, target, headers=dict(headers), content=body)
        self.traffic.bodies.append(response.text)
        return response

    def status_path(self, tenant: Tenant) -> str:
        return f"/v3/{tenant.project_id}/jobs/batch-status"


@pytest.fixture
def raw(server: Server, traffic: Traffic) -> Iterator[Raw]:
    client = Raw(server, traffic)
    try:
        yield client
    finally:
        client.http.close()


def assert_refused(response: httpx.Response, status: int, code: str, message: str) -> None:
    assert response.status_code == status, response.text
    assert response.json() == {"error_code": code, "error_msg": message}
    assert len(response.headers["X-Request-Id"]) == 32


def assert_sdk_refused(error: ClientRequestException, status: int, code: str, message: str, traffic: Traffic) -> None:
    assert (error.status_code, error.error_code, error.error_msg) == (status, code, message)
    assert error.request_id == traffic.last().headers["x-request-id"]


# Raw, hand-signed requests -------------------------------------------------------------------------------


def test_a_correctly_signed_request_is_served(raw: Raw, tenant: Tenant, access_key: AccessKey) -> None:
    response = raw.send(access_key, "POST", raw.status_path(tenant), body=BODY, project_id=tenant.project_id)

    assert response.status_code == 200, response.text
    assert response.json()["results"][0]["error_code"] == "DRS.M05003"


def test_a_signed_get_with_an_awkward_query_is_served(raw: Raw, tenant: Tenant, access_key: AccessKey) -> None:
    query = "limit=10&offset=0&user_name=a%20b%2F%C3%A9~%2A%2B%26%3D"  # the SDK's wire form (AUTH.md 2.4)
    path = f"/v5/{tenant.project_id}/batch-async-jobs"
    response = raw.send(access_key, "GET", path, query=query, project_id=tenant.project_id)

    assert response.status_code == 200, response.text
    assert response.json() == {"total_count": 0, "jobs": []}


def test_unknown_access_key(raw: Raw, tenant: Tenant) -> None:
    stranger = AccessKey("AKUNKNOWN00000000001", "SKunknown0000000000000000000000000000001")
    response = raw.send(stranger, "POST", raw.status_path(tenant), body=BODY, project_id=tenant.project_id)

    assert_refused(response, 401, "APIGW.0301", UNKNOWN_KEY)


def test_wrong_secret(raw: Raw, tenant: Tenant, access_key: AccessKey) -> None:
    forged = AccessKey(access_key.access, access_key.secret[::-1])
    response = raw.send(forged, "POST", raw.status_path(tenant), body=BODY, project_id=tenant.project_id)

    assert_refused(response, 401, "APIGW.0301", MISMATCH)


@pytest.mark.parametrize(("minutes", "served"), [(-16, False), (16, False), (-14, True), (14, True)])
def test_sdk_date_window(raw: Raw, tenant: Tenant, access_key: AccessKey, minutes: int, served: bool) -> None:
    signed_at = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes)
    response = raw.send(
        access_key, "POST", raw.status_path(tenant), body=BODY, project_id=tenant.project_id, signed_at=signed_at
    )

    if served:
        assert response.status_code == 200, response.text
    else:
        assert_refused(response, 401, "APIGW.0301", STALE)


def test_host_must_be_signed(raw: Raw, tenant: Tenant, access_key: AccessKey) -> None:
    def unsign_host(value: str) -> str:
        assert ";host;" in value
        return value.replace(";host;", ";")

    response = raw.send(
        access_key, "POST", raw.status_path(tenant), body=BODY, project_id=tenant.project_id, authorization=unsign_host
    )

    assert_refused(response, 401, "APIGW.0301", UNSIGNED_HOST)


def test_a_body_changed_after_signing(raw: Raw, tenant: Tenant, access_key: AccessKey) -> None:
    changed = json.dumps({"jobs": ["dc67695a-ee3e-49b8-a022-a099bd81jb21"]}).encode()
    response = raw.send(
        access_key, "POST", raw.status_path(tenant), body=BODY, project_id=tenant.project_id, tamper=changed
    )

    assert_refused(response, 401, "APIGW.0301", MISMATCH)


def test_a_header_changed_after_signing(raw: Raw, tenant: Tenant, access_key: AccessKey) -> None:
    headers = {"X-Language": "en-us"}
    path = raw.status_path(tenant)
    good = raw.send(access_key, "POST", path, body=BODY, project_id=tenant.project_id, extra=headers)
    assert good.status_code == 200, good.text

    auth = good.request.headers["Authorization"]
    dropped = ("content-length", "x-language", "authorization")
    sent = {name: value for name, value in good.request.headers.items() if name.lower() not in dropped}
    response = raw.request("POST", path, {**sent, "X-Language": "zh-cn", "Authorization": auth}, BODY)

    assert_refused(response, 401, "APIGW.0301", "IAM认证信息错误：AK/SK签名校验失败，签名与请求不匹配。")


def test_x_project_id_must_match_the_path(
    raw: Raw, tenant: Tenant, other_tenant: Tenant, access_key: AccessKey
) -> None:
    response = raw.send(access_key, "POST", raw.status_path(tenant), body=BODY, project_id=other_tenant.project_id)

    assert_refused(
        response,
        403,
        "DRS.M00261",
        f"Invalid project ID: the credentials are not valid for project {other_tenant.project_id}.",
    )


def test_another_domains_key_on_this_project(raw: Raw, tenant: Tenant, other_access_key: AccessKey) -> None:
    response = raw.send(other_access_key, "POST", raw.status_path(tenant), body=BODY, project_id=tenant.project_id)

    assert_refused(
        response,
        403,
        "DRS.M00261",
        f"Invalid project ID: the credentials are not valid for project {tenant.project_id}.",
    )


def test_another_domains_key_on_the_ecs_and_v5_paths(raw: Raw, tenant: Tenant, other_access_key: AccessKey) -> None:
    refusal = f"Invalid project ID: the credentials are not valid for project {tenant.project_id}."
    for path in (f"/v1/{tenant.project_id}/jobs/{'0' * 32}", f"/v5/{tenant.project_id}/batch-async-jobs"):
        response = raw.send(other_access_key, "GET", path, project_id=tenant.project_id)
        assert_refused(response, 403, "DRS.M00261", refusal)


def test_a_token_wins_over_a_bogus_signature(raw: Raw, tenant: Tenant, token: str) -> None:
    bogus = "SDK-HMAC-SHA256 Access=AKBOGUS, SignedHeaders=host;x-sdk-date, Signature=" + "0" * 64
    headers = {"X-Auth-Token": token, "Authorization": bogus, "Content-Type": "application/json"}
    response = raw.request("POST", raw.status_path(tenant), headers, BODY)

    assert response.status_code == 200, response.text
    assert response.json()["results"][0]["id"] == UNKNOWN


def test_a_token_of_another_project(raw: Raw, other_tenant: Tenant, token: str) -> None:
    headers = {"X-Auth-Token": token, "Content-Type": "application/json"}
    response = raw.request("POST", raw.status_path(other_tenant), headers, BODY)

    assert_refused(
        response,
        403,
        "DRS.M00261",
        f"Invalid project ID: the credentials are not valid for project {other_tenant.project_id}.",
    )


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"X-Auth-Token": "MIIforged.token.value"}, "decrypt token fail"),
        ({}, "x-auth-token not found"),
        (
            {"Authorization": "Bearer something"},
            "verify aksk signature fail, the Authorization header is not "
            "SDK-HMAC-SHA256 Access=..., SignedHeaders=..., Signature=...",
        ),
    ],
)
def test_forged_or_missing_credentials(raw: Raw, tenant: Tenant, headers: dict[str, str], reason: str) -> None:
    response = raw.request("POST", raw.status_path(tenant), {**headers, "Content-Type": "application/json"}, BODY)

    assert_refused(response, 401, "APIGW.0301", f"Incorrect IAM authentication information: {reason}.")


def test_project_lookup_signed_with_aksk(raw: Raw, tenant: Tenant, other_tenant: Tenant, access_key: AccessKey) -> None:
    """The SDK's own project lookup (AUTH.md 3): GET /v3/projects?name=<region>, signed, no X-Project-Id."""
    response = raw.send(access_key, "GET", "/v3/projects", query=f"name={tenant.project_name}")

    assert response.status_code == 200, response.text
    projects = response.json()["projects"]
    assert [(p["id"], p["name"], p["domain_id"]) for p in projects] == [
        (tenant.project_id, tenant.project_name, tenant.domain_id)
    ]
    # Another domain's project is not visible.
    foreign = raw.send(access_key, "GET", "/v3/projects", query=f"name={other_tenant.project_name}")
    assert (foreign.status_code, foreign.json()["projects"]) == (200, [])


def test_project_lookup_needs_credentials(raw: Raw, tenant: Tenant) -> None:
    response = raw.request("GET", f"/v3/projects?name={tenant.project_name}", {})

    assert_refused(response, 401, "APIGW.0301", "Incorrect IAM authentication information: x-auth-token not found.")


# The same refusals through the SDK --------------------------------------------------------------------------


def status_request() -> BatchListJobStatusRequest:
    return BatchListJobStatusRequest(body=BatchQueryJobReqPage(jobs=[UNKNOWN]))


def sdk_refusal(
    server: Server, traffic: Traffic, credentials: BasicCredentials, preset: Mapping[str, str] | None = None
) -> ClientRequestException:
    with sdk_client(DrsV3Client, credentials, server, traffic) as drs3, pytest.raises(ClientRequestException) as raised:
        drs3.preset_headers = dict(preset or {})
        drs3.batch_list_job_status(status_request())
    return raised.value


def test_sdk_with_an_unknown_access_key(server: Server, traffic: Traffic, tenant: Tenant) -> None:
    credentials = BasicCredentials(
        "AKUNKNOWN00000000001", "SKunknown0000000000000000000000000000001", tenant.project_id
    )

    assert_sdk_refused(sdk_refusal(server, traffic, credentials), 401, "APIGW.0301", UNKNOWN_KEY, traffic)


def test_sdk_with_a_wrong_secret(server: Server, traffic: Traffic, tenant: Tenant, access_key: AccessKey) -> None:
    credentials = BasicCredentials(access_key.access, access_key.secret[::-1], tenant.project_id)

    assert_sdk_refused(sdk_refusal(server, traffic, credentials), 401, "APIGW.0301", MISMATCH, traffic)


def test_sdk_with_a_stale_date(server: Server, traffic: Traffic, tenant: Tenant, access_key: AccessKey) -> None:
    # The SDK signs with an X-Sdk-Date it finds in the request (AUTH.md 2.3 step 1).
    stale = signing.format_sdk_date(dt.datetime.now(dt.UTC) - dt.timedelta(minutes=16))
    credentials = BasicCredentials(access_key.access, access_key.secret, tenant.project_id)

    error = sdk_refusal(server, traffic, credentials, {"X-Sdk-Date": stale})

    assert_sdk_refused(error, 401, "APIGW.0301", STALE, traffic)
    assert traffic.last().request_headers["x-sdk-date"] == stale


def test_sdk_with_a_body_changed_after_signing(
    server: Server, traffic: Traffic, tenant: Tenant, access_key: AccessKey
) -> None:
    def tamper(**kwargs: Any) -> None:  # request hooks run after signing (AUTH.md 2.1 step 4)
        request = kwargs["request"]
        request.body = request.body.replace(UNKNOWN.encode(), b"dc67695a-ee3e-49b8-a022-a099bd81jb21")

    credentials = BasicCredentials(access_key.access, access_key.secret, tenant.project_id)
    handler = traffic.handler().add_request_handler(tamper)
    builder = DrsV3Client.new_builder().with_credentials(credentials).with_http_config(http_config())
    drs3 = builder.with_http_handler(handler).with_endpoints([server.base_url]).build()
    try:
        with pytest.raises(ClientRequestException) as raised:
            drs3.batch_list_job_status(status_request())
    finally:
        drs3.close()

    assert_sdk_refused(raised.value, 401, "APIGW.0301", MISMATCH, traffic)


def test_sdk_with_another_domains_key(
    server: Server, traffic: Traffic, tenant: Tenant, other_access_key: AccessKey
) -> None:
    credentials = BasicCredentials(other_access_key.access, other_access_key.secret, tenant.project_id)
    message = f"Invalid project ID: the credentials are not valid for project {tenant.project_id}."

    assert_sdk_refused(sdk_refusal(server, traffic, credentials), 403, "DRS.M00261", message, traffic)


def test_sdk_with_a_token_of_another_project(
    server: Server, traffic: Traffic, other_tenant: Tenant, token: str
) -> None:
    credentials = TokenCredentials(token, other_tenant.project_id)
    with (
        sdk_client(EcsClient, credentials, server, traffic) as ecs,
        pytest.raises(ClientRequestException) as raised,
    ):
        ecs.show_job(ShowJobRequest(job_id="0" * 32))

    message = f"Invalid project ID: the credentials are not valid for project {other_tenant.project_id}."
    assert_sdk_refused(raised.value, 403, "DRS.M00261", message, traffic)


def test_sdk_with_a_forged_token(server: Server, traffic: Traffic, tenant: Tenant) -> None:
    credentials = TokenCredentials("MIIforged", tenant.project_id)
    with (
        sdk_client(DrsV3Client, credentials, server, traffic) as drs3,
        pytest.raises(ClientRequestException) as raised,
    ):
        drs3.batch_list_job_status(status_request())

    message = "Incorrect IAM authentication information: decrypt token fail."
    assert_sdk_refused(raised.value, 401, "APIGW.0301", message, traffic)


def test_sdk_token_in_preset_headers_wins_over_its_signature(
    server: Server, traffic: Traffic, tenant: Tenant, token: str
) -> None:
    """AUTH.md 5 option 3: dummy AK/SK sign the request (badly), the token in preset_headers authenticates it."""
    credentials = BasicCredentials("AKDUMMY0000000000001", "SKdummy", tenant.project_id)
    with sdk_client(DrsV3Client, credentials, server, traffic) as drs3:
        drs3.preset_headers = {"X-Auth-Token": token}
        response = drs3.batch_list_job_status(status_request())

    assert response.results[0].error_code == "DRS.M05003"
    sent = traffic.last().request_headers
    assert sent["authorization"].startswith("SDK-HMAC-SHA256 Access=AKDUMMY0000000000001, ")
    assert "x-auth-token" in sent["authorization"]  # the token header is signed too


def test_sdk_project_lookup_by_region(server: Server, traffic: Traffic, tenant: Tenant) -> None:
    """No project_id: at build() the SDK asks GET /v3/projects?name=<region id> (signed) and uses the answer."""
    key = create_access_key(server, tenant, traffic)  # a fresh AK: the SDK caches lookups per AK and region
    credentials = BasicCredentials(key.access, key.secret).with_iam_endpoint(server.base_url)
    region = Region(tenant.project_name, server.base_url)
    looked_up = len(traffic.exchanges)

    with sdk_client(DrsV3Client, credentials, server, traffic, region=region) as drs3:
        lookup = traffic.exchanges[looked_up]
        assert credentials.project_id == tenant.project_id
        response = drs3.batch_list_job_status(status_request())

    assert (lookup.method, lookup.status) == ("GET", 200)
    assert lookup.url == f"{server.base_url}/v3/projects?name={tenant.project_name}"
    assert "x-project-id" not in lookup.request_headers
    assert "SignedHeaders=host;user-agent;x-sdk-date," in lookup.request_headers["authorization"]
    assert response.results[0].error_code == "DRS.M05003"
    assert traffic.last().url == f"{server.base_url}/v3/{tenant.project_id}/jobs/batch-status"


def test_sdk_project_lookup_of_another_domains_region_fails(
    server: Server, traffic: Traffic, tenant: Tenant, other_tenant: Tenant
) -> None:
    key = create_access_key(server, tenant, traffic)
    credentials = BasicCredentials(key.access, key.secret).with_iam_endpoint(server.base_url)
    builder = DrsV3Client.new_builder().with_credentials(credentials).with_http_config(http_config())
    builder = builder.with_http_handler(traffic.handler()).with_region(
        Region(other_tenant.project_name, server.base_url)
    )

    with pytest.raises(SdkException) as raised:
        builder.build()

    assert raised.value.error_msg.startswith(f"Failed to get project id of region '{other_tenant.project_name}'")
    assert traffic.last().json()["projects"] == []


# Last: nothing secret in the server's log or in any answer ---------------------------------------------------


def test_no_secret_in_the_log_or_in_any_answer(
    server: Server,
    traffic: Traffic,
    raw: Raw,
    sdk_clients: dict[str, Clients],
    tenant: Tenant,
    api: Api,
    other_api: Api,
    access_key: AccessKey,
    other_access_key: AccessKey,
    token: str,
) -> None:
    """Runs last in this module: checks everything recorded so far (and makes some traffic of its own)."""
    json_type = {"Content-Type": "application/json"}
    issued = raw.request("POST", "/v3/auth/tokens", json_type, json.dumps(token_request(tenant)).encode())
    assert issued.status_code == 201
    traffic.secrets.update({issued.headers["X-Subject-Token"], other_api.token, other_api.tenant.password})
    forged = AccessKey(access_key.access, access_key.secret[::-1])
    refused = raw.send(forged, "POST", raw.status_path(tenant), body=BODY, project_id=tenant.project_id)
    assert refused.status_code == 401
    for clients in sdk_clients.values():
        assert clients.drs3.batch_list_job_status(status_request()).count == 1
    assert {access_key.secret, other_access_key.secret, token, api.tenant.password} <= traffic.secrets

    log = server.log_text()
    assert "signature refused" in log  # refusals are logged...
    assert [secret for secret in traffic.secrets if secret in log] == []  # ...without a secret, password or token

    bodies = traffic.all_bodies()
    assert len(bodies) >= 4
    assert [body for body in bodies if any(secret in body for secret in traffic.secrets)] == []
