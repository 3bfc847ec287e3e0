"""IAM, Keystone v3 style (spec/AUTH.md 7): discovery, password tokens, project lookup, token checks, isolation."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from opendrs.domain import tokens
from opendrs.keys import Keys
from tests.harness import Api, Server, Tenant, create_tenant, new_task_spec, serve, token_request

ISO_MICROS = "%Y-%m-%dT%H:%M:%S.%fZ"
ISO_MICROS_PATTERN = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
BAD_CREDENTIALS = "The username or password is incorrect."
SCOPE_UNKNOWN = "Incorrect IAM authentication information: the requested scope does not exist or is not the user's."
NO_TOKEN = "Incorrect IAM authentication information: x-auth-token not found."
FORGED = "Incorrect IAM authentication information: decrypt token fail."
KNOWN_SECRET = "some-known-secret"
STATUS = "/v3/{project_id}/jobs/batch-status"
UNKNOWN = "9a470239-2308-4bb5-a6bc-1040402fjb21"


def tokens_url(server: Server) -> str:
    return f"{server.base_url}/v3/auth/tokens"


def user_ref(tenant: Tenant, form: str, password: str | None = None) -> dict[str, Any]:
    secret = tenant.password if password is None else password
    if form == "id":
        return {"id": tenant.user_id, "password": secret}
    if form == "name+domain id":
        return {"name": tenant.user, "password": secret, "domain": {"id": tenant.domain_id}}
    return {"name": tenant.user, "password": secret, "domain": {"name": tenant.domain}}


def project_scope(tenant: Tenant, form: str) -> dict[str, Any]:
    if form == "id":
        return {"project": {"id": tenant.project_id}}
    if form == "name+domain id":
        return {"project": {"name": tenant.project_name, "domain": {"id": tenant.domain_id}}}
    return {"project": {"name": tenant.project_name, "domain": {"name": tenant.domain}}}


def auth_body(user: dict[str, Any], scope: dict[str, Any] | None) -> dict[str, Any]:
    auth: dict[str, Any] = {"identity": {"methods": ["password"], "password": {"user": user}}}
    if scope is not None:
        auth["scope"] = scope
    return {"auth": auth}


def parse_time(value: str) -> dt.datetime:
    assert ISO_MICROS_PATTERN.match(value), value
    return dt.datetime.strptime(value, ISO_MICROS).replace(tzinfo=dt.UTC)


def checked(response: httpx.Response) -> httpx.Response:
    """Every answer: a request id, JSON, and no server error."""
    assert response.status_code < 500, response.text
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-Id"])
    assert response.headers["X-Openstack-Request-Id"] == response.headers["X-Request-Id"]
    assert response.headers["Content-Type"] == "application/json;charset=UTF-8"
    assert "Traceback" not in response.text
    return response


def keystone_error(status: int, title: str, code: str, message: str) -> dict[str, Any]:
    return {"error_code": code, "error_msg": message, "error": {"code": status, "title": title, "message": message}}


def call(server: Server, token: str | None, method: str, path: str, body: Any = None) -> httpx.Response:
    headers = {} if token is None else {"X-Auth-Token": token}
    return checked(httpx.request(method, f"{server.base_url}{path}", json=body, headers=headers, timeout=30))


# Discovery ---------------------------------------------------------------------------------------


def test_version_document(server: Server) -> None:
    response = checked(httpx.get(f"{server.base_url}/v3"))
    assert response.status_code == 200
    version = response.json()["version"]
    assert version["id"] == "v3.0"
    assert version["status"] == "stable"
    assert {"rel": "self", "href": f"{server.base_url}/v3/"} in version["links"]


# Token issuance ----------------------------------------------------------------------------------


@pytest.mark.parametrize("user_form", ["name+domain name", "name+domain id", "id"])
@pytest.mark.parametrize("scope_form", ["name+domain name", "name+domain id", "id"])
def test_project_scoped_token(server: Server, tenant: Tenant, user_form: str, scope_form: str) -> None:
    before = dt.datetime.now(dt.UTC)
    body = auth_body(user_ref(tenant, user_form), project_scope(tenant, scope_form))
    response = checked(httpx.post(tokens_url(server), json=body))
    assert response.status_code == 201, response.text
    token = response.headers["X-Subject-Token"]
    assert token and token not in response.text  # the token is only in the header
    answer = response.json()["token"]
    issued, expires = parse_time(answer["issued_at"]), parse_time(answer["expires_at"])
    assert before - dt.timedelta(seconds=2) <= issued <= dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)
    assert abs(expires - issued - dt.timedelta(hours=24)) < dt.timedelta(milliseconds=1)
    domain = {"id": tenant.domain_id, "name": tenant.domain}
    assert answer["methods"] == ["password"]
    assert answer["project"] == {"id": tenant.project_id, "name": tenant.project_name, "domain": domain}
    assert answer["user"]["id"] == tenant.user_id
    assert answer["user"]["name"] == tenant.user
    assert answer["user"]["domain"] == domain
    assert "domain" not in answer
    assert tenant.password not in response.text
    # The token works on the project's own DRS endpoint.
    assert (
        call(server, token, "POST", STATUS.format(project_id=tenant.project_id), {"jobs": [UNKNOWN]}).status_code == 200
    )


def test_catalog(server: Server, tenant: Tenant) -> None:
    response = checked(httpx.post(tokens_url(server), json=token_request(tenant)))
    assert response.status_code == 201
    catalog = {entry["type"]: entry for entry in response.json()["token"]["catalog"]}
    assert {"drs", "ecs", "identity"} <= set(catalog)
    expected_urls = {
        "drs": f"{server.base_url}/v3/{tenant.project_id}",
        "ecs": f"{server.base_url}/v1/{tenant.project_id}",
        "identity": f"{server.base_url}/v3",
    }
    for service_type, url in expected_urls.items():
        endpoints = catalog[service_type]["endpoints"]
        public = [endpoint for endpoint in endpoints if endpoint["interface"] == "public"]
        assert [endpoint["url"] for endpoint in public] == [url], service_type
    for service_type in ("drs", "ecs"):
        endpoint = catalog[service_type]["endpoints"][0]
        assert endpoint["region_id"] == endpoint["region"] == tenant.project_name
    # keystoneauth appends relative paths to the catalog URL as is.
    token = response.headers["X-Subject-Token"]
    drs = httpx.post(
        f"{expected_urls['drs']}/jobs/batch-status", json={"jobs": [UNKNOWN]}, headers={"X-Auth-Token": token}
    )
    assert checked(drs).status_code == 200


def test_nocatalog(server: Server, tenant: Tenant) -> None:
    response = checked(httpx.post(f"{tokens_url(server)}?nocatalog", json=token_request(tenant)))
    assert response.status_code == 201
    answer = response.json()["token"]
    assert "catalog" not in answer
    assert answer["project"]["id"] == tenant.project_id
    assert response.headers["X-Subject-Token"]


def test_charset_utf8_content_type_is_accepted(server: Server, tenant: Tenant) -> None:
    """The Huawei doc sends `application/json;charset=utf8` (AUTH.md 7.1)."""
    response = httpx.post(
        tokens_url(server),
        content=json.dumps(token_request(tenant)).encode(),
        headers={"Content-Type": "application/json;charset=utf8"},
    )
    assert checked(response).status_code == 201


@pytest.mark.parametrize(
    "scope_of",
    [
        lambda tenant: None,
        lambda tenant: {"domain": {"name": tenant.domain}},
        lambda tenant: {"domain": {"id": tenant.domain_id}},
    ],
    ids=["no scope", "domain by name", "domain by id"],
)
def test_domain_scoped_token(server: Server, tenant: Tenant, scope_of: Callable[[Tenant], Any]) -> None:
    scope = scope_of(tenant)
    response = checked(httpx.post(tokens_url(server), json=auth_body(user_ref(tenant, "id"), scope)))
    assert response.status_code == 201, response.text
    answer = response.json()["token"]
    assert answer["domain"] == {"id": tenant.domain_id, "name": tenant.domain}
    assert "project" not in answer
    assert "catalog" not in answer
    token = response.headers["X-Subject-Token"]
    # It finds the domain's projects, but acts on none of them.
    projects = call(server, token, "GET", f"/v3/projects?name={tenant.project_name}")
    assert [project["id"] for project in projects.json()["projects"]] == [tenant.project_id]
    refused = call(server, token, "POST", STATUS.format(project_id=tenant.project_id), {"jobs": [UNKNOWN]})
    assert refused.status_code == 403
    assert refused.json()["error_code"] == "DRS.M00261"


@pytest.mark.parametrize("user_form", ["name+domain name", "id"])
def test_wrong_password(server: Server, tenant: Tenant, user_form: str) -> None:
    body = auth_body(user_ref(tenant, user_form, password=tenant.password + "x"), project_scope(tenant, "id"))
    response = checked(httpx.post(tokens_url(server), json=body))
    assert response.status_code == 401
    assert response.json() == keystone_error(401, "Unauthorized", "DRS.KE0002", BAD_CREDENTIALS)
    assert "X-Subject-Token" not in response.headers


@pytest.mark.parametrize(
    "user_of",
    [
        lambda tenant: {"name": "nobody-at-all", "password": tenant.password, "domain": {"name": tenant.domain}},
        lambda tenant: {"name": tenant.user, "password": tenant.password, "domain": {"name": "no-such-domain"}},
        lambda tenant: {"name": tenant.user, "password": tenant.password, "domain": {"id": "0" * 32}},
        lambda tenant: {"id": "0" * 32, "password": tenant.password},
    ],
    ids=["unknown user", "unknown domain name", "unknown domain id", "unknown user id"],
)
def test_unknown_user(server: Server, tenant: Tenant, user_of: Callable[[Tenant], Any]) -> None:
    filled = user_of(tenant)
    response = checked(httpx.post(tokens_url(server), json=auth_body(filled, project_scope(tenant, "id"))))
    assert response.status_code == 401
    assert response.json() == keystone_error(401, "Unauthorized", "DRS.KE0002", BAD_CREDENTIALS)


def test_user_of_another_domain(server: Server, tenant: Tenant, other_tenant: Tenant) -> None:
    """The right user and password, named in the other tenant's domain."""
    user = {"name": tenant.user, "password": tenant.password, "domain": {"name": other_tenant.domain}}
    response = checked(httpx.post(tokens_url(server), json=auth_body(user, None)))
    assert response.status_code == 401
    assert response.json()["error_code"] == "DRS.KE0002"


