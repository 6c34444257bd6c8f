"""Baseline: the empty schema every later migration builds on.

Revision ID: 20261122_baseline
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

revision: str = "20261122_baseline"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing to create: the baseline only starts the revision history."""


def downgrade() -> None:
    """Nothing to drop."""
