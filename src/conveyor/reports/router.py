"""Routes of document 002, mounted at `CONVEYOR_REPORTS_PREFIX` (`/api/reports`; empty for the
document's bare paths): start section jobs, poll them, and the context store they draw on."""

from typing import Annotated

from fastapi import Depends, Header, Path, Request, Response
from fastapi.exceptions import RequestValidationError

from conveyor.auth.policies import API_KEY, Principal
from conveyor.config import CurrentSettings, Settings
from conveyor.database import ReadSession, WriteSession
from conveyor.errors import AppError, StatusEnvelopeFormat, Surface
from conveyor.idempotency import IDEMPOTENT
from conveyor.ratelimit import RateLimit
from conveyor.reports import service
from conveyor.reports.schemas import (
    CustomerAnswer,
    CustomerFacts,
    DeletedAnswer,
    DeletedRef,
    GenerateRequest,
    JobAccepted,
    JobBusy,
    JobStatusAnswer,
    OpportunityAnswer,
    OpportunityFacts,
    RefineRequest,
)
from conveyor.reports.service import Started

REPORTS = Surface(
    "reports",
    StatusEnvelopeFormat(codes={"UNAUTHORIZED": "AUTH_INVALID_API_KEY"}),
    prefixes=("/generate", "/refine", "/status", "/context"),
)
"""Its prefixes are relative to where the routers are mounted (`reports_prefix`)."""

# The document sets no limits; these keep one runaway client from flooding the writers.
START_LIMIT = RateLimit("reports.start", "120/minute")
DEFAULT_LIMIT = RateLimit("reports.default", "1200/minute")

POLL_AFTER_SECONDS = 1
"""`Retry-After` of answers about unfinished jobs: the document's first polling interval."""
MAX_SESSION_ID_LENGTH = 255

router = REPORTS.router(
    tags=["reports (002)"], dependencies=[Depends(API_KEY), Depends(DEFAULT_LIMIT)]
)


def _api_key_id(principal: Annotated[Principal, Depends(API_KEY)]) -> str:
    assert principal.api_key_id is not None  # the policy admits API keys only
    return principal.api_key_id


ApiKeyId = Annotated[str, Depends(_api_key_id)]
"""The calling key: jobs and context belong to it, and only it sees them."""


def _session_id(
    session_id: Annotated[
        str | None,
        Header(
            alias="Session-Id",
            description="The frontend's session; the same for every call of one report.",
        ),
    ] = None,
) -> str:
    value = (session_id or "").strip()
    if not value:
        raise AppError("Session-Id is required")
    if len(value) > MAX_SESSION_ID_LENGTH:
        raise AppError(f"Session-Id may be at most {MAX_SESSION_ID_LENGTH} characters")
    return value


SessionId = Annotated[str, Depends(_session_id)]
ContextId = Annotated[str, Path(min_length=1, max_length=255)]


def _accepted(request: Request, response: Response, started: Started) -> JobAccepted | JobBusy:
    """The 202 answer, with where to poll and when."""
    path = request.app.url_path_for("report_status", job_id=str(started.job_id))
    response.headers["Location"] = request.scope.get("root_path", "") + str(path)
    response.headers["Retry-After"] = str(POLL_AFTER_SECONDS)
    return started.answer()


def _within_limits(body: RefineRequest, settings: Settings) -> None:
    errors = body.size_errors(
        max_text_bytes=settings.reports_max_text_bytes,
        max_prompt_chars=settings.reports_max_prompt_chars,
    )
    if errors:
        raise RequestValidationError(errors)


@router.post(
    "/generate",
    status_code=202,
    response_model=JobAccepted | JobBusy,
    summary="Start generating a report section; poll GET /status/{job_id}",
    dependencies=[Depends(_session_id), Depends(START_LIMIT), Depends(IDEMPOTENT)],
)
async def generate_section(
    body: GenerateRequest,
    request: Request,
    response: Response,
    session: WriteSession,
    settings: CurrentSettings,
    api_key_id: ApiKeyId,
    session_id: SessionId,
) -> JobAccepted | JobBusy:
    started = await service.start_job(
        session, settings, body, api_key_id=api_key_id, session_id=session_id
    )
    return _accepted(request, response, started)