@pytest.mark.parametrize(
    "scope_of",
    [
        lambda other: {"project": {"id": other.project_id}},
        lambda other: {"project": {"name": other.project_name, "domain": {"name": other.domain}}},
        lambda other: {"project": {"name": other.project_name, "domain": {"id": other.domain_id}}},
        lambda other: {"project": {"id": "0" * 32}},
        lambda other: {"project": {"name": "no-such-region", "domain": {"name": other.domain}}},
        lambda other: {"domain": {"name": other.domain}},
        lambda other: {"domain": {"id": other.domain_id}},
    ],
    ids=[
        "other project by id",
        "other project by name+domain name",
        "other project by name+domain id",
        "unknown project id",
        "unknown project name",
        "other domain by name",
        "other domain by id",
    ],
)
def test_scope_outside_the_users_domain(
    server: Server, tenant: Tenant, other_tenant: Tenant, scope_of: Callable[[Tenant], Any]
) -> None:
    response = checked(httpx.post(tokens_url(server), json=auth_body(user_ref(tenant, "id"), scope_of(other_tenant))))
    assert response.status_code == 401
    assert response.json() == keystone_error(401, "Unauthorized", "APIGW.0301", SCOPE_UNKNOWN)
    assert "X-Subject-Token" not in response.headers


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ({}, "DRS.M00201", "The parameter auth is empty."),
        ({"auth": {}}, "DRS.M00201", "The parameter auth.identity is empty."),
        ({"auth": "x"}, "DRS.M00202", "The value of parameter auth is invalid: must be an object."),
        (
            {"auth": {"identity": {"methods": "password"}}},
            "DRS.M00202",
            "The value of parameter auth.identity.methods is invalid: must be an array.",
        ),
        (
            {"auth": {"identity": {"methods": ["token"], "token": {"id": "x"}}}},
            "DRS.M00202",
            "The value of parameter auth.identity.methods is invalid: identity.methods must include password.",
        ),
        (
            {"auth": {"identity": {"methods": ["password"], "password": {"user": {"password": "x"}}}}},
            "DRS.M00202",
            "The value of parameter auth.identity.password.user is invalid: "
            "identity.password.user needs an id, or a name and a domain.",
        ),
        (
            {"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "u", "password": "x"}}}}},
            "DRS.M00202",
            "The value of parameter auth.identity.password.user is invalid: "
            "identity.password.user needs an id, or a name and a domain.",
        ),
        (
            {"auth": {"identity": {"methods": ["password"], "password": {"user": {"id": "u"}}}}},
            "DRS.M00201",
            "The parameter auth.identity.password.user.password is empty.",
        ),
        ([], "DRS.M00202", "The value of parameter body is invalid: must be an object."),
    ],
)
def test_malformed_token_request(server: Server, body: Any, code: str, message: str) -> None:
    response = checked(httpx.post(tokens_url(server), json=body))
    assert response.status_code == 400
    answer = response.json()
    assert {key: answer[key] for key in ("error_code", "error_msg")} == {"error_code": code, "error_msg": message}
    assert {key: answer["error"][key] for key in ("code", "message")} == {"code": 400, "message": message}


