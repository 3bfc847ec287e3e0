"""task history: lag and throughput samples, failure events, transferred totals

Revision ID: 0004
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "task_samples",
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("sampled_at", sa.BigInteger(), nullable=False),
        sa.Column("lag_ms", sa.BigInteger(), nullable=True),
        sa.Column("rows_per_second", sa.BigInteger(), nullable=False),
        sa.Column("rows_transferred", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name=op.f("fk_task_samples_task_id_tasks")),
        sa.PrimaryKeyConstraint("task_id", "sampled_at", name=op.f("pk_task_samples")),
    )
    with op.batch_alter_table("task_samples", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_task_samples_sampled_at"), ["sampled_at"], unique=False)

    op.create_table(
        "task_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("error_code", sa.String(length=32), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name=op.f("fk_task_events_task_id_tasks")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_events")),
    )
    with op.batch_alter_table("task_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_task_events_task_id"), ["task_id"], unique=False)

    with op.batch_alter_table("task_progress", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rows_transferred", sa.BigInteger(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("bytes_transferred", sa.BigInteger(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("task_progress", schema=None) as batch_op:
        batch_op.drop_column("bytes_transferred")
        batch_op.drop_column("rows_transferred")
    with op.batch_alter_table("task_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_task_events_task_id"))
    op.drop_table("task_events")
    with op.batch_alter_table("task_samples", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_task_samples_sampled_at"))
    op.drop_table("task_samples")
