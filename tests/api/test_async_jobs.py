"""The DRS v5 batch-async family end to end (spec/API.md 2.3, 4, 6.3).

POST /v5/{project_id}/jobs/batch-async-create stores job specs and answers at once; a background
validation moves the async job to AUTO_PARAM_VALIDATE_SUCCESS or ASYNC_JOB_VALIDATE_FAILED; PUT fixes
specs (back to ASYNC_JOB_VALIDATING); commit turns a validated async job into v3 tasks.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.harness import DEADLINE, Api, Server, Tenant, create_tenant, wait_for

CREATE = "/v5/{project_id}/jobs/batch-async-create"
LIST = "/v5/{project_id}/batch-async-jobs"

VALIDATING = "ASYNC_JOB_VALIDATING"
FAILED = "ASYNC_JOB_VALIDATE_FAILED"
VALIDATED = "AUTO_PARAM_VALIDATE_SUCCESS"
COMMITTED = "COMMIT_SUCCESS"

SOURCE_PASSWORD = "src-Pa55w0rd-e1a7c3"
TARGET_PASSWORD = "tgt-Pa55w0rd-94b0d2"
UNKNOWN_JOB = "9a470239-2308-4bb5-a6bc-1040402fjb21"

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
JOB_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{8}jb[0-9a-z]{2}$")
HEX32 = re.compile(r"^[0-9a-f]{32}$")
ISO_SECONDS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
ISO_MILLIS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")

MISSING = object()  # set_path: remove the key


# Specs ---------------------------------------------------------------------------------------------


def unique_name() -> str:
    return f"v5-{uuid.uuid4().hex[:12]}"


def endpoint_info(role: str, ip: str, password: str) -> dict[str, Any]:
    return {
        "db_type": "mysql",
        "endpoint_type": "offline",
        "endpoint_role": role,
        "endpoint": {
            "endpoint_name": "mysql",
            "ip": ip,
            "db_port": "3306",
            "db_user": "root",
            "db_password": password,
        },
    }


def job_spec(name: str | None = None, **base_info: str) -> dict[str, Any]:
    """A valid MySQL -> MySQL job, shaped like the API.md 4.1 example."""
    return {
        "base_info": {
            "name": name or unique_name(),
            "job_type": "sync",
            "engine_type": "mysql-to-mysql",
            "job_direction": "up",
            "task_type": "FULL_INCR_TRANS",
            "net_type": "eip",
            **base_info,
        },
        "source_endpoint": [endpoint_info("so", "10.0.0.5", SOURCE_PASSWORD)],
        "target_endpoint": [endpoint_info("ta", "10.0.0.6", TARGET_PASSWORD)],
        "policy_config": {},
        "db_object": {"object_scope": "all"},
        "node_info": {"spec": {"node_type": "high"}},
    }


def set_path(document: dict[str, Any], path: str, value: object) -> dict[str, Any]:
    """A copy of `document` with the value at dotted `path` (list positions as numbers) replaced or removed."""
    changed = copy.deepcopy(document)
    *parents, last = path.split(".")
    node: Any = changed
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if value is MISSING:
        del node[last]
    else:
        node[last] = value
    return changed


def echoed(spec: dict[str, Any]) -> dict[str, Any]:
    """What GET detail shows of a submitted spec: everything but the passwords."""
    shown = copy.deepcopy(spec)
    for key in ("source_endpoint", "target_endpoint"):
        for info in shown[key]:
            info["endpoint"].pop("db_password", None)
    return shown


def assert_no_password(text: str) -> None:
    assert "password" not in text.lower()
    assert SOURCE_PASSWORD not in text
    assert TARGET_PASSWORD not in text


def assert_recent_iso_seconds(value: str) -> None:
    assert ISO_SECONDS.match(value), value
    moment = dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    assert abs((dt.datetime.now(dt.UTC) - moment).total_seconds()) < 120, value


# Steps ---------------------------------------------------------------------------------------------


def detail_path(async_job_id: str) -> str:
    return f"/v5/{{project_id}}/batch-async-jobs/{async_job_id}"


def submit(api: Api, *specs: dict[str, Any]) -> str:
    response = api.post(CREATE, {"jobs": list(specs)})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body == {"job": {"async_job_id": body["job"]["async_job_id"]}}
    async_job_id: str = body["job"]["async_job_id"]
    assert UUID.match(async_job_id), async_job_id
    return async_job_id


def summary(api: Api, async_job_id: str) -> dict[str, Any]:
    response = api.get(LIST, params={"async_job_id": async_job_id})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total_count"] == 1, body
    job: dict[str, Any] = body["jobs"][0]
    return job


def async_status(api: Api, async_job_id: str) -> str:
    status: str = summary(api, async_job_id)["status"]
    return status


def settled(api: Api, async_job_id: str, deadline: float = DEADLINE) -> str:
    """The async job's status once the background validation is done with it."""

    def done() -> str | None:
        status = async_status(api, async_job_id)
        return None if status == VALIDATING else status

    return wait_for(done, f"async job {async_job_id} to leave {VALIDATING}", deadline)