def test_keystone_error_title_names_the_status(server: Server, tenant: Tenant) -> None:
    """Keystone's {"error": {"code", "title", "message"}}: the title is the status's reason phrase."""
    refused = checked(httpx.post(tokens_url(server), json=auth_body(user_ref(tenant, "id", "wrong"), None)))
    assert refused.status_code == 401
    assert refused.json()["error"]["title"] == "Unauthorized"
    malformed = checked(httpx.post(tokens_url(server), json={"auth": {}}))
    assert malformed.status_code == 400
    assert malformed.json()["error"] == {"code": 400, "title": "Bad Request", "message": malformed.json()["error_msg"]}


def test_token_request_that_is_not_json(server: Server) -> None:
    response = checked(
        httpx.post(tokens_url(server), content=b'{"auth": {', headers={"Content-Type": "application/json"})
    )
    assert response.status_code == 400
    body = response.json()
    assert body["error_code"] == "DRS.M00300"
    assert body["error_msg"].startswith("Invalid request, the body is not valid JSON: ")
    assert "X-Subject-Token" not in response.headers


# Project lookup ----------------------------------------------------------------------------------


def test_projects_by_name(api: Api, tenant: Tenant) -> None:
    response = checked(api.get("/v3/projects", params={"name": tenant.project_name}))
    assert response.status_code == 200
    projects = response.json()["projects"]
    assert len(projects) == 1
    assert projects[0]["id"] == tenant.project_id
    assert projects[0]["name"] == tenant.project_name
    assert projects[0]["domain_id"] == tenant.domain_id


