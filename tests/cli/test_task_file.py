"""The task file: what a YAML or JSON file turns into (the API request bodies), and the errors it reports."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from opendrs.client import spec
from opendrs.client.errors import UsageError

SOURCE = {"host": "127.0.0.1", "port": 3307, "user": "repl", "password_env": "SRC_PW"}
TARGET = {"host": "127.0.0.1", "port": 3308, "user": "load", "password": "t-pw"}


def parsed(**fields: object) -> spec.TaskSpec:
    return spec.parse({"name": "orders-copy", "source": SOURCE, "target": TARGET, **fields}, {"SRC_PW": "s-pw"})


def test_a_whole_instance_task_with_the_password_from_the_environment() -> None:
    task = parsed()
    assert task.task_type == "FULL_INCR_TRANS" and task.whole_instance and task.start is None
    assert task.creation()["task_type"] == "FULL_INCR_TRANS"
    assert task.selection("j") == {"job_id": "j", "selected": False}
    so, ta = task.connection_tests("j")
    assert (so["end_point_type"], so["db_password"], so["db_port"]) == ("so", "s-pw", 3307)
    assert (ta["end_point_type"], ta["db_password"], ta["ip"]) == ("ta", "t-pw", "127.0.0.1")
    assert "s-pw" not in repr(task)  # passwords stay out of reprs (and so out of tracebacks)


def test_databases_with_a_rename_and_single_tables() -> None:
    task = parsed(objects={"databases": ["shop", {"name": "crm", "rename": "crm_copy"}], "tables": {"bills": ["x"]}})
    objects = task.selection("j")["job"]
    assert objects == [
        {"id": "shop", "object_type": "database", "object_name": "shop", "select": "true"},
        {
            "id": "crm",
            "object_type": "database",
            "object_name": "crm",
            "select": "true",
            "object_alias_name": "crm_copy",
        },
        {"id": "bills", "object_type": "database", "object_name": "bills", "select": "partial"},
        {"id": "bills-*-*-x", "parent_id": "bills", "object_type": "table", "object_name": "x", "select": "true"},
    ]


def test_start_now_or_at_a_time() -> None:
    assert parsed(start="now").start_now and parsed(start="now").start_time() is None
    later = parsed(start="2030-01-02T03:04:05Z")
    assert later.start_time() == str(int(datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp() * 1000))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"type": "FULL"}, "type must be one of FULL_TRANS, FULL_INCR_TRANS, INCR_TRANS"),
        ({"name": ""}, "name is required"),
        ({"colour": "red"}, "unknown key colour"),
        ({"source": {**SOURCE, "password_env": "NOT_SET_ANYWHERE"}}, "NOT_SET_ANYWHERE is not set"),
        ({"target": {**TARGET, "port": "3306x"}}, "target.port must be a whole number"),
        ({"target": {"host": "h", "port": 1}}, "target.user is required"),
        ({"objects": {"tables": {"shop": [{"name": "a", "rename": "b"}]}}}, "renames databases, not tables"),
        ({"objects": {}}, "names no database and no table"),
        ({"speed_limits": [{"begin": 120, "end": "05:59", "speed": 5}]}, 'quoted "hh:mm"'),
        ({"start": "tomorrow"}, "start must be now or an ISO time"),
    ],
)
def test_mistakes_are_named(fields: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError) as raised:
        parsed(**fields)
    assert message in raised.value.message


def test_a_json_file_and_a_broken_yaml_file(tmp_path: Path) -> None:
    good = tmp_path / "task.json"
    good.write_text('{"name": "n1234", "source": {"host": "h", "user": "u"}, "target": {"host": "h", "user": "u"}}')
    assert spec.load(good, {}).source.port == 3306
    broken = tmp_path / "task.yaml"
    broken.write_text("name: [unclosed\n")
    with pytest.raises(UsageError, match=r"task\.yaml is not valid YAML"):
        spec.load(broken, {})
    with pytest.raises(UsageError, match="cannot read the task file"):
        spec.load(tmp_path / "missing.yaml", {})
