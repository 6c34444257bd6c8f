"""Routes of document 000: /api/registration-batches, /api/registration-jobs and /api/leads,
in the `{success, error: {code, message, details}}` envelope."""

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent

from conveyor.auth.policies import OPERATIONS, Principal
from conveyor.batches import service
from conveyor.batches.models import RegistrationJob
from conveyor.batches.pipeline import TOTAL_STEPS, BatchStatus
from conveyor.batches.schemas import (
    AlreadyConverted,
    BatchCancelled,
    BatchCancelledEnvelope,
    BatchCreate,
    BatchCreated,
    BatchCreatedJob,
    BatchDetail,
    BatchList,
    BatchStarted,
    BatchStartedEnvelope,
    CompanySearch,
    ConvertedBatch,
    ConvertedRestaurant,
    JobEnvelope,
    JobRef,
    JobRetry,
    JobState,
    JobStateEnvelope,
    LeadConvert,
    LeadImport,
    LeadList,
    LeadRead,
    LeadsConverted,
    LeadsImported,
    Progress,
    StepCompleted,
    StepCompletion,
    StepDetail,
)
from conveyor.config import CurrentSettings
from conveyor.database import CurrentDatabase, ReadSession, WriteSession
from conveyor.errors import NestedErrorFormat, Surface
from conveyor.idempotency import IDEMPOTENT
from conveyor.kit.paging import Offset
from conveyor.ratelimit import RateLimit

BATCHES = Surface(
    "batches",
    NestedErrorFormat(),
    prefixes=("/api/registration-batches", "/api/registration-jobs", "/api/leads"),
)

# The document's table: progress 60/min, start 10/min, completing a step 30/min, the rest
# 30/min between them.
PROGRESS_LIMIT = RateLimit("batches.progress", "60/minute")
START_LIMIT = RateLimit("batches.start", "10/minute")
COMPLETE_STEP_LIMIT = RateLimit("batches.complete_step", "30/minute")
DEFAULT_LIMIT = RateLimit("batches.default", "30/minute")

Operator = Annotated[Principal, Depends(OPERATIONS)]
StepNumber = Annotated[int, Path(ge=1, le=TOTAL_STEPS)]

batches = BATCHES.router(
    prefix="/api/registration-batches",
    tags=["registration batches (000)"],
    dependencies=[Depends(OPERATIONS)],
)
jobs = BATCHES.router(
    prefix="/api/registration-jobs",
    tags=["registration batches (000)"],
    dependencies=[Depends(OPERATIONS), Depends(DEFAULT_LIMIT)],
)
leads = BATCHES.router(
    prefix="/api/leads",
    tags=["leads (000)"],
    dependencies=[Depends(OPERATIONS), Depends(DEFAULT_LIMIT)],
)

EVENTS_INTERVAL_SECONDS = 1.0


@batches.post(
    "",
    response_model=BatchCreated,
    status_code=201,
    summary="Create a batch from selected restaurants",
    dependencies=[Depends(DEFAULT_LIMIT), Depends(IDEMPOTENT)],
)
async def create_batch(
    body: BatchCreate, session: WriteSession, principal: Operator
) -> BatchCreated:
    batch, created = await service.create_batch(
        session,
        name=body.name,
        restaurant_ids=body.restaurant_ids,
        execution_config=body.execution_config,
        source_lead_scrape_job_id=body.source_lead_scrape_job_id,
        auto_start=body.auto_start,
        created_by=principal.subject,
    )
    counts = await service.tally(session, batch.id)
    return BatchCreated(
        batch_job=BatchCreatedJob(
            id=batch.id,
            name=batch.name,
            status=batch.status,
            total_restaurants=batch.total_restaurants,
            current_step=counts.current_step,
            total_steps=TOTAL_STEPS,
            created_at=batch.created_at,
        ),
        registration_jobs=[
            JobRef(id=job.id, restaurant_id=job.restaurant_id, status=job.status) for job in created
        ],
    )


