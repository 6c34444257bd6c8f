"""Every query of the auth package."""

import uuid
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from conveyor.auth.models import ApiKey, User


async def get(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await session.get(User, user_id)


async def get_by_email(session: AsyncSession, email: str) -> User | None:
    result = await session.execute(select(User).where(User.email_key == email.strip().lower()))
    return result.scalar_one_or_none()


async def add(session: AsyncSession, user: User) -> User:
    session.add(user)
    await session.flush()
    return user


async def list_users(session: AsyncSession, *, limit: int = 100, offset: int = 0) -> list[User]:
    result = await session.execute(
        select(User).order_by(User.created_at, User.email_key).limit(limit).offset(offset)
    )
    return list(result.scalars())


async def get_api_key(session: AsyncSession, key_id: str) -> ApiKey | None:
    return await session.get(ApiKey, key_id)


async def list_api_keys(session: AsyncSession) -> list[ApiKey]:
    result = await session.execute(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id))
    return list(result.scalars())


async def add_api_key(session: AsyncSession, api_key: ApiKey) -> ApiKey:
    session.add(api_key)
    await session.flush()
    return api_key


async def touch_api_key(
    session: AsyncSession, key_id: str, *, now: datetime, unless_after: datetime
) -> None:
    """Record a use of the key (one conditional UPDATE: concurrent requests write once)."""
    await session.execute(
        update(ApiKey)
        .where(
            ApiKey.id == key_id,
            or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at <= unless_after),
        )
        .values(last_used_at=now)
    )