def detail(api: Api, async_job_id: str, **headers: str) -> dict[str, Any]:
    response = api.get(detail_path(async_job_id), headers=headers)
    assert response.status_code == 200, response.text
    assert_no_password(response.text)
    body: dict[str, Any] = response.json()
    return body


def validated(api: Api, *specs: dict[str, Any]) -> str:
    async_job_id = submit(api, *specs)
    assert settled(api, async_job_id) == VALIDATED
    return async_job_id


def failing(api: Api, *specs: dict[str, Any]) -> str:
    async_job_id = submit(api, *specs)
    assert settled(api, async_job_id) == FAILED
    return async_job_id


def put(api: Api, async_job_id: str, *updates: dict[str, Any], **headers: str) -> dict[str, Any]:
    response = api.put(detail_path(async_job_id), {"jobs": list(updates)}, headers=headers)
    assert response.status_code == 200, response.text
    assert_no_password(response.text)
    body: dict[str, Any] = response.json()
    return body


def commit(api: Api, async_job_id: str, **headers: str) -> httpx.Response:
    return api.post(f"/v5/{{project_id}}/batch-async-jobs/{async_job_id}/commit", headers=headers)


def error(code: str, message: str) -> dict[str, str]:
    return {"error_code": code, "error_msg": message}


def not_found(async_job_id: str) -> dict[str, str]:
    return error("DRS.10000010", f"Job does not exist, please check job ID: {async_job_id}.")


# Creation --------------------------------------------------------------------------------------------


def test_create_answers_an_async_job_id_listed_with_the_caller(api: Api) -> None:
    async_job_id = submit(api, job_spec())

    listed = summary(api, async_job_id)
    assert listed == {
        "async_job_id": async_job_id,
        "status": listed["status"],
        "domain_name": api.tenant.domain,
        "user_name": api.tenant.user,
        "create_time": listed["create_time"],
    }
    assert listed["status"] in (VALIDATING, VALIDATED)
    assert_recent_iso_seconds(listed["create_time"])
    assert settled(api, async_job_id) == VALIDATED
    assert summary(api, async_job_id) == {**listed, "status": VALIDATED}


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ({}, "DRS.M00201", "The parameter jobs is empty."),
        ({"jobs": []}, "DRS.M00201", "The parameter jobs is empty."),
        ({"jobs": "x"}, "DRS.M00202", "The value of parameter jobs is invalid: must be an array."),
        ({"jobs": [1]}, "DRS.M00202", "The value of parameter jobs[0] is invalid: must be an object."),
        (
            {"jobs": [set_path(job_spec(), "base_info", MISSING)]},
            "DRS.M00201",
            "The parameter jobs[0].base_info is empty.",
        ),
        (
            {"jobs": [set_path(job_spec(), "base_info", "sync")]},
            "DRS.M00202",
            "The value of parameter jobs[0].base_info is invalid: must be an object.",
        ),
        (
            {"jobs": [set_path(job_spec(), "source_endpoint", endpoint_info("so", "10.0.0.5", SOURCE_PASSWORD))]},
            "DRS.M00202",
            "The value of parameter jobs[0].source_endpoint is invalid: must be an array.",
        ),
        (
            {"jobs": [set_path(job_spec(), "source_endpoint", ["10.0.0.5"])]},
            "DRS.M00202",
            "The value of parameter jobs[0].source_endpoint[0] is invalid: must be an object.",
        ),
        (
            {"jobs": [job_spec(), set_path(job_spec(), "target_endpoint", MISSING)]},
            "DRS.M00201",
            "The parameter jobs[1].target_endpoint is empty.",
        ),
        (
            {"jobs": [set_path(job_spec(), "node_info", [])]},
            "DRS.M00202",
            "The value of parameter jobs[0].node_info is invalid: must be an object.",
        ),
    ],
)
def test_shape_errors_are_refused_at_once(api: Api, body: dict[str, Any], code: str, message: str) -> None:
    before = api.get(LIST).json()["total_count"]
    response = api.post(CREATE, body)
    assert response.status_code == 400
    assert response.json() == error(code, message)
    assert api.get(LIST).json()["total_count"] == before


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            "base_info.engine_type",
            "oracle-to-gaussdbv5",
            "base_info.engine_type oracle-to-gaussdbv5 is not supported by opendrs; "
            "supported: mysql-to-mysql, postgresql-to-postgresql, redis-to-redis",
        ),
        (
            "base_info.name",
            "1bad",
            "base_info.name must be 4 to 50 letters, digits, '-' or '_', starting with a letter",
        ),
        ("base_info.name", "abc", "base_info.name must be 4 to 50 letters, digits, '-' or '_', starting with a letter"),
        ("base_info.job_type", "backup", "base_info.job_type must be one of migration, sync, cloudDataGuard"),
        ("base_info.task_type", MISSING, "base_info.task_type is required"),
        (
            "source_endpoint.0.endpoint_role",
            "ta",
            "source_endpoint must hold exactly one endpoint with endpoint_role so",
        ),
        (
            "target_endpoint.0.endpoint_role",
            "so",
            "target_endpoint must hold exactly one endpoint with endpoint_role ta",
        ),
        (
            "source_endpoint.0.endpoint_type",
            "onprem",
            "source_endpoint[0].endpoint_type must be one of offline, ecs, cloud",
        ),
        (
            "target_endpoint.0.db_type",
            "postgresql",
            "target_endpoint[0].db_type must be mysql for engine_type mysql-to-mysql",
        ),
        (
            "source_endpoint.0.endpoint.db_port",
            "70000",
            "source_endpoint[0].endpoint.db_port must be a port number from 1 to 65535",
        ),
        ("db_object.object_scope", "everything", "db_object.object_scope must be one of all, database, table"),
    ],
)
def test_a_bad_value_is_accepted_then_fails_validation(api: Api, path: str, value: object, message: str) -> None:
    spec = set_path(job_spec(), path, value)
    async_job_id = failing(api, spec)

    body = detail(api, async_job_id)
    assert body["total_count"] == 1
    [job] = body["jobs"]
    assert job["status"] == FAILED
    assert job["logs"] == [{"level": "ERROR", "message": message, "create_time": job["logs"][0]["create_time"]}]
    assert_recent_iso_seconds(job["logs"][0]["create_time"])
    assert {key: job[key] for key in echoed(spec)} == echoed(spec)


