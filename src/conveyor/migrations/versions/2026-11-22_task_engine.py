"""Task engine: the durable task table and the periodic schedule.

Revision ID: 20261122_task_engine
Revises: 20261122_baseline
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import conveyor.database

revision: str = "20261122_task_engine"
down_revision: str | None = "20261122_baseline"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = conveyor.database.UTCDateTime(timezone=True)
QUEUED = sa.text("status = 'queued'")
RUNNING = sa.text("status = 'running'")
ACTIVE_KEY = sa.text("key IS NOT NULL AND status IN ('queued', 'running')")


def upgrade() -> None:
    op.create_table(
        "task",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("queue", sa.String(length=100), nullable=False),
        sa.Column(
            "payload", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column(
            "status",
            sa.Enum(
                "queued",
                "running",
                "succeeded",
                "dead",
                "cancelled",
                name="taskstatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("run_at", UTC, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=True),
        sa.Column("locked_by", sa.String(length=200), nullable=True),
        sa.Column("locked_until", UTC, nullable=True),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.Column("started_at", UTC, nullable=True),
        sa.Column("finished_at", UTC, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task")),
    )
    op.create_index(
        "ix_task_claim",
        "task",
        ["priority", "run_at", "id"],
        sqlite_where=QUEUED,
        postgresql_where=QUEUED,
    )
    op.create_index(
        "ix_task_lease", "task", ["locked_until"], sqlite_where=RUNNING, postgresql_where=RUNNING
    )
    op.create_index(
        "uq_task_key",
        "task",
        ["key"],
        unique=True,
        sqlite_where=ACTIVE_KEY,
        postgresql_where=ACTIVE_KEY,
    )
    op.create_index("ix_task_status_finished_at", "task", ["status", "finished_at"])
    op.create_index("ix_task_name_status", "task", ["name", "status"])
    if op.get_bind().dialect.name == "postgresql":
        # A queue table churns: each task's row is rewritten as it is claimed and completed,
        # and the dead versions' entries in the partial claim index sit in front of the next
        # claim until vacuum removes them. Vacuum after 1% of the rows changed, not 20%.
        op.execute(
            "ALTER TABLE task SET (autovacuum_vacuum_scale_factor = 0.01, "
            "autovacuum_vacuum_threshold = 1000, autovacuum_vacuum_insert_scale_factor = 0.01, "
            "autovacuum_analyze_scale_factor = 0.02, autovacuum_vacuum_cost_delay = 0)"
        )
    op.create_table(
        "task_schedule",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("next_run_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_task_schedule")),
    )


def downgrade() -> None:
    op.drop_table("task_schedule")
    op.drop_index("ix_task_name_status", table_name="task")
    op.drop_index("ix_task_status_finished_at", table_name="task")
    op.drop_index("uq_task_key", table_name="task")
    op.drop_index("ix_task_lease", table_name="task")
    op.drop_index("ix_task_claim", table_name="task")
    op.drop_table("task")
