"""Routes of document 001 under /api/registrations: `{success, error, message}` errors."""

from typing import Annotated

from fastapi import Depends, Path, Query, Response

from conveyor.auth.policies import SERVICE
from conveyor.config import CurrentSettings
from conveyor.database import ReadSession, WriteSession
from conveyor.errors import FlatErrorFormat, Surface
from conveyor.idempotency import IDEMPOTENT
from conveyor.ratelimit import RateLimit
from conveyor.registrations import service
from conveyor.registrations.schemas import RegistrationCreate, RegistrationEnvelope

PREFIX = "/api/registrations"
REGISTRATIONS = Surface("registrations", FlatErrorFormat(), prefixes=(PREFIX,))

DEFAULT_LIMIT = RateLimit("registrations.default", "120/minute")
STATUS_LIMIT = RateLimit("registrations.status", "60/minute")
"""Per client, as the document's security section recommends; `CONVEYOR_RATE_LIMITS` tunes it."""


router = REGISTRATIONS.router(
    prefix=PREFIX,
    tags=["registrations (001)"],
    dependencies=[Depends(SERVICE), Depends(DEFAULT_LIMIT)],
)

RegistrationId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.post(
    "",
    response_model=RegistrationEnvelope,
    response_model_exclude_unset=True,
    status_code=202,
    summary="Register a customer for digital banking (checks run in the background)",
    response_description="The new PENDING registration",
    responses={
        200: {
            "model": RegistrationEnvelope,
            "description": "The same customer and phone already have a PENDING or APPROVED "
            "registration: that one, and nothing new is started",
        }
    },
    dependencies=[Depends(IDEMPOTENT)],
)
async def register(
    body: RegistrationCreate, session: WriteSession, settings: CurrentSettings, response: Response
) -> RegistrationEnvelope:
    answer, created = await service.register(session, settings, body)
    if not created:
        response.status_code = 200
    response.headers["Location"] = f"{PREFIX}/{answer.data.registration_id}"
    return answer


@router.get(
    "/status",
    response_model=RegistrationEnvelope,
    response_model_exclude_unset=True,
    summary="The most recent registration of a customer number and/or phone number",
    dependencies=[Depends(STATUS_LIMIT)],
)
async def status(
    session: ReadSession,
    settings: CurrentSettings,
    customer_number: Annotated[str | None, Query(max_length=20)] = None,
    phone_number: Annotated[str | None, Query(max_length=30)] = None,
) -> RegistrationEnvelope:
    return await service.check_status(
        session, settings, customer_number=customer_number, phone_number=phone_number
    )


@router.get(
    "/{registration_id}",
    response_model=RegistrationEnvelope,
    response_model_exclude_unset=True,
    summary="One registration by id",
)
async def get(registration_id: RegistrationId, session: ReadSession) -> RegistrationEnvelope:
    return await service.get(session, registration_id)


@router.post(
    "/{registration_id}/retry",
    response_model=RegistrationEnvelope,
    response_model_exclude_unset=True,
    status_code=202,
    summary="Run a FAILED registration whose can_retry is true again",
)
async def retry(registration_id: RegistrationId, session: WriteSession) -> RegistrationEnvelope:
    return await service.retry(session, registration_id)
