"""Every query of the restaurants package."""

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from conveyor.restaurants.models import Restaurant


async def add(session: AsyncSession, restaurant: Restaurant) -> Restaurant:
    session.add(restaurant)
    await session.flush()
    return restaurant


async def get(session: AsyncSession, restaurant_id: uuid.UUID) -> Restaurant | None:
    return await session.get(Restaurant, restaurant_id)


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
