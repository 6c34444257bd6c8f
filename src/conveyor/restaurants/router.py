"""Operator routes for restaurants: /api/restaurants, in the 000 family's envelope."""

import uuid
from typing import Annotated

from fastapi import Depends, Query

from conveyor.auth.policies import OPERATIONS
from conveyor.database import ReadSession, WriteSession
from conveyor.errors import NestedErrorFormat, Surface
from conveyor.idempotency import IDEMPOTENT
from conveyor.kit.paging import Offset
from conveyor.restaurants import service
from conveyor.restaurants.models import RestaurantSource
from conveyor.restaurants.schemas import (
    RestaurantCreate,
    RestaurantEnvelope,
    RestaurantList,
    RestaurantRead,
)

RESTAURANTS = Surface("restaurants", NestedErrorFormat(), prefixes=("/api/restaurants",))

router = RESTAURANTS.router(
    prefix="/api/restaurants", tags=["restaurants"], dependencies=[Depends(OPERATIONS)]
)


@router.post(
    "",
    response_model=RestaurantEnvelope,
    status_code=201,
    summary="Create a restaurant",
    dependencies=[Depends(IDEMPOTENT)],
)
async def create_restaurant(body: RestaurantCreate, session: WriteSession) -> RestaurantEnvelope:
    restaurant = await service.create(
        session,
        name=body.name,
        source=RestaurantSource.API,
        street=body.address,
        city=body.city,
        email=str(body.email) if body.email else None,
        phone=body.phone,
        website=str(body.website_url) if body.website_url else None,
    )
    return RestaurantEnvelope(restaurant=RestaurantRead.model_validate(restaurant))


@router.get("", response_model=RestaurantList, summary="Restaurants by name, with search")
async def list_restaurants(
    session: ReadSession,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Offset = 0,
    search: Annotated[str | None, Query(max_length=200)] = None,
) -> RestaurantList:
    found, total = await service.search(session, text=search, limit=limit, offset=offset)
    return RestaurantList(
        restaurants=[RestaurantRead.model_validate(item) for item in found],
        total_count=total,
        limit=limit,
        offset=offset,
    )


@router.get("/{restaurant_id}", response_model=RestaurantEnvelope, summary="One restaurant")
async def get_restaurant(restaurant_id: uuid.UUID, session: ReadSession) -> RestaurantEnvelope:
    restaurant = await service.get(session, restaurant_id)
    return RestaurantEnvelope(restaurant=RestaurantRead.model_validate(restaurant))
