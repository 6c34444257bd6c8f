"""Registration batches, their jobs and steps, and leads (000).

Revision ID: 20261122_registration_batches
Revises: 20261122_restaurants
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import conveyor.database

revision: str = "20261122_registration_batches"
down_revision: str | None = "20261122_restaurants"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "registration_batch",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("total_restaurants", sa.Integer(), nullable=False),
        sa.Column(
            "execution_config",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("source_lead_scrape_job_id", sa.Uuid(), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=True),
        sa.Column("started_at", conveyor.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("completed_at", conveyor.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", conveyor.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", conveyor.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", conveyor.database.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registration_batch")),
    )
    with op.batch_alter_table("registration_batch", schema=None) as batch_op:
        batch_op.create_index(
            "ix_registration_batch_status_created", ["status", "created_at"], unique=False
        )

    op.create_table(
        "lead",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.Column("city", sa.String(length=100), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=30), nullable=True),
        sa.Column("website_url", sa.String(length=2000), nullable=True),
        sa.Column("google_address", sa.String(length=300), nullable=True),
        sa.Column("lead_scrape_job_id", sa.Uuid(), nullable=True),
        sa.Column("restaurant_id", sa.Uuid(), nullable=True),
        sa.Column("converted_at", conveyor.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", conveyor.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", conveyor.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["restaurant_id"], ["restaurant.id"], name=op.f("fk_lead_restaurant_id_restaurant")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead")),
    )
    with op.batch_alter_table("lead", schema=None) as batch_op:
        batch_op.create_index("ix_lead_created", ["created_at", "id"], unique=False)

    op.create_table(
        "registration_job",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("batch_id", sa.Uuid(), nullable=False),
        sa.Column("restaurant_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("current_step", sa.Integer(), nullable=False),
        sa.Column("in_active_batch", sa.Boolean(), nullable=False),
        sa.Column("search_term", sa.String(length=200), nullable=True),
        sa.Column(
            "menu",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "candidates",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("selected_company_number", sa.String(length=50), nullable=True),
        sa.Column(
            "company",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "config",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("password_sealed", sa.Text(), nullable=True),
        sa.Column("pumpd_user_id", sa.String(length=100), nullable=True),
        sa.Column("pumpd_restaurant_id", sa.String(length=100), nullable=True),
        sa.Column("error", sa.String(length=1000), nullable=True),
        sa.Column("completed_at", conveyor.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", conveyor.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", conveyor.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["registration_batch.id"],
            name=op.f("fk_registration_job_batch_id_registration_batch"),
        ),
        sa.ForeignKeyConstraint(
            ["restaurant_id"],
            ["restaurant.id"],
            name=op.f("fk_registration_job_restaurant_id_restaurant"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registration_job")),
    )
    with op.batch_alter_table("registration_job", schema=None) as batch_op:
        batch_op.create_index(
            "ix_registration_job_progress",
            ["batch_id", "status", "current_step", "updated_at"],
            unique=False,
        )
        batch_op.create_index(
            "uq_registration_job_active_restaurant",
            ["restaurant_id"],
            unique=True,
            postgresql_where=sa.text("in_active_batch"),
            sqlite_where=sa.text("in_active_batch"),
        )

    op.create_table(
        "registration_job_step",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("batch_id", sa.Uuid(), nullable=False),
        sa.Column("step_number", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("started_at", conveyor.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", conveyor.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=1000), nullable=True),
        sa.Column("task_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "sub_step_progress",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["registration_batch.id"],
            name=op.f("fk_registration_job_step_batch_id_registration_batch"),
        ),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["registration_job.id"],
            name=op.f("fk_registration_job_step_job_id_registration_job"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registration_job_step")),
        sa.UniqueConstraint(
            "job_id", "step_number", name=op.f("uq_registration_job_step_job_id_step_number")
        ),
    )
    with op.batch_alter_table("registration_job_step", schema=None) as batch_op:
        batch_op.create_index(
            "ix_registration_job_step_summary", ["batch_id", "step_number", "status"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("registration_job_step", schema=None) as batch_op:
        batch_op.drop_index("ix_registration_job_step_summary")

    op.drop_table("registration_job_step")
    with op.batch_alter_table("registration_job", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_registration_job_active_restaurant",
            postgresql_where=sa.text("in_active_batch"),
            sqlite_where=sa.text("in_active_batch"),
        )
        batch_op.drop_index("ix_registration_job_progress")

    op.drop_table("registration_job")
    with op.batch_alter_table("lead", schema=None) as batch_op:
        batch_op.drop_index("ix_lead_created")

    op.drop_table("lead")
    with op.batch_alter_table("registration_batch", schema=None) as batch_op:
        batch_op.drop_index("ix_registration_batch_status_created")

    op.drop_table("registration_batch")