def test_one_log_per_problem_in_the_callers_language(api: Api) -> None:
    spec = job_spec("1bad", engine_type="oracle-to-gaussdbv5")
    spec = set_path(spec, "source_endpoint.0.endpoint_role", "ta")
    async_job_id = failing(api, spec)

    [english] = detail(api, async_job_id)["jobs"]
    assert english["status"] == FAILED
    assert {log["level"] for log in english["logs"]} == {"ERROR"}
    assert sorted(log["message"] for log in english["logs"]) == [
        "base_info.engine_type oracle-to-gaussdbv5 is not supported by opendrs; "
        "supported: mysql-to-mysql, postgresql-to-postgresql, redis-to-redis",
        "base_info.name must be 4 to 50 letters, digits, '-' or '_', starting with a letter",
        "source_endpoint must hold exactly one endpoint with endpoint_role so",
    ]

    [chinese] = detail(api, async_job_id, **{"X-Language": "zh-cn"})["jobs"]
    assert chinese["status"] == FAILED
    assert {log["level"] for log in chinese["logs"]} == {"ERROR"}
    assert sorted(log["message"] for log in chinese["logs"]) == [
        "base_info.engine_type：opendrs不支持oracle-to-gaussdbv5；"
        "支持：mysql-to-mysql, postgresql-to-postgresql, redis-to-redis",
        "base_info.name：必须为4到50个字母、数字、“-”或“_”，并以字母开头",
        "source_endpoint：必须且只能包含一个endpoint_role为so的端点",
    ]


def test_duplicate_names_in_one_batch_fail_validation(api: Api) -> None:
    name = unique_name()
    first, second = job_spec(name), job_spec(name.upper())
    async_job_id = failing(api, first, second)

    body = detail(api, async_job_id)
    assert body["total_count"] == 2
    by_name = {job["base_info"]["name"]: job for job in body["jobs"]}
    assert by_name[name]["logs"] == []
    assert by_name[name]["status"] == VALIDATED
    assert by_name[name.upper()]["status"] == FAILED
    assert [log["message"] for log in by_name[name.upper()]["logs"]] == [
        f"base_info.name {name.upper()} is already the name of another task"
    ]

    # Renaming the second job (params.job_id picks it) clears the conflict.
    renamed = unique_name()
    second_id = by_name[name.upper()]["id"]
    answer = put(
        api,
        async_job_id,
        {"type": "name", "params": {"job_id": second_id, "base_info": {**second["base_info"], "name": renamed}}},
    )
    assert answer == {"jobs": [{"id": second_id, "name": renamed, "status": "success"}]}
    assert settled(api, async_job_id) == VALIDATED


def test_the_name_of_an_existing_v3_task_fails_validation(api: Api) -> None:
    name = unique_name()
    api.create_tasks(1, name=name)
    async_job_id = failing(api, job_spec(name.upper()))

    [job] = detail(api, async_job_id)["jobs"]
    assert [log["message"] for log in job["logs"]] == [
        f"base_info.name {name.upper()} is already the name of another task"
    ]


