"""Customer registrations, banking users and their linked accounts (001).

Revision ID: 20261122_customer_registrations
Revises: 20261122_registration_batches
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import conveyor.database

revision: str = "20261122_customer_registrations"
down_revision: str | None = "20261122_registration_batches"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "banking_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_number", sa.String(length=20), nullable=False),
        sa.Column("phone_number", sa.String(length=20), nullable=False),
        sa.Column("username", sa.String(length=50), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=True),
        sa.Column("last_name", sa.String(length=100), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", conveyor.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", conveyor.database.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_banking_user")),
        sa.UniqueConstraint("customer_number", name=op.f("uq_banking_user_customer_number")),
        sa.UniqueConstraint("phone_number", name=op.f("uq_banking_user_phone_number")),
        sa.UniqueConstraint("username", name=op.f("uq_banking_user_username")),
    )
    op.create_table(
        "banking_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("linked_at", conveyor.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["banking_user.id"], name=op.f("fk_banking_account_user_id_banking_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_banking_account")),
        sa.UniqueConstraint(
            "user_id", "account_id", name=op.f("uq_banking_account_user_id_account_id")
        ),
    )
    op.create_table(
        "customer_registration",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_number", sa.String(length=20), nullable=False),
        sa.Column("phone_number", sa.String(length=20), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=True),
        sa.Column("last_name", sa.String(length=100), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column(
            "process_stages",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "accounts",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=50), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("can_retry", sa.Boolean(), nullable=True),
        sa.Column("notes", sa.String(length=500), nullable=True),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("processed_at", conveyor.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", conveyor.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", conveyor.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["banking_user.id"],
            name=op.f("fk_customer_registration_user_id_banking_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_registration")),
    )
    with op.batch_alter_table("customer_registration", schema=None) as batch_op:
        batch_op.create_index(
            "ix_customer_registration_customer", ["customer_number", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_customer_registration_phone", ["phone_number", "created_at"], unique=False
        )
        batch_op.create_index(
            "uq_customer_registration_open",
            ["customer_number", "phone_number"],
            unique=True,
            postgresql_where=sa.text("status IN ('PENDING', 'APPROVED')"),
            sqlite_where=sa.text("status IN ('PENDING', 'APPROVED')"),
        )


def downgrade() -> None:
    with op.batch_alter_table("customer_registration", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_customer_registration_open",
            postgresql_where=sa.text("status IN ('PENDING', 'APPROVED')"),
            sqlite_where=sa.text("status IN ('PENDING', 'APPROVED')"),
        )
        batch_op.drop_index("ix_customer_registration_phone")
        batch_op.drop_index("ix_customer_registration_customer")

    op.drop_table("customer_registration")
    op.drop_table("banking_account")
    op.drop_table("banking_user")
