"""Use cases of document 000: batches of restaurants taken through the six onboarding steps.

Operators' actions run in the request's transaction and enqueue the next automatic step in
it. Automatic steps run on the engine (`batches.run_step`): they read what they need, call the
outside system with no transaction open, and write the result in one short transaction fenced
on the step still being in progress. So a task that runs twice changes nothing the second time,
and a cancelled or retried job is never advanced by a step that was already under way.
"""

import asyncio
import re
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from conveyor import tasks, webhooks
from conveyor.batches import providers, repository
from conveyor.batches.models import Lead, RegistrationBatch, RegistrationJob, RegistrationJobStep
from conveyor.batches.pipeline import (
    ACCOUNT_SETUP,
    ACTIVE_BATCH,
    BATCH_TRANSITIONS,
    COMPANY_DETAILS,
    COMPANY_SEARCH,
    COMPANY_SELECTION,
    CONFIGURATION,
    FINISHED_VALUES,
    JOB_TRANSITIONS,
    STEPS,
    SUB_STEPS,
    TOTAL_STEPS,
    BatchStatus,
    JobStatus,
    StepStatus,
    Tally,
    check,
    elapsed_ms,
    enabled_sub_steps,
    initial_sub_steps,
    job_status_at,
    next_step_status,
    password_from_pattern,
    start_next_stage,
    step,
    unfinished_stage,
)
from conveyor.batches.schemas import (
    BatchDetail,
    BatchJobRow,
    BatchListItem,
    BatchRead,
    CandidateRead,
    CompanySearch,
    Configuration,
    ExecutionConfig,
    JobRead,
    JobStep,
    Progress,
    RestaurantBrief,
    RestaurantsSummary,
    Selection,
    StepBrief,
    StepCompleted,
    StepDetail,
    StepRestaurant,
    SubStepProgress,
)
from conveyor.config import Settings
from conveyor.database import Database
from conveyor.errors import AppError, NotFoundError, ValidationError
from conveyor.kit.clock import isoformat_z, utcnow
from conveyor.kit.coalesce import shared
from conveyor.kit.crypto import SecretBox
from conveyor.restaurants import service as restaurants_service
from conveyor.restaurants.models import Restaurant, RestaurantSource

RUN_STEP = "batches.run_step"
COMPLETED_EVENT = "registration_batch.completed"


class BatchNotFound(NotFoundError):
    """Registration batch not found"""

    code = "BATCH_NOT_FOUND"


class JobNotFound(NotFoundError):
    """Registration job not found"""

    code = "JOB_NOT_FOUND"


class InvalidStatus(AppError):
    """Cannot perform action in current status"""

    code = "INVALID_STATUS"


class StepNotActionRequired(AppError):
    """Step is not action_required"""

    code = "STEP_NOT_ACTION_REQUIRED"


class MissingSelections(AppError):
    """Required selections not provided"""

    code = "MISSING_SELECTIONS"


class BatchAlreadyStarted(AppError):
    """Batch has already been started"""

    code = "BATCH_ALREADY_STARTED"


class RestaurantAlreadyInBatch(AppError):
    """Restaurant already in another active batch"""

    code = "RESTAURANT_ALREADY_IN_BATCH"


class StepTask(BaseModel):
    """The payload of `batches.run_step`: handlers take ids and load fresh state."""

    job_id: uuid.UUID
    step: int


class StepFailed(Exception):
    """An outside system failed; the engine retries the step."""


# --- batches ------------------------------------------------------------------------------


async def create_batch(
    session: AsyncSession,
    *,
    name: str,
    restaurant_ids: Sequence[uuid.UUID],
    execution_config: ExecutionConfig,
    source_lead_scrape_job_id: uuid.UUID | None = None,
    auto_start: bool = False,
    created_by: str | None = None,
) -> tuple[RegistrationBatch, list[RegistrationJob]]:
    restaurants = await restaurants_service.get_many(session, restaurant_ids)
    missing = [
        str(restaurant_id) for restaurant_id in restaurant_ids if restaurant_id not in restaurants
    ]
    if missing:
        raise NotFoundError(
            "Restaurant not found", code="RESTAURANT_NOT_FOUND", details={"restaurant_ids": missing}
        )
    taken = await repository.restaurants_in_active_batches(session, restaurant_ids)
    if taken:
        raise _already_in_batch(taken)
    batch = RegistrationBatch(
        name=name,
        status=BatchStatus.PENDING.value,
        total_restaurants=len(restaurant_ids),
        execution_config=execution_config.model_dump(),
        source_lead_scrape_job_id=source_lead_scrape_job_id,
        created_by=created_by,
    )
    try:
        async with session.begin_nested():
            jobs = await repository.add_batch(session, batch, restaurant_ids)
    except IntegrityError:  # another batch took one of them since the check above
        raise _already_in_batch(
            await repository.restaurants_in_active_batches(session, restaurant_ids)
        ) from None
    if auto_start:
        await start(session, batch.id)
        jobs = await repository.jobs_of_batch(session, batch.id)
    return batch, jobs


def _already_in_batch(taken: dict[uuid.UUID, uuid.UUID]) -> RestaurantAlreadyInBatch:
    return RestaurantAlreadyInBatch(
        "Restaurant already in another active batch",
        details={
            "restaurants": [
                {"restaurant_id": str(restaurant_id), "batch_id": str(batch_id)}
                for restaurant_id, batch_id in taken.items()
            ]
        },
    )


async def get_batch(
    session: AsyncSession, batch_id: uuid.UUID, *, lock: bool = False
) -> RegistrationBatch:
    batch = await repository.get_batch(session, batch_id, lock=lock)
    if batch is None:
        raise BatchNotFound()
    return batch


async def tally(session: AsyncSession, batch_id: uuid.UUID) -> Tally:
    return (await repository.tallies(session, [batch_id]))[batch_id]


