"""Use cases of document 002: start a section job (or find the identical one already under
way), answer its status, write it on a worker, forget it when it expires; and the context
store the sections are written from."""

import asyncio
import hashlib
import json
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from conveyor import tasks
from conveyor.config import Settings
from conveyor.database import Database
from conveyor.errors import NotFoundError
from conveyor.kit.clock import utcnow
from conveyor.reports import repository
from conveyor.reports.models import (
    ReportAction,
    ReportCustomer,
    ReportJob,
    ReportJobStatus,
    ReportOpportunity,
    ReportType,
)
from conveyor.reports.providers import SectionBrief, SectionWriter, WriterError, writer_for
from conveyor.reports.schemas import (
    BusyRef,
    CompletedJob,
    CustomerFacts,
    CustomerRead,
    FailedJob,
    GeneratedSection,
    GenerateRequest,
    JobAccepted,
    JobBusy,
    JobErrorDetail,
    JobRef,
    JobStatusAnswer,
    OpportunityFacts,
    OpportunityRead,
    RefinedSection,
    RefineRequest,
    encode_base64_text,
)

WRITE_SECTION = "reports.write_section"
EXPIRE_BATCH = 1000


class SectionTask(BaseModel):
    """The payload of a `reports.write_section` task."""

    job_id: uuid.UUID


# -- starting and polling ----------------------------------------------------------------------


@dataclass(frozen=True)
class Started:
    job_id: uuid.UUID
    status: ReportJobStatus
    busy: bool
    """An identical job of the same session was already pending or running: this is it."""

    def answer(self) -> JobAccepted | JobBusy:
        shown = "pending" if self.status is ReportJobStatus.PENDING else "processing"
        if self.busy:
            return JobBusy(data=BusyRef(job_id=self.job_id, status=shown, request_id=self.job_id))
        return JobAccepted(data=JobRef(job_id=self.job_id, status=shown))


def request_hash(action: ReportAction, body: GenerateRequest) -> str:
    """What makes two requests the same request: everything they ask for, the text decoded."""
    fields = {"action": action.value, **body.model_dump(mode="json")}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


async def start_job(
    session: AsyncSession,
    settings: Settings,
    body: GenerateRequest,
    *,
    api_key_id: str,
    session_id: str,
) -> Started:
    """A new job and its task, in the caller's transaction; or, when the same session already
    has the identical request pending or running, that job (the document's `busy`)."""
    action = ReportAction.REFINE if isinstance(body, RefineRequest) else ReportAction.GENERATE
    now = utcnow()
    job_id, status, created = await repository.insert_job_unless_active(
        session,
        {
            "id": uuid.uuid4(),
            "api_key_id": api_key_id,
            "session_id": session_id,
            "action": action.value,
            "report_type": body.type.value,
            "customer_id": body.customer_id,
            "opportunity_id": body.opportunity_id,
            "section_title": body.section_title,
            "original_text": body.original_text if isinstance(body, RefineRequest) else None,
            "prompt": body.prompt if isinstance(body, RefineRequest) else None,
            "request_hash": request_hash(action, body),
            "status": ReportJobStatus.PENDING.value,
            "expires_at": now + timedelta(hours=settings.reports_expiry_hours),
            "created_at": now,
            "updated_at": now,
        },
    )
    if created:
        await tasks.enqueue(session, WRITE_SECTION, SectionTask(job_id=job_id))
    return Started(job_id, status, busy=not created)


async def get_job(session: AsyncSession, job_id: str, *, api_key_id: str) -> ReportJob:
    """The caller's job; 404 `JOB_NOT_FOUND` for an unknown, expired or another key's job."""
    try:
        parsed = uuid.UUID(job_id)
    except ValueError:
        raise NotFoundError("Job not found (job ids are UUIDs)", code="JOB_NOT_FOUND") from None
    job = await repository.find_job(session, parsed, api_key_id=api_key_id, now=utcnow())
    if job is None:
        raise NotFoundError(f"Job {parsed} not found", code="JOB_NOT_FOUND")
    return job