def test_projects_by_another_name(api: Api, other_tenant: Tenant) -> None:
    for name in ("no-such-region", other_tenant.project_name):  # another domain's project is not found either
        response = checked(api.get("/v3/projects", params={"name": name}))
        assert response.status_code == 200
        assert response.json()["projects"] == []


def test_projects_without_a_token(server: Server, tenant: Tenant) -> None:
    response = checked(httpx.get(f"{server.base_url}/v3/projects", params={"name": tenant.project_name}))
    assert response.status_code == 401
    assert response.json() == {"error_code": "APIGW.0301", "error_msg": NO_TOKEN}


# Token checks on the DRS endpoints ---------------------------------------------------------------


def test_no_token(server: Server, tenant: Tenant) -> None:
    for method, path, body in [
        ("POST", STATUS, {"jobs": [UNKNOWN]}),
        ("POST", "/v3/{project_id}/jobs", {}),
        ("GET", "/v5/{project_id}/batch-async-jobs", None),
        ("GET", "/v1/{project_id}/jobs/" + "0" * 32, None),
    ]:
        response = call(server, None, method, path.format(project_id=tenant.project_id), body)
        assert response.status_code == 401, path
        assert response.json() == {"error_code": "APIGW.0301", "error_msg": NO_TOKEN}


def test_empty_token(server: Server, tenant: Tenant) -> None:
    response = call(server, "", "POST", STATUS.format(project_id=tenant.project_id), {"jobs": [UNKNOWN]})
    assert response.status_code == 401
    assert response.json()["error_code"] == "APIGW.0301"