async def list_batches(
    session: AsyncSession, *, status: BatchStatus | None, limit: int, offset: int
) -> tuple[list[tuple[RegistrationBatch, Tally]], int]:
    batches, total = await repository.list_batches(
        session, status=status, limit=limit, offset=offset
    )
    tallies = await repository.tallies(session, [batch.id for batch in batches])
    return [(batch, tallies[batch.id]) for batch in batches], total


async def start(session: AsyncSession, batch_id: uuid.UUID) -> RegistrationBatch:
    batch = await get_batch(session, batch_id, lock=True)
    status = BatchStatus(batch.status)
    if status is BatchStatus.CANCELLED:
        raise InvalidStatus("Batch is cancelled; it cannot be started")
    if status is not BatchStatus.PENDING:
        raise BatchAlreadyStarted()
    now = utcnow()
    batch.status = check(BATCH_TRANSITIONS, status, BatchStatus.IN_PROGRESS)
    batch.started_at = now
    await _enter(session, await repository.jobs_of_batch(session, batch.id), 1, now=now)
    return batch


async def cancel(session: AsyncSession, batch_id: uuid.UUID) -> tuple[RegistrationBatch, int, int]:
    """Stop everything not finished. Returns the batch, jobs cancelled, jobs already completed."""
    batch = await get_batch(session, batch_id, lock=True)
    status = BatchStatus(batch.status)
    if status not in ACTIVE_BATCH:
        raise InvalidStatus(f"Batch is {status.value}; only pending or in-progress batches cancel")
    now = utcnow()
    cancelled_jobs, task_ids = await repository.cancel_open(session, batch.id, now=now)
    await tasks.cancel_many(session, task_ids)
    batch.status = check(BATCH_TRANSITIONS, status, BatchStatus.CANCELLED)
    batch.cancelled_at = batch.completed_at = now
    await repository.set_batch_active(session, batch.id, False)
    completed = (await tally(session, batch.id)).count(JobStatus.COMPLETED)
    return batch, cancelled_jobs, completed


async def step_summary(session: AsyncSession, batch_id: uuid.UUID) -> dict[str, dict[str, int]]:
    """Per step, how many jobs are in each status: pending and completed always shown, with the
    step's working status (in progress, or action required), and any other that occurs."""
    summary: dict[str, dict[str, int]] = {}
    for item in STEPS:
        working = next_step_status(item.number)
        summary[f"step_{item.number}"] = {
            StepStatus.COMPLETED.value: 0,
            working.value: 0,
            StepStatus.PENDING.value: 0,
        }
    for number, status, count in await repository.step_summary(session, batch_id):
        summary[f"step_{number}"][status] = count
    return summary


# --- the pipeline -------------------------------------------------------------------------


async def _enter(
    session: AsyncSession,
    jobs: Sequence[RegistrationJob],
    number: int,
    *,
    now: Any,
    sub_steps: dict[uuid.UUID, dict[str, bool]] | None = None,
    keep_progress: bool = False,
    **job_values: Any,
) -> None:
    """Move `jobs` on to step `number`: an automatic step is queued on the engine, an action
    step waits for an operator. `job_values` are written to the jobs in the same statement."""
    if not jobs:
        return
    target = job_status_at(number)
    for job in jobs:
        current = JobStatus(job.status)
        if current is not target:
            check(JOB_TRANSITIONS, current, target)
    ids = [job.id for job in jobs]
    await repository.update_jobs(
        session, ids, now=now, status=target.value, current_step=number, **job_values
    )
    if step(number).automatic:
        await _queue(
            session, ids, number, now=now, sub_steps=sub_steps, keep_progress=keep_progress
        )
    else:
        await repository.move_steps(
            session,
            ids,
            number,
            to=StepStatus.ACTION_REQUIRED,
            when={StepStatus.PENDING},
            started_at=now,
        )


async def _queue(
    session: AsyncSession,
    job_ids: Sequence[uuid.UUID],
    number: int,
    *,
    now: Any,
    waiting: StepStatus = StepStatus.PENDING,
    sub_steps: dict[uuid.UUID, dict[str, bool]] | None = None,
    keep_progress: bool = False,
) -> None:
    """Enqueue `batches.run_step` for step `number` of these jobs, and mark each step in
    progress with its task (so that a cancel can cancel the task) in one statement."""
    task_ids = await tasks.enqueue_many(
        session, RUN_STEP, [StepTask(job_id=job_id, step=number) for job_id in job_ids]
    )
    progress = None
    if number == ACCOUNT_SETUP and not keep_progress:
        progress = {
            job_id: initial_sub_steps((sub_steps or {}).get(job_id, {})) for job_id in job_ids
        }
    await repository.start_steps(
        session,
        number,
        [(job_id, task_id) for job_id, task_id in zip(job_ids, task_ids, strict=True)],
        waiting=waiting,
        now=now,
        sub_step_progress=progress,
    )


async def _finish_batch_if_done(session: AsyncSession, batch: RegistrationBatch) -> None:
    """After a job finished: if it was the batch's last, the batch finishes (and says so)."""
    if batch.status != BatchStatus.IN_PROGRESS.value:
        return
    # Every job of a batch passes here once: a one-row index probe spares the full tally
    # (milliseconds on a large batch, inside the write transaction) until the last one.
    if await repository.has_active_jobs(session, batch.id):
        return
    counts = await tally(session, batch.id)
    outcome = counts.outcome()
    if outcome is None:
        return
    now = utcnow()
    batch.status = check(BATCH_TRANSITIONS, BatchStatus.IN_PROGRESS, outcome)
    batch.completed_at = now
    await repository.set_batch_active(session, batch.id, False)
    await webhooks.emit(
        session,
        COMPLETED_EVENT,
        {
            "event": COMPLETED_EVENT,
            "batch_id": str(batch.id),
            "status": outcome.value,
            "summary": {
                "total": counts.total,
                "successful": counts.count(JobStatus.COMPLETED),
                "failed": counts.count(JobStatus.FAILED),
            },
            "timestamp": isoformat_z(now),
        },
    )


