"""The restaurant registration table (document 003)."""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from conveyor.database import Base


class RegistrationStatus(StrEnum):
    PENDING = "Pending"
    """Submitted, waiting for an admin."""
    APPROVED = "Approved"
    """An admin approved it and a restaurant was provisioned."""
    REJECTED = "Rejected"
    """An admin rejected it; the reason is the review note."""


class RestaurantRegistration(Base):
    __tablename__ = "restaurant_registration"
    __table_args__ = (
        Index("ix_restaurant_registration_status", "status", "submitted_at", "id"),
        Index("ix_restaurant_registration_submitter", "submitter_user_id", "submitted_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(String(500))
    cuisine_type: Mapped[str] = mapped_column(String(50))
    street: Mapped[str] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(100))
    zip_code: Mapped[str] = mapped_column(String(20))
    country: Mapped[str] = mapped_column(String(100))
    phone_number: Mapped[str] = mapped_column(String(30))
    email: Mapped[str] = mapped_column(String(320))
    business_hours: Mapped[str] = mapped_column(String(200))
    logo_url: Mapped[str | None] = mapped_column(String(2000))
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    status: Mapped[str] = mapped_column(String(20))
    submitted_at: Mapped[datetime]
    submitter_user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id"))
    reviewed_at: Mapped[datetime | None]
    review_note: Mapped[str | None] = mapped_column(String(500))
    reviewed_by_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id"))
    restaurant_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("restaurant.id"))