# Detail ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def three(api: Api) -> tuple[str, list[dict[str, Any]]]:
    specs = [job_spec(), job_spec(job_type="migration", task_type="FULL_TRANS"), job_spec(job_direction="down")]
    return validated(api, *specs), specs


def test_detail_echoes_the_jobs_with_reserved_ids_and_no_password(
    api: Api, three: tuple[str, list[dict[str, Any]]]
) -> None:
    async_job_id, specs = three
    body = detail(api, async_job_id)  # asserts that no password is in the text

    assert body["total_count"] == 3
    assert len(body["jobs"]) == 3
    by_name = {job["base_info"]["name"]: job for job in body["jobs"]}
    assert set(by_name) == {spec["base_info"]["name"] for spec in specs}
    for spec in specs:
        job = by_name[spec["base_info"]["name"]]
        assert JOB_ID.match(job["id"]), job["id"]
        assert job["status"] == VALIDATED
        assert job["logs"] == []
        assert_recent_iso_seconds(job["create_time"])
        assert {key: job[key] for key in echoed(spec)} == echoed(spec)
    assert len({job["id"] for job in body["jobs"]}) == 3
    assert detail(api, async_job_id) == body  # the reserved ids are stable


@pytest.mark.parametrize(
    ("params", "expected_slice"),
    [
        ({}, slice(0, 3)),
        ({"limit": "2"}, slice(0, 2)),
        ({"offset": "1", "limit": "1"}, slice(1, 2)),
        ({"offset": "2", "limit": "10"}, slice(2, 3)),
        ({"offset": "3"}, slice(3, 3)),
        ({"offset": "", "limit": ""}, slice(0, 3)),
    ],
)
def test_detail_offset_and_limit(
    api: Api, three: tuple[str, list[dict[str, Any]]], params: dict[str, str], expected_slice: slice
) -> None:
    async_job_id, _ = three
    everything = detail(api, async_job_id)["jobs"]
    response = api.get(detail_path(async_job_id), params=params)
    assert response.status_code == 200, response.text
    assert response.json() == {"total_count": 3, "jobs": everything[expected_slice]}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"limit": "0"}, "The value of parameter limit is invalid: must be a whole number from 1 to 1000."),
        ({"limit": "1001"}, "The value of parameter limit is invalid: must be a whole number from 1 to 1000."),
        ({"limit": "ten"}, "The value of parameter limit is invalid: must be a whole number from 1 to 1000."),
        ({"offset": "-1"}, "The value of parameter offset is invalid: must be a whole number from 0 to 2147483648."),
    ],
)
def test_detail_bad_paging(
    api: Api, three: tuple[str, list[dict[str, Any]]], params: dict[str, str], message: str
) -> None:
    response = api.get(detail_path(three[0]), params=params)
    assert response.status_code == 400
    assert response.json() == error("DRS.M00202", message)


def test_detail_of_an_unknown_async_job(api: Api) -> None:
    unknown = str(uuid.uuid4())
    response = api.get(detail_path(unknown))
    assert response.status_code == 400
    assert response.json() == not_found(unknown)


def test_passwords_are_stored_encrypted(server: Server, three: tuple[str, list[dict[str, Any]]]) -> None:
    table = sa.table("async_jobs", sa.column("id", sa.String), sa.column("entries", sa.JSON))
    engine = server.engine()
    try:
        with engine.connect() as connection:
            entries = connection.execute(sa.select(table.c.entries).where(table.c.id == three[0])).scalar_one()
    finally:
        engine.dispose()
    assert len(entries) == 3
    stored = repr(entries)
    assert SOURCE_PASSWORD not in stored
    assert TARGET_PASSWORD not in stored
    for entry in entries:  # both passwords are kept, encrypted, for the tasks the commit creates
        assert len(entry["secrets"]) == 2
        assert all(isinstance(value, str) and len(value) > len(SOURCE_PASSWORD) for value in entry["secrets"].values())


# PUT -------------------------------------------------------------------------------------------------


def _fix_all(spec: dict[str, Any], job_id: str, good: dict[str, Any]) -> dict[str, Any]:
    return {"job_id": job_id, **good}


def _fix_network(spec: dict[str, Any], job_id: str, good: dict[str, Any]) -> dict[str, Any]:
    return {"job_id": job_id, "source_endpoint": good["source_endpoint"], "target_endpoint": good["target_endpoint"]}


def _fix_name(spec: dict[str, Any], job_id: str, good: dict[str, Any]) -> dict[str, Any]:
    return {"job_id": job_id, "base_info": {**spec["base_info"], "name": good["base_info"]["name"]}}


