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
    # Lifecycle (batch-select-objects, batch-starting, batch-pause-task).
    Column("objects", JSON, nullable=True),  # the selection; None = whole instance
    Column("scheduled_start", BigInteger, nullable=True),  # epoch ms of a WAITING_FOR_START task
    Column("paused_from", String(40), nullable=True),  # where a PAUSING task resumes
    # The lease of the worker running the task; lease_version is the fencing token.
    Column("lease_owner", String(64), nullable=True),
    Column("lease_expires_at", BigInteger, nullable=True),
    Column("lease_version", Integer, nullable=False, server_default="0"),
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
    # Totals since the task started, added to by the engine (never overwritten by a progress report).
    Column("rows_transferred", BigInteger, nullable=False, server_default="0"),
    Column("bytes_transferred", BigInteger, nullable=False, server_default="0"),
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


# Prechecks (batch-precheck / batch-precheck-result): run by a worker, results per check item.
prechecks = Table(
    "prechecks",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("task_id", String(36), ForeignKey("tasks.id"), nullable=False, index=True),
    Column("mode", String(16), nullable=False),
    Column("status", String(16), nullable=False),  # pending | running | done
    Column("items", JSON, nullable=False),  # [{item, group, result, failed_reason, data}]
    Column("created_at", BigInteger, nullable=False),
    Column("finished_at", BigInteger, nullable=True),
    Index("ix_prechecks_status", "status"),
)

# A running task's own state, written only by its lease holder: where the snapshot was taken, which
# tables exist on the target, which chunks are copied. A new holder resumes from it.
task_checkpoints = Table(
    "task_checkpoints",
    metadata,
    Column("task_id", String(36), ForeignKey("tasks.id"), primary_key=True),
    Column("state", JSON, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

task_tables = Table(
    "task_tables",
    metadata,
    Column("task_id", String(36), ForeignKey("tasks.id"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("source_schema", String(64), nullable=False),
    Column("source_name", String(64), nullable=False),
    Column("target_schema", String(64), nullable=False),
    Column("target_name", String(64), nullable=False),
    Column("rows_estimate", BigInteger, nullable=False),
    Column("rows_copied", BigInteger, nullable=False, server_default="0"),
    Column("structure_done", Integer, nullable=False, server_default="0"),
    Column("data_done", Integer, nullable=False, server_default="0"),
    Column("index_done", Integer, nullable=False, server_default="0"),
)

task_chunks = Table(
    "task_chunks",
    metadata,
    Column("task_id", String(36), ForeignKey("tasks.id"), primary_key=True),
    Column("chunk_id", String(200), primary_key=True),
    Column("rows", BigInteger, nullable=False),
    Column("done_at", BigInteger, nullable=False),
)

# Comparisons of a task's source and target (create-compare-task): run by one worker under a lease.
compare_tasks = Table(
    "compare_tasks",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("task_id", String(36), ForeignKey("tasks.id"), nullable=False),
    Column("project_id", String(32), nullable=False),
    Column("kind", String(16), nullable=False),  # object | lines | contents
    Column("status", String(32), nullable=False),
    Column("scope", JSON, nullable=False),  # [{"db_name", "tables"}]; [] = the task's whole selection
    Column("start_at", BigInteger, nullable=False),
    Column("create_time", BigInteger, nullable=False),
    Column("end_time", BigInteger, nullable=True),
    Column("error_code", String(32), nullable=True),
    Column("error_msg", Text, nullable=True),
    Column("report", JSON, nullable=True),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_expires_at", BigInteger, nullable=True),
    Column("lease_version", Integer, nullable=False, server_default="0"),
    Index("ix_compare_tasks_task_id_create_time", "task_id", "create_time"),
    Index("ix_compare_tasks_status", "status"),
)

# What the worker sampled every few seconds while a task ran (lag and throughput); about an hour is kept.
task_samples = Table(
    "task_samples",
    metadata,
    Column("task_id", String(36), ForeignKey("tasks.id"), primary_key=True),
    Column("sampled_at", BigInteger, primary_key=True),
    Column("lag_ms", BigInteger, nullable=True),  # None outside the incremental phase
    Column("rows_per_second", BigInteger, nullable=False),
    Column("rows_transferred", BigInteger, nullable=False),
    Index("ix_task_samples_sampled_at", "sampled_at"),
)

# A task's failures (error code, message, time): the ones that ended it and the ones it retried.
task_events = Table(
    "task_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("task_id", String(36), ForeignKey("tasks.id"), nullable=False, index=True),
    Column("at", BigInteger, nullable=False),
    Column("level", String(16), nullable=False),  # error | warning
    Column("error_code", String(32), nullable=True),
    Column("message", Text, nullable=False),
)
