"""Routing (document 004): companies with indexed skills and categories, technicians, jobs and
their routings.

Revision ID: 20261122_routing
Revises: 20261122_webhooks
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import conveyor.database

revision: str = "20261122_routing"
down_revision: str | None = "20261122_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "company",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("primary_skill", sa.String(length=100), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("provider_type", sa.String(length=20), nullable=False),
        sa.Column("st_tenant_id", sa.String(length=100), nullable=True),
        sa.Column("st_client_id", sa.String(length=255), nullable=True),
        sa.Column("st_client_secret_sealed", sa.String(length=1000), nullable=True),
        sa.Column("st_app_key_sealed", sa.String(length=1000), nullable=True),
        sa.Column("created_at", conveyor.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", conveyor.database.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_company")),
    )
    op.create_table(
        "company_category",
        sa.Column("company_id", sa.Uuid(), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["company.id"],
            name=op.f("fk_company_category_company_id_company"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("company_id", "category", name=op.f("pk_company_category")),
    )
    with op.batch_alter_table("company_category", schema=None) as batch_op:
        batch_op.create_index(
            "ix_company_category_category", ["category", "company_id"], unique=False
        )

    op.create_table(
        "company_skill",
        sa.Column("company_id", sa.Uuid(), nullable=False),
        sa.Column("skill", sa.String(length=100), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("provider_configured", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["company.id"],
            name=op.f("fk_company_skill_company_id_company"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("company_id", "skill", name=op.f("pk_company_skill")),
    )
    with op.batch_alter_table("company_skill", schema=None) as batch_op:
        batch_op.create_index(
            "ix_company_skill_match",
            ["skill", "active", "level", "is_primary", "company_id", "provider_configured"],
            unique=False,
        )

    op.create_table(
        "technician",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("company_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("created_at", conveyor.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", conveyor.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["company.id"],
            name=op.f("fk_technician_company_id_company"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_technician")),
    )
    with op.batch_alter_table("technician", schema=None) as batch_op:
        batch_op.create_index("ix_technician_company", ["company_id"], unique=False)

    op.create_table(
        "job",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("summary", sa.String(length=1000), nullable=False),
        sa.Column("street", sa.String(length=255), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=2), nullable=False),
        sa.Column("zip_code", sa.String(length=10), nullable=False),
        sa.Column("homeowner_name", sa.String(length=255), nullable=False),
        sa.Column("homeowner_phone", sa.String(length=20), nullable=True),
        sa.Column("homeowner_email", sa.String(length=255), nullable=True),
        sa.Column("created_by_company_id", sa.Uuid(), nullable=False),
        sa.Column("created_by_technician_id", sa.Uuid(), nullable=False),
        sa.Column(
            "required_skills",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "skill_levels",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("category", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("revenue", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("completed_at", conveyor.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", conveyor.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", conveyor.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_company_id"],
            ["company.id"],
            name=op.f("fk_job_created_by_company_id_company"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_technician_id"],
            ["technician.id"],
            name=op.f("fk_job_created_by_technician_id_technician"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job")),
    )
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.create_index("ix_job_created_at", ["created_at", "id"], unique=False)

    op.create_table(
        "job_routing",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("company_id_received", sa.Uuid(), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("sync_status", sa.String(length=20), nullable=False),
        sa.Column("retry_count", sa.Integer(), nullable=False),
        sa.Column("last_sync_attempt", conveyor.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_synced_at", conveyor.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("error_message", sa.String(length=2000), nullable=True),
        sa.Column("claimed_at", conveyor.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("matching_score", sa.Double(), nullable=True),
        sa.Column(
            "matched_skills",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", conveyor.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", conveyor.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id_received"],
            ["company.id"],
            name=op.f("fk_job_routing_company_id_received_company"),
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["job.id"], name=op.f("fk_job_routing_job_id_job"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_routing")),
        sa.UniqueConstraint(
            "job_id", "company_id_received", name=op.f("uq_job_routing_job_id_company_id_received")
        ),
    )
    with op.batch_alter_table("job_routing", schema=None) as batch_op:
        batch_op.create_index(
            "ix_job_routing_sync_status", ["sync_status", "last_synced_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("job_routing", schema=None) as batch_op:
        batch_op.drop_index("ix_job_routing_sync_status")

    op.drop_table("job_routing")
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_index("ix_job_created_at")

    op.drop_table("job")
    with op.batch_alter_table("technician", schema=None) as batch_op:
        batch_op.drop_index("ix_technician_company")

    op.drop_table("technician")
    with op.batch_alter_table("company_skill", schema=None) as batch_op:
        batch_op.drop_index("ix_company_skill_match")

    op.drop_table("company_skill")
    with op.batch_alter_table("company_category", schema=None) as batch_op:
        batch_op.drop_index("ix_company_category_category")

    op.drop_table("company_category")
    op.drop_table("company")
