"""The restaurant table, shared by registration review (003) and onboarding batches (000)."""

import uuid
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from conveyor.database import Base, TimestampMixin


class RestaurantSource(StrEnum):
    REGISTRATION = "registration"
    """Provisioned when an admin approved an owner's registration (003)."""
    LEAD = "lead"
    """Converted from a lead by an operator (000)."""
    API = "api"
    """Created directly through `POST /api/restaurants`."""


class Restaurant(TimestampMixin, Base):
    __tablename__ = "restaurant"
    __table_args__ = (Index("ix_restaurant_name_key", "name_key"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200))
    """The name lower-cased, for case-insensitive search."""
    description: Mapped[str | None] = mapped_column(String(500))
    cuisine: Mapped[str | None] = mapped_column(String(50))
    street: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str | None] = mapped_column(String(100))
    zip_code: Mapped[str | None] = mapped_column(String(20))
    country: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(30))
    email: Mapped[str | None] = mapped_column(String(320))
    business_hours: Mapped[str | None] = mapped_column(String(200))
    logo_url: Mapped[str | None] = mapped_column(String(2000))
    website: Mapped[str | None] = mapped_column(String(2000))
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    source: Mapped[str] = mapped_column(String(20))
    owner_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id"))