def _facts(restaurant: Restaurant) -> providers.RestaurantFacts:
    return providers.RestaurantFacts(
        id=str(restaurant.id),
        name=restaurant.name,
        street=restaurant.street,
        city=restaurant.city,
        website=restaurant.website,
        email=restaurant.email,
        phone=restaurant.phone,
    )


_PARENTHESISED_SUFFIX = re.compile(r"\s*\([^()]*\)\s*$")
_STREET_TYPES = frozenset(
    [
        "street",
        "st",
        "road",
        "rd",
        "avenue",
        "ave",
        "drive",
        "dr",
        "lane",
        "ln",
        "place",
        "pl",
        "terrace",
        "tce",
        "crescent",
        "cres",
        "way",
        "boulevard",
        "blvd",
        "highway",
        "hwy",
        "parade",
        "pde",
        "close",
        "court",
        "ct",
        "square",
        "sq",
        "quay",
        "grove",
        "mews",
        "esplanade",
        "rise",
    ]
)


def name_search_term(name: str) -> str:
    """The restaurant's name without a parenthesised suffix: "Pizza Palace (Ponsonby)" ->
    "Pizza Palace"."""
    return _PARENTHESISED_SUFFIX.sub("", name).strip() or name.strip()


def address_search_term(street: str | None, city: str | None) -> str | None:
    """The street up to its street-type word, plus the city: "12 Queen Street Level 2",
    "Auckland" -> "12 Queen Street Auckland". None without a street."""
    if not street or not street.strip():
        return None
    words = street.replace(",", " ").split()
    for index, word in enumerate(words):
        if index and word.lower().rstrip(".") in _STREET_TYPES:
            words = words[: index + 1]
            break
    return " ".join([*words, *(city.split() if city else [])])


def merge_candidates(
    by_name: Sequence[providers.Candidate], by_address: Sequence[providers.Candidate]
) -> list[dict[str, Any]]:
    """One entry per company number, in the order found; a name match wins over an address
    match of the same company."""
    merged: dict[str, dict[str, Any]] = {}
    for source, found in (("name", by_name), ("address", by_address)):
        for candidate in found:
            if candidate.company_number not in merged:
                merged[candidate.company_number] = {**asdict(candidate), "match_source": source}
    return list(merged.values())


def _prefill(
    config: dict[str, Any], details: dict[str, Any], restaurant_email: str | None
) -> dict[str, Any]:
    """The job's configuration pre-filled from the company (step 4 or a manual entry)."""
    return {
        **config,
        "email": config.get("email") or restaurant_email or details.get("email"),
        "company_name": details.get("company_name"),
        "company_number": details.get("company_number"),
        "nzbn": details.get("nzbn"),
        "gst_number": details.get("gst_number"),
        "directors": details.get("directors", []),
    }


async def run_step(
    database: Database,
    settings: Settings,
    job_id: uuid.UUID,
    number: int,
    *,
    attempt: int,
    final: bool,
) -> None:
    """Run one automatic step of one job (the body of `batches.run_step`).

    Every write is fenced on the step still being in progress, so a task that runs twice (a
    rescued attempt) or late (after a cancel or a retry) changes nothing.
    """
    loaded = await shared(database, _load)(job_id)
    if loaded is None:
        return  # the job is gone
    job, restaurant = loaded
    if job.status != JobStatus.IN_PROGRESS or job.current_step != number:
        return  # cancelled, retried from elsewhere, or already done: nothing left to do
    facts = _facts(restaurant)
    if number == ACCOUNT_SETUP:
        async with database.read() as session:
            row = await repository.get_step(session, job_id, number)
        if row is not None:
            await _set_up_account(database, settings, job, row, facts, final=final)
        return
    started = utcnow()
    limit = settings.batches_provider_concurrency
    try:
        if number == 1:
            extractor = providers.menu_extractor(settings)
            async with providers.limited(f"menu-{extractor.name}", limit):
                branding = await extractor.extract(facts, attempt=attempt)
            result: dict[str, Any] = {"menu": asdict(branding)}
        elif number == COMPANY_SEARCH:
            result = {"candidates": await _search(settings, job, facts, attempt=attempt)}
        else:
            registry = providers.company_registry(settings)
            chosen = next(
                candidate
                for candidate in job.candidates
                if candidate["company_number"] == job.selected_company_number
            )
            candidate = providers.Candidate(
                **{key: chosen[key] for key in ("company_name", "company_number", "status", "nzbn")}
            )
            async with providers.limited(f"registry-{registry.name}", limit):
                details = await registry.details(candidate, attempt=attempt)
            result = {"company": asdict(details)}
    except providers.ProviderError as exc:
        if not final:
            raise StepFailed(str(exc)) from None
        async with database.transaction() as session:
            await _fail(session, job_id, number, str(exc))
        return
    await shared(database, _record)(StepOutcome(job, number, result, started, facts.email))


async def _search(
    settings: Settings, job: RegistrationJob, facts: providers.RestaurantFacts, *, attempt: int
) -> list[dict[str, Any]]:
    registry = providers.company_registry(settings)
    limit = settings.batches_provider_concurrency

    async def search(term: str | None) -> list[providers.Candidate]:
        if term is None:
            return []
        async with providers.limited(f"registry-{registry.name}", limit):
            return await registry.search(term, attempt=attempt)

    by_name, by_address = await asyncio.gather(
        search(job.search_term or name_search_term(facts.name)),
        search(None if job.search_term else address_search_term(facts.street, facts.city)),
    )
    return merge_candidates(by_name, by_address)


@dataclass(frozen=True)
class StepOutcome:
    """An automatic step's result, waiting to be recorded."""

    job: RegistrationJob
    """As read before the outside call."""
    number: int
    result: dict[str, Any]
    started: datetime
    restaurant_email: str | None

    @property
    def found_nothing(self) -> bool:
        return self.number == COMPANY_SEARCH and not self.result["candidates"]

    def job_values(self) -> dict[str, Any]:
        values = dict(self.result)
        if self.number == COMPANY_DETAILS:
            values["config"] = _prefill(
                self.job.config, self.result["company"], self.restaurant_email
            )
        return values


