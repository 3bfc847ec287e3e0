"""initial schema

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "async_jobs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("domain_name", sa.String(length=64), nullable=False),
        sa.Column("user_name", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("entries", sa.JSON(), nullable=False),
        sa.Column("create_time", sa.BigInteger(), nullable=False),
        sa.Column("update_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_async_jobs")),
    )
    with op.batch_alter_table("async_jobs", schema=None) as batch_op:
        batch_op.create_index("ix_async_jobs_project_id_create_time", ["project_id", "create_time"], unique=False)

    op.create_table(
        "domains",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_domains")),
        sa.UniqueConstraint("name", name=op.f("uq_domains_name")),
    )
    op.create_table(
        "operations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("job_type", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("begin_time", sa.BigInteger(), nullable=False),
        sa.Column("end_time", sa.BigInteger(), nullable=True),
        sa.Column("error_code", sa.String(length=32), nullable=True),
        sa.Column("fail_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operations")),
    )
    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.create_index("ix_operations_end_time", ["end_time"], unique=False)
        batch_op.create_index("ix_operations_status", ["status"], unique=False)

    op.create_table(
        "tasks",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("name_key", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("db_use_type", sa.String(length=32), nullable=False),
        sa.Column("engine_type", sa.String(length=64), nullable=False),
        sa.Column("job_direction", sa.String(length=16), nullable=False),
        sa.Column("net_type", sa.String(length=16), nullable=False),
        sa.Column("node_type", sa.String(length=16), nullable=False),
        sa.Column("task_type", sa.String(length=32), nullable=False),
        sa.Column("description", sa.String(length=256), server_default="", nullable=False),
        sa.Column("source_endpoint", sa.JSON(), nullable=False),
        sa.Column("target_endpoint", sa.JSON(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("secrets", sa.JSON(), nullable=False),
        sa.Column("async_job_id", sa.String(length=36), nullable=True),
        sa.Column("error_code", sa.String(length=32), nullable=True),
        sa.Column("error_msg", sa.Text(), nullable=True),
        sa.Column("create_time", sa.BigInteger(), nullable=False),
        sa.Column("update_time", sa.BigInteger(), nullable=False),
        sa.Column("actual_start_time", sa.BigInteger(), nullable=True),
        sa.Column("full_transfer_complete_time", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
    )
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index("ix_tasks_project_id_create_time", ["project_id", "create_time"], unique=False)
        batch_op.create_index("ix_tasks_status", ["status"], unique=False)
        batch_op.create_index(
            "uq_tasks_project_id_name_key",
            ["project_id", "name_key"],
            unique=True,
            sqlite_where=sa.text("status <> 'DELETED'"),
            postgresql_where=sa.text("status <> 'DELETED'"),
        )

    op.create_table(
        "projects",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("domain_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["domain_id"], ["domains.id"], name=op.f("fk_projects_domain_id_domains")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
        sa.UniqueConstraint("domain_id", "name", name=op.f("uq_projects_domain_id_name")),
    )
    op.create_table(
        "sub_jobs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("operation_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("job_type", sa.String(length=64), nullable=False),
        sa.Column("task_id", sa.String(length=36), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("success_status", sa.String(length=40), nullable=True),
        sa.Column("failure_status", sa.String(length=40), nullable=True),
        sa.Column("begin_time", sa.BigInteger(), nullable=False),
        sa.Column("end_time", sa.BigInteger(), nullable=True),
        sa.Column("error_code", sa.String(length=32), nullable=True),
        sa.Column("fail_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["operation_id"], ["operations.id"], name=op.f("fk_sub_jobs_operation_id_operations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sub_jobs")),
    )
    with op.batch_alter_table("sub_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sub_jobs_operation_id"), ["operation_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sub_jobs_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_sub_jobs_task_id"), ["task_id"], unique=False)

    op.create_table(
        "task_progress",
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("progress", sa.Integer(), server_default="0", nullable=False),
        sa.Column("struct_percent", sa.Integer(), nullable=True),
        sa.Column("data_percent", sa.Integer(), nullable=True),
        sa.Column("index_percent", sa.Integer(), nullable=True),
        sa.Column("struct_remaining_seconds", sa.BigInteger(), nullable=True),
        sa.Column("data_remaining_seconds", sa.BigInteger(), nullable=True),
        sa.Column("index_remaining_seconds", sa.BigInteger(), nullable=True),
        sa.Column("remaining_seconds", sa.BigInteger(), nullable=True),
        sa.Column("incre_delay_millis", sa.BigInteger(), nullable=True),
        sa.Column("apply_rows_rate", sa.BigInteger(), nullable=True),
        sa.Column("apply_bytes_rate", sa.BigInteger(), nullable=True),
        sa.Column("process_time", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name=op.f("fk_task_progress_task_id_tasks")),
        sa.PrimaryKeyConstraint("task_id", name=op.f("pk_task_progress")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("domain_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["domain_id"], ["domains.id"], name=op.f("fk_users_domain_id_domains")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("domain_id", "name", name=op.f("uq_users_domain_id_name")),
    )
    op.create_table(
        "access_keys",
        sa.Column("access", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("secret_encrypted", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_access_keys_user_id_users")),
        sa.PrimaryKeyConstraint("access", name=op.f("pk_access_keys")),
    )
    with op.batch_alter_table("access_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_access_keys_user_id"), ["user_id"], unique=False)
