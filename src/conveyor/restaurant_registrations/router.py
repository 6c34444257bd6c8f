"""Routes of document 003: /api/v1/restaurant-registrations, RFC 9457 problem details."""

import uuid
from typing import Annotated

from fastapi import Depends, Response

from conveyor.auth.policies import ADMIN_BEARER, SIGNED_IN, SIGNUP_COMPLETED, Principal
from conveyor.database import ReadSession, WriteSession
from conveyor.errors import ProblemDetailsFormat, Surface
from conveyor.idempotency import IDEMPOTENT
from conveyor.restaurant_registrations import service
from conveyor.restaurant_registrations.models import RegistrationStatus
from conveyor.restaurant_registrations.schemas import (
    ApproveRequest,
    ApproveResult,
    RegistrationCreated,
    RegistrationDetail,
    RegistrationPage,
    RegistrationSubmit,
    RejectRequest,
)

PREFIX = "/api/v1/restaurant-registrations"
REVIEWS = Surface("restaurant_registrations", ProblemDetailsFormat(), prefixes=(PREFIX,))

router = REVIEWS.router(prefix=PREFIX, tags=["restaurant registrations (003)"])

Submitter = Annotated[Principal, Depends(SIGNUP_COMPLETED)]
Admin = Annotated[Principal, Depends(ADMIN_BEARER)]
SignedIn = Annotated[Principal, Depends(SIGNED_IN)]


def _user(principal: Principal) -> uuid.UUID:
    assert principal.user_id is not None  # these policies admit users only
    return principal.user_id


@router.post(
    "",
    response_model=RegistrationCreated,
    status_code=201,
    summary="Submit a restaurant registration for review",
    dependencies=[Depends(IDEMPOTENT)],
)
async def submit(
    body: RegistrationSubmit, principal: Submitter, session: WriteSession
) -> RegistrationCreated:
    registration = await service.submit(session, _user(principal), body)
    return RegistrationCreated(registration_id=registration.id)


@router.get("/mine", response_model=RegistrationPage, summary="The signed-in user's registrations")
async def mine(
    principal: SignedIn, session: ReadSession, pageNumber: int = 1, pageSize: int = 10
) -> RegistrationPage:
    return await service.page(
        session, page_number=pageNumber, page_size=pageSize, submitter=_user(principal)
    )


@router.get(
    "/admin/pending", response_model=RegistrationPage, summary="Pending registrations, oldest first"
)
async def pending(
    principal: Admin, session: ReadSession, pageNumber: int = 1, pageSize: int = 10
) -> RegistrationPage:
    return await service.page(
        session, page_number=pageNumber, page_size=pageSize, status=RegistrationStatus.PENDING
    )


@router.get(
    "/admin/{registrationId}",
    response_model=RegistrationDetail,
    summary="A pending registration in full",
)
async def detail(
    registrationId: uuid.UUID, principal: Admin, session: ReadSession
) -> RegistrationDetail:
    return await service.detail(session, registrationId)


@router.post(
    "/admin/{registrationId}/approve",
    response_model=ApproveResult,
    summary="Approve and provision the restaurant",
)
async def approve(
    registrationId: uuid.UUID,
    principal: Admin,
    session: WriteSession,
    body: ApproveRequest | None = None,
) -> ApproveResult:
    restaurant_id = await service.approve(
        session, registrationId, note=body.note if body else None, reviewer=_user(principal)
    )
    return ApproveResult(restaurant_id=restaurant_id)


@router.post("/admin/{registrationId}/reject", status_code=204, summary="Reject with a reason")
async def reject(
    registrationId: uuid.UUID,
    body: RejectRequest,
    principal: Admin,
    session: WriteSession,
) -> Response:
    await service.reject(session, registrationId, reason=body.reason, reviewer=_user(principal))
    return Response(status_code=204)