def flip_in_signature(token: str) -> str:
    payload, mac = token.split(".")
    middle = len(mac) // 2
    replacement = "A" if mac[middle] != "A" else "B"
    return f"{payload}.{mac[:middle]}{replacement}{mac[middle + 1 :]}"


@pytest.mark.parametrize(
    "forge",
    [flip_in_signature, lambda token: "MIIabc" + token[6:], lambda token: token + "x", lambda token: "garbage"],
    ids=["flipped signature character", "rewritten payload", "appended character", "garbage"],
)
def test_forged_token(api: Api, forge: Callable[[str], str]) -> None:
    forged = forge(api.token)
    assert forged != api.token
    response = call(api.server, forged, "POST", STATUS.format(project_id=api.project_id), {"jobs": [UNKNOWN]})
    assert response.status_code == 401
    assert response.json() == {"error_code": "APIGW.0301", "error_msg": FORGED}


def test_token_for_another_project(api: Api, other_tenant: Tenant) -> None:
    for method, path, body in [
        ("POST", STATUS, {"jobs": [UNKNOWN]}),
        ("POST", "/drs/v3/{project_id}/jobs/batch-status", {"jobs": [UNKNOWN]}),
        ("GET", "/v5/{project_id}/batch-async-jobs", None),
        ("GET", "/v1/{project_id}/jobs/" + "0" * 32, None),
    ]:
        response = call(api.server, api.token, method, path.format(project_id=other_tenant.project_id), body)
        assert response.status_code == 403, path
        assert response.json() == {
            "error_code": "DRS.M00261",
            "error_msg": f"Invalid project ID: the credentials are not valid for project {other_tenant.project_id}.",
        }


# Tokens signed with a known secret ---------------------------------------------------------------


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve(tmp_path_factory.mktemp("keyed"), OPENDRS_SECRET_KEY=KNOWN_SECRET) as running:
        yield running


@pytest.fixture(scope="module")
def keyed_tenant(keyed_server: Server) -> Tenant:
    return create_tenant(keyed_server, "k")


def mint(tenant: Tenant, issued_at: float, expires_at: float, secret: str = KNOWN_SECRET) -> str:
    claims = tokens.Claims(tenant.user_id, tenant.domain_id, tenant.project_id, issued_at, expires_at)
    return tokens.encode(claims, Keys(secret.encode()).token_key)


def test_a_token_minted_with_the_configured_secret_is_accepted(keyed_server: Server, keyed_tenant: Tenant) -> None:
    token = mint(keyed_tenant, time.time(), time.time() + 600)
    response = call(keyed_server, token, "POST", STATUS.format(project_id=keyed_tenant.project_id), {"jobs": [UNKNOWN]})
    assert response.status_code == 200, response.text
    assert response.json()["results"][0]["error_code"] == "DRS.M05003"


def test_expired_token(keyed_server: Server, keyed_tenant: Tenant) -> None:
    expires_at = int(time.time()) - 3600
    token = mint(keyed_tenant, expires_at - 86400, expires_at)
    response = call(keyed_server, token, "POST", STATUS.format(project_id=keyed_tenant.project_id), {"jobs": [UNKNOWN]})
    assert response.status_code == 401
    shown = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires_at))
    assert response.json() == {
        "error_code": "APIGW.0301",
        "error_msg": f"Incorrect IAM authentication information: token expires, expires_at: {shown}.",
    }


def test_token_signed_with_another_secret(keyed_server: Server, keyed_tenant: Tenant) -> None:
    token = mint(keyed_tenant, time.time(), time.time() + 600, secret="another-secret")
    response = call(keyed_server, token, "POST", STATUS.format(project_id=keyed_tenant.project_id), {"jobs": [UNKNOWN]})
    assert response.status_code == 401
    assert response.json() == {"error_code": "APIGW.0301", "error_msg": FORGED}


def test_a_token_of_one_installation_is_refused_by_another(api: Api, keyed_server: Server) -> None:
    response = call(keyed_server, api.token, "POST", STATUS.format(project_id=api.project_id), {"jobs": [UNKNOWN]})
    assert response.status_code == 401
    assert response.json() == {"error_code": "APIGW.0301", "error_msg": FORGED}


# Tokens across processes ---------------------------------------------------------------------------


