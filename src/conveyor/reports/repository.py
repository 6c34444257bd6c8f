"""Every query of the reports package."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from conveyor.reports.models import (
    ACTIVE_INDEX_WHERE,
    ACTIVE_JOB_STATUSES,
    ReportCustomer,
    ReportJob,
    ReportJobStatus,
    ReportOpportunity,
)

_ACTIVE = [status.value for status in ACTIVE_JOB_STATUSES]


async def insert_job_unless_active(
    session: AsyncSession, values: dict[str, Any]
) -> tuple[uuid.UUID, ReportJobStatus, bool]:
    """Insert a job unless the same key and session already have an identical one active.

    Returns (id, status, created): the new job's, or the active one's. ON CONFLICT against the
    partial unique index makes this hold under concurrency: a second transaction waits for the
    first and then finds its row (or, if that job finished meanwhile, inserts after all).
    """
    postgres = session.get_bind().dialect.name == "postgresql"
    dialect_insert = postgresql.insert if postgres else sqlite.insert
    statement = (
        dialect_insert(ReportJob)
        .values(**values)
        .on_conflict_do_nothing(
            index_elements=[ReportJob.api_key_id, ReportJob.session_id, ReportJob.request_hash],
            index_where=ACTIVE_INDEX_WHERE,
        )
        .returning(ReportJob.id)
    )
    active = select(ReportJob.id, ReportJob.status).where(
        ReportJob.api_key_id == values["api_key_id"],
        ReportJob.session_id == values["session_id"],
        ReportJob.request_hash == values["request_hash"],
        ReportJob.status.in_(_ACTIVE),
    )
    while True:
        created = (await session.execute(statement)).scalar_one_or_none()
        if created is not None:
            return created, ReportJobStatus(values["status"]), True
        found = (await session.execute(active)).first()
        if found is not None:
            return found.id, ReportJobStatus(found.status), False


async def get_job(session: AsyncSession, job_id: uuid.UUID) -> ReportJob | None:
    return await session.get(ReportJob, job_id)


async def find_job(
    session: AsyncSession, job_id: uuid.UUID, *, api_key_id: str, now: datetime
) -> ReportJob | None:
    """The key's job, unless it has expired."""
    result = await session.execute(
        select(ReportJob).where(
            ReportJob.id == job_id,
            ReportJob.api_key_id == api_key_id,
            ReportJob.expires_at > now,
        )
    )
    return result.scalar_one_or_none()


async def start_job(session: AsyncSession, job_id: uuid.UUID, *, now: datetime) -> bool:
    """Mark a pending job running (its time limit starts now); False if it is not pending."""
    result = await session.execute(
        update(ReportJob)
        .where(ReportJob.id == job_id, ReportJob.status == ReportJobStatus.PENDING.value)
        .values(status=ReportJobStatus.RUNNING.value, started_at=now, updated_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def finish_job(
    session: AsyncSession,
    job_id: uuid.UUID,
    *,
    status: ReportJobStatus,
    now: datetime,
    expires_at: datetime,
    section_markdown: str | None = None,
    error_code: str | None = None,
    error_message: str | None = None,
) -> bool:
    """Record a job's outcome, once: False when it had already finished (or is gone)."""
    result = await session.execute(
        update(ReportJob)
        .where(ReportJob.id == job_id, ReportJob.status.in_(_ACTIVE))
        .values(
            status=status.value,
            section_markdown=section_markdown,
            error_code=error_code,
            error_message=error_message,
            finished_at=now,
            expires_at=expires_at,
            updated_at=now,
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def delete_expired(session: AsyncSession, *, now: datetime, limit: int) -> int:
    """Delete up to `limit` expired jobs; how many were deleted."""
    expired = select(ReportJob.id).where(ReportJob.expires_at <= now).limit(limit)
    result = await session.execute(delete(ReportJob).where(ReportJob.id.in_(expired)))
    return int(result.rowcount)  # type: ignore[attr-defined]


# -- the context store ------------------------------------------------------------------------


async def get_customer(
    session: AsyncSession, *, api_key_id: str, customer_id: str
) -> ReportCustomer | None:
    return await session.get(ReportCustomer, (api_key_id, customer_id))


async def get_opportunity(
    session: AsyncSession, *, api_key_id: str, opportunity_id: str
) -> ReportOpportunity | None:
    return await session.get(ReportOpportunity, (api_key_id, opportunity_id))


async def add(session: AsyncSession, *rows: object) -> None:
    session.add_all(rows)
    await session.flush()


async def delete_customer(session: AsyncSession, *, api_key_id: str, customer_id: str) -> bool:
    result = await session.execute(
        delete(ReportCustomer).where(
            and_(ReportCustomer.api_key_id == api_key_id, ReportCustomer.customer_id == customer_id)
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def delete_opportunity(
    session: AsyncSession, *, api_key_id: str, opportunity_id: str
) -> bool:
    result = await session.execute(
        delete(ReportOpportunity).where(
            and_(
                ReportOpportunity.api_key_id == api_key_id,
                ReportOpportunity.opportunity_id == opportunity_id,
            )
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
