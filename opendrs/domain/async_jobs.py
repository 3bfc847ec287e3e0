"""v5 batch-async jobs: job specs stored first, validated in the background, committed into tasks.

The API checks only the shape of a submission (objects where objects belong); the values are checked
here, asynchronously, as the cloud does: a bad value makes the async job ASYNC_JOB_VALIDATE_FAILED,
with one problem per field, fixable through PUT.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from typing import Any

from opendrs.domain import catalog
from opendrs.domain.errors import Language, Text
from opendrs.domain.states import AsyncJobStatus

JsonObject = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Problem:
    field: str
    en: str
    zh: str


@dataclasses.dataclass(frozen=True)
class Entry:
    """One job of an async batch: the id its task will have, its spec (no passwords), its problems."""

    id: str
    spec: JsonObject
    secrets: dict[str, str]  # secret path (domain.secrets) -> encrypted value
    problems: list[JsonObject] = dataclasses.field(default_factory=list)  # asdict(Problem)


@dataclasses.dataclass(frozen=True)
class AsyncJobSummary:
    """What the list shows of an async job: none of its (possibly large) job specs."""

    id: str
    status: AsyncJobStatus
    domain_name: str
    user_name: str
    create_time: int


@dataclasses.dataclass(frozen=True)
class AsyncJob:
    id: str
    project_id: str
    domain_name: str
    user_name: str
    status: AsyncJobStatus
    entries: tuple[Entry, ...]
    create_time: int
    update_time: int


NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{3,49}$")
FORBIDDEN_IN_DESCRIPTION = set("!<>&'\"\\")

_MUST_BE_ONE_OF = Text("must be one of {values}", "必须是{values}之一")
_NAME_RULE = Text(
    "must be 4 to 50 letters, digits, '-' or '_', starting with a letter",
    "必须为4到50个字母、数字、“-”或“_”，并以字母开头",
)
_REQUIRED = Text("is required", "不能为空")
_ENGINE_UNSUPPORTED = Text(
    "{value} is not supported by opendrs; supported: {values}",
    "opendrs不支持{value}；支持：{values}",
)
_ONE_ENDPOINT = Text(
    "must hold exactly one endpoint with endpoint_role {role}",
    "必须且只能包含一个endpoint_role为{role}的端点",
)
_DB_TYPE_MISMATCH = Text("must be {expected} for engine_type {engine}", "engine_type为{engine}时必须为{expected}")
_DESCRIPTION_RULE = Text("must be at most 256 characters without !<>&'\"\\", "最多256个字符，且不能包含!<>&'\"\\")
_PORT_RULE = Text("must be a port number from 1 to 65535", "必须是1到65535之间的端口号")
_NAME_TAKEN = Text("{value} is already the name of another task", "{value}已被其他任务使用")


def validate(spec: JsonObject, taken_names: Iterable[str]) -> list[Problem]:
    """Every problem with the values of one job spec; `taken_names` are lower-cased names in use."""
    problems: list[Problem] = []
    base = spec.get("base_info") or {}
    _check_name(base.get("name"), set(taken_names), problems)
    for field, allowed in (
        ("job_type", catalog.JOB_TYPES),
        ("job_direction", catalog.JOB_DIRECTIONS),
        ("task_type", catalog.TASK_TYPES),
        ("net_type", catalog.NET_TYPES),
    ):
        _check_enum(f"base_info.{field}", base.get(field), allowed, problems)
    engine = base.get("engine_type")
    db_types = catalog.V5_ENGINES.get(engine) if isinstance(engine, str) else None
    if db_types is None:
        text = _ENGINE_UNSUPPORTED(value=engine, values=", ".join(catalog.V5_ENGINES))
        problems.append(_problem("base_info.engine_type", _REQUIRED if engine is None else text))
    description = base.get("description")
    if description is not None and (len(description) > 256 or FORBIDDEN_IN_DESCRIPTION & set(description)):
        problems.append(_problem("base_info.description", _DESCRIPTION_RULE))
    for key, role in (("source_endpoint", "so"), ("target_endpoint", "ta")):
        _check_endpoints(key, role, spec.get(key) or [], db_types, engine, problems)
    scope = (spec.get("db_object") or {}).get("object_scope")
    _check_enum("db_object.object_scope", scope, catalog.OBJECT_SCOPES, problems)
    node_type = ((spec.get("node_info") or {}).get("spec") or {}).get("node_type")
    _check_enum("node_info.spec.node_type", node_type, catalog.NODE_TYPES, problems)
    return problems


def _check_name(name: object, taken: set[str], problems: list[Problem]) -> None:
    if not isinstance(name, str) or not NAME.match(name):
        problems.append(_problem("base_info.name", _REQUIRED if name is None else _NAME_RULE))
    elif name.lower() in taken:
        problems.append(_problem("base_info.name", _NAME_TAKEN(value=name)))


def _check_enum(field: str, value: object, allowed: tuple[str, ...], problems: list[Problem]) -> None:
    if value is None:
        problems.append(_problem(field, _REQUIRED))
    elif value not in allowed:
        problems.append(_problem(field, _MUST_BE_ONE_OF(values=", ".join(allowed))))


def _check_endpoints(
    key: str,
    role: str,
    endpoints: list[JsonObject],
    db_types: tuple[str, str] | None,
    engine: object,
    problems: list[Problem],
) -> None:
    mine = [endpoint for endpoint in endpoints if endpoint.get("endpoint_role") == role]
    if len(mine) != 1 or len(endpoints) != 1:
        problems.append(_problem(key, _ONE_ENDPOINT(role=role)))
        return
    endpoint = mine[0]
    expected = None if db_types is None else db_types[0 if role == "so" else 1]
    if expected is not None and endpoint.get("db_type") != expected:
        problems.append(_problem(f"{key}[0].db_type", _DB_TYPE_MISMATCH(expected=expected, engine=engine)))
    _check_enum(f"{key}[0].endpoint_type", endpoint.get("endpoint_type"), catalog.ENDPOINT_TYPES, problems)
    port = (endpoint.get("endpoint") or {}).get("db_port")
    if port is not None and not (str(port).isdigit() and 1 <= int(port) <= 65535):
        problems.append(_problem(f"{key}[0].endpoint.db_port", _PORT_RULE))


def _problem(field: str, text: Text) -> Problem:
    return Problem(field, f"{field} {text.render(Language.EN)}", f"{field}：{text.render(Language.ZH)}")


@dataclasses.dataclass(frozen=True)
class ListQuery:
    project_id: str
    async_job_id: str | None
    status: str | None
    domain_name: str | None
    user_name: str | None
    offset: int
    limit: int
    ascending: bool