@batches.get(
    "",
    response_model=BatchList,
    summary="Batches, newest first",
    dependencies=[Depends(DEFAULT_LIMIT)],
)
async def list_batches(
    session: ReadSession,
    status: BatchStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Offset = 0,
) -> BatchList:
    found, total = await service.list_batches(session, status=status, limit=limit, offset=offset)
    return BatchList(
        batch_jobs=[service.batch_list_item(batch, counts) for batch, counts in found],
        total_count=total,
    )


@batches.get(
    "/{batch_id}",
    response_model=BatchDetail,
    summary="A batch with its jobs, their steps and a per-step summary",
    dependencies=[Depends(DEFAULT_LIMIT)],
)
async def get_batch(batch_id: uuid.UUID, session: ReadSession) -> BatchDetail:
    return await service.batch_detail(session, batch_id)


@batches.post(
    "/{batch_id}/start",
    response_model=BatchStartedEnvelope,
    summary="Start a pending batch",
    dependencies=[Depends(START_LIMIT)],
)
async def start_batch(batch_id: uuid.UUID, session: WriteSession) -> BatchStartedEnvelope:
    batch = await service.start(session, batch_id)
    return BatchStartedEnvelope(
        batch_job=BatchStarted(id=batch.id, status=batch.status, started_at=batch.started_at)
    )


@batches.post(
    "/{batch_id}/cancel",
    response_model=BatchCancelledEnvelope,
    summary="Cancel a batch: every unfinished job stops",
    dependencies=[Depends(DEFAULT_LIMIT)],
)
async def cancel_batch(batch_id: uuid.UUID, session: WriteSession) -> BatchCancelledEnvelope:
    batch, cancelled, completed = await service.cancel(session, batch_id)
    return BatchCancelledEnvelope(
        batch_job=BatchCancelled(id=batch.id, status=batch.status, cancelled_at=batch.cancelled_at),
        cancelled_jobs=cancelled,
        already_completed=completed,
    )


@batches.get(
    "/{batch_id}/steps/{step_number}",
    response_model=StepDetail,
    summary="One step across the batch's restaurants (step 3: their candidates)",
    dependencies=[Depends(DEFAULT_LIMIT)],
)
async def get_step(
    batch_id: uuid.UUID, step_number: StepNumber, session: ReadSession
) -> StepDetail:
    return await service.step_detail(session, batch_id, step_number)


@batches.post(
    "/{batch_id}/steps/{step_number}/complete",
    response_model=StepCompleted,
    summary="Complete an action-required step (3: company selection, 5: configuration)",
    dependencies=[Depends(COMPLETE_STEP_LIMIT)],
)
async def complete_step(
    batch_id: uuid.UUID,
    step_number: StepNumber,
    body: StepCompletion,
    session: WriteSession,
    settings: CurrentSettings,
) -> StepCompleted:
    return await service.complete_step(
        session,
        settings,
        batch_id,
        step_number,
        selections=body.selections,
        configurations=body.configurations,
        apply_defaults_to_remaining=body.apply_defaults_to_remaining,
    )


@batches.get(
    "/{batch_id}/progress",
    response_model=Progress,
    summary="Lightweight progress, for frequent polling",
    dependencies=[Depends(PROGRESS_LIMIT)],
)
async def get_progress(batch_id: uuid.UUID, session: ReadSession) -> Progress:
    return await service.progress(session, batch_id)


async def _existing_batch(batch_id: uuid.UUID, database: CurrentDatabase) -> uuid.UUID:
    """Checked before a stream starts, so that a missing batch is a 404, not an empty stream."""
    async with database.read() as session:
        await service.get_batch(session, batch_id)
    return batch_id


