"""Webhook subscriptions and the log of every delivery attempt."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from conveyor.database import Base, TimestampMixin
from conveyor.kit.clock import utcnow


class WebhookSubscription(TimestampMixin, Base):
    """A receiver of events: its URL, the event types it wants, and its signing secret."""

    __tablename__ = "webhook_subscription"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    url: Mapped[str] = mapped_column(String(2000))
    event_types: Mapped[list[Any]]
    """Event type names, or `["*"]` for every event."""
    description: Mapped[str] = mapped_column(String(500), default="")
    secret_sealed: Mapped[str] = mapped_column(String(500))
    """The `whsec_…` signing secret, encrypted (`kit.crypto.SecretBox`)."""
    active: Mapped[bool] = mapped_column(default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(500))

    def wants(self, event_type: str) -> bool:
        return "*" in self.event_types or event_type in self.event_types


class WebhookDelivery(Base):
    """One attempt to deliver one message to one subscription."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        Index("ix_webhook_delivery_subscription", "subscription_id", "created_at"),
        Index("ix_webhook_delivery_message", "message_id"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    subscription_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_subscription.id", ondelete="CASCADE")
    )
    message_id: Mapped[str] = mapped_column(String(64))
    """`webhook-id`: the same for every attempt of one message."""
    event_type: Mapped[str] = mapped_column(String(100))
    attempt: Mapped[int]
    status_code: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(String(1000))
    duration_ms: Mapped[int]
    succeeded: Mapped[bool]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