async def _record(database: Database, outcomes: Sequence[StepOutcome]) -> list[None]:
    """Record steps that this process finished at about the same time, together.

    A step's own writes are few, but on a batch of thousands of jobs they are what the
    batch's speed rests on: one transaction for many steps, each statement covering them
    all, lets the single SQLite writer (and PostgreSQL's commits) keep up with the workers.
    """
    async with database.transaction() as session:
        await _complete(session, outcomes)
    return [None] * len(outcomes)


async def _load(
    database: Database, job_ids: Sequence[uuid.UUID]
) -> list[tuple[RegistrationJob, Restaurant] | None]:
    """Jobs about to run a step, with their restaurants: one query for all that ask at once."""
    async with database.read() as session:
        found = await repository.jobs_with_restaurants(session, job_ids)
    return [found.get(job_id) for job_id in job_ids]


async def _complete(session: AsyncSession, outcomes: Sequence[StepOutcome]) -> None:
    """Record automatic steps' results and move their jobs on, except where a step moved
    meanwhile (a cancel or a retry): the step's own status is the fence."""
    now = utcnow()
    groups: dict[tuple[int, bool], dict[uuid.UUID, StepOutcome]] = defaultdict(dict)
    for outcome in outcomes:
        # A step recorded twice in one batch (a rescued attempt) moves once.
        groups[outcome.number, outcome.found_nothing].setdefault(outcome.job.id, outcome)
    for (number, found_nothing), group in groups.items():
        moved = await repository.finish_steps(
            session,
            number,
            {job_id: outcome.started for job_id, outcome in group.items()},
            to=StepStatus.ACTION_REQUIRED if found_nothing else StepStatus.COMPLETED,
            now=now,
        )
        done = [outcome for job_id, outcome in group.items() if job_id in moved]
        if not done:
            continue
        await repository.update_job_rows(
            session, [{"id": outcome.job.id, **outcome.job_values()} for outcome in done]
        )
        jobs = [outcome.job for outcome in done]
        if found_nothing:
            for job in jobs:
                check(JOB_TRANSITIONS, JobStatus(job.status), JobStatus.ACTION_REQUIRED)
            await repository.update_jobs(
                session, [job.id for job in jobs], now=now, status=JobStatus.ACTION_REQUIRED.value
            )
        else:
            await _enter(session, jobs, number + 1, now=now)


async def _fail(
    session: AsyncSession, job_id: uuid.UUID, number: int, error: str, **progress: Any
) -> None:
    """The step failed for good: so does the job (its progress kept for a retry)."""
    job = await repository.get_job(session, job_id)
    if job is None:
        return
    batch = await get_batch(session, job.batch_id, lock=True)
    now = utcnow()
    moved = await repository.move_steps(
        session,
        [job_id],
        number,
        to=StepStatus.FAILED,
        when={StepStatus.IN_PROGRESS},
        finished_at=now,
        error=error[:1000],
        task_id=None,
        **progress,
    )
    if not moved:
        return
    job = await repository.get_job(session, job_id, lock=True)
    assert job is not None
    job.status = check(JOB_TRANSITIONS, JobStatus(job.status), JobStatus.FAILED)
    job.error = f"Step {number} ({step(number).name}) failed: {error}"[:1000]
    job.updated_at = now
    await session.flush()
    await _finish_batch_if_done(session, batch)


async def fail_step(database: Database, job_id: uuid.UUID, number: int, error: str) -> None:
    """Give up on a step after an unexpected error on its last attempt."""
    async with database.transaction() as session:
        await _fail(session, job_id, number, error)


async def _set_up_account(
    database: Database,
    settings: Settings,
    job: RegistrationJob,
    row: RegistrationJobStep,
    facts: providers.RestaurantFacts,
    *,
    final: bool,
) -> None:
    """Step 6: the sub-steps stage by stage, each stage's sub-steps side by side. Progress is
    written after every stage, so a retry resumes where this attempt stopped."""
    setup = providers.account_setup(settings)
    box = SecretBox(settings.secret_key.get_secret_value(), purpose=PASSWORD_PURPOSE)
    progress = row.sub_step_progress or initial_sub_steps(job.config.get("steps_enabled", {}))
    ids = {"user_id": job.pumpd_user_id, "restaurant_id": job.pumpd_restaurant_id}
    started = row.started_at or utcnow()
    while stage := unfinished_stage(progress):
        request = providers.AccountRequest(
            job_id=str(job.id),
            restaurant=facts,
            email=job.config.get("email") or "",
            password=box.open(job.password_sealed) if job.password_sealed else "",
            company=job.company,
            menu=job.menu,
            pumpd_user_id=ids["user_id"],
            pumpd_restaurant_id=ids["restaurant_id"],
        )

        async def run(
            name: str,
            request: providers.AccountRequest = request,
            progress: dict[str, Any] = progress,
        ) -> dict[str, str]:
            async with providers.limited(
                f"account-{setup.name}", settings.batches_provider_concurrency
            ):
                return await setup.run(
                    name,
                    request,
                    idempotency_key=f"conveyor-{request.job_id}-{name}",
                    attempt=progress["sub_steps"][name]["attempts"] + 1,
                )

        outcomes = await asyncio.gather(*(run(name) for name in stage), return_exceptions=True)
        sub_steps = {name: dict(state) for name, state in progress["sub_steps"].items()}
        errors: list[str] = []
        for name, outcome in zip(stage, outcomes, strict=True):
            state = sub_steps[name]
            state["attempts"] += 1
            if isinstance(outcome, providers.ProviderError):
                state["status"] = (StepStatus.FAILED if final else StepStatus.PENDING).value
                state["error"] = str(outcome)[:500]
                errors.append(f"{name}: {outcome}")
            elif isinstance(outcome, BaseException):
                raise outcome
            else:
                state["status"], state["error"] = StepStatus.COMPLETED.value, None
                ids.update({key: value for key, value in outcome.items() if key in ids})
        progress = {"current_sub_step": stage[0], "sub_steps": sub_steps}
        if errors and final:
            async with database.transaction() as session:
                await _fail(
                    session, job.id, ACCOUNT_SETUP, "; ".join(errors), sub_step_progress=progress
                )
                await _save_ids(session, job.id, ids)
            return
        if not errors:
            progress = start_next_stage(progress)
        async with database.transaction() as session:
            still_running = await repository.move_steps(
                session,
                [job.id],
                ACCOUNT_SETUP,
                to=StepStatus.IN_PROGRESS,
                when={StepStatus.IN_PROGRESS},
                sub_step_progress=progress,
            )
            if still_running:
                await _save_ids(session, job.id, ids)
        if not still_running:
            return  # cancelled while this stage ran: stop here
        if errors:
            raise StepFailed("; ".join(errors))
    async with database.transaction() as session:
        now = utcnow()
        moved = await repository.move_steps(
            session,
            [job.id],
            ACCOUNT_SETUP,
            to=StepStatus.COMPLETED,
            when={StepStatus.IN_PROGRESS},
            finished_at=now,
            duration_ms=elapsed_ms(started, now),
            sub_step_progress={**progress, "current_sub_step": None},
            task_id=None,
        )
        if not moved:
            return
        batch = await get_batch(session, job.batch_id, lock=True)
        finished = await repository.get_job(session, job.id, lock=True)
        assert finished is not None
        finished.status = check(JOB_TRANSITIONS, JobStatus(finished.status), JobStatus.COMPLETED)
        finished.pumpd_user_id = ids["user_id"]
        finished.pumpd_restaurant_id = ids["restaurant_id"]
        finished.completed_at = finished.updated_at = now
        finished.error = None
        await session.flush()
        await _finish_batch_if_done(session, batch)