@pytest.mark.parametrize(
    ("update_type", "broken", "fix"),
    [
        ("all", {"base_info.name": "1bad", "base_info.engine_type": "oracle-to-gaussdbv5"}, _fix_all),
        ("network", {"source_endpoint.0.endpoint_role": "ta", "target_endpoint.0.endpoint.db_port": "0"}, _fix_network),
        ("name", {"base_info.name": "x"}, _fix_name),
    ],
)
def test_put_fixes_a_failed_job(
    api: Api, update_type: str, broken: dict[str, object], fix: Callable[..., dict[str, Any]]
) -> None:
    good = job_spec()
    spec = job_spec()
    for path, value in broken.items():
        spec = set_path(spec, path, value)
    async_job_id = failing(api, spec)
    [job] = detail(api, async_job_id)["jobs"]
    assert len(job["logs"]) == len(broken)

    params = fix(spec, job["id"], good)
    answer = put(api, async_job_id, {"type": update_type, "params": params})
    expected_name = good["base_info"]["name"] if update_type != "network" else spec["base_info"]["name"]
    assert answer == {"jobs": [{"id": job["id"], "name": expected_name, "status": "success"}]}
    assert async_status(api, async_job_id) in (VALIDATING, VALIDATED)  # an accepted update re-validates
    assert settled(api, async_job_id) == VALIDATED

    [fixed] = detail(api, async_job_id)["jobs"]
    assert fixed["id"] == job["id"]
    assert fixed["status"] == VALIDATED
    assert fixed["logs"] == []
    expected = {**spec, **{key: value for key, value in params.items() if key != "job_id"}}
    assert {key: fixed[key] for key in echoed(expected)} == echoed(expected)


@pytest.mark.parametrize(
    ("update_type", "field", "value"), [("name", "name", None), ("description", "description", "nightly")]
)
def test_put_of_one_base_info_field_keeps_the_others(api: Api, update_type: str, field: str, value: str | None) -> None:
    spec = job_spec()
    async_job_id = validated(api, spec)
    [job] = detail(api, async_job_id)["jobs"]
    new_value = value or unique_name()

    answer = put(
        api, async_job_id, {"type": update_type, "params": {"job_id": job["id"], "base_info": {field: new_value}}}
    )
    expected_name = new_value if field == "name" else spec["base_info"]["name"]
    assert answer == {"jobs": [{"id": job["id"], "name": expected_name, "status": "success"}]}
    assert settled(api, async_job_id) == VALIDATED
    [changed] = detail(api, async_job_id)["jobs"]
    assert changed["base_info"] == {**spec["base_info"], field: new_value}
    assert changed["logs"] == []


def test_put_of_a_job_not_in_the_batch_fails_that_entry(api: Api) -> None:
    spec = job_spec("1bad")
    async_job_id = failing(api, spec)

    answer = put(
        api, async_job_id, {"type": "name", "params": {"job_id": UNKNOWN_JOB, "base_info": job_spec()["base_info"]}}
    )
    assert answer == {
        "jobs": [
            {
                "id": UNKNOWN_JOB,
                "name": None,
                "status": "failed",
                "error_code": "DRS.10000001",
                "error_msg": "Failed: params.job_id must name one of the async job's jobs.",
            }
        ]
    }
    assert async_status(api, async_job_id) == FAILED  # nothing accepted, nothing to validate again

    chinese = put(api, async_job_id, {"type": "all", "params": {"job_id": UNKNOWN_JOB}}, **{"X-Language": "zh-cn"})
    assert chinese["jobs"][0]["error_msg"] == "失败：params.job_id必须是该异步任务中的一个任务ID。"


def test_put_answers_each_entry(api: Api) -> None:
    spec = job_spec("1bad")
    async_job_id = failing(api, spec)
    [job] = detail(api, async_job_id)["jobs"]
    good_name = unique_name()

    answer = put(
        api,
        async_job_id,
        {"type": "all", "params": {"job_id": UNKNOWN_JOB}},
        {"type": "name", "params": {"job_id": job["id"], "base_info": {**spec["base_info"], "name": good_name}}},
    )
    assert answer["jobs"] == [
        {
            "id": UNKNOWN_JOB,
            "name": None,
            "status": "failed",
            "error_code": "DRS.10000001",
            "error_msg": "Failed: params.job_id must name one of the async job's jobs.",
        },
        {"id": job["id"], "name": good_name, "status": "success"},
    ]
    assert settled(api, async_job_id) == VALIDATED


def test_a_put_during_validation_is_never_lost(api: Api) -> None:
    """A fix sent while the background validation runs must be validated, not overwritten by that validation.

    The PUT lands at a random point of the worker's pass; repeated, it hits the validation often enough.
    """
    outcomes = []
    for _ in range(40):
        async_job_id = submit(api, job_spec("1bad"))
        good = job_spec()
        answer = put(api, async_job_id, {"type": "all", "params": good})  # no wait: may meet the validation
        assert answer["jobs"][0]["status"] == "success", answer
        outcomes.append((settled(api, async_job_id), detail(api, async_job_id)["jobs"][0]["base_info"]["name"]))
    lost = [outcome for outcome in outcomes if outcome[0] != VALIDATED or outcome[1] == "1bad"]
    assert lost == [], f"{len(lost)} of {len(outcomes)} accepted updates were lost"


