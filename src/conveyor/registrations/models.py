"""Tables of document 001: registration requests, and the digital banking users they create."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from conveyor.database import Base, TimestampMixin
from conveyor.kit.clock import utcnow


class RegistrationStatus(StrEnum):
    PENDING = "PENDING"
    """Received; the checks are running."""
    APPROVED = "APPROVED"
    """Validated; the user exists but is not active yet (user creation pending)."""
    COMPLETED = "COMPLETED"
    """The user is active with the customer's accounts linked (or an existing user was updated)."""
    FAILED = "FAILED"
    """A check failed; `can_retry` says whether asking again may help."""
    DUPLICATE = "DUPLICATE"
    """A user already exists for this customer or phone number."""


OPEN_STATUSES = (RegistrationStatus.PENDING, RegistrationStatus.APPROVED)
"""While a registration is in one of these, the same request returns it instead of a new one."""

_OPEN = text("status IN ('PENDING', 'APPROVED')")


class BankingUser(TimestampMixin, Base):
    """A digital banking user: one per bank customer and per phone number."""

    __tablename__ = "banking_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_number: Mapped[str] = mapped_column(String(20), unique=True)
    phone_number: Mapped[str] = mapped_column(String(20), unique=True)
    username: Mapped[str] = mapped_column(String(50), unique=True)
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(320))
    is_active: Mapped[bool] = mapped_column(default=False)


class BankingAccount(Base):
    """A core-banking account linked to a user when the user was created."""

    __tablename__ = "banking_account"
    __table_args__ = (UniqueConstraint("user_id", "account_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("banking_user.id"))
    account_id: Mapped[str] = mapped_column(String(40))
    category: Mapped[str] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(3))
    linked_at: Mapped[datetime] = mapped_column(default=utcnow)


class CustomerRegistration(TimestampMixin, Base):
    """One request to register a customer for digital banking, and how far its checks got."""

    __tablename__ = "customer_registration"
    __table_args__ = (
        Index("ix_customer_registration_customer", "customer_number", "created_at"),
        Index("ix_customer_registration_phone", "phone_number", "created_at"),
        # The same customer and phone while one is open: the second request returns the first.
        Index(
            "uq_customer_registration_open",
            "customer_number",
            "phone_number",
            unique=True,
            postgresql_where=_OPEN,
            sqlite_where=_OPEN,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_number: Mapped[str] = mapped_column(String(20))
    phone_number: Mapped[str] = mapped_column(String(20))
    """E.164, e.g. `+265991234567`."""
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(20), default=RegistrationStatus.PENDING)
    process_stages: Mapped[list[Any]] = mapped_column(default=list)
    """`[{"stage", "status", "timestamp", "details"}]` in the order the stages ran."""
    accounts: Mapped[list[Any] | None]
    """The accounts the core banking lookup found, linked when the user is created."""
    user_id: Mapped[int | None] = mapped_column(ForeignKey("banking_user.id"))
    username: Mapped[str | None] = mapped_column(String(50))
    error: Mapped[str | None] = mapped_column(String(500))
    can_retry: Mapped[bool | None]
    notes: Mapped[str | None] = mapped_column(String(500))
    retries: Mapped[int] = mapped_column(default=0)
    processed_at: Mapped[datetime | None]
