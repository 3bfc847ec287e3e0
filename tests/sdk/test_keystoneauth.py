"""keystoneauth1 (the token client behind openstacksdk / python-otcextensions) against the IAM API (AUTH.md 7)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests
from keystoneauth1 import exceptions as ks_exceptions
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import Password as GenericPassword
from keystoneauth1.identity import v3

from tests.harness import Server, Tenant
from tests.sdk.conftest import Traffic

UNKNOWN = "9a470239-2308-4bb5-a6bc-1040402fjb21"
PLUGINS = ("v3", "generic")


@dataclasses.dataclass(frozen=True)
class Seen:
    method: str
    url: str
    status: int


def password_plugin(
    kind: str,
    server: Server,
    tenant: Tenant,
    password: str | None = None,
    project_name: str | None = None,
    project_domain_name: str | None = None,
) -> Any:
    plugin_type = v3.Password if kind == "v3" else GenericPassword
    return plugin_type(
        auth_url=f"{server.base_url}/v3",
        username=tenant.user,
        password=tenant.password if password is None else password,
        user_domain_name=tenant.domain,
        project_name=project_name or tenant.project_name,
        project_domain_name=project_domain_name or tenant.domain,
    )


@contextmanager
def keystone_session(auth: Any, traffic: Traffic, seen: list[Seen]) -> Iterator[ks_session.Session]:
    """A keystoneauth session on a requests session of ours (closed afterwards) that records every answer."""

    def record(response: requests.Response, *args: object, **kwargs: object) -> None:
        seen.append(Seen(str(response.request.method), str(response.url), response.status_code))
        traffic.bodies.append(response.text)

    http = requests.Session()
    http.hooks["response"].append(record)
    try:
        yield ks_session.Session(auth=auth, session=http)
    finally:
        http.close()


@pytest.fixture(params=PLUGINS)
def plugin(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


def test_token_and_catalog(plugin: str, server: Server, tenant: Tenant, traffic: Traffic) -> None:
    seen: list[Seen] = []
    with keystone_session(password_plugin(plugin, server, tenant), traffic, seen) as session:
        token = session.get_token()
        assert token
        traffic.secrets.add(token)

        assert session.get_project_id() == tenant.project_id
        assert session.get_user_id() == tenant.user_id
        base, pid = server.base_url, tenant.project_id
        assert session.get_endpoint(service_type="drs", interface="public") == f"{base}/v3/{pid}"
        assert session.get_endpoint(service_type="ecs", interface="public") == f"{base}/v1/{pid}"
        assert session.get_endpoint(service_type="drsv5", interface="public") == f"{base}/v5/{pid}"
        region = tenant.project_name
        assert session.get_endpoint(service_type="drs", interface="public", region_name=region) == f"{base}/v3/{pid}"

    token_requests = [entry for entry in seen if entry.url == f"{base}/v3/auth/tokens"]
    assert [(entry.method, entry.status) for entry in token_requests] == [("POST", 201)]
    if plugin == "generic":  # the generic plugin discovers the identity version first
        assert (seen[0].method, seen[0].url, seen[0].status) == ("GET", f"{base}/v3", 200)


def test_requests_through_the_catalog(plugin: str, server: Server, tenant: Tenant, traffic: Traffic) -> None:
    seen: list[Seen] = []
    with keystone_session(password_plugin(plugin, server, tenant), traffic, seen) as session:
        token = session.get_token()
        assert token
        traffic.secrets.add(token)
        drs = {"service_type": "drs", "interface": "public"}

        by_catalog = session.post("/jobs/batch-status", json={"jobs": [UNKNOWN]}, endpoint_filter=drs)
        assert by_catalog.status_code == 200
        assert by_catalog.json()["results"] == [
            {"id": UNKNOWN, "error_code": "DRS.M05003", "error_message": f"Task information not found: {UNKNOWN}."}
        ]

        endpoint = session.get_endpoint(service_type="drs", interface="public")
        assert endpoint == f"{server.base_url}/v3/{tenant.project_id}"
        by_url = session.post(endpoint + "/jobs/batch-status", json={"jobs": [UNKNOWN]})
        assert (by_url.status_code, by_url.json()["count"]) == (200, 1)

        listed = session.get("/batch-async-jobs?limit=5", endpoint_filter={"service_type": "drsv5"})
        assert listed.status_code == 200
        assert set(listed.json()) == {"total_count", "jobs"}

        missing = session.get(
            "/jobs/" + "0" * 32, endpoint_filter={"service_type": "ecs", "interface": "public"}, raise_exc=False
        )
        assert missing.status_code == 404
        assert missing.json()["error_code"] == "Ecs.0404"

    assert f"{server.base_url}/v3/{tenant.project_id}/jobs/batch-status" in {entry.url for entry in seen}


def test_wrong_password_is_unauthorized(plugin: str, server: Server, tenant: Tenant, traffic: Traffic) -> None:
    auth = password_plugin(plugin, server, tenant, password="not-the-password")
    seen: list[Seen] = []
    with keystone_session(auth, traffic, seen) as session, pytest.raises(ks_exceptions.Unauthorized) as raised:
        session.get_token()

    assert raised.value.http_status == 401
    assert "The username or password is incorrect." in str(raised.value)


def test_another_domains_project_is_unauthorized(
    plugin: str, server: Server, tenant: Tenant, other_tenant: Tenant, traffic: Traffic
) -> None:
    auth = password_plugin(
        plugin, server, tenant, project_name=other_tenant.project_name, project_domain_name=other_tenant.domain
    )
    seen: list[Seen] = []
    with keystone_session(auth, traffic, seen) as session, pytest.raises(ks_exceptions.Unauthorized) as raised:
        session.get_token()

    assert raised.value.http_status == 401
