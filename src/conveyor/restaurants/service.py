"""Restaurants: created by operators, by approved registrations (003) and from leads (000)."""

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from conveyor.errors import NotFoundError
from conveyor.restaurants import repository
from conveyor.restaurants.models import Restaurant, RestaurantSource


async def create(
    session: AsyncSession,
    *,
    name: str,
    source: RestaurantSource,
    owner_user_id: uuid.UUID | None = None,
    description: str | None = None,
    cuisine: str | None = None,
    street: str | None = None,
    city: str | None = None,
    state: str | None = None,
    zip_code: str | None = None,
    country: str | None = None,
    phone: str | None = None,
    email: str | None = None,
    business_hours: str | None = None,
    logo_url: str | None = None,
    website: str | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
) -> Restaurant:
    restaurant = Restaurant(
        name=name,
        name_key=name.lower(),
        description=description,
        cuisine=cuisine,
        street=street,
        city=city,
        state=state,
        zip_code=zip_code,
        country=country,
        phone=phone,
        email=email,
        business_hours=business_hours,
        logo_url=logo_url,
        website=website,
        latitude=latitude,
        longitude=longitude,
        source=source.value,
        owner_user_id=owner_user_id,
    )
    return await repository.add(session, restaurant)


async def get(session: AsyncSession, restaurant_id: uuid.UUID) -> Restaurant:
    restaurant = await repository.get(session, restaurant_id)
    if restaurant is None:
        raise NotFoundError(f"Restaurant {restaurant_id} not found", code="RESTAURANT_NOT_FOUND")
    return restaurant


async def get_many(
    session: AsyncSession, restaurant_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Restaurant]:
    """The restaurants among these ids that exist, by id."""
    return await repository.get_many(session, restaurant_ids)


search = repository.search
