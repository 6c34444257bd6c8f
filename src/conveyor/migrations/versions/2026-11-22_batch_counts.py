"""Per-batch job counts by status and step, kept by triggers (SQLite) for the progress poll.

Revision ID: 20261122_batch_counts
Revises: 20261122_report_jobs
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import conveyor.database

revision: str = "20261122_batch_counts"
down_revision: str | None = "20261122_report_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UPSERT = """
    INSERT INTO registration_batch_count (batch_id, status, current_step, jobs, last_updated)
    VALUES (NEW.batch_id, NEW.status, NEW.current_step, 1, NEW.updated_at)
    ON CONFLICT (batch_id, status, current_step) DO UPDATE SET
        jobs = jobs + 1,
        last_updated = max(coalesce(last_updated, excluded.last_updated), excluded.last_updated);
"""
_DECREMENT = """
    UPDATE registration_batch_count SET jobs = jobs - 1
    WHERE batch_id = OLD.batch_id AND status = OLD.status AND current_step = OLD.current_step;
"""


def upgrade() -> None:
    op.create_table(
        "registration_batch_count",
        sa.Column("batch_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("current_step", sa.Integer(), nullable=False),
        sa.Column("jobs", sa.Integer(), nullable=False),
        sa.Column("last_updated", conveyor.database.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint(
            "batch_id", "status", "current_step", name=op.f("pk_registration_batch_count")
        ),
    )
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute(
        "CREATE TRIGGER registration_job_count_insert AFTER INSERT ON registration_job "
        f"BEGIN {_UPSERT} END"
    )
    op.execute(
        "CREATE TRIGGER registration_job_count_update "
        "AFTER UPDATE OF status, current_step, updated_at ON registration_job "
        f"BEGIN {_DECREMENT} {_UPSERT} END"
    )
    op.execute(
        "CREATE TRIGGER registration_job_count_delete AFTER DELETE ON registration_job "
        f"BEGIN {_DECREMENT} END"
    )
    op.execute(
        "INSERT INTO registration_batch_count (batch_id, status, current_step, jobs, last_updated) "
        "SELECT batch_id, status, current_step, count(*), max(updated_at) FROM registration_job "
        "GROUP BY batch_id, status, current_step"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER registration_job_count_{trigger}")
    op.drop_table("registration_batch_count")