def test_put_of_an_unknown_async_job(api: Api) -> None:
    unknown = str(uuid.uuid4())
    response = api.put(detail_path(unknown), {"jobs": [{"type": "name", "params": {"base_info": {"name": "abcd"}}}]})
    assert response.status_code == 400
    assert response.json() == not_found(unknown)


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (
            {"jobs": [{"type": "rename", "params": {}}]},
            "DRS.M00202",
            "The value of parameter jobs[0].type is invalid: must be one of all, network, endpoint, policy, "
            "db_object, notify, name, description, expired_days, precheck or re_create.",
        ),
        ({"jobs": [{"type": "all"}]}, "DRS.M00201", "The parameter jobs[0].params is empty."),
        ({"jobs": []}, "DRS.M00201", "The parameter jobs is empty."),
        (
            {"jobs": [{"type": "all", "params": []}]},
            "DRS.M00202",
            "The value of parameter jobs[0].params is invalid: must be an object.",
        ),
    ],
)
def test_put_bad_request(api: Api, body: dict[str, Any], code: str, message: str) -> None:
    async_job_id = failing(api, job_spec("1bad"))
    response = api.put(detail_path(async_job_id), body)
    assert response.status_code == 400
    assert response.json() == error(code, message)
    assert async_status(api, async_job_id) == FAILED


# Commit ----------------------------------------------------------------------------------------------


def test_commit_before_validation_succeeded_is_refused(api: Api) -> None:
    async_job_id = failing(api, job_spec("1bad"))

    response = commit(api, async_job_id)
    assert response.status_code == 400
    assert response.json() == error(
        "DRS.10000001",
        f"Failed: commit needs status {VALIDATED}, the async job is {FAILED}.",
    )
    chinese = commit(api, async_job_id, **{"X-Language": "zh-cn"})
    assert chinese.status_code == 400
    assert chinese.json() == error("DRS.10000001", f"失败：提交需要状态为{VALIDATED}，当前异步任务状态为{FAILED}。")
    assert async_status(api, async_job_id) == FAILED


def test_commit_of_an_unknown_async_job(api: Api) -> None:
    unknown = str(uuid.uuid4())
    response = commit(api, unknown)
    assert response.status_code == 400
    assert response.json() == not_found(unknown)


@dataclasses.dataclass(frozen=True)
class Committed:
    async_job_id: str
    specs: list[dict[str, Any]]
    ids: dict[str, str]  # job name -> reserved job id
    status_code: int
    answer: dict[str, Any]


@pytest.fixture(scope="module")
def committed(api: Api) -> Committed:
    specs = [job_spec(), job_spec(job_type="migration", task_type="FULL_TRANS", job_direction="down")]
    async_job_id = validated(api, *specs)
    ids = {job["base_info"]["name"]: job["id"] for job in detail(api, async_job_id)["jobs"]}
    response = commit(api, async_job_id)
    assert_no_password(response.text)
    return Committed(async_job_id, specs, ids, response.status_code, response.json())


def test_commit_answer(committed: Committed) -> None:
    assert committed.status_code == 200, committed.answer
    assert committed.answer == {
        "job": {"async_job_id": committed.async_job_id, "status": COMMITTED, "msg": "2 of 2 tasks created"},
        "job_id": committed.answer["job_id"],
    }
    assert HEX32.match(committed.answer["job_id"]), committed.answer["job_id"]


def test_commit_creates_the_tasks_with_the_reserved_ids(api: Api, committed: Committed) -> None:
    ids = list(committed.ids.values())
    for job_id in ids:
        api.wait_status(job_id, "CONFIGURATION")
    response = api.post("/v3/{project_id}/jobs/batch-status", {"jobs": ids})
    assert response.json() == {"results": [{"id": job_id, "status": "CONFIGURATION"} for job_id in ids], "count": 2}


def test_committed_tasks_detail(api: Api, committed: Committed) -> None:
    ids = list(committed.ids.values())
    for job_id in ids:
        api.wait_status(job_id, "CONFIGURATION")
    response = api.post("/v3/{project_id}/jobs/batch-detail", {"jobs": ids})
    assert response.status_code == 200, response.text
    assert_no_password(response.text)
    details = {result["id"]: result for result in response.json()["results"]}
    for spec in committed.specs:
        base = spec["base_info"]
        task = details[committed.ids[base["name"]]]
        assert task["name"] == base["name"]
        assert task["status"] == "CONFIGURATION"
        assert task["engine_type"] == "mysql"
        assert task["db_use_type"] == base["job_type"]
        assert task["task_type"] == base["task_type"]
        assert task["job_direction"] == base["job_direction"]
        assert task["net_type"] == base["net_type"]
        assert task["node_type"] == "high"
        assert task["async_job_id"] == committed.async_job_id
        for key in ("source_endpoint", "target_endpoint"):
            endpoint = spec[key][0]["endpoint"]
            shown = task[key]
            assert shown["db_type"] == "mysql"
            assert shown["ip"] == endpoint["ip"]
            assert shown["db_port"] == 3306
            assert shown["db_user"] == endpoint["db_user"]
            assert "db_password" not in shown