def status_answer(job: ReportJob) -> JobStatusAnswer:
    """The document's status answer for the job as it is now."""
    if job.status == ReportJobStatus.PENDING:
        return JobStatusAnswer(
            status="processing", message="Job queued", data=JobRef(job_id=job.id, status="pending")
        )
    if job.status == ReportJobStatus.RUNNING:
        return JobStatusAnswer(
            status="processing",
            message="Job processing",
            data=JobRef(job_id=job.id, status="processing"),
        )
    if job.status == ReportJobStatus.FAILED:
        error = JobErrorDetail(
            error_code=job.error_code or "INTERNAL_ERROR", message=job.error_message or "Failed"
        )
        return JobStatusAnswer(
            status="error", message="Job failed", data=FailedJob(job_id=job.id, error=error)
        )
    section = encode_base64_text(job.section_markdown or "")
    ids = {
        "customer_id": job.customer_id,
        "opportunity_id": job.opportunity_id,
        "section_title": job.section_title,
    }
    result = (
        RefinedSection(**ids, refined_section_b64=section)
        if job.action == ReportAction.REFINE
        else GeneratedSection(**ids, generated_section_b64=section)
    )
    return JobStatusAnswer(
        status="ready", message="Job completed", data=CompletedJob(job_id=job.id, result=result)
    )


async def job_status(session: AsyncSession, job_id: str, *, api_key_id: str) -> JobStatusAnswer:
    return status_answer(await get_job(session, job_id, api_key_id=api_key_id))


# -- writing, on a worker ----------------------------------------------------------------------


@dataclass(frozen=True)
class Assignment:
    """A job a worker has taken: what to write, and by when."""

    brief: SectionBrief
    deadline: datetime


async def take_job(database: Database, settings: Settings, job_id: uuid.UUID) -> Assignment | None:
    """Mark the job running (its time limit starts with the first attempt) and gather its
    brief; None when it finished already or is gone."""
    async with database.transaction() as session:
        job = await repository.get_job(session, job_id)
        if job is None or job.status not in (ReportJobStatus.PENDING, ReportJobStatus.RUNNING):
            return None
        started_at = job.started_at
        if started_at is None:
            started_at = utcnow()
            await repository.start_job(session, job_id, now=started_at)
        customer = await repository.get_customer(
            session, api_key_id=job.api_key_id, customer_id=job.customer_id
        )
        opportunity = await repository.get_opportunity(
            session, api_key_id=job.api_key_id, opportunity_id=job.opportunity_id
        )
    brief = SectionBrief(
        job_id=str(job.id),
        action=ReportAction(job.action),
        report_type=ReportType(job.report_type),
        section_title=job.section_title,
        customer_id=job.customer_id,
        opportunity_id=job.opportunity_id,
        customer=CustomerFacts.model_validate(customer.facts) if customer else None,
        opportunity=OpportunityFacts.model_validate(opportunity.facts) if opportunity else None,
        original_text=job.original_text,
        prompt=job.prompt,
    )
    deadline = started_at + timedelta(seconds=settings.reports_job_timeout_seconds)
    return Assignment(brief, deadline)


async def finish_job(
    session: AsyncSession,
    settings: Settings,
    job_id: uuid.UUID,
    *,
    section_markdown: str | None = None,
    error_code: str | None = None,
    error_message: str | None = None,
) -> None:
    """Record the outcome: the section, or the error. The job expires from now on."""
    now = utcnow()
    await repository.finish_job(
        session,
        job_id,
        status=ReportJobStatus.FAILED if error_code else ReportJobStatus.COMPLETED,
        now=now,
        expires_at=now + timedelta(hours=settings.reports_expiry_hours),
        section_markdown=section_markdown,
        error_code=error_code,
        error_message=error_message[:1000] if error_message else None,
    )


Commit = Callable[[], AbstractAsyncContextManager[AsyncSession]]


async def write_section(
    database: Database,
    settings: Settings,
    job_id: uuid.UUID,
    *,
    attempt: int,
    final: bool,
    idempotency_key: str,
    commit: Commit,
    writer: SectionWriter | None = None,
) -> None:
    """One attempt at a job: take it, have the writer write outside any transaction, record
    the outcome through `commit` (a task passes `ctx.complete`, so the outcome commits with
    the task's own completion, once).

    A writer failure that may pass is raised for the engine to retry, except on the last
    attempt; one that will not pass, and running out of time, fail the job at once.
    """
    assignment = await take_job(database, settings, job_id)
    if assignment is None:
        return
    writer = writer or writer_for(settings)
    limit = settings.reports_job_timeout_seconds
    outcome: dict[str, str] = {}
    try:
        if utcnow() >= assignment.deadline:  # retried after its time ran out
            raise TimeoutError
        async with asyncio.timeout_at(_loop_time_at(assignment.deadline)):
            markdown = await writer.write(
                assignment.brief, idempotency_key=idempotency_key, attempt=attempt
            )
        outcome["section_markdown"] = markdown
    except TimeoutError:
        outcome["error_code"] = "TIMEOUT"
        outcome["error_message"] = (
            f"The section was not written within the time limit ({limit:g} s)"
        )
    except WriterError as exc:
        if exc.retryable and not final:
            raise
        outcome["error_code"] = exc.code
        outcome["error_message"] = str(exc)
    except Exception:
        if final:
            async with database.transaction() as session:
                await finish_job(
                    session,
                    settings,
                    job_id,
                    error_code="INTERNAL_ERROR",
                    error_message="An unexpected error stopped the job; it is in the worker's log",
                )
        raise
    async with commit() as session:
        await finish_job(session, settings, job_id, **outcome)


