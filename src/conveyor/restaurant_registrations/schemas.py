"""The JSON of document 003, camelCase as the document writes it."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    HttpUrl,
)
from pydantic.alias_generators import to_camel


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value.strip()


NOT_BLANK = AfterValidator(_not_blank)
"""Required text: present and not only whitespace (then stored trimmed)."""


class Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class RegistrationSubmit(Camel):
    name: Annotated[str, Field(max_length=100), NOT_BLANK]
    description: Annotated[str, Field(max_length=500), NOT_BLANK]
    cuisine_type: Annotated[str, Field(max_length=50), NOT_BLANK]
    street: Annotated[str, Field(max_length=200), NOT_BLANK]
    city: Annotated[str, Field(max_length=100), NOT_BLANK]
    state: Annotated[str, Field(max_length=100), NOT_BLANK]
    zip_code: Annotated[str, Field(max_length=20), NOT_BLANK]
    country: Annotated[str, Field(max_length=100), NOT_BLANK]
    phone_number: Annotated[str, Field(max_length=30), NOT_BLANK]
    email: EmailStr = Field(max_length=320)
    business_hours: Annotated[str, Field(max_length=200), NOT_BLANK]
    logo_url: HttpUrl | None = Field(default=None, max_length=2000)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)


class RegistrationCreated(Camel):
    registration_id: uuid.UUID


class RegistrationSummary(Camel):
    registration_id: uuid.UUID
    name: str
    city: str
    status: str
    submitted_at_utc: datetime
    reviewed_at_utc: datetime | None
    review_note: str | None
    submitter_user_id: uuid.UUID


class RegistrationDetail(RegistrationSummary):
    description: str
    cuisine_type: str
    street: str
    state: str
    zip_code: str
    country: str
    phone_number: str
    email: str
    business_hours: str
    logo_url: str | None
    latitude: float | None
    longitude: float | None
    submitter_name: str
    reviewed_by_user_id: uuid.UUID | None


class RegistrationPage(Camel):
    items: list[RegistrationSummary]
    page_number: int
    total_pages: int
    total_count: int
    has_previous_page: bool
    has_next_page: bool


class ApproveRequest(Camel):
    note: str | None = Field(default=None, max_length=500)


class RejectRequest(Camel):
    reason: Annotated[str, Field(max_length=500), NOT_BLANK]


class ApproveResult(Camel):
    restaurant_id: uuid.UUID
