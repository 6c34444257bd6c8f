"""Routes for webhook subscriptions: /api/v1/admin/webhooks."""

import uuid
from typing import Annotated

from fastapi import Depends, Query, Response

from conveyor.auth.policies import ADMIN
from conveyor.config import CurrentSettings
from conveyor.database import ReadSession, WriteSession
from conveyor.errors import PLATFORM
from conveyor.kit.paging import Offset
from conveyor.webhooks import service
from conveyor.webhooks.schemas import (
    DeliveryRead,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionRead,
)

router = PLATFORM.router(
    prefix="/api/v1/admin/webhooks", tags=["admin: webhooks"], dependencies=[Depends(ADMIN)]
)


@router.post(
    "",
    response_model=SubscriptionCreated,
    status_code=201,
    summary="Subscribe a URL to events; the signing secret is shown once",
)
async def create_subscription(
    body: SubscriptionCreate, settings: CurrentSettings, session: WriteSession
) -> SubscriptionCreated:
    subscription, secret = await service.create_subscription(
        session,
        settings,
        url=str(body.url),
        event_types=body.event_types,
        description=body.description,
    )
    read = SubscriptionRead.model_validate(subscription)
    return SubscriptionCreated(**read.model_dump(), secret=secret)


@router.get("", response_model=list[SubscriptionRead], summary="Every subscription")
async def list_subscriptions(session: ReadSession) -> list[SubscriptionRead]:
    return [SubscriptionRead.model_validate(s) for s in await service.list_subscriptions(session)]


@router.get("/{subscription_id}", response_model=SubscriptionRead, summary="One subscription")
async def get_subscription(subscription_id: uuid.UUID, session: ReadSession) -> SubscriptionRead:
    return SubscriptionRead.model_validate(await service.get(session, subscription_id))


@router.delete("/{subscription_id}", status_code=204, summary="Delete a subscription")
async def delete_subscription(subscription_id: uuid.UUID, session: WriteSession) -> Response:
    await service.delete(session, subscription_id)
    return Response(status_code=204)


@router.get(
    "/{subscription_id}/deliveries",
    response_model=list[DeliveryRead],
    summary="Delivery attempts, newest first",
)
async def list_deliveries(
    subscription_id: uuid.UUID,
    session: ReadSession,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Offset = 0,
) -> list[DeliveryRead]:
    found = await service.deliveries(session, subscription_id, limit=limit, offset=offset)
    return [DeliveryRead.model_validate(delivery) for delivery in found]