def _loop_time_at(moment: datetime) -> float:
    """`moment` on the running event loop's clock (what `asyncio.timeout_at` takes)."""
    loop = asyncio.get_running_loop()
    return loop.time() + (moment - utcnow()).total_seconds()


async def delete_expired(database: Database) -> int:
    """Delete every expired job, a batch per short transaction; how many were deleted."""
    total = 0
    while True:
        async with database.transaction() as session:
            deleted = await repository.delete_expired(session, now=utcnow(), limit=EXPIRE_BATCH)
        total += deleted
        if deleted < EXPIRE_BATCH:
            return total


# -- the context store -------------------------------------------------------------------------


def _customer_read(row: ReportCustomer) -> CustomerRead:
    return CustomerRead(**row.facts, customer_id=row.customer_id, updated_at=row.updated_at)


def _opportunity_read(row: ReportOpportunity) -> OpportunityRead:
    return OpportunityRead(
        **row.facts, opportunity_id=row.opportunity_id, updated_at=row.updated_at
    )


async def put_customer(
    session: AsyncSession, facts: CustomerFacts, *, api_key_id: str, customer_id: str
) -> tuple[CustomerRead, bool]:
    """Store (replace) what is known about a customer; True when it was not known before."""
    row = await repository.get_customer(session, api_key_id=api_key_id, customer_id=customer_id)
    created = row is None
    if row is None:
        row = ReportCustomer(api_key_id=api_key_id, customer_id=customer_id, facts={})
    row.facts = facts.model_dump(mode="json")
    row.updated_at = utcnow()
    await repository.add(session, row)
    return _customer_read(row), created


async def get_customer(session: AsyncSession, *, api_key_id: str, customer_id: str) -> CustomerRead:
    row = await repository.get_customer(session, api_key_id=api_key_id, customer_id=customer_id)
    if row is None:
        raise NotFoundError("Nothing is known about this customer", code="CUSTOMER_NOT_FOUND")
    return _customer_read(row)


async def delete_customer(session: AsyncSession, *, api_key_id: str, customer_id: str) -> None:
    if not await repository.delete_customer(
        session, api_key_id=api_key_id, customer_id=customer_id
    ):
        raise NotFoundError("Nothing is known about this customer", code="CUSTOMER_NOT_FOUND")


async def put_opportunity(
    session: AsyncSession, facts: OpportunityFacts, *, api_key_id: str, opportunity_id: str
) -> tuple[OpportunityRead, bool]:
    """Store (replace) what is known about an opportunity; True when it was not known before."""
    row = await repository.get_opportunity(
        session, api_key_id=api_key_id, opportunity_id=opportunity_id
    )
    created = row is None
    if row is None:
        row = ReportOpportunity(api_key_id=api_key_id, opportunity_id=opportunity_id, facts={})
    row.facts = facts.model_dump(mode="json")
    row.updated_at = utcnow()
    await repository.add(session, row)
    return _opportunity_read(row), created


async def get_opportunity(
    session: AsyncSession, *, api_key_id: str, opportunity_id: str
) -> OpportunityRead:
    row = await repository.get_opportunity(
        session, api_key_id=api_key_id, opportunity_id=opportunity_id
    )
    if row is None:
        raise NotFoundError("Nothing is known about this opportunity", code="OPPORTUNITY_NOT_FOUND")
    return _opportunity_read(row)


async def delete_opportunity(
    session: AsyncSession, *, api_key_id: str, opportunity_id: str
) -> None:
    if not await repository.delete_opportunity(
        session, api_key_id=api_key_id, opportunity_id=opportunity_id
    ):
        raise NotFoundError("Nothing is known about this opportunity", code="OPPORTUNITY_NOT_FOUND")