async def _save_ids(session: AsyncSession, job_id: uuid.UUID, ids: dict[str, str | None]) -> None:
    await repository.update_jobs(
        session,
        [job_id],
        now=utcnow(),
        pumpd_user_id=ids["user_id"],
        pumpd_restaurant_id=ids["restaurant_id"],
    )


# --- operators' actions -------------------------------------------------------------------

PASSWORD_PURPOSE = "batches.account-password"  # noqa: S105 - a key-derivation label


async def complete_step(
    session: AsyncSession,
    settings: Settings,
    batch_id: uuid.UUID,
    number: int,
    *,
    selections: dict[uuid.UUID, Selection] | None,
    configurations: dict[uuid.UUID, Configuration] | None,
    apply_defaults_to_remaining: bool,
) -> StepCompleted:
    batch = await get_batch(session, batch_id, lock=True)
    if not 1 <= number <= TOTAL_STEPS:
        raise ValidationError(f"stepNumber must be between 1 and {TOTAL_STEPS}")
    if number not in (COMPANY_SELECTION, CONFIGURATION):
        raise StepNotActionRequired(
            f"Step {number} ({step(number).name}) is automatic; operators complete steps 3 and 5"
        )
    if batch.status != BatchStatus.IN_PROGRESS.value:
        raise InvalidStatus(f"Batch is {batch.status}; steps are completed while it is in_progress")
    if number == COMPANY_SELECTION:
        if configurations is not None or apply_defaults_to_remaining:
            raise ValidationError("Step 3 takes selections; configurations belong to step 5")
        updated = await _select_companies(session, batch, selections or {})
    else:
        if selections is not None:
            raise ValidationError("Step 5 takes configurations; selections belong to step 3")
        updated = await _configure(
            session, settings, batch, configurations or {}, apply_defaults_to_remaining
        )
    return StepCompleted(
        updated_jobs=updated, next_step=number + 1, auto_processing=step(number + 1).automatic
    )


async def _waiting(
    session: AsyncSession, batch: RegistrationBatch, job_ids: Sequence[uuid.UUID], number: int
) -> list[RegistrationJob]:
    """These jobs of the batch, each waiting for an operator at step `number`."""
    jobs = await repository.jobs_of_batch(session, batch.id, ids=job_ids)
    found = {job.id for job in jobs}
    missing = [str(job_id) for job_id in job_ids if job_id not in found]
    if missing:
        raise JobNotFound(details={"job_ids": missing})
    steps = await repository.steps_of_jobs(session, list(job_ids), step_number=number)
    not_waiting = [
        str(item.job_id) for item in steps if item.status != StepStatus.ACTION_REQUIRED.value
    ]
    if not_waiting:
        raise StepNotActionRequired(
            f"Step {number} is not action_required for every job given",
            details={"job_ids": not_waiting},
        )
    return jobs


async def _select_companies(
    session: AsyncSession, batch: RegistrationBatch, selections: dict[uuid.UUID, Selection]
) -> int:
    if not selections:
        raise MissingSelections("Give selections: per job, a company_number or no_match: true")
    incomplete = [
        str(job_id)
        for job_id, selection in selections.items()
        if not selection.no_match and not selection.company_number
    ]
    if incomplete:
        raise MissingSelections(
            "Each selection needs a company_number or no_match: true",
            details={"job_ids": incomplete},
        )
    jobs = await _waiting(session, batch, list(selections), COMPANY_SELECTION)
    for job in jobs:
        selection = selections[job.id]
        numbers = {candidate["company_number"] for candidate in job.candidates}
        if not selection.no_match and selection.company_number not in numbers:
            raise ValidationError(
                f"selections.{job.id}.company_number is not one of the job's candidates",
                details={"job_id": str(job.id)},
            )
    now = utcnow()
    await repository.move_steps(
        session,
        [job.id for job in jobs],
        COMPANY_SELECTION,
        to=StepStatus.COMPLETED,
        when={StepStatus.ACTION_REQUIRED},
        finished_at=now,
        duration_ms=0,
    )
    await repository.update_job_rows(
        session,
        [
            {"id": job.id, "selected_company_number": selections[job.id].company_number}
            for job in jobs
        ],
    )
    chosen = [job for job in jobs if not selections[job.id].no_match]
    unmatched = [job for job in jobs if selections[job.id].no_match]
    await _enter(session, chosen, COMPANY_DETAILS, now=now)
    await repository.move_steps(
        session,
        [job.id for job in unmatched],
        COMPANY_DETAILS,
        to=StepStatus.SKIPPED,
        when={StepStatus.PENDING},
        finished_at=now,
    )
    await _enter(session, unmatched, CONFIGURATION, now=now)
    return len(jobs)


