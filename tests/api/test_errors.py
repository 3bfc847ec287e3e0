"""Errors across the API: contract format, X-Language, request ids, gateway checks (size, type), routing."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.harness import Api, Tenant, new_task_spec

STATUS = "/v3/{project_id}/jobs/batch-status"
UNKNOWN = "9a470239-2308-4bb5-a6bc-1040402fjb21"
JSON_TYPE = "application/json;charset=UTF-8"
MIB = 1024 * 1024


def checked(response: httpx.Response) -> httpx.Response:
    """What every answer has: a request id, a JSON content type, no server error, no traceback."""
    assert response.status_code < 500, response.text
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers.get("X-Request-Id", "")), response.headers
    assert response.headers["X-Openstack-Request-Id"] == response.headers["X-Request-Id"]
    assert response.headers["Content-Type"] == JSON_TYPE
    assert "Traceback" not in response.text
    assert 'File "' not in response.text
    return response


def send(api: Api, method: str, path: str, *, token: bool = True, **kwargs: Any) -> httpx.Response:
    url = api.server.base_url + path.replace("{project_id}", api.project_id)
    headers = dict(kwargs.pop("headers", {}))
    if token:
        headers["X-Auth-Token"] = api.token
    return checked(httpx.request(method, url, headers=headers, timeout=60, **kwargs))


@dataclasses.dataclass(frozen=True)
class Case:
    """One kind of error: how to trigger it, and what it answers in each language."""

    method: str
    path: str
    status: int
    code: str
    en: str
    zh: str
    kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    token: bool = True
    message_of: Callable[[dict[str, Any]], str] = lambda body: str(body["error_msg"])
    code_of: Callable[[dict[str, Any]], str] = lambda body: str(body["error_code"])


def per_job_message(body: dict[str, Any]) -> str:
    return str(body["results"][0]["error_message"])


def per_job_code(body: dict[str, Any]) -> str:
    return str(body["results"][0]["error_code"])


OTHER_PROJECT = "0" * 32
BAD_CREDENTIALS_BODY = {
    "auth": {
        "identity": {
            "methods": ["password"],
            "password": {"user": {"name": "nobody", "password": "wrong", "domain": {"name": "nowhere"}}},
        }
    }
}

CASES = {
    "M00201": Case(
        "POST", STATUS, 400, "DRS.M00201", "The parameter jobs is empty.", "参数jobs为空。", {"json": {"jobs": []}}
    ),
    "M00202": Case(
        "POST",
        STATUS,
        400,
        "DRS.M00202",
        "The value of parameter jobs is invalid: must be an array.",
        "参数jobs的值无效：必须是数组。",
        {"json": {"jobs": "x"}},
    ),
    "M00202 body": Case(
        "POST",
        STATUS,
        400,
        "DRS.M00202",
        "The value of parameter body is invalid: must be an object.",
        "参数body的值无效：必须是对象。",
        {"json": [UNKNOWN]},
    ),
    "M00210": Case(
        "POST",
        STATUS,
        400,
        "DRS.M00210",
        "The value of Page is invalid, per_page must be from 0 to 100.",
        "分页参数无效，per_page必须在0到100之间。",
        {"json": {"jobs": [UNKNOWN], "page_req": {"cur_page": 1, "per_page": 101}}},
    ),
    "M00211": Case(
        "POST",
        STATUS,
        400,
        "DRS.M00211",
        "The value of Page exceeds the upper limit: cur_page 3 is beyond the last page 1.",
        "分页参数超过上限：cur_page 3超出最后一页1。",
        {"json": {"jobs": [UNKNOWN], "page_req": {"cur_page": 3, "per_page": 5}}},
    ),
    "M00301": Case(
        "POST",
        STATUS,
        400,
        "DRS.M00301",
        f"There are duplicate jobs in request: {UNKNOWN}.",
        f"请求中存在重复的jobs：{UNKNOWN}。",
        {"json": {"jobs": [UNKNOWN, UNKNOWN]}},
    ),
    "M00261": Case(
        "POST",
        STATUS.replace("{project_id}", OTHER_PROJECT),
        403,
        "DRS.M00261",
        f"Invalid project ID: the credentials are not valid for project {OTHER_PROJECT}.",
        f"无效的项目ID：凭证不能用于项目{OTHER_PROJECT}。",
        {"json": {"jobs": [UNKNOWN]}},
    ),
    "APIGW.0301": Case(
        "POST",
        STATUS,
        401,
        "APIGW.0301",
        "Incorrect IAM authentication information: x-auth-token not found.",
        "IAM认证信息错误：未找到x-auth-token。",
        {"json": {"jobs": [UNKNOWN]}},
        token=False,
    ),
    "KE0002": Case(
        "POST",
        "/v3/auth/tokens",
        401,
        "DRS.KE0002",
        "The username or password is incorrect.",
        "用户名或密码错误。",
        {"json": BAD_CREDENTIALS_BODY},
        token=False,
    ),
    "M05003 per job": Case(
        "POST",
        STATUS,
        200,
        "DRS.M05003",
        f"Task information not found: {UNKNOWN}.",
        f"未找到任务信息：{UNKNOWN}。",
        {"json": {"jobs": [UNKNOWN]}},
        message_of=per_job_message,
        code_of=per_job_code,
    ),
    "404": Case(
        "POST",
        "/v3/{project_id}/jobs/no-such-api",
        404,
        "APIGW.0101",
        "The API does not exist: /v3/{project_id}/jobs/no-such-api.",
        "API不存在：/v3/{project_id}/jobs/no-such-api。",
        {"json": {"jobs": [UNKNOWN]}},
    ),
    "404 outside the API": Case(
        "GET",
        "/no/such/path",
        404,
        "APIGW.0101",
        "The API does not exist: /no/such/path.",
        "API不存在：/no/such/path。",
        token=False,
    ),
    "405": Case(
        "GET",
        STATUS,
        405,
        "APIGW.0102",
        "The method GET is not allowed on /v3/{project_id}/jobs/batch-status.",
        "/v3/{project_id}/jobs/batch-status不支持GET方法。",
    ),
    "415": Case(
        "POST",
        STATUS,
        415,
        "DRS.M00300",
        "Invalid request, Content-Type must be application/json.",
        "无效的请求，Content-Type必须为application/json。",
        {"content": b'{"jobs": ["' + UNKNOWN.encode() + b'"]}', "headers": {"Content-Type": "text/plain"}},
    ),
    "413": Case(
        "POST",
        STATUS,
        413,
        "DRS.M00300",
        "Invalid request, the body is larger than 2097152 bytes.",
        "无效的请求，请求体超过2097152字节。",
        {"content": b'{"jobs": ["' + b"x" * (3 * MIB) + b'"]}', "headers": {"Content-Type": "application/json"}},
    ),
    "malformed JSON": Case(
        "POST",
        STATUS,
        400,
        "DRS.M00300",
        "Invalid request, the body is not valid JSON: Expecting value at character 9.",
        "无效的请求，请求体不是有效的JSON：第9个字符处Expecting value。",
        {"content": b'{"jobs": x}', "headers": {"Content-Type": "application/json"}},
    ),
}


def trigger(api: Api, case: Case, language: str | None) -> httpx.Response:
    kwargs = dict(case.kwargs)
    headers = dict(kwargs.pop("headers", {}))
    if language is not None:
        headers["X-Language"] = language
    response = send(api, case.method, case.path, token=case.token, headers=headers, **kwargs)
    assert response.status_code == case.status, response.text
    return response


def expected(api: Api, text: str) -> str:
    return text.replace("{project_id}", api.project_id)


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("language", [None, "en-us", "EN-US", "fr-fr", "zh", "zh_CN", ""])
def test_english(api: Api, name: str, language: str | None) -> None:
    case = CASES[name]
    body = trigger(api, case, language).json()
    assert case.code_of(body) == case.code
    assert case.message_of(body) == expected(api, case.en)


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("language", ["zh-cn", "ZH-CN", "Zh-Cn"])
def test_chinese(api: Api, name: str, language: str) -> None:
    case = CASES[name]
    body = trigger(api, case, language).json()
    assert case.code_of(body) == case.code
    assert case.message_of(body) == expected(api, case.zh)


def test_error_bodies_have_exactly_the_contract_keys(api: Api) -> None:
    for name, case in CASES.items():
        if case.status == 200 or case.path == "/v3/auth/tokens":
            continue  # per-job errors; the keystone-style body (tested in test_iam)
        body = trigger(api, case, None).json()
        assert set(body) == {"error_code", "error_msg"}, name
        assert isinstance(body["error_msg"], str) and body["error_msg"], name


def test_keystone_error_is_in_the_requested_language(api: Api) -> None:
    body = trigger(api, CASES["KE0002"], "zh-cn").json()
    assert body["error"]["code"] == 401
    assert body["error"]["message"] == "用户名或密码错误。"


# Request ids ----------------------------------------------------------------------------------------


def test_every_response_has_a_unique_request_id(api: Api) -> None:
    responses = [send(api, "GET", "/v3", token=False)]
    responses.append(send(api, "POST", STATUS, json={"jobs": [UNKNOWN]}))
    for name in ("M00201", "APIGW.0301", "M00261", "404", "405", "413", "415", "malformed JSON"):
        responses.append(trigger(api, CASES[name], None))
    responses.append(send(api, "POST", STATUS, json={"jobs": [UNKNOWN]}))  # the same request again
    statuses = {response.status_code for response in responses}
    assert statuses == {200, 400, 401, 403, 404, 405, 413, 415}
    ids = [response.headers["X-Request-Id"] for response in responses]
    assert len(set(ids)) == len(ids)


# Body handling ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "position"),
    [(b'{"jobs": x}', 9), (b'{"jobs": [', 10), (b'{"jobs": [1,]}', 12), (b"{", 1), (b'{"jobs" ["a"]}', 8)],
)
def test_malformed_json_names_the_position(api: Api, content: bytes, position: int) -> None:
    response = send(api, "POST", STATUS, content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    body = response.json()
    assert body["error_code"] == "DRS.M00300"
    assert re.fullmatch(
        rf"Invalid request, the body is not valid JSON: .+ at character {position}\.", body["error_msg"]
    )


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b'{"jobs": ["\xff\xfe"]}', id="not-utf8"),
        pytest.param(b'{"jobs": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", id="nested-too-deep"),
        pytest.param(b'{"jobs": [' + b"9" * 5000 + b"]}", id="number-too-long"),
    ],
)
def test_a_body_the_parser_cannot_read_is_a_malformed_request(api: Api, content: bytes) -> None:
    """Not a missing API, nor a 500: a 400 that says what the body must be."""
    response = send(api, "POST", STATUS, content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json() == {
        "error_code": "DRS.M00300",
        "error_msg": "Invalid request, the body cannot be read as JSON: send it UTF-8 encoded, nested at most a few"
        " hundred levels deep, with numbers of at most 4300 digits.",
    }


@pytest.mark.parametrize(
    ("content", "code", "message"),
    [
        (b"[]", "DRS.M00202", "The value of parameter body is invalid: must be an object."),
        (b'["' + UNKNOWN.encode() + b'"]', "DRS.M00202", "The value of parameter body is invalid: must be an object."),
        (b"null", "DRS.M00202", "The value of parameter body is invalid: must be an object."),
        (b'"jobs"', "DRS.M00202", "The value of parameter body is invalid: must be an object."),
        (b"", "DRS.M00201", "The parameter body is empty."),
    ],
)
def test_body_that_is_not_an_object(api: Api, content: bytes, code: str, message: str) -> None:
    response = send(api, "POST", STATUS, content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json() == {"error_code": code, "error_msg": message}


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml", ""])
@pytest.mark.parametrize(
    ("method", "path"), [("POST", STATUS), ("DELETE", "/v3/{project_id}/jobs/batch-jobs"), ("POST", "/v3/auth/tokens")]
)
def test_a_body_that_is_not_json_is_refused(api: Api, content_type: str, method: str, path: str) -> None:
    body = b'{"jobs": [{"job_id": "' + UNKNOWN.encode() + b'", "delete_type": "terminate"}]}'
    response = send(api, method, path, content=body, headers={"Content-Type": content_type})
    assert response.status_code == 415
    assert response.json() == {
        "error_code": "DRS.M00300",
        "error_msg": "Invalid request, Content-Type must be application/json.",
    }


@pytest.mark.parametrize("content_type", ["application/json", "APPLICATION/JSON", "application/json; charset=utf-8"])
def test_json_content_types_are_accepted(api: Api, content_type: str) -> None:
    body = b'{"jobs": ["' + UNKNOWN.encode() + b'"]}'
    response = send(api, "POST", STATUS, content=body, headers={"Content-Type": content_type})
    assert response.status_code == 200
    assert response.json()["results"][0]["error_code"] == "DRS.M05003"


def test_body_over_the_cap(api: Api) -> None:
    response = trigger(api, CASES["413"], None)
    assert response.json() == {
        "error_code": "DRS.M00300",
        "error_msg": "Invalid request, the body is larger than 2097152 bytes.",
    }
    # The cap is checked before authentication: a stranger's big body is refused the same way.
    stranger = send(api, "POST", STATUS, token=False, **CASES["413"].kwargs)
    assert stranger.status_code == 413


def test_body_just_under_the_cap(api: Api) -> None:
    padding = 2 * MIB - 200
    content = b'{"pad": "' + b"x" * padding + b'", "jobs": ["' + UNKNOWN.encode() + b'"]}'
    assert len(content) <= 2 * MIB
    response = send(api, "POST", STATUS, content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text


# Routing ----------------------------------------------------------------------------------------------


def test_unknown_paths(api: Api) -> None:
    for path, token in [("/v3/{project_id}/jobs/batch-nothing", True), ("/v9/x", False), ("/", False)]:
        response = send(api, "GET", path, token=token)
        assert response.status_code == 404, path
        assert response.json() == {
            "error_code": "APIGW.0101",
            "error_msg": f"The API does not exist: {expected(api, path)}.",
        }


def test_a_message_quoting_a_long_input_is_cut_to_the_contracts_512_characters(api: Api) -> None:
    path = "/v5/{project_id}/" + "x" * 2000
    response = send(api, "GET", path)
    assert response.status_code == 404
    message = response.json()["error_msg"]
    assert len(message) == 512
    assert message == f"The API does not exist: {expected(api, path)}"[:511] + "…"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", STATUS),
        ("PUT", STATUS),
        ("GET", "/v3/{project_id}/jobs/batch-jobs"),
        ("GET", "/v3/auth/tokens"),
        ("DELETE", "/v1/{project_id}/jobs/" + "0" * 32),
    ],
)
def test_wrong_method(api: Api, method: str, path: str) -> None:
    response = send(api, method, path)
    assert response.status_code == 405
    body = response.json()
    assert {key: body[key] for key in ("error_code", "error_msg")} == {
        "error_code": "APIGW.0102",
        "error_msg": f"The method {method} is not allowed on {expected(api, path)}.",
    }


def test_405_names_the_allowed_methods(api: Api) -> None:
    """RFC 9110 15.5.6: a 405 response must carry an Allow header."""
    response = send(api, "GET", STATUS)
    assert response.status_code == 405
    assert response.headers.get("Allow") == "POST"


def test_drs_prefix_alias(api: Api) -> None:
    [job_id] = api.create_tasks(1)
    plain = send(api, "POST", STATUS, json={"jobs": [job_id, UNKNOWN]})
    prefixed = send(api, "POST", "/drs" + STATUS, json={"jobs": [job_id, UNKNOWN]})
    assert prefixed.status_code == plain.status_code == 200
    assert prefixed.json() == plain.json()
    assert prefixed.json()["results"][0] == {"id": job_id, "status": "CONFIGURATION"}
    progress = send(api, "POST", "/drs/v3/{project_id}/jobs/batch-progress", json={"jobs": [job_id]})
    assert progress.status_code == 202
    assert progress.json()["results"][0]["job_id"] == job_id


def test_drs_prefix_is_authenticated_like_the_plain_path(api: Api, other_tenant: Tenant) -> None:
    anonymous = send(api, "POST", "/drs" + STATUS, token=False, json={"jobs": [UNKNOWN]})
    assert anonymous.status_code == 401
    assert anonymous.json()["error_code"] == "APIGW.0301"
    foreign = send(api, "POST", f"/drs/v3/{other_tenant.project_id}/jobs/batch-status", json={"jobs": [UNKNOWN]})
    assert foreign.status_code == 403
    assert foreign.json()["error_code"] == "DRS.M00261"


def test_get_with_a_json_content_type_and_no_body(api: Api, tenant: Tenant) -> None:
    """The SDK sends Content-Type: application/json on bodiless GETs (AUTH.md 8.2)."""
    created = send(api, "POST", "/v3/{project_id}/jobs/batch-creation", json={"jobs": [new_task_spec()]})
    assert created.status_code == 202
    operation_id = created.json()["job_id"]
    headers = {"Content-Type": "application/json"}
    for path, token in [
        ("/v3", False),
        (f"/v3/projects?name={tenant.project_name}", True),
        ("/v5/{project_id}/batch-async-jobs", True),
        (f"/v1/{{project_id}}/jobs/{operation_id}", True),
    ]:
        response = send(api, "GET", path, token=token, headers=headers)
        assert response.status_code == 200, f"{path}: {response.text}"


def test_json_answers_declare_utf8(api: Api) -> None:
    response = send(api, "POST", STATUS, json={"jobs": [UNKNOWN]}, headers={"X-Language": "zh-cn"})
    assert response.headers["Content-Type"] == JSON_TYPE
    assert "未找到任务信息".encode() in response.content  # UTF-8, not \\u escapes
