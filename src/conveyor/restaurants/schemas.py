"""The JSON of /api/restaurants, in the 000 family's envelope (snake_case)."""

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field, HttpUrl


class RestaurantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    address: str | None = Field(default=None, max_length=200)
    city: str | None = Field(default=None, max_length=100)
    email: EmailStr | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=30)
    website_url: HttpUrl | None = Field(default=None, max_length=2000)


class RestaurantRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    description: str | None
    cuisine: str | None
    street: str | None
    city: str | None
    state: str | None
    zip_code: str | None
    country: str | None
    phone: str | None
    email: str | None
    business_hours: str | None
    logo_url: str | None
    website: str | None
    latitude: float | None
    longitude: float | None
    source: str
    owner_user_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class RestaurantEnvelope(BaseModel):
    success: bool = True
    restaurant: RestaurantRead


class RestaurantList(BaseModel):
    success: bool = True
    restaurants: list[RestaurantRead]
    total_count: int
    limit: int
    offset: int
