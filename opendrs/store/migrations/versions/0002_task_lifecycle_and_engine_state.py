"""task lifecycle and engine state

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "prechecks",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("finished_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name=op.f("fk_prechecks_task_id_tasks")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prechecks")),
    )
    with op.batch_alter_table("prechecks", schema=None) as batch_op:
        batch_op.create_index("ix_prechecks_status", ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_prechecks_task_id"), ["task_id"], unique=False)

    op.create_table(
        "task_checkpoints",
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name=op.f("fk_task_checkpoints_task_id_tasks")),
        sa.PrimaryKeyConstraint("task_id", name=op.f("pk_task_checkpoints")),
    )
    op.create_table(
        "task_chunks",
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("chunk_id", sa.String(length=200), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("done_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name=op.f("fk_task_chunks_task_id_tasks")),
        sa.PrimaryKeyConstraint("task_id", "chunk_id", name=op.f("pk_task_chunks")),
    )
    op.create_table(
        "task_tables",
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("source_schema", sa.String(length=64), nullable=False),
        sa.Column("source_name", sa.String(length=64), nullable=False),
        sa.Column("target_schema", sa.String(length=64), nullable=False),
        sa.Column("target_name", sa.String(length=64), nullable=False),
        sa.Column("rows_estimate", sa.BigInteger(), nullable=False),
        sa.Column("rows_copied", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("structure_done", sa.Integer(), server_default="0", nullable=False),
        sa.Column("data_done", sa.Integer(), server_default="0", nullable=False),
        sa.Column("index_done", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name=op.f("fk_task_tables_task_id_tasks")),
        sa.PrimaryKeyConstraint("task_id", "position", name=op.f("pk_task_tables")),
    )
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("objects", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("scheduled_start", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("paused_from", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("lease_owner", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("lease_expires_at", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("lease_version", sa.Integer(), server_default="0", nullable=False))