def test_commit_operation_creates_one_task_per_job(api: Api, committed: Committed) -> None:
    operation_id = committed.answer["job_id"]
    operation = api.wait_operation(operation_id)
    assert operation["status"] == "SUCCESS"
    assert operation["job_id"] == operation_id
    assert operation["error_code"] is None
    assert operation["fail_reason"] is None
    assert ISO_MILLIS.match(operation["begin_time"]) and ISO_MILLIS.match(operation["end_time"])
    sub_jobs = operation["entities"]["sub_jobs"]
    assert operation["entities"]["sub_jobs_total"] == 2 == len(sub_jobs)
    assert {sub["job_type"] for sub in sub_jobs} == {"createJob"}
    assert {sub["status"] for sub in sub_jobs} == {"SUCCESS"}
    assert {sub["entities"]["drs_job_id"] for sub in sub_jobs} == set(committed.ids.values())
    assert all(sub["error_code"] is None and sub["fail_reason"] is None for sub in sub_jobs)


def test_committed_async_job_shows_the_task_statuses(api: Api, committed: Committed) -> None:
    for job_id in committed.ids.values():
        api.wait_status(job_id, "CONFIGURATION")
    assert async_status(api, committed.async_job_id) == COMMITTED
    body = detail(api, committed.async_job_id)
    assert body["total_count"] == 2
    assert {job["id"]: job["status"] for job in body["jobs"]} == dict.fromkeys(committed.ids.values(), "CONFIGURATION")


def test_a_second_commit_is_refused(api: Api, committed: Committed) -> None:
    response = commit(api, committed.async_job_id)
    assert response.status_code == 400
    assert response.json() == error(
        "DRS.10000001", f"Failed: commit needs status {VALIDATED}, the async job is {COMMITTED}."
    )
    assert async_status(api, committed.async_job_id) == COMMITTED


def test_put_after_commit_fails_the_entry(api: Api, committed: Committed) -> None:
    name, job_id = next(iter(committed.ids.items()))
    answer = put(
        api,
        committed.async_job_id,
        {"type": "name", "params": {"job_id": job_id, "base_info": {"name": unique_name()}}},
    )
    assert answer == {
        "jobs": [
            {
                "id": job_id,
                "name": name,
                "status": "failed",
                "error_code": "DRS.10000001",
                "error_msg": "Failed: the async job is committed; change its tasks through the v3 task APIs.",
            }
        ]
    }
    assert async_status(api, committed.async_job_id) == COMMITTED
    assert {job["base_info"]["name"] for job in detail(api, committed.async_job_id)["jobs"]} == set(committed.ids)


# List ------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Listed:
    api: Api
    tenant: Tenant
    created: list[str]  # async job ids, oldest first
    statuses: dict[str, str]


@pytest.fixture(scope="module")
def listed(server: Server) -> Iterator[Listed]:
    """A fresh tenant with four async jobs, one per status but VALIDATING (two validated)."""
    tenant = create_tenant(server, "v5")
    with Api(server, tenant) as api:
        created = [
            validated(api, job_spec()),
            failing(api, job_spec("1bad")),
            validated(api, job_spec()),
            validated(api, job_spec()),
        ]
        response = commit(api, created[3])
        assert response.status_code == 200, response.text
        statuses = dict(zip(created, [VALIDATED, FAILED, VALIDATED, COMMITTED], strict=True))
        yield Listed(api, tenant, created, statuses)


