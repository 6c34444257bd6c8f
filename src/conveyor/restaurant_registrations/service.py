"""Use cases of document 003: owners submit, admins list, inspect, approve or reject."""

import math
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from conveyor import webhooks
from conveyor.errors import ConflictError, NotFoundError, ValidationError
from conveyor.kit.clock import utcnow
from conveyor.restaurant_registrations import repository
from conveyor.restaurant_registrations.models import RegistrationStatus, RestaurantRegistration
from conveyor.restaurant_registrations.schemas import (
    RegistrationDetail,
    RegistrationPage,
    RegistrationSubmit,
    RegistrationSummary,
)
from conveyor.restaurants import service as restaurants_service
from conveyor.restaurants.models import RestaurantSource

MAX_PAGE_SIZE = 100


async def submit(
    session: AsyncSession, submitter: uuid.UUID, body: RegistrationSubmit
) -> RestaurantRegistration:
    if await repository.pending_duplicate_exists(
        session, submitter=submitter, name=body.name, street=body.street
    ):
        raise ConflictError(
            "You already have a pending registration for this restaurant at this street",
            code="DUPLICATE_PENDING_REGISTRATION",
        )
    registration = RestaurantRegistration(
        name=body.name,
        description=body.description,
        cuisine_type=body.cuisine_type,
        street=body.street,
        city=body.city,
        state=body.state,
        zip_code=body.zip_code,
        country=body.country,
        phone_number=body.phone_number,
        email=str(body.email),
        business_hours=body.business_hours,
        logo_url=str(body.logo_url) if body.logo_url else None,
        latitude=body.latitude,
        longitude=body.longitude,
        status=RegistrationStatus.PENDING.value,
        submitted_at=utcnow(),
        submitter_user_id=submitter,
    )
    await repository.add(session, registration)
    await webhooks.emit(
        session,
        "restaurant_registration.submitted",
        {"registration_id": str(registration.id), "name": registration.name},
    )
    return registration


def check_paging(page_number: int, page_size: int) -> None:
    problems = []
    if page_number < 1:
        problems.append("pageNumber must be 1 or more")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        problems.append(f"pageSize must be between 1 and {MAX_PAGE_SIZE}")
    if problems:
        raise ValidationError("; ".join(problems))


def summary(registration: RestaurantRegistration) -> RegistrationSummary:
    return RegistrationSummary(
        registration_id=registration.id,
        name=registration.name,
        city=registration.city,
        status=registration.status,
        submitted_at_utc=registration.submitted_at,
        reviewed_at_utc=registration.reviewed_at,
        review_note=registration.review_note,
        submitter_user_id=registration.submitter_user_id,
    )


async def page(
    session: AsyncSession,
    *,
    page_number: int,
    page_size: int,
    status: RegistrationStatus | None = None,
    submitter: uuid.UUID | None = None,
) -> RegistrationPage:
    check_paging(page_number, page_size)
    items, total = await repository.page(
        session,
        status=status,
        submitter=submitter,
        limit=page_size,
        offset=(page_number - 1) * page_size,
    )
    total_pages = math.ceil(total / page_size)
    return RegistrationPage(
        items=[summary(item) for item in items],
        page_number=page_number,
        total_pages=total_pages,
        total_count=total,
        has_previous_page=page_number > 1,
        has_next_page=page_number < total_pages,
    )


async def _pending(session: AsyncSession, registration_id: uuid.UUID) -> RestaurantRegistration:
    registration = await repository.get(session, registration_id)
    if registration is None:
        raise NotFoundError(f"Registration {registration_id} not found")
    if registration.status != RegistrationStatus.PENDING:
        raise ConflictError(
            f"Registration {registration_id} is {registration.status}, not Pending",
            code="REGISTRATION_NOT_PENDING",
        )
    return registration


async def detail(session: AsyncSession, registration_id: uuid.UUID) -> RegistrationDetail:
    registration = await _pending(session, registration_id)
    return RegistrationDetail(
        **summary(registration).model_dump(),
        description=registration.description,
        cuisine_type=registration.cuisine_type,
        street=registration.street,
        state=registration.state,
        zip_code=registration.zip_code,
        country=registration.country,
        phone_number=registration.phone_number,
        email=registration.email,
        business_hours=registration.business_hours,
        logo_url=registration.logo_url,
        latitude=registration.latitude,
        longitude=registration.longitude,
        submitter_name=await repository.submitter_name(session, registration.submitter_user_id),
        reviewed_by_user_id=registration.reviewed_by_user_id,
    )


async def _review(
    session: AsyncSession,
    registration_id: uuid.UUID,
    *,
    status: RegistrationStatus,
    note: str | None,
    reviewer: uuid.UUID,
) -> RestaurantRegistration:
    registration = await _pending(session, registration_id)
    won = await repository.review(
        session, registration_id, status=status, note=note, reviewer=reviewer, now=utcnow()
    )
    if not won:  # another admin reviewed it between our read and our update
        raise ConflictError(
            f"Registration {registration_id} was reviewed by someone else",
            code="REGISTRATION_NOT_PENDING",
        )
    return registration


async def approve(
    session: AsyncSession, registration_id: uuid.UUID, *, note: str | None, reviewer: uuid.UUID
) -> uuid.UUID:
    """Approve and provision the restaurant (owner: the submitter), in one transaction."""
    registration = await _review(
        session,
        registration_id,
        status=RegistrationStatus.APPROVED,
        note=note.strip() if note and note.strip() else None,
        reviewer=reviewer,
    )
    restaurant = await restaurants_service.create(
        session,
        name=registration.name,
        source=RestaurantSource.REGISTRATION,
        owner_user_id=registration.submitter_user_id,
        description=registration.description,
        cuisine=registration.cuisine_type,
        street=registration.street,
        city=registration.city,
        state=registration.state,
        zip_code=registration.zip_code,
        country=registration.country,
        phone=registration.phone_number,
        email=registration.email,
        business_hours=registration.business_hours,
        logo_url=registration.logo_url,
        latitude=registration.latitude,
        longitude=registration.longitude,
    )
    await repository.link_restaurant(session, registration_id, restaurant.id)
    await webhooks.emit(
        session,
        "restaurant_registration.approved",
        {"registration_id": str(registration_id), "restaurant_id": str(restaurant.id)},
    )
    return restaurant.id


async def reject(
    session: AsyncSession, registration_id: uuid.UUID, *, reason: str, reviewer: uuid.UUID
) -> None:
    await _review(
        session,
        registration_id,
        status=RegistrationStatus.REJECTED,
        note=reason,
        reviewer=reviewer,
    )
    await webhooks.emit(
        session,
        "restaurant_registration.rejected",
        {"registration_id": str(registration_id), "reason": reason},
    )