async def _configure(
    session: AsyncSession,
    settings: Settings,
    batch: RegistrationBatch,
    configurations: dict[uuid.UUID, Configuration],
    apply_defaults_to_remaining: bool,
) -> int:
    if not configurations and not apply_defaults_to_remaining:
        raise MissingSelections("Give configurations, or apply_defaults_to_remaining: true")
    empty = [
        str(job_id)
        for job_id, configuration in configurations.items()
        if not configuration.use_defaults and not configuration.model_fields_set - {"use_defaults"}
    ]
    if empty:
        raise MissingSelections(
            "Each configuration needs email, password, steps_enabled or use_defaults: true",
            details={"job_ids": empty},
        )
    jobs = await _waiting(session, batch, list(configurations), CONFIGURATION)
    if apply_defaults_to_remaining:
        waiting = await repository.jobs_of_batch(
            session, batch.id, statuses=[JobStatus.ACTION_REQUIRED]
        )
        jobs += [
            job
            for job in waiting
            if job.current_step == CONFIGURATION and job.id not in configurations
        ]
    defaults = ExecutionConfig.model_validate(batch.execution_config)
    restaurants = await restaurants_service.get_many(session, [job.restaurant_id for job in jobs])
    box = SecretBox(settings.secret_key.get_secret_value(), purpose=PASSWORD_PURPOSE)
    rows: list[dict[str, Any]] = []
    enabled_by_job: dict[uuid.UUID, dict[str, bool]] = {}
    no_email: list[str] = []
    for job in jobs:
        given = configurations.get(job.id) or Configuration(use_defaults=True)
        restaurant = restaurants[job.restaurant_id]
        email = given.email or job.config.get("email") or restaurant.email
        if not email:
            no_email.append(str(job.id))
            continue
        password = (
            given.password.get_secret_value()
            if given.password
            else password_from_pattern(defaults.default_password_pattern, restaurant.name)
        )
        enabled = enabled_sub_steps(
            {str(name): on for name, on in (given.steps_enabled or {}).items()},
            auto_configure_services=defaults.auto_configure_services,
        )
        enabled_by_job[job.id] = enabled
        rows.append(
            {
                "id": job.id,
                "config": {**job.config, "email": str(email), "steps_enabled": enabled},
                "password_sealed": box.seal(password),
            }
        )
    if no_email:
        raise ValidationError(
            "No email is known for these jobs; give one in their configuration",
            details={"job_ids": no_email},
        )
    now = utcnow()
    await repository.update_job_rows(session, rows)
    await repository.move_steps(
        session,
        [job.id for job in jobs],
        CONFIGURATION,
        to=StepStatus.COMPLETED,
        when={StepStatus.ACTION_REQUIRED},
        finished_at=now,
        duration_ms=0,
    )
    await _enter(session, jobs, ACCOUNT_SETUP, now=now, sub_steps=enabled_by_job)
    return len(jobs)


async def get_job(
    session: AsyncSession, job_id: uuid.UUID, *, lock: bool = False
) -> RegistrationJob:
    job = await repository.get_job(session, job_id, lock=lock)
    if job is None:
        raise JobNotFound()
    return job


async def retry(
    session: AsyncSession, job_id: uuid.UUID, *, from_step: int | None, reset_config: bool
) -> RegistrationJob:
    """Run a failed job again from a step (default: the one that failed). Step 6 resumes from
    the sub-step that failed; an earlier step starts everything after it afresh."""
    batch = await get_batch(session, (await get_job(session, job_id)).batch_id, lock=True)
    job = await get_job(session, job_id, lock=True)
    if job.status != JobStatus.FAILED.value:
        raise InvalidStatus(f"Job is {job.status}; only failed jobs can be retried")
    if batch.status == BatchStatus.CANCELLED.value:
        raise InvalidStatus("The job's batch was cancelled")
    failed_step = job.current_step
    number = from_step or failed_step
    if number > failed_step:
        raise ValidationError(f"from_step must be at most {failed_step}, the step that failed")
    if reset_config and number > CONFIGURATION:
        raise ValidationError("reset_config needs from_step 5 or earlier, where it is given again")
    if number == COMPANY_DETAILS and not job.selected_company_number:
        raise ValidationError("Step 4 was skipped (no company chosen): retry from step 3 or 5")
    now = utcnow()
    await repository.reset_steps(
        session, job.id, from_step=number, keep_sub_steps=number == ACCOUNT_SETUP
    )
    if number <= COMPANY_SELECTION:
        job.selected_company_number = None
    if number <= COMPANY_DETAILS:
        job.company = None
    if reset_config:
        job.config = {
            key: value for key, value in job.config.items() if key not in ("email", "steps_enabled")
        }
        job.password_sealed = None
    job.error = None
    job.completed_at = None
    if BatchStatus(batch.status) is not BatchStatus.IN_PROGRESS:
        batch.status = check(BATCH_TRANSITIONS, BatchStatus(batch.status), BatchStatus.IN_PROGRESS)
        batch.completed_at = None
        try:
            async with session.begin_nested():
                await repository.set_batch_active(session, batch.id, True)
        except IntegrityError:
            raise RestaurantAlreadyInBatch(
                "A restaurant of this batch is now in another active batch"
            ) from None
    if number == ACCOUNT_SETUP:
        await _resume_sub_steps(session, job.id)
    await session.flush()
    await _enter(session, [job], number, now=now, keep_progress=number == ACCOUNT_SETUP)
    return await get_job(session, job.id)


