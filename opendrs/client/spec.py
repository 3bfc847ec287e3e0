"""The task file (YAML or JSON) and the API request bodies it stands for.

name: orders-to-dc2
type: FULL_INCR_TRANS            # FULL_TRANS | FULL_INCR_TRANS | INCR_TRANS
engine: mysql
source: {host: 10.0.0.5, port: 3306, user: repl, password_env: SRC_PW}
target: {host: 10.0.0.6, port: 3306, user: load, password: "..."}
objects:                         # omitted or "all": the whole instance
  databases: [shop, {name: crm, rename: crm_copy}]
  tables: {billing: [invoices, payments]}
speed_limits: [{begin: "02:00", end: "05:59", speed: 5}]   # MB/s, UTC windows
start: now                       # now | an ISO time; omitted: configure only (unless --start)
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from opendrs.client.errors import UsageError

TASK_TYPES = ("FULL_TRANS", "FULL_INCR_TRANS", "INCR_TRANS")
_TOP_KEYS = {"name", "type", "engine", "description", "source", "target", "objects", "speed_limits", "start"}
_ENDPOINT_KEYS = {"host", "port", "user", "password", "password_env"}


@dataclasses.dataclass(frozen=True)
class EndpointSpec:
    host: str
    port: int
    user: str
    password: str = dataclasses.field(repr=False)

    def connection(self, db_type: str) -> dict[str, Any]:
        return {
            "db_type": db_type,
            "ip": self.host,
            "db_port": self.port,
            "db_user": self.user,
            "db_password": self.password,
        }


@dataclasses.dataclass(frozen=True)
class DatabaseSpec:
    name: str
    rename: str | None = None


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    name: str
    task_type: str
    engine: str
    source: EndpointSpec
    target: EndpointSpec
    databases: tuple[DatabaseSpec, ...] = ()
    tables: tuple[tuple[str, str], ...] = ()  # (database, table)
    speed_limits: tuple[dict[str, str], ...] = ()
    start: datetime | None = None  # when to start: None, or a time (now: the time the file was read)
    start_now: bool = False
    description: str | None = None

    @property
    def whole_instance(self) -> bool:
        return not self.databases and not self.tables

    # Request bodies --------------------------------------------------------------------------------------

    def creation(self) -> dict[str, Any]:
        job: dict[str, Any] = {
            "name": self.name,
            "db_use_type": "migration",
            "engine_type": self.engine,
            "job_direction": "non-dbs",  # self-managed databases on both sides
            "net_type": "eip",
            "node_type": "high",
            "task_type": self.task_type,
            "source_endpoint": {"db_type": self.engine},
            "target_endpoint": {"db_type": self.engine},
        }
        if self.description:
            job["description"] = self.description
        return job

    def connection_tests(self, job_id: str) -> list[dict[str, Any]]:
        return [
            {"id": job_id, "net_type": "eip", "end_point_type": role, **endpoint.connection(self.engine)}
            for role, endpoint in (("so", self.source), ("ta", self.target))
        ]

    def modification(self, job_id: str) -> dict[str, Any]:
        return {
            "job_id": job_id,
            "source_endpoint": self.source.connection(self.engine),
            "target_endpoint": self.target.connection(self.engine),
            "store_db_info": True,
        }

    def selection(self, job_id: str) -> dict[str, Any]:
        if self.whole_instance:
            return {"job_id": job_id, "selected": False}
        objects: list[dict[str, Any]] = []
        for database in self.databases:
            item = {"id": database.name, "object_type": "database", "object_name": database.name, "select": "true"}
            if database.rename:
                item["object_alias_name"] = database.rename
            objects.append(item)
        for parent in dict.fromkeys(schema for schema, _ in self.tables):
            objects.append({"id": parent, "object_type": "database", "object_name": parent, "select": "partial"})
        for schema, table in self.tables:
            objects.append(
                {
                    "id": f"{schema}-*-*-{table}",
                    "parent_id": schema,
                    "object_type": "table",
                    "object_name": table,
                    "select": "true",
                }
            )
        return {"job_id": job_id, "selected": True, "job": objects}

    def speed_limit(self, job_id: str) -> dict[str, Any]:
        return {"job_id": job_id, "speed_limit": list(self.speed_limits)}

    def start_time(self) -> str | None:
        """batch-starting's start_time: epoch milliseconds, or None for now."""
        if self.start is None or self.start_now:
            return None
        return str(int(self.start.timestamp() * 1000))


# Reading a file ------------------------------------------------------------------------------------------


def load(path: Path, environ: Mapping[str, str] = os.environ) -> TaskSpec:
    try:
        text = path.read_text()
    except OSError as exc:
        raise UsageError(f"cannot read the task file {path}: {exc.strerror}") from None
    try:
        raw = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise UsageError(f"{path} is not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {exc}") from None
    try:
        return parse(raw, environ)
    except UsageError as exc:
        raise UsageError(f"{path}: {exc.message}") from None


