"""The JSON of /api/v1/admin/webhooks, and the delivery task's payload."""

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

EVENT_TYPE = r"^(\*|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+)$"


class SubscriptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: HttpUrl = Field(max_length=2000)
    event_types: list[Annotated[str, Field(pattern=EVENT_TYPE, max_length=100)]] = Field(
        min_length=1, max_length=100, description='Event names like "batch.completed", or "*".'
    )
    description: str = Field(default="", max_length=500)


class SubscriptionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    url: str
    event_types: list[str]
    description: str
    active: bool
    disabled_reason: str | None
    created_at: datetime
    updated_at: datetime


class SubscriptionCreated(SubscriptionRead):
    secret: str = Field(
        description="The `whsec_…` signing secret. Shown only in this answer; store it now."
    )


class DeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    message_id: str
    event_type: str
    attempt: int
    status_code: int | None
    error: str | None
    duration_ms: int
    succeeded: bool
    created_at: datetime


class DeliverPayload(BaseModel):
    subscription_id: uuid.UUID
    message_id: str
    event_type: str
    occurred_at: str
    data: dict[str, Any]
