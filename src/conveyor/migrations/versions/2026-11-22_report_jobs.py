"""Report jobs and the context store (002).

Revision ID: 20261122_report_jobs
Revises: 20261122_customer_registrations
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import conveyor.database

revision: str = "20261122_report_jobs"
down_revision: str | None = "20261122_customer_registrations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "report_customer",
        sa.Column("api_key_id", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.String(length=255), nullable=False),
        sa.Column(
            "facts",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", conveyor.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", conveyor.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["api_key.id"],
            name=op.f("fk_report_customer_api_key_id_api_key"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("api_key_id", "customer_id", name=op.f("pk_report_customer")),
    )
    op.create_table(
        "report_job",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("api_key_id", sa.String(length=32), nullable=False),
        sa.Column("session_id", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("report_type", sa.String(length=40), nullable=False),
        sa.Column("customer_id", sa.String(length=255), nullable=False),
        sa.Column("opportunity_id", sa.String(length=255), nullable=False),
        sa.Column("section_title", sa.String(length=200), nullable=False),
        sa.Column("original_text", sa.Text(), nullable=True),
        sa.Column("prompt", sa.Text(), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("section_markdown", sa.Text(), nullable=True),
        sa.Column("error_code", sa.String(length=40), nullable=True),
        sa.Column("error_message", sa.String(length=1000), nullable=True),
        sa.Column("started_at", conveyor.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", conveyor.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expires_at", conveyor.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", conveyor.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", conveyor.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["api_key.id"],
            name=op.f("fk_report_job_api_key_id_api_key"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_job")),
    )
    with op.batch_alter_table("report_job", schema=None) as batch_op:
        batch_op.create_index("ix_report_job_expires_at", ["expires_at"], unique=False)
        batch_op.create_index(
            "uq_report_job_active",
            ["api_key_id", "session_id", "request_hash"],
            unique=True,
            postgresql_where=sa.text("status IN ('pending', 'running')"),
            sqlite_where=sa.text("status IN ('pending', 'running')"),
        )

    op.create_table(
        "report_opportunity",
        sa.Column("api_key_id", sa.String(length=32), nullable=False),
        sa.Column("opportunity_id", sa.String(length=255), nullable=False),
        sa.Column(
            "facts",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", conveyor.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", conveyor.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["api_key.id"],
            name=op.f("fk_report_opportunity_api_key_id_api_key"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("api_key_id", "opportunity_id", name=op.f("pk_report_opportunity")),
    )


def downgrade() -> None:
    op.drop_table("report_opportunity")
    with op.batch_alter_table("report_job", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_report_job_active",
            postgresql_where=sa.text("status IN ('pending', 'running')"),
            sqlite_where=sa.text("status IN ('pending', 'running')"),
        )
        batch_op.drop_index("ix_report_job_expires_at")

    op.drop_table("report_job")
    op.drop_table("report_customer")