async def _resume_sub_steps(session: AsyncSession, job_id: uuid.UUID) -> None:
    """Failed sub-steps go back to pending; completed ones stay done."""
    row = await repository.get_step(session, job_id, ACCOUNT_SETUP)
    if row is None or row.sub_step_progress is None:
        return
    sub_steps = {
        name: {**state, "status": StepStatus.PENDING.value, "error": None}
        if state["status"] not in FINISHED_VALUES
        else dict(state)
        for name, state in row.sub_step_progress["sub_steps"].items()
    }
    row.sub_step_progress = start_next_stage({"current_sub_step": None, "sub_steps": sub_steps})


async def search_company(
    session: AsyncSession, job_id: uuid.UUID, request: CompanySearch
) -> RegistrationJob:
    """Resolve a step 2 that found nothing: search again under another term, or skip the
    search (optionally entering the company by hand) and go on to step 5."""
    batch = await get_batch(session, (await get_job(session, job_id)).batch_id, lock=True)
    job = await get_job(session, job_id, lock=True)
    if batch.status != BatchStatus.IN_PROGRESS.value:
        raise InvalidStatus(f"Batch is {batch.status}; the search is resolved while in_progress")
    row = await repository.get_step(session, job_id, 2)
    if row is None or row.status != StepStatus.ACTION_REQUIRED.value:
        raise StepNotActionRequired("Step 2 of this job is not waiting for a search term")
    now = utcnow()
    if request.search_term is not None:
        job.search_term = request.search_term
        job.status = check(JOB_TRANSITIONS, JobStatus(job.status), JobStatus.IN_PROGRESS)
        job.updated_at = now
        await session.flush()
        await _queue(session, [job.id], 2, now=now, waiting=StepStatus.ACTION_REQUIRED)
        return job
    await repository.move_steps(
        session,
        [job.id],
        2,
        to=StepStatus.SKIPPED,
        when={StepStatus.ACTION_REQUIRED},
        finished_at=now,
    )
    for number in (COMPANY_SELECTION, COMPANY_DETAILS):
        await repository.move_steps(
            session,
            [job.id],
            number,
            to=StepStatus.SKIPPED,
            when={StepStatus.PENDING},
            finished_at=now,
        )
    if request.manual_company is not None:
        manual = request.manual_company.model_dump(mode="json")
        restaurant = await restaurants_service.get(session, job.restaurant_id)
        job.company = {**manual, "status": "Manual entry"}
        job.selected_company_number = manual["company_number"]
        job.config = _prefill(job.config, manual, restaurant.email)
    await session.flush()
    await _enter(session, [job], CONFIGURATION, now=now)
    return await get_job(session, job.id)


# --- leads --------------------------------------------------------------------------------


async def import_leads(session: AsyncSession, leads: Sequence[dict[str, Any]]) -> list[Lead]:
    return await repository.add_leads(session, [Lead(**values) for values in leads])


list_leads = repository.list_leads


def lead_street(lead: Lead, address_source: str) -> str | None:
    """The street a converted restaurant gets: `auto` prefers the Google-enriched address,
    `google` uses it (the lead's own when it has none), `lead` the lead's own."""
    address = lead.address if address_source == "lead" else lead.google_address or lead.address
    if not address:
        return None
    return address.split(",")[0].strip() or None


async def convert_leads(
    session: AsyncSession,
    *,
    lead_ids: Sequence[uuid.UUID],
    address_source: str,
    create_registration_batch: bool,
    batch_name: str | None,
    auto_start_batch: bool,
    created_by: str | None,
) -> tuple[list[tuple[Lead, Any]], list[Lead], RegistrationBatch | None]:
    """Turn leads into restaurants (each once); optionally put the new ones in a batch.

    Returns (lead, restaurant) per converted lead, the leads that were already converted, and
    the batch if one was made.
    """
    leads = {lead.id: lead for lead in await repository.get_leads(session, lead_ids)}
    missing = [str(lead_id) for lead_id in lead_ids if lead_id not in leads]
    if missing:
        raise NotFoundError("Lead not found", code="LEAD_NOT_FOUND", details={"lead_ids": missing})
    now = utcnow()
    converted: list[tuple[Lead, Any]] = []
    already: list[Lead] = []
    for lead_id in lead_ids:
        lead = leads[lead_id]
        if lead.restaurant_id is not None:
            already.append(lead)
            continue
        restaurant = await restaurants_service.create(
            session,
            name=lead.name,
            source=RestaurantSource.LEAD,
            street=lead_street(lead, address_source),
            city=lead.city,
            email=lead.email,
            phone=lead.phone,
            website=lead.website_url,
        )
        lead.restaurant_id, lead.converted_at = restaurant.id, now
        converted.append((lead, restaurant))
    batch = None
    if create_registration_batch and converted:
        scrape_jobs = {lead.lead_scrape_job_id for lead, _ in converted}
        batch, _ = await create_batch(
            session,
            name=batch_name or f"Leads {now:%Y-%m-%d %H:%M}",
            restaurant_ids=[restaurant.id for _, restaurant in converted],
            execution_config=ExecutionConfig(),
            source_lead_scrape_job_id=scrape_jobs.pop() if len(scrape_jobs) == 1 else None,
            auto_start=auto_start_batch,
            created_by=created_by,
        )
    await session.flush()
    return converted, already, batch


# --- what clients read --------------------------------------------------------------------


def _progress_schema(progress: dict[str, Any] | None) -> SubStepProgress | None:
    """Step 6's progress, its sub-steps in their documented order (JSONB keeps no order)."""
    if progress is None:
        return None
    sub_steps = progress["sub_steps"]
    return SubStepProgress(
        current_sub_step=progress["current_sub_step"],
        sub_steps={name: sub_steps[name] for name in SUB_STEPS if name in sub_steps},
    )


def _candidates(job: RegistrationJob) -> list[CandidateRead]:
    return [CandidateRead.model_validate(item) for item in job.candidates]


def _config_view(job: RegistrationJob) -> dict[str, Any]:
    """The job's configuration as shown: the password only as whether one is set."""
    return {**job.config, "password_set": job.password_sealed is not None}


