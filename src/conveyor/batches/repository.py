"""Every query of the batches package."""

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import bindparam, case, func, insert, literal, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable

from conveyor.batches.models import (
    Lead,
    RegistrationBatch,
    RegistrationBatchCount,
    RegistrationJob,
    RegistrationJobStep,
)
from conveyor.batches.pipeline import (
    ACTIVE_JOB,
    OPEN_STEP,
    TOTAL_STEPS,
    BatchStatus,
    JobGroup,
    JobStatus,
    StepStatus,
    Tally,
    elapsed_ms,
)
from conveyor.database import JSONType
from conveyor.restaurants.models import Restaurant

CHUNK = 1000
"""Ids per `IN (...)`: well inside SQLite's and asyncpg's parameter limits."""

T = TypeVar("T")

ACTIVE_JOB_VALUES = sorted(status.value for status in ACTIVE_JOB)


async def _core(session: AsyncSession, statement: Executable) -> CursorResult[Any]:
    """A bulk UPDATE as plain Core on the session's connection: none of the ORM's
    bookkeeping, which the engine's hot path cannot afford (no loaded objects are affected)."""
    return await (await session.connection()).execute(statement)


def _chunks(values: Sequence[T]) -> Iterable[Sequence[T]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


# --- batches ------------------------------------------------------------------------------


async def add_batch(
    session: AsyncSession, batch: RegistrationBatch, restaurant_ids: Sequence[uuid.UUID]
) -> list[RegistrationJob]:
    """The batch, one job per restaurant and six pending steps per job, in bulk.

    The jobs share the batch's `created_at`, and their ids ascend in the order of
    `restaurant_ids`, so that a batch's jobs are listed (by `created_at`, then id) in the order
    they were asked for.
    """
    session.add(batch)
    await session.flush()
    now = batch.created_at
    job_ids = sorted(uuid.uuid4() for _ in restaurant_ids)
    jobs = [
        {
            "id": job_id,
            "batch_id": batch.id,
            "restaurant_id": restaurant_id,
            "status": JobStatus.PENDING.value,
            "current_step": 1,
            "in_active_batch": True,
            "candidates": [],
            "config": {},
            "created_at": now,
            "updated_at": now,
        }
        for job_id, restaurant_id in zip(job_ids, restaurant_ids, strict=True)
    ]
    await session.execute(insert(RegistrationJob), jobs)
    steps = [
        {
            "id": uuid.uuid4(),
            "job_id": job["id"],
            "batch_id": batch.id,
            "step_number": number,
            "status": StepStatus.PENDING.value,
        }
        for job in jobs
        for number in range(1, TOTAL_STEPS + 1)
    ]
    await session.execute(insert(RegistrationJobStep), steps)
    return list(
        (
            await session.execute(
                select(RegistrationJob)
                .where(RegistrationJob.batch_id == batch.id)
                .order_by(RegistrationJob.id)
                .execution_options(populate_existing=True)
            )
        ).scalars()
    )


async def get_batch(
    session: AsyncSession, batch_id: uuid.UUID, *, lock: bool = False
) -> RegistrationBatch | None:
    """With `lock`, the row stays locked to the end of the transaction (PostgreSQL): changes
    to one batch's status are made one at a time, so two jobs finishing together cannot both
    miss that they were the last."""
    query = select(RegistrationBatch).where(RegistrationBatch.id == batch_id)
    if lock:
        query = query.with_for_update()
    return (
        await session.execute(query.execution_options(populate_existing=True))
    ).scalar_one_or_none()


async def list_batches(
    session: AsyncSession, *, status: BatchStatus | None, limit: int, offset: int
) -> tuple[list[RegistrationBatch], int]:
    where = [] if status is None else [RegistrationBatch.status == status.value]
    total = await session.execute(select(func.count()).select_from(RegistrationBatch).where(*where))
    page = await session.execute(
        select(RegistrationBatch)
        .where(*where)
        .order_by(RegistrationBatch.created_at.desc(), RegistrationBatch.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(page.scalars()), int(total.scalar_one())


async def tallies(session: AsyncSession, batch_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Tally]:
    """Each batch's jobs grouped by status, from the progress index alone."""
    if session.get_bind().dialect.name == "sqlite":
        counted = RegistrationBatchCount
        query = (
            select(
                counted.batch_id,
                counted.status,
                func.sum(counted.jobs),
                func.sum(counted.jobs * counted.current_step),
                func.min(counted.current_step),
                func.max(counted.current_step),
                func.max(counted.last_updated),
            )
            .where(counted.batch_id.in_(batch_ids), counted.jobs > 0)
            .group_by(counted.batch_id, counted.status)
        )
    else:
        query = (
            select(
                RegistrationJob.batch_id,
                RegistrationJob.status,
                func.count(),
                func.sum(RegistrationJob.current_step),
                func.min(RegistrationJob.current_step),
                func.max(RegistrationJob.current_step),
                func.max(RegistrationJob.updated_at),
            )
            .where(RegistrationJob.batch_id.in_(batch_ids))
            .group_by(RegistrationJob.batch_id, RegistrationJob.status)
        )
    rows = await session.execute(query)
    found: dict[uuid.UUID, Tally] = {batch_id: Tally({}) for batch_id in batch_ids}
    for batch_id, status, count, step_sum, min_step, max_step, last_updated in rows:
        found[batch_id].groups[JobStatus(status)] = JobGroup(
            count=count,
            step_sum=int(step_sum),
            min_step=min_step,
            max_step=max_step,
            last_updated=last_updated,
        )
    return found


async def step_summary(session: AsyncSession, batch_id: uuid.UUID) -> list[tuple[int, str, int]]:
    """(step number, status, jobs) for one batch."""
    rows = await session.execute(
        select(RegistrationJobStep.step_number, RegistrationJobStep.status, func.count())
        .where(RegistrationJobStep.batch_id == batch_id)
        .group_by(RegistrationJobStep.step_number, RegistrationJobStep.status)
    )
    return [(number, status, count) for number, status, count in rows]


async def has_active_jobs(session: AsyncSession, batch_id: uuid.UUID) -> bool:
    """Whether any job of the batch is pending, in progress or waiting (one index probe)."""
    found = await session.execute(
        select(RegistrationJob.id)
        .where(RegistrationJob.batch_id == batch_id, RegistrationJob.status.in_(ACTIVE_JOB_VALUES))
        .limit(1)
    )
    return found.first() is not None


async def restaurants_in_active_batches(
    session: AsyncSession, restaurant_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, uuid.UUID]:
    """restaurant id -> the pending or in-progress batch it is in."""
    found: dict[uuid.UUID, uuid.UUID] = {}
    for chunk in _chunks(restaurant_ids):
        rows = await session.execute(
            select(RegistrationJob.restaurant_id, RegistrationJob.batch_id).where(
                RegistrationJob.restaurant_id.in_(chunk), RegistrationJob.in_active_batch
            )
        )
        found.update((restaurant_id, batch_id) for restaurant_id, batch_id in rows)
    return found


async def set_batch_active(session: AsyncSession, batch_id: uuid.UUID, active: bool) -> None:
    """Mark whether the batch's restaurants are taken (pending or in-progress batch)."""
    await _core(
        session,
        update(RegistrationJob)
        .where(RegistrationJob.batch_id == batch_id)
        .values(in_active_batch=active),
    )


# --- jobs ---------------------------------------------------------------------------------


async def get_job(
    session: AsyncSession, job_id: uuid.UUID, *, lock: bool = False
) -> RegistrationJob | None:
    query = select(RegistrationJob).where(RegistrationJob.id == job_id)
    if lock:
        query = query.with_for_update()
    return (
        await session.execute(query.execution_options(populate_existing=True))
    ).scalar_one_or_none()


async def jobs_with_restaurants(
    session: AsyncSession, job_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[RegistrationJob, Restaurant]]:
    found: dict[uuid.UUID, tuple[RegistrationJob, Restaurant]] = {}
    for chunk in _chunks(list(dict.fromkeys(job_ids))):
        rows = await session.execute(
            select(RegistrationJob, Restaurant)
            .join(Restaurant, Restaurant.id == RegistrationJob.restaurant_id)
            .where(RegistrationJob.id.in_(chunk))
            .execution_options(populate_existing=True)
        )
        found.update((job.id, (job, restaurant)) for job, restaurant in rows)
    return found


async def jobs_of_batch(
    session: AsyncSession,
    batch_id: uuid.UUID,
    *,
    statuses: Iterable[JobStatus] | None = None,
    ids: Sequence[uuid.UUID] | None = None,
) -> list[RegistrationJob]:
    query = (
        select(RegistrationJob)
        .where(RegistrationJob.batch_id == batch_id)
        .execution_options(populate_existing=True)
    )
    if statuses is not None:
        query = query.where(RegistrationJob.status.in_([status.value for status in statuses]))
    if ids is None:
        query = query.order_by(RegistrationJob.created_at, RegistrationJob.id)
        return list((await session.execute(query)).scalars())
    found: list[RegistrationJob] = []
    for chunk in _chunks(ids):
        found += (await session.execute(query.where(RegistrationJob.id.in_(chunk)))).scalars()
    return found


async def steps_of_jobs(
    session: AsyncSession, job_ids: Sequence[uuid.UUID], *, step_number: int | None = None
) -> list[RegistrationJobStep]:
    found: list[RegistrationJobStep] = []
    for chunk in _chunks(job_ids):
        query = select(RegistrationJobStep).where(RegistrationJobStep.job_id.in_(chunk))
        if step_number is not None:
            query = query.where(RegistrationJobStep.step_number == step_number)
        found += (
            await session.execute(
                query.order_by(RegistrationJobStep.job_id, RegistrationJobStep.step_number)
            )
        ).scalars()
    return found


async def steps_of_batch(
    session: AsyncSession, batch_id: uuid.UUID, *, step_number: int | None = None
) -> list[RegistrationJobStep]:
    query = select(RegistrationJobStep).where(RegistrationJobStep.batch_id == batch_id)
    if step_number is not None:
        query = query.where(RegistrationJobStep.step_number == step_number)
    return list((await session.execute(query.order_by(RegistrationJobStep.step_number))).scalars())


async def get_step(
    session: AsyncSession, job_id: uuid.UUID, step_number: int, *, lock: bool = False
) -> RegistrationJobStep | None:
    query = select(RegistrationJobStep).where(
        RegistrationJobStep.job_id == job_id, RegistrationJobStep.step_number == step_number
    )
    if lock:
        query = query.with_for_update()
    return (
        await session.execute(query.execution_options(populate_existing=True))
    ).scalar_one_or_none()


async def update_jobs(
    session: AsyncSession, job_ids: Sequence[uuid.UUID], *, now: datetime, **values: Any
) -> None:
    for chunk in _chunks(job_ids):
        await _core(
            session,
            update(RegistrationJob)
            .where(RegistrationJob.id.in_(chunk))
            .values(updated_at=now, **values),
        )


async def update_job_rows(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Different values per job, by primary key, in one executemany."""
    if rows:
        await session.execute(update(RegistrationJob), rows)


async def move_steps(
    session: AsyncSession,
    job_ids: Sequence[uuid.UUID],
    step_number: int,
    *,
    to: StepStatus,
    when: Iterable[StepStatus] = OPEN_STEP,
    **values: Any,
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Step `step_number` of these jobs -> `to`, where it is in one of `when`.

    Returns (step id, job id) of the steps that moved: a step that had already moved on (a
    cancelled job, a stale task) is left alone and not returned.
    """
    moved: list[tuple[uuid.UUID, uuid.UUID]] = []
    for chunk in _chunks(job_ids):
        result = await _core(
            session,
            update(RegistrationJobStep)
            .where(
                RegistrationJobStep.job_id.in_(chunk),
                RegistrationJobStep.step_number == step_number,
                RegistrationJobStep.status.in_([status.value for status in when]),
            )
            .values(status=to.value, **values)
            .returning(RegistrationJobStep.id, RegistrationJobStep.job_id),
        )
        moved += [(row.id, row.job_id) for row in result]
    return moved


async def finish_steps(
    session: AsyncSession,
    step_number: int,
    started: Mapping[uuid.UUID, datetime],
    *,
    to: StepStatus,
    now: datetime,
) -> set[uuid.UUID]:
    """Step `step_number` of each job in `started`, where still in progress -> `to`, with its
    own start (and, when completed, its duration), in one statement per chunk.

    Returns the jobs whose step moved: one that had moved on (a cancel, a retry, a stale
    task) is left alone.
    """
    finished = to is StepStatus.COMPLETED
    moved: set[uuid.UUID] = set()
    for chunk in _chunks(list(started)):
        per_job = [(RegistrationJobStep.job_id == job_id, started[job_id]) for job_id in chunk]
        started_at = case(
            *[(match, literal(at, RegistrationJobStep.started_at.type)) for match, at in per_job]
        )
        duration = case(*[(match, elapsed_ms(at, now)) for match, at in per_job])
        rows = await move_steps(
            session,
            chunk,
            step_number,
            to=to,
            when={StepStatus.IN_PROGRESS},
            started_at=started_at,
            finished_at=now if finished else None,
            duration_ms=duration if finished else None,
            task_id=None,
        )
        moved.update(job_id for _, job_id in rows)
    return moved


async def start_steps(
    session: AsyncSession,
    step_number: int,
    tasks: Sequence[tuple[uuid.UUID, int]],
    *,
    waiting: StepStatus,
    now: datetime,
    sub_step_progress: dict[uuid.UUID, dict[str, Any]] | None = None,
) -> None:
    """Step `step_number` of each (job, task) -> in progress, run by that task (one
    executemany); a step no longer in `waiting` is left alone."""
    values: dict[str, Any] = {
        "status": StepStatus.IN_PROGRESS.value,
        "started_at": now,
        "task_id": bindparam("task"),
    }
    if sub_step_progress is not None:
        values["sub_step_progress"] = bindparam("progress", type_=JSONType)
    statement = (
        update(RegistrationJobStep)
        .where(
            RegistrationJobStep.job_id == bindparam("job"),
            RegistrationJobStep.step_number == step_number,
            RegistrationJobStep.status == waiting.value,
        )
        .values(**values)
    )
    rows = [
        {"job": job_id, "task": task_id}
        | ({"progress": sub_step_progress[job_id]} if sub_step_progress is not None else {})
        for job_id, task_id in tasks
    ]
    if rows:
        await (await session.connection()).execute(statement, rows)


async def reset_steps(
    session: AsyncSession, job_id: uuid.UUID, *, from_step: int, keep_sub_steps: bool
) -> None:
    """Steps from `from_step` on back to pending (for a retry)."""
    values: dict[str, Any] = {
        "status": StepStatus.PENDING.value,
        "started_at": None,
        "finished_at": None,
        "duration_ms": None,
        "error": None,
        "task_id": None,
    }
    if not keep_sub_steps:
        values["sub_step_progress"] = None
    await _core(
        session,
        update(RegistrationJobStep)
        .where(
            RegistrationJobStep.job_id == job_id,
            RegistrationJobStep.step_number >= from_step,
        )
        .values(**values),
    )


async def cancel_open(
    session: AsyncSession, batch_id: uuid.UUID, *, now: datetime
) -> tuple[int, list[int]]:
    """Cancel the batch's unfinished jobs and their open steps.

    Returns how many jobs were cancelled and the engine tasks of the steps that were running
    or queued (for the caller to cancel).
    """
    tasks = await session.execute(
        select(RegistrationJobStep.task_id).where(
            RegistrationJobStep.batch_id == batch_id,
            RegistrationJobStep.status == StepStatus.IN_PROGRESS.value,
            RegistrationJobStep.task_id.is_not(None),
        )
    )
    task_ids = [task_id for (task_id,) in tasks if task_id is not None]
    await _core(
        session,
        update(RegistrationJobStep)
        .where(
            RegistrationJobStep.batch_id == batch_id,
            RegistrationJobStep.status.in_([status.value for status in OPEN_STEP]),
        )
        .values(status=StepStatus.CANCELLED.value, finished_at=now),
    )
    jobs = await _core(
        session,
        update(RegistrationJob)
        .where(
            RegistrationJob.batch_id == batch_id,
            RegistrationJob.status.in_(ACTIVE_JOB_VALUES),
        )
        .values(status=JobStatus.CANCELLED.value, updated_at=now)
        .returning(RegistrationJob.id),
    )
    return len(jobs.all()), task_ids


# --- leads --------------------------------------------------------------------------------


async def add_leads(session: AsyncSession, leads: Sequence[Lead]) -> list[Lead]:
    session.add_all(leads)
    await session.flush()
    return list(leads)


async def get_leads(session: AsyncSession, lead_ids: Sequence[uuid.UUID]) -> list[Lead]:
    found: list[Lead] = []
    for chunk in _chunks(lead_ids):
        found += (
            await session.execute(select(Lead).where(Lead.id.in_(chunk)).with_for_update())
        ).scalars()
    return found


async def list_leads(
    session: AsyncSession, *, converted: bool | None, limit: int, offset: int
) -> tuple[list[Lead], int]:
    where = []
    if converted is not None:
        where.append(Lead.restaurant_id.is_not(None) if converted else Lead.restaurant_id.is_(None))
    total = await session.execute(select(func.count()).select_from(Lead).where(*where))
    page = await session.execute(
        select(Lead)
        .where(*where)
        .order_by(Lead.created_at.desc(), Lead.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(page.scalars()), int(total.scalar_one())