def list_jobs(listed: Listed, **params: str) -> dict[str, Any]:
    response = listed.api.get(LIST, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def ids_of(body: dict[str, Any]) -> list[str]:
    return [job["async_job_id"] for job in body["jobs"]]


def test_list_shows_every_async_job_of_the_project(listed: Listed) -> None:
    body = list_jobs(listed)
    assert body["total_count"] == 4
    newest_first = list(reversed(listed.created))
    assert ids_of(body) == newest_first
    for job in body["jobs"]:
        assert job == {
            "async_job_id": job["async_job_id"],
            "status": listed.statuses[job["async_job_id"]],
            "domain_name": listed.tenant.domain,
            "user_name": listed.tenant.user,
            "create_time": job["create_time"],
        }
        assert_recent_iso_seconds(job["create_time"])


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": VALIDATED}, [2, 0]),
        ({"status": FAILED}, [1]),
        ({"status": COMMITTED}, [3]),
        ({"status": VALIDATING}, []),
        ({"domain_name": "<tenant.domain>"}, [3, 2, 1, 0]),
        ({"domain_name": "no-such-domain"}, []),
        ({"user_name": "<tenant.user>"}, [3, 2, 1, 0]),
        ({"user_name": "no-such-user"}, []),
        ({"domain_name": "<tenant.domain>", "user_name": "<tenant.user>", "status": FAILED}, [1]),
        ({"status": "", "limit": "10"}, [3, 2, 1, 0]),  # empty = not set
        (
            {
                "async_job_id": "",
                "status": "",
                "domain_name": "",
                "user_name": "",
                "offset": "",
                "limit": "",
                "sort_key": "",
                "sort_dir": "",
            },
            [3, 2, 1, 0],
        ),
        ({"sort_key": "create_time", "sort_dir": "desc"}, [3, 2, 1, 0]),
        ({"sort_dir": "asc"}, [0, 1, 2, 3]),
        ({"sort_dir": "asc", "status": VALIDATED}, [0, 2]),
    ],
)
def test_list_filters_and_sorting(listed: Listed, params: dict[str, str], expected: list[int]) -> None:
    names = {"<tenant.domain>": listed.tenant.domain, "<tenant.user>": listed.tenant.user}
    body = list_jobs(listed, **{key: names.get(value, value) for key, value in params.items()})
    assert ids_of(body) == [listed.created[position] for position in expected]
    assert body["total_count"] == len(expected)


def test_list_filter_by_async_job_id(listed: Listed) -> None:
    for async_job_id in listed.created:
        body = list_jobs(listed, async_job_id=async_job_id)
        assert body["total_count"] == 1
        assert ids_of(body) == [async_job_id]
    assert list_jobs(listed, async_job_id=str(uuid.uuid4())) == {"total_count": 0, "jobs": []}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"limit": "2"}, [3, 2]),
        ({"offset": "2", "limit": "2"}, [1, 0]),
        ({"offset": "1", "limit": "2"}, [2, 1]),
        ({"offset": "3", "limit": "2"}, [0]),
        ({"offset": "4"}, []),
        ({"offset": "1", "limit": "2", "sort_dir": "asc"}, [1, 2]),
        ({"limit": "1", "status": VALIDATED}, [2]),
    ],
)
def test_list_paging_keeps_the_total(listed: Listed, params: dict[str, str], expected: list[int]) -> None:
    body = list_jobs(listed, **params)
    assert ids_of(body) == [listed.created[position] for position in expected]
    assert body["total_count"] == (2 if "status" in params else 4)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"status": "RUNNING"},
            "The value of parameter status is invalid: must be one of ASYNC_JOB_VALIDATING, "
            "ASYNC_JOB_VALIDATE_FAILED, AUTO_PARAM_VALIDATE_SUCCESS, COMMIT_SUCCESS.",
        ),
        ({"sort_key": "name"}, "The value of parameter sort_key is invalid: must be one of create_time."),
        ({"sort_dir": "up"}, "The value of parameter sort_dir is invalid: must be one of asc, desc."),
        ({"limit": "0"}, "The value of parameter limit is invalid: must be a whole number from 1 to 1000."),
        ({"limit": "1001"}, "The value of parameter limit is invalid: must be a whole number from 1 to 1000."),
        ({"limit": "all"}, "The value of parameter limit is invalid: must be a whole number from 1 to 1000."),
        ({"offset": "-1"}, "The value of parameter offset is invalid: must be a whole number from 0 to 2147483648."),
    ],
)
def test_list_bad_parameters(listed: Listed, params: dict[str, str], message: str) -> None:
    response = listed.api.get(LIST, params=params)
    assert response.status_code == 400
    assert response.json() == error("DRS.M00202", message)


# Isolation -------------------------------------------------------------------------------------------


def test_another_tenant_never_sees_the_async_jobs(api: Api, other_api: Api) -> None:
    async_job_id = validated(api, job_spec())
    path = detail_path(async_job_id)

    assert other_api.get(LIST, params={"async_job_id": async_job_id}).json() == {"total_count": 0, "jobs": []}
    assert async_job_id not in ids_of(other_api.get(LIST, params={"limit": "1000"}).json())
    for response in (
        other_api.get(path),
        other_api.put(path, {"jobs": [{"type": "name", "params": {"base_info": {"name": unique_name()}}}]}),
        commit(other_api, async_job_id),
    ):
        assert response.status_code == 400
        assert response.json() == not_found(async_job_id)
    assert async_status(api, async_job_id) == VALIDATED  # untouched

    foreign = other_api.get(f"/v5/{api.project_id}/batch-async-jobs/{async_job_id}")
    assert foreign.status_code == 403
    assert foreign.json() == error(
        "DRS.M00261", f"Invalid project ID: the credentials are not valid for project {api.project_id}."
    )
