"""Subscriptions, and `emit`: one delivery task per interested subscription, in the caller's
transaction, so an event exists exactly when the change that caused it commits.

    await webhooks.emit(session, "batch.completed", {"batch_id": str(batch.id)})
"""

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from conveyor import tasks
from conveyor.config import Settings
from conveyor.errors import NotFoundError
from conveyor.kit.clock import isoformat_z, utcnow
from conveyor.kit.crypto import SecretBox
from conveyor.webhooks import repository, signing
from conveyor.webhooks.destinations import check_destination
from conveyor.webhooks.models import WebhookDelivery, WebhookSubscription
from conveyor.webhooks.schemas import DeliverPayload


def secret_box(settings: Settings) -> SecretBox:
    return SecretBox(settings.secret_key.get_secret_value(), purpose="webhook-secrets")


async def create_subscription(
    session: AsyncSession,
    settings: Settings,
    *,
    url: str,
    event_types: Iterable[str],
    description: str = "",
) -> tuple[WebhookSubscription, str]:
    """A new subscription and its signing secret, which is shown once.

    The URL is checked (a DNS lookup in production) before the session is first used, so no
    transaction is open during the lookup.
    """
    await check_destination(url, production=settings.is_production)
    secret = signing.new_secret()
    subscription = WebhookSubscription(
        url=url,
        event_types=sorted(set(event_types)),
        description=description.strip(),
        secret_sealed=secret_box(settings).seal(secret),
        active=True,
    )
    return await repository.add(session, subscription), secret


async def get(session: AsyncSession, subscription_id: uuid.UUID) -> WebhookSubscription:
    subscription = await repository.get(session, subscription_id)
    if subscription is None:
        raise NotFoundError(f"Webhook subscription {subscription_id} not found")
    return subscription


async def delete(session: AsyncSession, subscription_id: uuid.UUID) -> None:
    await repository.delete(session, await get(session, subscription_id))


list_subscriptions = repository.list_subscriptions


async def deliveries(
    session: AsyncSession, subscription_id: uuid.UUID, *, limit: int = 50, offset: int = 0
) -> list[WebhookDelivery]:
    await get(session, subscription_id)
    return await repository.deliveries(session, subscription_id, limit=limit, offset=offset)


async def emit(session: AsyncSession, event_type: str, data: Mapping[str, Any]) -> str:
    """Queue `event_type` for every active subscription that wants it; returns the message id."""
    message_id = f"msg_{uuid.uuid4().hex}"
    occurred_at = isoformat_z(utcnow())
    payloads = [
        DeliverPayload(
            subscription_id=subscription.id,
            message_id=message_id,
            event_type=event_type,
            occurred_at=occurred_at,
            data=dict(data),
        )
        for subscription in await repository.active_subscriptions(session)
        if subscription.wants(event_type)
    ]
    if payloads:
        await tasks.enqueue_many(session, "webhooks.deliver", payloads)
    return message_id


async def disable(session: AsyncSession, subscription_id: uuid.UUID, reason: str) -> None:
    subscription = await repository.get(session, subscription_id)
    if subscription is not None and subscription.active:
        subscription.active = False
        subscription.disabled_reason = reason
        await session.flush()


async def record_delivery(session: AsyncSession, delivery: WebhookDelivery) -> None:
    await repository.add_delivery(session, delivery)