def parse(raw: Any, environ: Mapping[str, str]) -> TaskSpec:
    top = _mapping(raw, "the task file")
    _known(top, _TOP_KEYS, "")
    task_type = str(top.get("type", "FULL_INCR_TRANS"))
    if task_type not in TASK_TYPES:
        raise UsageError(f"type must be one of {', '.join(TASK_TYPES)}, not {task_type!r}")
    databases, tables = _objects(top.get("objects", "all"))
    start, start_now = _start(top.get("start"))
    description = top.get("description")
    return TaskSpec(
        name=_text(top, "name", ""),
        task_type=task_type,
        engine=str(top.get("engine", "mysql")),
        source=_endpoint(top.get("source"), "source", environ),
        target=_endpoint(top.get("target"), "target", environ),
        databases=databases,
        tables=tables,
        speed_limits=_speed_limits(top.get("speed_limits", [])),
        start=start,
        start_now=start_now,
        description=None if description is None else str(description),
    )


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise UsageError(f"{where} must be a mapping")
    return value


def _known(found: Mapping[str, Any], allowed: set[str], prefix: str) -> None:
    unknown = sorted(set(found) - allowed)
    if unknown:
        raise UsageError(f"unknown key {prefix}{unknown[0]} (known: {', '.join(sorted(allowed))})")


def _text(found: Mapping[str, Any], key: str, prefix: str) -> str:
    value = found.get(key)
    if value is None or value == "":
        raise UsageError(f"{prefix}{key} is required")
    if not isinstance(value, str | int):
        raise UsageError(f"{prefix}{key} must be a string")
    return str(value)


def _endpoint(raw: Any, side: str, environ: Mapping[str, str]) -> EndpointSpec:
    found = _mapping(raw, side)
    _known(found, _ENDPOINT_KEYS, f"{side}.")
    port = found.get("port", 3306)
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        raise UsageError(f"{side}.port must be a whole number from 1 to 65535")
    if "password" in found and "password_env" in found:
        raise UsageError(f"{side}: give password or password_env, not both")
    if "password_env" in found:
        variable = str(found["password_env"])
        if variable not in environ:
            raise UsageError(f"{side}.password_env: the environment variable {variable} is not set")
        password = environ[variable]
    else:
        password = str(found.get("password") or "")
    return EndpointSpec(_text(found, "host", f"{side}."), port, _text(found, "user", f"{side}."), password)


def _objects(raw: Any) -> tuple[tuple[DatabaseSpec, ...], tuple[tuple[str, str], ...]]:
    if raw is None or raw == "all":
        return (), ()
    found = _mapping(raw, "objects (or the word all)")
    _known(found, {"databases", "tables"}, "objects.")
    databases = []
    for position, item in enumerate(found.get("databases") or []):
        where = f"objects.databases[{position}]"
        if isinstance(item, str):
            databases.append(DatabaseSpec(item))
            continue
        entry = _mapping(item, where)
        _known(entry, {"name", "rename"}, f"{where}.")
        rename = entry.get("rename")
        databases.append(DatabaseSpec(_text(entry, "name", f"{where}."), None if rename is None else str(rename)))
    tables: list[tuple[str, str]] = []
    for database, names in _mapping(found.get("tables") or {}, "objects.tables").items():
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            raise UsageError(
                f"objects.tables.{database} must be a list of table names (the API renames databases, not tables)"
            )
        tables.extend((str(database), name) for name in names)
    if not databases and not tables:
        raise UsageError("objects names no database and no table (write objects: all for the whole instance)")
    return tuple(databases), tuple(tables)


def _speed_limits(raw: Any) -> tuple[dict[str, str], ...]:
    if not isinstance(raw, list):
        raise UsageError("speed_limits must be a list of {begin, end, speed}")
    windows = []
    for position, item in enumerate(raw):
        entry = _mapping(item, f"speed_limits[{position}]")
        _known(entry, {"begin", "end", "speed"}, f"speed_limits[{position}].")
        for key in ("begin", "end"):
            if isinstance(entry.get(key), int):  # YAML 1.1 reads an unquoted 02:00 as the number 120
                raise UsageError(f'speed_limits[{position}].{key} must be a quoted "hh:mm" time')
        windows.append({key: str(_text(entry, key, f"speed_limits[{position}].")) for key in ("begin", "end", "speed")})
    return tuple(windows)


def _start(raw: Any) -> tuple[datetime | None, bool]:
    if raw is None:
        return None, False
    if raw == "now":
        return datetime.now(UTC), True
    if isinstance(raw, datetime):  # YAML reads an unquoted timestamp as one
        return (raw if raw.tzinfo else raw.replace(tzinfo=UTC)), False
    try:
        when = datetime.fromisoformat(str(raw))
    except ValueError:
        raise UsageError(f"start must be now or an ISO time such as 2026-01-31T02:00:00Z, not {raw!r}") from None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)), False