@batches.get(
    "/{batch_id}/events",
    response_class=EventSourceResponse,
    summary="The progress answer as Server-Sent Events, sent whenever it changes",
    dependencies=[Depends(PROGRESS_LIMIT)],
)
async def stream_progress(
    batch_id: Annotated[uuid.UUID, Depends(_existing_batch)],
    request: Request,
    database: CurrentDatabase,
) -> AsyncIterator[ServerSentEvent]:
    async for current in service.progress_updates(
        database, batch_id, disconnected=request.is_disconnected, interval=EVENTS_INTERVAL_SECONDS
    ):
        yield ServerSentEvent(event="progress", data=current.model_dump(mode="json"))


def _job_state(job: RegistrationJob) -> JobStateEnvelope:
    return JobStateEnvelope(
        job=JobState(id=job.id, status=job.status, current_step=job.current_step)
    )


@jobs.get("/{job_id}", response_model=JobEnvelope, summary="One restaurant's registration job")
async def get_job(job_id: uuid.UUID, session: ReadSession) -> JobEnvelope:
    return JobEnvelope(job=await service.job_detail(session, job_id))


@jobs.post("/{job_id}/retry", response_model=JobStateEnvelope, summary="Retry a failed job")
async def retry_job(
    job_id: uuid.UUID, session: WriteSession, body: JobRetry | None = None
) -> JobStateEnvelope:
    body = body or JobRetry()
    job = await service.retry(
        session, job_id, from_step=body.from_step, reset_config=body.reset_config
    )
    return _job_state(job)


@jobs.post(
    "/{job_id}/company-search",
    response_model=JobStateEnvelope,
    summary="Resolve a company search that found nothing: a new term, or skip (extension)",
)
async def search_company(
    job_id: uuid.UUID, body: CompanySearch, session: WriteSession
) -> JobStateEnvelope:
    job = await service.search_company(session, job_id, body)
    return _job_state(job)


@leads.post(
    "",
    response_model=LeadsImported,
    status_code=201,
    summary="Import leads (extension)",
    dependencies=[Depends(IDEMPOTENT)],
)
async def import_leads(body: LeadImport, session: WriteSession) -> LeadsImported:
    created = await service.import_leads(
        session,
        [
            {
                **lead.model_dump(),
                "website_url": str(lead.website_url) if lead.website_url else None,
            }
            for lead in body.leads
        ],
    )
    return LeadsImported(leads=[LeadRead.model_validate(lead) for lead in created])


@leads.get("", response_model=LeadList, summary="Leads, newest first (extension)")
async def list_leads(
    session: ReadSession,
    converted: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Offset = 0,
) -> LeadList:
    found, total = await service.list_leads(
        session, converted=converted, limit=limit, offset=offset
    )
    return LeadList(
        leads=[LeadRead.model_validate(lead) for lead in found],
        total_count=total,
        limit=limit,
        offset=offset,
    )


@leads.post(
    "/convert",
    response_model=LeadsConverted,
    summary="Convert leads into restaurants, optionally in a new registration batch",
    dependencies=[Depends(IDEMPOTENT)],
)
async def convert_leads(
    body: LeadConvert, session: WriteSession, principal: Operator
) -> LeadsConverted:
    converted, already, batch = await service.convert_leads(
        session,
        lead_ids=body.lead_ids,
        address_source=body.address_source,
        create_registration_batch=body.create_registration_batch,
        batch_name=body.batch_name,
        auto_start_batch=body.auto_start_batch,
        created_by=principal.subject,
    )
    return LeadsConverted(
        converted_count=len(converted),
        restaurants=[
            ConvertedRestaurant(id=restaurant.id, name=restaurant.name)
            for _, restaurant in converted
        ],
        already_converted=[
            AlreadyConverted(lead_id=lead.id, restaurant_id=lead.restaurant_id)
            for lead in already
            if lead.restaurant_id is not None
        ],
        registration_batch=None
        if batch is None
        else ConvertedBatch(
            id=batch.id,
            name=batch.name,
            status=batch.status,
            total_restaurants=batch.total_restaurants,
        ),
    )
