"""Restaurants (shared by 000 and 003) and restaurant registrations (003).

Revision ID: 20261122_restaurants
Revises: 20261122_routing
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import conveyor.database

revision: str = "20261122_restaurants"
down_revision: str | None = "20261122_routing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "restaurant",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("name_key", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column("cuisine", sa.String(length=50), nullable=True),
        sa.Column("street", sa.String(length=200), nullable=True),
        sa.Column("city", sa.String(length=100), nullable=True),
        sa.Column("state", sa.String(length=100), nullable=True),
        sa.Column("zip_code", sa.String(length=20), nullable=True),
        sa.Column("country", sa.String(length=100), nullable=True),
        sa.Column("phone", sa.String(length=30), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("business_hours", sa.String(length=200), nullable=True),
        sa.Column("logo_url", sa.String(length=2000), nullable=True),
        sa.Column("website", sa.String(length=2000), nullable=True),
        sa.Column("latitude", sa.Double(), nullable=True),
        sa.Column("longitude", sa.Double(), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("owner_user_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", conveyor.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", conveyor.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_user_id"],
            ["user_account.id"],
            name=op.f("fk_restaurant_owner_user_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_restaurant")),
    )
    with op.batch_alter_table("restaurant", schema=None) as batch_op:
        batch_op.create_index("ix_restaurant_name_key", ["name_key"], unique=False)

    op.create_table(
        "restaurant_registration",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("cuisine_type", sa.String(length=50), nullable=False),
        sa.Column("street", sa.String(length=200), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=100), nullable=False),
        sa.Column("zip_code", sa.String(length=20), nullable=False),
        sa.Column("country", sa.String(length=100), nullable=False),
        sa.Column("phone_number", sa.String(length=30), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("business_hours", sa.String(length=200), nullable=False),
        sa.Column("logo_url", sa.String(length=2000), nullable=True),
        sa.Column("latitude", sa.Double(), nullable=True),
        sa.Column("longitude", sa.Double(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("submitted_at", conveyor.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("submitter_user_id", sa.Uuid(), nullable=False),
        sa.Column("reviewed_at", conveyor.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("review_note", sa.String(length=500), nullable=True),
        sa.Column("reviewed_by_user_id", sa.Uuid(), nullable=True),
        sa.Column("restaurant_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["restaurant_id"],
            ["restaurant.id"],
            name=op.f("fk_restaurant_registration_restaurant_id_restaurant"),
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by_user_id"],
            ["user_account.id"],
            name=op.f("fk_restaurant_registration_reviewed_by_user_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["submitter_user_id"],
            ["user_account.id"],
            name=op.f("fk_restaurant_registration_submitter_user_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_restaurant_registration")),
    )
    with op.batch_alter_table("restaurant_registration", schema=None) as batch_op:
        batch_op.create_index(
            "ix_restaurant_registration_status", ["status", "submitted_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_restaurant_registration_submitter",
            ["submitter_user_id", "submitted_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("restaurant_registration", schema=None) as batch_op:
        batch_op.drop_index("ix_restaurant_registration_submitter")
        batch_op.drop_index("ix_restaurant_registration_status")

    op.drop_table("restaurant_registration")
    with op.batch_alter_table("restaurant", schema=None) as batch_op:
        batch_op.drop_index("ix_restaurant_name_key")

    op.drop_table("restaurant")
