"""The contract's enumerated values (spec/API.md 3 and 4), and which of them opendrs can run."""

from __future__ import annotations

from collections.abc import Mapping

DB_USE_TYPES = ("migration", "sync", "cloudDataGuard")
JOB_TYPES = ("migration", "sync", "cloudDataGuard")
JOB_DIRECTIONS = ("up", "down", "non-dbs")
NET_TYPES = ("vpn", "vpc", "eip")
NODE_TYPES = ("micro", "small", "medium", "high", "xlarge", "2xlarge")
TASK_TYPES = ("FULL_TRANS", "INCR_TRANS", "FULL_INCR_TRANS")
OBJECT_SCOPES = ("all", "database", "table")
ENDPOINT_TYPES = ("offline", "ecs", "cloud")
DB_TYPES = ("mysql", "mongodb", "gaussdbv5", "postgresql", "kafka", "gaussdbv5ha", "taurus", "redis")
DELETE_TYPES = ("terminate", "force_terminate", "delete", "roll_back_upgrade_active_standby")

# v3 engine_type -> db_type expected on both endpoints. `redis` is an opendrs extension: the cloud has no
# open-source Redis target (spec/API.md 5).
V3_ENGINES: Mapping[str, str] = {"mysql": "mysql", "postgresql": "postgresql", "redis": "redis"}
# v5 engine_type -> (source db_type, target db_type). `postgresql-to-postgresql` and `redis-to-redis`
# are opendrs extensions.
V5_ENGINES: Mapping[str, tuple[str, str]] = {
    "mysql-to-mysql": ("mysql", "mysql"),
    "postgresql-to-postgresql": ("postgresql", "postgresql"),
    "redis-to-redis": ("redis", "redis"),
}
# The v3 engine_type a committed v5 job becomes.
V5_TO_V3_ENGINE: Mapping[str, str] = {
    "mysql-to-mysql": "mysql",
    "postgresql-to-postgresql": "postgresql",
    "redis-to-redis": "redis",
}