@router.post(
    "/refine",
    status_code=202,
    response_model=JobAccepted | JobBusy,
    summary="Start refining a report section; poll GET /status/{job_id}",
    dependencies=[Depends(_session_id), Depends(START_LIMIT), Depends(IDEMPOTENT)],
)
async def refine_section(
    body: RefineRequest,
    request: Request,
    response: Response,
    session: WriteSession,
    settings: CurrentSettings,
    api_key_id: ApiKeyId,
    session_id: SessionId,
) -> JobAccepted | JobBusy:
    _within_limits(body, settings)
    started = await service.start_job(
        session, settings, body, api_key_id=api_key_id, session_id=session_id
    )
    return _accepted(request, response, started)


@router.get(
    "/status/{job_id}",
    response_model=JobStatusAnswer,
    summary="A job's status, and its section once ready",
)
async def report_status(
    job_id: str, response: Response, session: ReadSession, api_key_id: ApiKeyId
) -> JobStatusAnswer:
    answer = await service.job_status(session, job_id, api_key_id=api_key_id)
    response.headers["Cache-Control"] = "no-store"
    if answer.status == "processing":
        response.headers["Retry-After"] = str(POLL_AFTER_SECONDS)
    return answer


# -- the context store (an extension: what sections are written from) -------------------------


@router.put(
    "/context/customers/{customer_id}",
    response_model=CustomerAnswer,
    status_code=200,
    responses={201: {"model": CustomerAnswer, "description": "Stored for the first time"}},
    summary="Store what sections may say about a customer (201 new, 200 replaced)",
)
async def put_customer_context(
    customer_id: ContextId,
    body: CustomerFacts,
    response: Response,
    session: WriteSession,
    api_key_id: ApiKeyId,
) -> CustomerAnswer:
    stored, created = await service.put_customer(
        session, body, api_key_id=api_key_id, customer_id=customer_id
    )
    response.status_code = 201 if created else 200
    return CustomerAnswer(message="Customer context saved", data=stored)


@router.get(
    "/context/customers/{customer_id}",
    response_model=CustomerAnswer,
    summary="What is known about a customer",
)
async def get_customer_context(
    customer_id: ContextId, session: ReadSession, api_key_id: ApiKeyId
) -> CustomerAnswer:
    stored = await service.get_customer(session, api_key_id=api_key_id, customer_id=customer_id)
    return CustomerAnswer(message="Customer context", data=stored)


@router.delete(
    "/context/customers/{customer_id}",
    response_model=DeletedAnswer,
    summary="Forget what is known about a customer",
)
async def delete_customer_context(
    customer_id: ContextId, session: WriteSession, api_key_id: ApiKeyId
) -> DeletedAnswer:
    await service.delete_customer(session, api_key_id=api_key_id, customer_id=customer_id)
    return DeletedAnswer(message="Customer context deleted", data=DeletedRef(deleted=customer_id))


@router.put(
    "/context/opportunities/{opportunity_id}",
    response_model=OpportunityAnswer,
    status_code=200,
    responses={201: {"model": OpportunityAnswer, "description": "Stored for the first time"}},
    summary="Store what sections may say about an opportunity (201 new, 200 replaced)",
)
async def put_opportunity_context(
    opportunity_id: ContextId,
    body: OpportunityFacts,
    response: Response,
    session: WriteSession,
    api_key_id: ApiKeyId,
) -> OpportunityAnswer:
    stored, created = await service.put_opportunity(
        session, body, api_key_id=api_key_id, opportunity_id=opportunity_id
    )
    response.status_code = 201 if created else 200
    return OpportunityAnswer(message="Opportunity context saved", data=stored)


@router.get(
    "/context/opportunities/{opportunity_id}",
    response_model=OpportunityAnswer,
    summary="What is known about an opportunity",
)
async def get_opportunity_context(
    opportunity_id: ContextId, session: ReadSession, api_key_id: ApiKeyId
) -> OpportunityAnswer:
    stored = await service.get_opportunity(
        session, api_key_id=api_key_id, opportunity_id=opportunity_id
    )
    return OpportunityAnswer(message="Opportunity context", data=stored)


@router.delete(
    "/context/opportunities/{opportunity_id}",
    response_model=DeletedAnswer,
    summary="Forget what is known about an opportunity",
)
async def delete_opportunity_context(
    opportunity_id: ContextId, session: WriteSession, api_key_id: ApiKeyId
) -> DeletedAnswer:
    await service.delete_opportunity(session, api_key_id=api_key_id, opportunity_id=opportunity_id)
    return DeletedAnswer(
        message="Opportunity context deleted", data=DeletedRef(deleted=opportunity_id)
    )