async def batch_detail(session: AsyncSession, batch_id: uuid.UUID) -> BatchDetail:
    batch = await get_batch(session, batch_id)
    counts = await tally(session, batch.id)
    jobs = await repository.jobs_of_batch(session, batch.id)
    steps: dict[uuid.UUID, list[StepBrief]] = {job.id: [] for job in jobs}
    for row in await repository.steps_of_batch(session, batch.id):
        steps[row.job_id].append(
            StepBrief(step_number=row.step_number, status=row.status, duration_ms=row.duration_ms)
        )
    names = await _restaurant_names(session, jobs)
    return BatchDetail(
        batch_job=batch_read(batch, counts),
        registration_jobs=[
            BatchJobRow(
                id=job.id,
                restaurant_id=job.restaurant_id,
                restaurant_name=names.get(job.restaurant_id, ""),
                status=job.status,
                current_step=job.current_step,
                error=job.error,
                steps=steps[job.id],
            )
            for job in jobs
        ],
        step_summary=await step_summary(session, batch.id),
    )


async def _restaurant_names(
    session: AsyncSession, jobs: Sequence[RegistrationJob]
) -> dict[uuid.UUID, str]:
    found = await restaurants_service.get_many(session, [job.restaurant_id for job in jobs])
    return {restaurant_id: restaurant.name for restaurant_id, restaurant in found.items()}


def batch_list_item(batch: RegistrationBatch, counts: Tally) -> BatchListItem:
    return BatchListItem(
        id=batch.id,
        name=batch.name,
        status=batch.status,
        total_restaurants=batch.total_restaurants,
        completed_restaurants=counts.count(JobStatus.COMPLETED),
        failed_restaurants=counts.count(JobStatus.FAILED),
        current_step=counts.current_step,
        created_at=batch.created_at,
        started_at=batch.started_at,
        completed_at=batch.completed_at,
        cancelled_at=batch.cancelled_at,
    )


def batch_read(batch: RegistrationBatch, counts: Tally) -> BatchRead:
    return BatchRead(
        **batch_list_item(batch, counts).model_dump(),
        total_steps=TOTAL_STEPS,
        source_lead_scrape_job_id=batch.source_lead_scrape_job_id,
        execution_config=batch.execution_config,
    )


async def step_detail(session: AsyncSession, batch_id: uuid.UUID, number: int) -> StepDetail:
    batch = await get_batch(session, batch_id)
    rows = {
        row.job_id: row
        for row in await repository.steps_of_batch(session, batch.id, step_number=number)
    }
    jobs = await repository.jobs_of_batch(session, batch.id)
    names = await _restaurant_names(session, jobs)
    summary: dict[str, int] = {"total": len(jobs)}
    restaurants = []
    for job in jobs:
        row = rows[job.id]
        summary[row.status] = summary.get(row.status, 0) + 1
        restaurants.append(
            StepRestaurant(
                job_id=job.id,
                restaurant_id=job.restaurant_id,
                restaurant_name=names.get(job.restaurant_id, ""),
                step_status=row.status,
                duration_ms=row.duration_ms,
                error=row.error,
                candidates=_candidates(job),
                selected_company_number=job.selected_company_number,
                configuration=_config_view(job) if number == CONFIGURATION else None,
                sub_step_progress=_progress_schema(row.sub_step_progress),
            )
        )
    item = step(number)
    return StepDetail(
        step_number=number,
        step_name=item.name,
        step_type=item.type.value,
        restaurants=restaurants,
        summary=summary,
    )


async def job_detail(session: AsyncSession, job_id: uuid.UUID) -> JobRead:
    job = await get_job(session, job_id)
    restaurant = await restaurants_service.get(session, job.restaurant_id)
    rows = await repository.steps_of_jobs(session, [job.id])
    return JobRead(
        id=job.id,
        batch_job_id=job.batch_id,
        restaurant_id=job.restaurant_id,
        restaurant=RestaurantBrief(
            name=restaurant.name, address=restaurant.street, city=restaurant.city
        ),
        status=job.status,
        current_step=job.current_step,
        execution_config=_config_view(job),
        steps=[
            JobStep(
                step_number=row.step_number,
                step_name=step(row.step_number).name,
                status=row.status,
                duration_ms=row.duration_ms,
                error=row.error,
                sub_step_progress=_progress_schema(row.sub_step_progress),
            )
            for row in rows
        ],
        candidates=_candidates(job),
        selected_company_number=job.selected_company_number,
        menu=job.menu,
        error=job.error,
        pumpd_user_id=job.pumpd_user_id,
        pumpd_restaurant_id=job.pumpd_restaurant_id,
        created_at=job.created_at,
        updated_at=job.updated_at,
        completed_at=job.completed_at,
    )


async def progress(session: AsyncSession, batch_id: uuid.UUID) -> Progress:
    """The polling answer: the batch row and one aggregate over the progress index."""
    batch = await get_batch(session, batch_id)
    counts = await tally(session, batch.id)
    return Progress(
        status=batch.status,
        progress_percent=counts.progress_percent,
        current_step=counts.current_step,
        step_requiring_action=counts.step_requiring_action,
        restaurants_summary=RestaurantsSummary(
            total=counts.total, **{status.value: counts.count(status) for status in JobStatus}
        ),
        last_updated=max(filter(None, (batch.updated_at, counts.last_updated))),
    )


async def progress_updates(
    database: Database,
    batch_id: uuid.UUID,
    *,
    disconnected: Callable[[], Awaitable[bool]],
    interval: float,
) -> AsyncIterator[Progress]:
    """The progress answer each time it changes, until the batch is no longer pending or in
    progress or the client has gone: what the API's and the console's event streams send."""
    last = None
    while not await disconnected():
        async with database.read() as session:
            current = await progress(session, batch_id)
        if current != last:
            yield current
            last = current
        if current.status not in (BatchStatus.PENDING, BatchStatus.IN_PROGRESS):
            return
        await asyncio.sleep(interval)
