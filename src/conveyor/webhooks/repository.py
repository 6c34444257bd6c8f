"""Every query of the webhooks package."""

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from conveyor.webhooks.models import WebhookDelivery, WebhookSubscription


async def add(session: AsyncSession, subscription: WebhookSubscription) -> WebhookSubscription:
    session.add(subscription)
    await session.flush()
    return subscription


async def get(session: AsyncSession, subscription_id: uuid.UUID) -> WebhookSubscription | None:
    return await session.get(WebhookSubscription, subscription_id)


async def list_subscriptions(session: AsyncSession) -> list[WebhookSubscription]:
    result = await session.execute(
        select(WebhookSubscription).order_by(WebhookSubscription.created_at)
    )
    return list(result.scalars())


async def active_subscriptions(session: AsyncSession) -> list[WebhookSubscription]:
    result = await session.execute(
        select(WebhookSubscription).where(WebhookSubscription.active.is_(True))
    )
    return list(result.scalars())


async def delete(session: AsyncSession, subscription: WebhookSubscription) -> None:
    await session.delete(subscription)
    await session.flush()


async def add_delivery(session: AsyncSession, delivery: WebhookDelivery) -> None:
    session.add(delivery)
    await session.flush()


async def deliveries(
    session: AsyncSession, subscription_id: uuid.UUID, *, limit: int, offset: int
) -> list[WebhookDelivery]:
    result = await session.execute(
        select(WebhookDelivery)
        .where(WebhookDelivery.subscription_id == subscription_id)
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(result.scalars())
