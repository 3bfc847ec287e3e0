"""POST /v3/{project_id}/jobs/batch-creation: CreateJobResp, validation, names, transfer schemas, secrets at rest."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from opendrs.store import schema
from tests.harness import Api, Server, new_task_spec

PATH = "/v3/{project_id}/jobs/batch-creation"
DETAIL = "/v3/{project_id}/jobs/batch-detail"
LIST = "/v3/{project_id}/jobs"
DELETE = "/v3/{project_id}/jobs/batch-jobs"
# spec/API.md 1.3: UUID-shaped, the last group ending in `jb` and a 2-3 character tag.
JOB_ID = re.compile(
    r"^[0-9a-z]{8}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-([0-9a-z]{8}jb[0-9a-z]{2}|[0-9a-z]{7}jb[0-9a-z]{3})$"
)
OPERATION_ID = re.compile(r"^[0-9a-f]{32}$")
MISSING = object()  # a spec change that removes the key

NAME_RULE = "must match ^[A-Za-z][A-Za-z0-9_-]{3,49}$"
FORBIDDEN = "must not contain any of !<>&'\"\\"
SCHEMA_INVALID = "The transfer schema is invalid, please refer to supported transfer schema: "


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def unique_name(prefix: str = "create") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def changed_spec(changes: dict[str, Any]) -> dict[str, Any]:
    spec = new_task_spec()
    for key, value in changes.items():
        if value is MISSING:
            del spec[key]
        else:
            spec[key] = value
    return spec


def created(api: Api, jobs: list[dict[str, Any]]) -> dict[str, Any]:
    response = api.post(PATH, {"jobs": jobs})
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


def detail(api: Api, job_id: str) -> dict[str, Any]:
    response = api.post(DETAIL, {"jobs": [job_id]})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()["results"][0]
    return result


def listed_by_name(api: Api, name: str) -> dict[str, Any]:
    response = api.post(LIST, {"db_use_type": "migration", "name": name})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def stored_row(server: Server, job_id: str) -> dict[str, Any]:
    engine = server.engine()
    try:
        with engine.connect() as connection:
            row = connection.execute(sa.select(schema.tasks).where(schema.tasks.c.id == job_id)).one()
    finally:
        engine.dispose()
    return dict(row._mapping)


def stop_and_delete(api: Api, job_id: str) -> None:
    response = api.delete(DELETE, {"jobs": [{"job_id": job_id, "delete_type": "terminate"}]})
    assert response.json()["results"] == [{"id": job_id, "status": "success"}], response.text
    api.wait_status(job_id, "RELEASE_RESOURCE_COMPLETE")
    response = api.delete(DELETE, {"jobs": [{"job_id": job_id, "delete_type": "delete"}]})
    assert response.json()["results"] == [{"id": job_id, "status": "success"}], response.text


# The answer ----------------------------------------------------------------------------------------


def test_created_jobs_answer_create_job_resp(api: Api) -> None:
    names = [unique_name(), unique_name().upper()]
    before = now_ms()
    response = api.post(PATH, {"jobs": [new_task_spec(name=name) for name in names]})
    after = now_ms()
    assert response.status_code == 202, response.text
    body = response.json()
    assert set(body) == {"results", "count", "job_id"}
    assert body["count"] == 2
    assert OPERATION_ID.match(body["job_id"]), body["job_id"]
    ids = [result["id"] for result in body["results"]]
    assert len(set(ids)) == 2
    for job_id, name, result in zip(ids, names, body["results"], strict=True):
        assert JOB_ID.match(job_id), job_id
        assert result == {"id": job_id, "name": name, "status": "CREATING", "create_time": result["create_time"]}
        assert result["create_time"].isdigit()
        assert before <= int(result["create_time"]) <= after
    for job_id in ids:
        api.wait_status(job_id, "CONFIGURATION")


def test_the_otc_example_is_accepted(api: Api) -> None:
    name = unique_name("DRS")
    body = created(
        api,
        [
            {
                "name": name,
                "node_type": "high",
                "engine_type": "mysql",
                "net_type": "eip",
                "job_direction": "up",
                "db_use_type": "migration",
                "task_type": "FULL_INCR_TRANS",
                "customize_sutnet_id": "352ad828-3467-4f03-987a-c55a5a9dd417",
                "source_endpoint": {"db_type": "mysql"},
                "target_endpoint": {
                    "region": "eu-de",
                    "db_type": "mysql",
                    "inst_id": "e05a3679efe241d8b5dee80b17c1a863in01",
                },
                "is_target_readonly": False,
                "bind_eip": True,
            }
        ],
    )
    job_id = body["results"][0]["id"]
    api.wait_status(job_id, "CONFIGURATION")
    shown = detail(api, job_id)
    assert shown["name"] == name
    assert shown["target_endpoint"] == {
        "region": "eu-de",
        "db_type": "mysql",
        "inst_id": "e05a3679efe241d8b5dee80b17c1a863in01",
    }
    assert shown["is_target_readonly"] is False


def test_postgresql_engine_is_supported(api: Api) -> None:
    spec = new_task_spec(
        db_use_type="sync",
        engine_type="postgresql",
        source_endpoint={"db_type": "postgresql"},
        target_endpoint={"db_type": "postgresql"},
    )
    job_id = created(api, [spec])["results"][0]["id"]
    api.wait_status(job_id, "CONFIGURATION")
    shown = detail(api, job_id)
    assert (shown["engine_type"], shown["db_use_type"]) == ("postgresql", "sync")


# Validation: the whole request is refused, naming the field -----------------------------------------


@pytest.mark.parametrize(
    ("changes", "code", "message"),
    [
        ({"name": MISSING}, "DRS.M00201", "The parameter jobs[0].name is empty."),
        ({"db_use_type": MISSING}, "DRS.M00201", "The parameter jobs[0].db_use_type is empty."),
        ({"engine_type": MISSING}, "DRS.M00201", "The parameter jobs[0].engine_type is empty."),
        ({"job_direction": MISSING}, "DRS.M00201", "The parameter jobs[0].job_direction is empty."),
        ({"source_endpoint": MISSING}, "DRS.M00201", "The parameter jobs[0].source_endpoint is empty."),
        ({"target_endpoint": MISSING}, "DRS.M00201", "The parameter jobs[0].target_endpoint is empty."),
        (
            {"db_use_type": "backup"},
            "DRS.M00202",
            "The value of parameter jobs[0].db_use_type is invalid: must be one of migration, sync or cloudDataGuard.",
        ),
        (
            {"net_type": "internet"},
            "DRS.M00202",
            "The value of parameter jobs[0].net_type is invalid: must be one of vpn, vpc or eip.",
        ),
        (
            {"job_direction": "sideways"},
            "DRS.M00202",
            "The value of parameter jobs[0].job_direction is invalid: must be one of up, down or non-dbs.",
        ),
        (
            {"task_type": "FULL"},
            "DRS.M00202",
            "The value of parameter jobs[0].task_type is invalid: must be one of FULL_TRANS, INCR_TRANS or "
            "FULL_INCR_TRANS.",
        ),
        (
            {"node_type": "huge"},
            "DRS.M00202",
            "The value of parameter jobs[0].node_type is invalid: must be one of micro, small, medium, high, xlarge "
            "or 2xlarge.",
        ),
        ({"name": "1task"}, "DRS.M00202", f"The value of parameter jobs[0].name is invalid: {NAME_RULE}."),
        ({"name": "abc"}, "DRS.M00202", f"The value of parameter jobs[0].name is invalid: {NAME_RULE}."),
        ({"name": "a" * 51}, "DRS.M00202", f"The value of parameter jobs[0].name is invalid: {NAME_RULE}."),
        ({"name": "task name"}, "DRS.M00202", f"The value of parameter jobs[0].name is invalid: {NAME_RULE}."),
        ({"name": "task.name"}, "DRS.M00202", f"The value of parameter jobs[0].name is invalid: {NAME_RULE}."),
        ({"name": 1234}, "DRS.M00202", "The value of parameter jobs[0].name is invalid: must be a string."),
        ({"description": "a<b"}, "DRS.M00202", f"The value of parameter jobs[0].description is invalid: {FORBIDDEN}."),
        ({"description": "it's"}, "DRS.M00202", f"The value of parameter jobs[0].description is invalid: {FORBIDDEN}."),
        ({"description": "a\\b"}, "DRS.M00202", f"The value of parameter jobs[0].description is invalid: {FORBIDDEN}."),
        (
            {"description": "a & b"},
            "DRS.M00202",
            f"The value of parameter jobs[0].description is invalid: {FORBIDDEN}.",
        ),
        (
            {"description": "x" * 257},
            "DRS.M00202",
            "The value of parameter jobs[0].description is invalid: must be at most 256 characters.",
        ),
        (
            {"source_endpoint": {"db_type": "mysql", "db_port": 70000}},
            "DRS.M00202",
            "The value of parameter jobs[0].source_endpoint.db_port is invalid: must be at most 65535.",
        ),
        (
            {"target_endpoint": {"db_type": "mysql", "db_port": "70000"}},
            "DRS.M00202",
            "The value of parameter jobs[0].target_endpoint.db_port is invalid: must be at most 65535.",
        ),
        (
            {"source_endpoint": {"db_type": "mysql", "db_port": 0}},
            "DRS.M00202",
            "The value of parameter jobs[0].source_endpoint.db_port is invalid: must be at least 1.",
        ),
        (
            {"source_endpoint": {"db_type": "mysql", "db_port": "port"}},
            "DRS.M00202",
            "The value of parameter jobs[0].source_endpoint.db_port is invalid: must be an integer.",
        ),
        (
            {"source_endpoint": "mysql"},
            "DRS.M00202",
            "The value of parameter jobs[0].source_endpoint is invalid: must be an object.",
        ),
        ({"node_num": 33}, "DRS.M00202", "The value of parameter jobs[0].node_num is invalid: must be at most 32."),
        (
            {"bind_eip": "maybe"},
            "DRS.M00202",
            "The value of parameter jobs[0].bind_eip is invalid: must be true or false.",
        ),
    ],
    # no object address in an id: the ids must be the same in every process (pytest-xdist compares them)
    ids=lambda value: re.sub(r" at 0x[0-9a-f]+", "", str(value))[:40] if isinstance(value, dict) else None,
)
def test_invalid_job_is_refused_naming_the_field(api: Api, changes: dict[str, Any], code: str, message: str) -> None:
    valid = new_task_spec()
    response = api.post(PATH, {"jobs": [changed_spec(changes), valid]})
    assert response.status_code == 400
    assert response.json() == {"error_code": code, "error_msg": message}
    assert listed_by_name(api, valid["name"])["total_record"] == 0  # nothing of the batch was created


def test_the_field_path_names_the_failing_job(api: Api) -> None:
    response = api.post(PATH, {"jobs": [new_task_spec(), changed_spec({"name": MISSING})]})
    assert response.status_code == 400
    assert response.json() == {"error_code": "DRS.M00201", "error_msg": "The parameter jobs[1].name is empty."}


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ({}, "DRS.M00201", "The parameter jobs is empty."),
        ({"jobs": []}, "DRS.M00201", "The parameter jobs is empty."),
        ({"jobs": "DRS-9228"}, "DRS.M00202", "The value of parameter jobs is invalid: must be an array."),
        ({"jobs": ["DRS-9228"]}, "DRS.M00202", "The value of parameter jobs[0] is invalid: must be an object."),
    ],
)
def test_bad_jobs_array(api: Api, body: dict[str, Any], code: str, message: str) -> None:
    response = api.post(PATH, body)
    assert response.status_code == 400
    assert response.json() == {"error_code": code, "error_msg": message}


def test_db_port_as_string_is_stored_as_integer(api: Api, server: Server) -> None:
    endpoint = {"db_type": "mysql", "ip": "192.168.0.27", "db_port": "3306", "db_user": "root"}
    job_id = created(api, [new_task_spec(source_endpoint=endpoint)])["results"][0]["id"]
    api.wait_status(job_id, "CONFIGURATION")
    assert detail(api, job_id)["source_endpoint"] == endpoint | {"db_port": 3306}
    stored_port = stored_row(server, job_id)["source_endpoint"]["db_port"]
    assert stored_port == 3306
    assert type(stored_port) is int


# Tags: the contract has codes of their own (spec/API.md 1.8: DRS.M00269, M00270, M00271) -----------------


def tags(count: int) -> list[dict[str, str]]:
    return [{"key": f"key-{number}", "value": f"value-{number}"} for number in range(count)]


def test_twenty_tags_are_accepted(api: Api) -> None:
    job_id = created(api, [new_task_spec(tags=tags(20))])["results"][0]["id"]
    api.wait_status(job_id, "CONFIGURATION")
    assert detail(api, job_id)["tags"] == tags(20)


@pytest.mark.parametrize(
    ("job_tags", "code", "message"),
    [
        (tags(21), "DRS.M00271", "The maximum number of tags has been reached"),
        ([{"key": "k" * 37, "value": "v"}], "DRS.M00270", "The tag key or value exceeds the maximum length allowed"),
        ([{"key": "k", "value": "v" * 44}], "DRS.M00270", "The tag key or value exceeds the maximum length allowed"),
        ([{"key": "env", "value": "a"}, {"key": "env", "value": "b"}], "DRS.M00269", "The tag key must be unique"),
    ],
    ids=["21-tags", "long-key", "long-value", "duplicate-key"],
)
def test_bad_tags_are_refused_with_the_tag_codes(
    api: Api, job_tags: list[dict[str, str]], code: str, message: str
) -> None:
    response = api.post(PATH, {"jobs": [new_task_spec(tags=job_tags)]})
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error_code"] == code, body
    assert body["error_msg"].startswith(message), body


# Names --------------------------------------------------------------------------------------------


def test_duplicate_names_in_one_request_refuse_it(api: Api) -> None:
    name = unique_name("dup")
    response = api.post(PATH, {"jobs": [new_task_spec(name=name), new_task_spec(), new_task_spec(name=name.upper())]})
    assert response.status_code == 400
    assert response.json() == {"error_code": "DRS.M00301", "error_msg": f"There are duplicate name in request: {name}."}
    assert listed_by_name(api, name)["total_record"] == 0


def test_a_taken_name_fails_that_job_alone(api: Api) -> None:
    name = unique_name("taken")
    api.create_tasks(1, name=name)
    others = [new_task_spec(), new_task_spec()]
    body = created(api, [new_task_spec(name=name.upper()), *others])
    assert body["count"] == 3
    assert body["results"][0] == {
        "name": name.upper(),
        "status": "failed",
        "error_code": "DRS.M00277",
        "error_msg": f"The task name already exists: {name.upper()}.",
    }
    for spec, result in zip(others, body["results"][1:], strict=True):
        assert (result["name"], result["status"]) == (spec["name"], "CREATING")
        api.wait_status(result["id"], "CONFIGURATION")
    assert listed_by_name(api, name)["total_record"] == 1


def test_a_stopped_tasks_name_is_taken_until_it_is_deleted(api: Api) -> None:
    name = unique_name("reuse")
    [first] = api.create_tasks(1, name=name)
    response = api.delete(DELETE, {"jobs": [{"job_id": first, "delete_type": "terminate"}]})
    assert response.status_code == 202, response.text
    api.wait_status(first, "RELEASE_RESOURCE_COMPLETE")
    assert created(api, [new_task_spec(name=name)])["results"][0]["error_code"] == "DRS.M00277"

    response = api.delete(DELETE, {"jobs": [{"job_id": first, "delete_type": "delete"}]})
    assert response.json()["results"] == [{"id": first, "status": "success"}]
    result = created(api, [new_task_spec(name=name)])["results"][0]
    assert (result["name"], result["status"]) == (name, "CREATING")
    assert result["id"] != first
    api.wait_status(result["id"], "CONFIGURATION")


def test_names_are_unique_per_project_only(api: Api, other_api: Api) -> None:
    name = unique_name("shared")
    api.create_tasks(1, name=name)
    result = created(other_api, [new_task_spec(name=name)])["results"][0]
    assert (result["name"], result["status"]) == (name, "CREATING")
    other_api.wait_status(result["id"], "CONFIGURATION")


# Transfer schemas: refused per job -------------------------------------------------------------------


def test_an_unsupported_engine_fails_that_job_alone(api: Api) -> None:
    mongo = new_task_spec(
        engine_type="mongodb", source_endpoint={"db_type": "mongodb"}, target_endpoint={"db_type": "mongodb"}
    )
    body = created(api, [mongo, new_task_spec()])
    assert body["count"] == 2
    assert body["results"][0] == {
        "name": mongo["name"],
        "status": "failed",
        "error_code": "DRS.M00302",
        "error_msg": SCHEMA_INVALID
        + "engine_type mongodb is not supported by opendrs; supported: mysql, postgresql, redis.",
    }
    assert body["results"][1]["status"] == "CREATING"
    api.wait_status(body["results"][1]["id"], "CONFIGURATION")
    assert listed_by_name(api, mongo["name"])["total_record"] == 0


@pytest.mark.parametrize(
    ("changes", "hint"),
    [
        (
            {"target_endpoint": {"db_type": "postgresql"}},
            "target_endpoint.db_type must be mysql for engine_type mysql.",
        ),
        ({"source_endpoint": {"db_type": "mongodb"}}, "source_endpoint.db_type must be mysql for engine_type mysql."),
        ({"source_endpoint": {}}, "source_endpoint.db_type must be mysql for engine_type mysql."),
        (
            {"engine_type": "postgresql", "db_use_type": "sync"},
            "source_endpoint.db_type must be postgresql for engine_type postgresql.",
        ),
    ],
)
def test_an_endpoint_of_the_wrong_type_fails_that_job(api: Api, changes: dict[str, Any], hint: str) -> None:
    spec = changed_spec(changes)
    body = created(api, [spec])
    assert body == {
        "results": [
            {"name": spec["name"], "status": "failed", "error_code": "DRS.M00302", "error_msg": SCHEMA_INVALID + hint}
        ],
        "count": 1,
        "job_id": body["job_id"],
    }


# Cloud-only fields and secrets ------------------------------------------------------------------------


def test_cloud_only_fields_are_accepted_and_shown_in_detail(api: Api) -> None:
    cloud_fields: dict[str, Any] = {
        "customize_sutnet_id": "352ad828-3467-4f03-987a-c55a5a9dd417",
        "bind_eip": True,
        "is_target_readonly": True,
        "multi_write": False,
        "node_num": 2,
        "expired_days": "30",
        "tags": [{"key": "env", "value": "prod"}, {"key": "team", "value": "data_1"}],
        "sys_tags": [{"key": "_sys_enterprise_project_id", "value": "0"}],
        "master_az": "eu-de-01",
        "slave_az": "eu-de-02",
        "charging_mode": "on_demand",
        "product_id": "OFFI740586375358963717",
        "public_ip_list": [{"id": "c2f9a5f4-9e0a-4b8c-9d2e-0d6c1e5b3a11", "public_ip": "80.158.1.2", "type": "master"}],
        "is_open_fast_clean": False,
    }
    target = {
        "db_type": "mysql",
        "region": "eu-de",
        "project_id": "054ba152d480d55b2f5dc0069e7ddef0",
        "inst_id": "e05a3679efe241d8b5dee80b17c1a863in01",
        "vpc_id": "3d3c5d6b-7a59-4d9f-9c7e-1c2a4f0e8b01",
        "subnet_id": "7b0c2b5e-1b0e-4a53-8f2d-3f6b9e1d2c02",
    }
    job_id = created(api, [new_task_spec(target_endpoint=target, **cloud_fields)])["results"][0]["id"]
    api.wait_status(job_id, "CONFIGURATION")
    shown = detail(api, job_id)
    assert {key: shown.get(key) for key in cloud_fields} == cloud_fields
    assert shown["target_endpoint"] == target


SOURCE_PASSWORD = "Src-pw-" + "4f1c9b7e2d"
TARGET_PASSWORD = "Tgt-pw-" + "8a6e0c3f5b"
CERT_PASSWORD = "Cert-pw-" + "1d7b3e9a0c"


def test_passwords_are_never_returned_nor_stored_in_clear(api: Api, server: Server) -> None:
    spec = new_task_spec(
        source_endpoint={
            "db_type": "mysql",
            "ip": "192.168.0.27",
            "db_port": 3306,
            "db_user": "root",
            "db_password": SOURCE_PASSWORD,
        },
        target_endpoint={
            "db_type": "mysql",
            "db_user": "drs",
            "db_password": TARGET_PASSWORD,
            "ssl_link": True,
            "ssl_cert_password": CERT_PASSWORD,
        },
    )
    passwords = (SOURCE_PASSWORD, TARGET_PASSWORD, CERT_PASSWORD)
    response = api.post(PATH, {"jobs": [spec]})
    assert response.status_code == 202, response.text
    job_id = response.json()["results"][0]["id"]
    api.wait_status(job_id, "CONFIGURATION")

    answers = [
        response.text,
        api.post(DETAIL, {"jobs": [job_id]}).text,
        api.post(LIST, {"db_use_type": "migration", "name": job_id}).text,
        api.post("/v3/{project_id}/jobs/batch-progress", {"jobs": [job_id]}).text,
    ]
    for answer in answers:
        assert job_id in answer or spec["name"] in answer
        assert not any(password in answer for password in passwords), answer
        assert "password" not in answer, answer
    shown = detail(api, job_id)
    assert shown["source_endpoint"] == {"db_type": "mysql", "ip": "192.168.0.27", "db_port": 3306, "db_user": "root"}
    assert shown["target_endpoint"] == {"db_type": "mysql", "db_user": "drs", "ssl_link": True}

    row = stored_row(server, job_id)
    for column, value in row.items():
        assert not any(password in str(value) for password in passwords), f"a password is in clear in tasks.{column}"
    # Kept, encrypted, under its path: the engine will need them to connect.
    assert set(row["secrets"]) == {
        "source_endpoint.db_password",
        "target_endpoint.db_password",
        "target_endpoint.ssl_cert_password",
    }


def test_a_password_that_is_not_a_string_is_not_stored_in_clear_either(api: Api, server: Server) -> None:
    kafka = {"security_protocol": "SASL_SSL", "sasl_password": 918273645546}
    spec = new_task_spec(target_endpoint={"db_type": "mysql", "kafka_security_config": kafka})
    response = api.post(PATH, {"jobs": [spec]})
    assert response.status_code == 202, response.text
    job_id = response.json()["results"][0]["id"]
    api.wait_status(job_id, "CONFIGURATION")
    assert "918273645546" not in api.post(DETAIL, {"jobs": [job_id]}).text
    row = stored_row(server, job_id)
    for column, value in row.items():
        assert "918273645546" not in str(value), f"a password is in clear in tasks.{column}"