def test_token_survives_a_restart_and_is_verified_by_a_second_server(tmp_path: Path) -> None:
    data_dir = tmp_path / "shared"
    with serve(data_dir) as first, serve(data_dir) as second:
        assert first.base_url != second.base_url
        secret_file = data_dir / "secret.key"
        assert stat.S_IMODE(os.stat(secret_file).st_mode) == 0o600
        tenant = create_tenant(first, "r")
        with Api(first, tenant) as on_first:
            [job_id] = on_first.create_tasks(1)
            token = on_first.token
        seen = call(second, token, "POST", STATUS.format(project_id=tenant.project_id), {"jobs": [job_id]})
        assert seen.status_code == 200, seen.text
        assert seen.json()["results"] == [{"id": job_id, "status": "CONFIGURATION"}]
    with serve(data_dir) as restarted:
        again = call(restarted, token, "POST", STATUS.format(project_id=tenant.project_id), {"jobs": [job_id]})
        assert again.status_code == 200, again.text
        assert again.json()["results"] == [{"id": job_id, "status": "CONFIGURATION"}]


# Tenant isolation ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def own_task(api: Api) -> str:
    [job_id] = api.create_tasks(1)
    return job_id


def not_found(job_id: str, message_key: str) -> dict[str, str]:
    return {"error_code": "DRS.M05003", message_key: f"Task information not found: {job_id}."}


def test_other_tenant_cannot_read_status_detail_or_progress(api: Api, other_api: Api, own_task: str) -> None:
    status = checked(other_api.post(STATUS, {"jobs": [own_task]}))
    assert status.status_code == 200
    assert status.json() == {"results": [{"id": own_task, **not_found(own_task, "error_message")}], "count": 1}
    detail = checked(other_api.post("/v3/{project_id}/jobs/batch-detail", {"jobs": [own_task]}))
    assert detail.status_code == 200
    assert detail.json() == {"results": [{"id": own_task, **not_found(own_task, "error_message")}], "count": 1}
    progress = checked(other_api.post("/v3/{project_id}/jobs/batch-progress", {"jobs": [own_task]}))
    assert progress.status_code == 202
    assert progress.json() == {"results": [{"job_id": own_task, **not_found(own_task, "error_msg")}], "count": 1}
    # The owner sees it.
    mine = checked(api.post("/v3/{project_id}/jobs/batch-detail", {"jobs": [own_task]})).json()["results"][0]
    assert mine["id"] == own_task and mine["status"] == "CONFIGURATION"


@pytest.mark.parametrize("delete_type", ["terminate", "force_terminate", "delete"])
def test_other_tenant_cannot_stop_or_delete(api: Api, other_api: Api, own_task: str, delete_type: str) -> None:
    response = checked(
        other_api.delete(
            "/v3/{project_id}/jobs/batch-jobs", {"jobs": [{"job_id": own_task, "delete_type": delete_type}]}
        )
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["count"] == 1
    assert body["results"] == [{"id": own_task, "status": "failed", **not_found(own_task, "error_msg")}]
    assert api.status(own_task) == "CONFIGURATION"


def test_other_tenant_list_excludes_the_task(api: Api, other_api: Api, own_task: str) -> None:
    def listed(client: Api) -> list[str]:
        response = checked(
            client.post("/v3/{project_id}/jobs", {"db_use_type": "migration", "cur_page": 0, "per_page": 0})
        )
        assert response.status_code == 200, response.text
        return [job["id"] for job in response.json()["jobs"]]

    assert own_task in listed(api)
    assert own_task not in listed(other_api)
    by_id = checked(other_api.post("/v3/{project_id}/jobs", {"db_use_type": "migration", "name": own_task}))
    assert by_id.json()["jobs"] == []


def test_other_tenant_cannot_see_the_creation_operation(api: Api, other_api: Api) -> None:
    created = checked(api.post("/v3/{project_id}/jobs/batch-creation", {"jobs": [new_task_spec()]}))
    assert created.status_code == 202
    operation_id = created.json()["job_id"]
    assert checked(api.get(f"/v1/{{project_id}}/jobs/{operation_id}")).status_code == 200
    foreign = checked(other_api.get(f"/v1/{{project_id}}/jobs/{operation_id}"))
    assert foreign.status_code == 404
    assert foreign.json()["error_code"] == "Ecs.0404"
