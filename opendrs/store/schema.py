"""The store's tables (SQLAlchemy Core). Alembic migrations must produce exactly this; a test checks it.

Times are epoch milliseconds (BIGINT): every API time format is derived from them.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

domains = Table(
    "domains",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("created_at", BigInteger, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("domain_id", String(32), ForeignKey("domains.id"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("domain_id", "name"),
)

projects = Table(
    "projects",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("domain_id", String(32), ForeignKey("domains.id"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("domain_id", "name"),
)

access_keys = Table(
    "access_keys",
    metadata,
    Column("access", String(40), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id"), nullable=False, index=True),
    Column("secret_encrypted", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

tasks = Table(
    "tasks",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("project_id", String(32), nullable=False),
    Column("name", String(64), nullable=False),
    # Lower-cased name: names are unique per project, case-insensitively, among tasks not deleted.
    Column("name_key", String(64), nullable=False),
    Column("status", String(40), nullable=False),
    Column("db_use_type", String(32), nullable=False),
    Column("engine_type", String(64), nullable=False),
    Column("job_direction", String(16), nullable=False),
    Column("net_type", String(16), nullable=False),
    Column("node_type", String(16), nullable=False),
    Column("task_type", String(32), nullable=False),
    Column("description", String(256), nullable=False, server_default=""),
    Column("source_endpoint", JSON, nullable=False),
    Column("target_endpoint", JSON, nullable=False),
    # Everything else the creation request carried (tags, cloud-only fields...), passwords removed.
    Column("options", JSON, nullable=False),
    # Secrets split out of the request (domain.secrets), encrypted: {"source_endpoint.db_password": "..."}.
    Column("secrets", JSON, nullable=False),
    Column("async_job_id", String(36), nullable=True),
    Column("error_code", String(32), nullable=True),
    Column("error_msg", Text, nullable=True),
    Column("create_time", BigInteger, nullable=False),
    Column("update_time", BigInteger, nullable=False),
    Column("actual_start_time", BigInteger, nullable=True),
    Column("full_transfer_complete_time", BigInteger, nullable=True),
    Index("ix_tasks_project_id_create_time", "project_id", "create_time"),
    Index("ix_tasks_status", "status"),
    Index(
        "uq_tasks_project_id_name_key",
        "project_id",
        "name_key",
        unique=True,
        sqlite_where=text("status <> 'DELETED'"),
        postgresql_where=text("status <> 'DELETED'"),
    ),
)

# What the engine last measured for a task; the progress API reads it.
task_progress = Table(
    "task_progress",
    metadata,
    Column("task_id", String(36), ForeignKey("tasks.id"), primary_key=True),
    Column("progress", Integer, nullable=False, server_default="0"),  # percent, whole task
    Column("struct_percent", Integer, nullable=True),
    Column("data_percent", Integer, nullable=True),
    Column("index_percent", Integer, nullable=True),
    Column("struct_remaining_seconds", BigInteger, nullable=True),
    Column("data_remaining_seconds", BigInteger, nullable=True),
    Column("index_remaining_seconds", BigInteger, nullable=True),
    Column("remaining_seconds", BigInteger, nullable=True),
    Column("incre_delay_millis", BigInteger, nullable=True),
    Column("apply_rows_rate", BigInteger, nullable=True),
    Column("apply_bytes_rate", BigInteger, nullable=True),
    Column("process_time", BigInteger, nullable=True),
    Column("updated_at", BigInteger, nullable=False),
)

# Asynchronous operations (GET /v1/{project_id}/jobs/{job_id}) and their sub-jobs.
operations = Table(
    "operations",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("project_id", String(32), nullable=False),
    Column("job_type", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("begin_time", BigInteger, nullable=False),
    Column("end_time", BigInteger, nullable=True),
    Column("error_code", String(32), nullable=True),
    Column("fail_reason", Text, nullable=True),
    Index("ix_operations_status", "status"),
    Index("ix_operations_end_time", "end_time"),
)

sub_jobs = Table(
    "sub_jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("operation_id", String(32), ForeignKey("operations.id"), nullable=False, index=True),
    Column("position", Integer, nullable=False),
    Column("job_type", String(64), nullable=False),
    Column("task_id", String(36), nullable=True, index=True),
    Column("status", String(16), nullable=False, index=True),
    # The task status that completes this sub-job, and the one that fails it.
    Column("success_status", String(40), nullable=True),
    Column("failure_status", String(40), nullable=True),
    Column("begin_time", BigInteger, nullable=False),
    Column("end_time", BigInteger, nullable=True),
    Column("error_code", String(32), nullable=True),
    Column("fail_reason", Text, nullable=True),
)

# v5 batch-async jobs: the submitted job specs wait here until commit turns them into tasks.
async_jobs = Table(
    "async_jobs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("project_id", String(32), nullable=False),
    Column("domain_name", String(64), nullable=False),
    Column("user_name", String(64), nullable=False),
    Column("status", String(40), nullable=False),
    # [{"id": reserved job id, "spec": {...}, "problems": [...], "secrets": {...}}]
    Column("entries", JSON, nullable=False),
    Column("create_time", BigInteger, nullable=False),
    Column("update_time", BigInteger, nullable=False),
    Index("ix_async_jobs_project_id_create_time", "project_id", "create_time"),
)
