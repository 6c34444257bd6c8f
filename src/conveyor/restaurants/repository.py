"""Every query of the restaurants package."""

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from conveyor.restaurants.models import Restaurant


async def add(session: AsyncSession, restaurant: Restaurant) -> Restaurant:
    session.add(restaurant)
    await session.flush()
    return restaurant


async def get(session: AsyncSession, restaurant_id: uuid.UUID) -> Restaurant | None:
    return await session.get(Restaurant, restaurant_id)


async def get_many(
    session: AsyncSession, restaurant_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Restaurant]:
    found: dict[uuid.UUID, Restaurant] = {}
    for start in range(0, len(restaurant_ids), 1000):  # bound the statement's parameter count
        chunk = restaurant_ids[start : start + 1000]
        rows = await session.execute(select(Restaurant).where(Restaurant.id.in_(chunk)))
        found.update((restaurant.id, restaurant) for restaurant in rows.scalars())
    return found


async def search(
    session: AsyncSession, *, text: str | None, limit: int, offset: int
) -> tuple[list[Restaurant], int]:
    where = []
    if text:
        escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append(Restaurant.name_key.like(f"%{escaped}%", escape="\\"))
    total = await session.execute(select(func.count()).select_from(Restaurant).where(*where))
    page = await session.execute(
        select(Restaurant)
        .where(*where)
        .order_by(Restaurant.name_key, Restaurant.id)
        .limit(limit)
        .offset(offset)
    )
    return list(page.scalars()), int(total.scalar_one())
