"""Every query of the restaurant_registrations package."""

import uuid
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from conveyor.auth.models import User
from conveyor.restaurant_registrations.models import RegistrationStatus, RestaurantRegistration


async def add(session: AsyncSession, registration: RestaurantRegistration) -> None:
    session.add(registration)
    await session.flush()


async def get(session: AsyncSession, registration_id: uuid.UUID) -> RestaurantRegistration | None:
    return await session.get(RestaurantRegistration, registration_id)


async def submitter_name(session: AsyncSession, user_id: uuid.UUID) -> str:
    result = await session.execute(select(User.name).where(User.id == user_id))
    return result.scalar_one_or_none() or ""


async def pending_duplicate_exists(
    session: AsyncSession, *, submitter: uuid.UUID, name: str, street: str
) -> bool:
    result = await session.execute(
        select(RestaurantRegistration.id)
        .where(
            RestaurantRegistration.submitter_user_id == submitter,
            RestaurantRegistration.status == RegistrationStatus.PENDING.value,
            func.lower(RestaurantRegistration.name) == name.lower(),
            func.lower(RestaurantRegistration.street) == street.lower(),
        )
        .limit(1)
    )
    return result.first() is not None


async def page(
    session: AsyncSession,
    *,
    status: RegistrationStatus | None = None,
    submitter: uuid.UUID | None = None,
    limit: int,
    offset: int,
) -> tuple[list[RestaurantRegistration], int]:
    """Oldest first: the review queue is worked in the order registrations arrived."""
    where = []
    if status is not None:
        where.append(RestaurantRegistration.status == status.value)
    if submitter is not None:
        where.append(RestaurantRegistration.submitter_user_id == submitter)
    total = await session.execute(
        select(func.count()).select_from(RestaurantRegistration).where(*where)
    )
    items = await session.execute(
        select(RestaurantRegistration)
        .where(*where)
        .order_by(RestaurantRegistration.submitted_at, RestaurantRegistration.id)
        .limit(limit)
        .offset(offset)
    )
    return list(items.scalars()), int(total.scalar_one())


async def review(
    session: AsyncSession,
    registration_id: uuid.UUID,
    *,
    status: RegistrationStatus,
    note: str | None,
    reviewer: uuid.UUID,
    now: datetime,
) -> bool:
    """Move a pending registration to `status`; False if it was no longer pending.

    One conditional UPDATE: of concurrent reviews exactly one matches the row.
    """
    result = await session.execute(
        update(RestaurantRegistration)
        .where(
            RestaurantRegistration.id == registration_id,
            RestaurantRegistration.status == RegistrationStatus.PENDING.value,
        )
        .values(
            status=status.value,
            review_note=note,
            reviewed_by_user_id=reviewer,
            reviewed_at=now,
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def link_restaurant(
    session: AsyncSession, registration_id: uuid.UUID, restaurant_id: uuid.UUID
) -> None:
    await session.execute(
        update(RestaurantRegistration)
        .where(RestaurantRegistration.id == registration_id)
        .values(restaurant_id=restaurant_id)
    )
