"""POST /v3/{project_id}/jobs: JobInfo, paging, newest first, filters, deleted tasks, tenants.

The tasks are listed in a tenant of their own, so that totals are exact.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.harness import Api, Server, create_tenant

PATH = "/v3/{project_id}/jobs"
DELETE = "/v3/{project_id}/jobs/batch-jobs"
LIST_TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
INSTANCE = "e05a3679efe241d8b5dee80b17c1a863in01"


@dataclasses.dataclass(frozen=True)
class Population:
    """Migration tasks a (oldest), b, c, e; d is a sync task; f is deleted. e is stopped."""

    ids: dict[str, str]
    names: dict[str, str]

    def __getitem__(self, key: str) -> str:
        return self.ids[key]


@pytest.fixture(scope="module")
def lister(server: Server) -> Iterator[Api]:
    with Api(server, create_tenant(server, "list")) as client:
        yield client


def stop(api: Api, job_id: str) -> None:
    response = api.delete(DELETE, {"jobs": [{"job_id": job_id, "delete_type": "terminate"}]})
    assert response.json()["results"] == [{"id": job_id, "status": "success"}], response.text
    api.wait_status(job_id, "RELEASE_RESOURCE_COMPLETE")


@pytest.fixture(scope="module")
def population(lister: Api) -> Population:
    suffix = uuid.uuid4().hex[:8]
    names = {key: f"{key}-list-{suffix}" for key in "abcdef"}
    specs: dict[str, dict[str, Any]] = {
        "a": {"description": "the oldest", "tags": [{"key": "env", "value": "prod"}, {"key": "team", "value": "data"}]},
        "b": {
            "net_type": "vpn",
            "tags": [{"key": "env", "value": "dev"}],
            "source_endpoint": {"db_type": "mysql", "ip": "10.1.1.1", "db_port": 3306},
            "target_endpoint": {"db_type": "mysql", "inst_id": INSTANCE},
        },
        "c": {
            "engine_type": "postgresql",
            "net_type": "vpc",
            "tags": [{"key": "env", "value": "prod"}],
            "source_endpoint": {"db_type": "postgresql"},
            "target_endpoint": {"db_type": "postgresql"},
        },
        "d": {"db_use_type": "sync"},
        "e": {},
        "f": {},
    }
    ids: dict[str, str] = {}
    # One request per task, each waited for: create_time grows from a to f.
    for key, spec in specs.items():
        [ids[key]] = lister.create_tasks(1, name=names[key], **spec)
    stop(lister, ids["e"])
    stop(lister, ids["f"])
    response = lister.delete(DELETE, {"jobs": [{"job_id": ids["f"], "delete_type": "delete"}]})
    assert response.json()["results"] == [{"id": ids["f"], "status": "success"}], response.text
    return Population(ids, names)


def listed(api: Api, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post(PATH, body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def keys_of(population: Population, answer: dict[str, Any]) -> list[str]:
    by_id = {job_id: key for key, job_id in population.ids.items()}
    return [by_id.get(job["id"], job["id"]) for job in answer["jobs"]]


def test_db_use_type_is_required(lister: Api) -> None:
    response = lister.post(PATH, {"cur_page": 1, "per_page": 10})
    assert response.status_code == 400
    assert response.json() == {"error_code": "DRS.M00201", "error_msg": "The parameter db_use_type is empty."}
    response = lister.post(PATH, {"db_use_type": "backup"})
    assert response.status_code == 400
    assert response.json() == {
        "error_code": "DRS.M00202",
        "error_msg": "The value of parameter db_use_type is invalid: must be one of migration, sync or cloudDataGuard.",
    }


def test_newest_first(lister: Api, population: Population) -> None:
    answer = listed(lister, {"db_use_type": "migration", "cur_page": 1, "per_page": 10})
    assert answer["total_record"] == 4
    assert keys_of(population, answer) == ["e", "c", "b", "a"]
    assert listed(lister, {"db_use_type": "migration"}) == answer  # cur_page 1, per_page 10 by default


def assert_actions(actions: dict[str, Any], available: str, unavailable: str) -> None:
    assert available in actions["available_actions"], actions
    assert unavailable in actions["unavailable_actions"], actions
    assert not set(actions["available_actions"]) & set(actions["unavailable_actions"]), actions


def test_job_info(lister: Api, population: Population) -> None:
    answer = listed(lister, {"db_use_type": "migration", "name": population["a"]})
    assert answer["total_record"] == 1
    [job] = answer["jobs"]
    detail = lister.post("/v3/{project_id}/jobs/batch-detail", {"jobs": [population["a"]]}).json()["results"][0]
    created = dt.datetime.fromtimestamp(int(detail["create_time"]) / 1000, tz=dt.UTC)
    assert LIST_TIME.match(job["create_time"]), job["create_time"]
    actions = job.pop("job_action")
    assert job == {
        "id": population["a"],
        "name": population.names["a"],
        "status": "CONFIGURATION",
        "create_time": created.strftime("%Y-%m-%d %H:%M:%S"),
        "description": "the oldest",
        "engine_type": "mysql",
        "net_type": "eip",
        "billing_tag": False,
        "job_direction": "up",
        "db_use_type": "migration",
        "task_type": "FULL_INCR_TRANS",
        "node_newFramework": True,
        "children": [],
    }
    assert_actions(actions, available="FREE_RESOURCE", unavailable="DELETE")
    assert actions["current_action"] is None


def test_a_stopped_task_can_be_deleted(lister: Api, population: Population) -> None:
    [job] = listed(lister, {"db_use_type": "migration", "name": population["e"]})["jobs"]
    assert job["status"] == "RELEASE_RESOURCE_COMPLETE"
    assert_actions(job["job_action"], available="DELETE", unavailable="FREE_RESOURCE")


@pytest.mark.parametrize(
    ("cur_page", "per_page", "expected"),
    [
        (1, 2, ["e", "c"]),
        (2, 2, ["b", "a"]),
        (3, 2, []),  # beyond the end: an empty page, the total still right
        (2, 3, ["a"]),
        (1, 0, ["e", "c", "b", "a"]),  # per_page 0: all
        (0, 2, ["e", "c", "b", "a"]),  # cur_page 0: all
        (0, 0, ["e", "c", "b", "a"]),
        (9, 10, []),
        (1, 100, ["e", "c", "b", "a"]),
    ],
)
def test_paging(lister: Api, population: Population, cur_page: int, per_page: int, expected: list[str]) -> None:
    answer = listed(lister, {"db_use_type": "migration", "cur_page": cur_page, "per_page": per_page})
    assert answer["total_record"] == 4
    assert keys_of(population, answer) == expected


@pytest.mark.parametrize(
    ("paging", "message"),
    [
        ({"per_page": 101}, "The value of Page is invalid, per_page must be from 0 to 100."),
        ({"per_page": -1}, "The value of Page is invalid, per_page must be from 0 to 100."),
        ({"cur_page": -1}, "The value of Page is invalid, cur_page must not be negative."),
    ],
)
def test_bad_paging_is_a_page_error(lister: Api, paging: dict[str, int], message: str) -> None:
    # DRS.M00210 is the contract's code for an invalid page (spec/API.md 1.8), as batch-status uses it.
    response = lister.post(PATH, {"db_use_type": "migration", **paging})
    assert response.status_code == 400
    assert response.json() == {"error_code": "DRS.M00210", "error_msg": message}


Filter = Callable[[Population], dict[str, Any]]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        (lambda p: {"engine_type": "postgresql"}, ["c"]),
        (lambda p: {"engine_type": "mysql"}, ["e", "b", "a"]),
        (lambda p: {"net_type": "vpn"}, ["b"]),
        (lambda p: {"status": "RELEASE_RESOURCE_COMPLETE"}, ["e"]),
        (lambda p: {"status": "CONFIGURATION"}, ["c", "b", "a"]),
        (lambda p: {"status": "DELETED"}, []),
        (lambda p: {"name": p.names["a"]}, ["a"]),
        (lambda p: {"name": p.names["a"].upper()}, ["a"]),
        (lambda p: {"name": p["b"]}, ["b"]),
        (lambda p: {"name": f"{p['a']},{p['c']}"}, ["c", "a"]),
        (lambda p: {"name": f" {p['a']} , {p['e']} "}, ["e", "a"]),
        (lambda p: {"name": p.names["f"]}, []),  # deleted
        (lambda p: {"name": p["f"]}, []),
        (lambda p: {"name": p["d"]}, []),  # a sync task
        (lambda p: {"tags": {"env": "prod"}}, ["c", "a"]),
        (lambda p: {"tags": {"env": "prod", "team": "data"}}, ["a"]),
        (lambda p: {"tags": [{"key": "env", "value": "dev"}]}, ["b"]),
        (lambda p: {"tags": {"env": "staging"}}, []),
        (lambda p: {"instance_ip": "10.1.1.1"}, ["b"]),
        (lambda p: {"instance_ids": [INSTANCE]}, ["b"]),
        (lambda p: {"engine_type": "mysql", "net_type": "vpn"}, ["b"]),
        (lambda p: {"engine_type": "mysql", "tags": {"env": "prod"}}, ["a"]),
        # The OTC example sends every filter, empty: an empty filter means any.
        (
            lambda p: {"engine_type": "", "name": "", "net_type": "", "status": "", "instance_ip": ""},
            ["e", "c", "b", "a"],
        ),
        (lambda p: {"tags": {}}, ["e", "c", "b", "a"]),
        (lambda p: {"tags": []}, ["e", "c", "b", "a"]),
        (lambda p: {"enterprise_project_id": None, "instance_ids": []}, ["e", "c", "b", "a"]),
    ],
)
def test_filters(lister: Api, population: Population, where: Filter, expected: list[str]) -> None:
    answer = listed(lister, {"db_use_type": "migration", "cur_page": 1, "per_page": 10, **where(population)})
    assert keys_of(population, answer) == expected
    assert answer["total_record"] == len(expected)


def test_a_filtered_list_is_paged_with_the_right_total(lister: Api, population: Population) -> None:
    body = {"db_use_type": "migration", "tags": {"env": "prod"}, "per_page": 1}
    assert keys_of(population, first := listed(lister, body | {"cur_page": 1})) == ["c"]
    assert keys_of(population, second := listed(lister, body | {"cur_page": 2})) == ["a"]
    assert first["total_record"] == second["total_record"] == 2
    answer = listed(lister, {"db_use_type": "migration", "engine_type": "mysql", "per_page": 2, "cur_page": 2})
    assert (keys_of(population, answer), answer["total_record"]) == (["a"], 3)


def test_db_use_type_selects_the_tasks(lister: Api, population: Population) -> None:
    answer = listed(lister, {"db_use_type": "sync", "per_page": 0})
    assert (keys_of(population, answer), answer["total_record"]) == (["d"], 1)
    assert listed(lister, {"db_use_type": "cloudDataGuard"}) == {"total_record": 0, "jobs": []}


def test_deleted_tasks_are_never_listed(lister: Api, population: Population) -> None:
    for db_use_type in ("migration", "sync"):
        answer = listed(lister, {"db_use_type": db_use_type, "per_page": 0})
        assert population["f"] not in [job["id"] for job in answer["jobs"]]


def test_another_tenants_tasks_are_never_listed(lister: Api, api: Api, population: Population) -> None:
    [theirs] = api.create_tasks(1)
    assert listed(lister, {"db_use_type": "migration", "name": theirs}) == {"total_record": 0, "jobs": []}
    everything = listed(api, {"db_use_type": "migration", "per_page": 0})
    assert theirs in [job["id"] for job in everything["jobs"]]
    assert not set(population.ids.values()) & {job["id"] for job in everything["jobs"]}
    ours = ",".join(population[key] for key in "abce")
    assert listed(api, {"db_use_type": "migration", "name": ours}) == {"total_record": 0, "jobs": []}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"name": ",".join(f"{i:08d}-0000-0000-0000-000000000000" for i in range(101))},
            "The value of parameter name is invalid: must name at most 100 ids.",
        ),
        ({"net_type": "internet"}, "The value of parameter net_type is invalid: must be one of vpn, vpc or eip."),
        (
            {"instance_ids": [INSTANCE] * 11},
            "The value of parameter instance_ids is invalid: must have at most 10 items.",
        ),
    ],
)
def test_bad_filters(lister: Api, body: dict[str, Any], message: str) -> None:
    response = lister.post(PATH, {"db_use_type": "migration", **body})
    assert response.status_code == 400
    assert response.json() == {"error_code": "DRS.M00202", "error_msg": message}


@pytest.mark.parametrize(("field", "value"), [("engine_type", "oracle"), ("status", "RUNNING")])
def test_a_bad_enum_filter_names_the_field(lister: Api, field: str, value: str) -> None:
    response = lister.post(PATH, {"db_use_type": "migration", field: value})
    assert response.status_code == 400
    body = response.json()
    assert body["error_code"] == "DRS.M00202"
    assert body["error_msg"].startswith(f"The value of parameter {field} is invalid: must be one of "), body
