"""Use cases of document 004: companies, technicians, jobs routed by skill, and their sync."""

import uuid
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from decimal import Decimal

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from conveyor import tasks
from conveyor.config import Settings
from conveyor.database import Database
from conveyor.errors import AppError, NotFoundError, ValidationError
from conveyor.kit.clock import utcnow
from conveyor.kit.crypto import SecretBox
from conveyor.routing import metrics, repository
from conveyor.routing.models import (
    LEVEL_RANK,
    Company,
    Job,
    JobRouting,
    JobStatus,
    ProviderType,
    SyncStatus,
    Technician,
)
from conveyor.routing.providers import (
    Booking,
    MockPointOfSale,
    PointOfSale,
    ProviderError,
    ServiceTitanClient,
    ServiceTitanCredentials,
)
from conveyor.routing.schemas import (
    CompanyCreate,
    CompanyRead,
    CompanyUpdate,
    JobCreate,
    ProviderSettingsIn,
    ProviderSettingsRead,
    SkillIn,
    SyncEvent,
)

log = structlog.get_logger(__name__)

RANK_LEVEL = {rank: level for level, rank in LEVEL_RANK.items()}


def normalize(name: str) -> str:
    """Skills and categories match whatever their case or surrounding spaces."""
    return " ".join(name.split()).lower()


def score(
    requirements: Mapping[str, int],
    *,
    skills: Mapping[str, int],
    primary_skill: str | None,
    in_category: bool,
    provider_configured: bool,
) -> float:
    """The matching formula, in plain Python (the SQL in `repository.best_matches` agrees).

    Per required skill the company has: its level + 0.5 x (level - required) at or above the
    required level, else 0.5 x level; -2 per missing skill; +1.5 when the primary skill is
    required; +0.5 for the category; +0.3 when the provider is configured. Levels are 1, 2, 3.
    """
    total = 0.0
    for skill, required in requirements.items():
        level = skills.get(skill)
        if level is None:
            total -= 2
        elif level >= required:
            total += level + 0.5 * (level - required)
        else:
            total += 0.5 * level
    if primary_skill is not None and primary_skill in requirements:
        total += 1.5
    if in_category:
        total += 0.5
    if provider_configured:
        total += 0.3
    return round(total, 1)


# -- companies ------------------------------------------------------------------------------


def _box(settings: Settings) -> SecretBox:
    return SecretBox(settings.secret_key.get_secret_value(), purpose="provider-credentials")


def _apply_provider_settings(
    company: Company, provider_settings: ProviderSettingsIn, box: SecretBox
) -> None:
    fields = provider_settings.model_fields_set
    if "tenant_id" in fields:
        company.st_tenant_id = provider_settings.tenant_id or None
    if "client_id" in fields:
        company.st_client_id = provider_settings.client_id or None
    if "client_secret" in fields:
        secret = provider_settings.client_secret
        company.st_client_secret_sealed = box.seal(secret) if secret else None
    if "app_key" in fields:
        key = provider_settings.app_key
        company.st_app_key_sealed = box.seal(key) if key else None


def _check_primary(primary_skill: str | None, skills: Mapping[str, int]) -> None:
    if primary_skill is not None and primary_skill not in skills:
        raise ValidationError(
            f"primary_skill: {primary_skill} is not one of the company's skills",
            details={"field": "primary_skill"},
        )


async def create_company(
    session: AsyncSession, settings: Settings, body: CompanyCreate
) -> CompanyRead:
    skills = {normalize(s.name): s.level.rank for s in body.skills}
    primary_skill = normalize(body.primary_skill) if body.primary_skill else None
    _check_primary(primary_skill, skills)
    company = Company(
        name=body.name,
        primary_skill=primary_skill,
        active=body.active,
        provider_type=body.provider_type.value,
    )
    if body.provider_settings is not None:
        _apply_provider_settings(company, body.provider_settings, _box(settings))
    await repository.add(session, company)
    await repository.replace_skills(session, company, skills)
    await repository.replace_categories(session, company.id, map(normalize, body.categories))
    return await read_company(session, company)


async def update_company(
    session: AsyncSession, settings: Settings, company_id: uuid.UUID, body: CompanyUpdate
) -> CompanyRead:
    company = await get_company(session, company_id)
    fields = body.model_fields_set
    if "name" in fields and body.name is not None:
        company.name = body.name
    if "primary_skill" in fields:
        company.primary_skill = normalize(body.primary_skill) if body.primary_skill else None
    if "active" in fields and body.active is not None:
        company.active = body.active
    if "provider_type" in fields and body.provider_type is not None:
        company.provider_type = body.provider_type.value
    if body.provider_settings is not None:
        _apply_provider_settings(company, body.provider_settings, _box(settings))
    if body.skills is not None:
        skills = {normalize(s.name): s.level.rank for s in body.skills}
    else:
        held = await repository.skills_of(session, [company.id])
        skills = dict(held[company.id])
    _check_primary(company.primary_skill, skills)
    company.updated_at = utcnow()
    await session.flush()
    if body.skills is not None:
        await repository.replace_skills(session, company, skills)
    else:
        await repository.refresh_skill_flags(session, company)
    if body.categories is not None:
        await repository.replace_categories(session, company.id, map(normalize, body.categories))
    return await read_company(session, company)


async def get_company(session: AsyncSession, company_id: uuid.UUID) -> Company:
    company = await repository.get_company(session, company_id)
    if company is None:
        raise NotFoundError(f"Company {company_id} not found")
    return company


async def read_company(session: AsyncSession, company: Company) -> CompanyRead:
    return (await read_companies(session, [company]))[0]


async def read_companies(session: AsyncSession, companies: list[Company]) -> list[CompanyRead]:
    ids = [company.id for company in companies]
    skills = await repository.skills_of(session, ids)
    categories = await repository.categories_of(session, ids)
    return [
        CompanyRead(
            id=company.id,
            name=company.name,
            skills=[
                SkillIn(name=skill, level=RANK_LEVEL[level]) for skill, level in skills[company.id]
            ],
            primary_skill=company.primary_skill,
            categories=categories[company.id],
            active=company.active,
            provider_type=ProviderType(company.provider_type),
            provider_configured=company.provider_configured,
            provider_settings=ProviderSettingsRead(
                tenant_id=company.st_tenant_id,
                client_id=company.st_client_id,
                client_secret_set=company.st_client_secret_sealed is not None,
                app_key_set=company.st_app_key_sealed is not None,
            ),
            created_at=company.created_at,
            updated_at=company.updated_at,
        )
        for company in companies
    ]


async def list_companies(session: AsyncSession, *, limit: int, offset: int) -> list[CompanyRead]:
    companies = await repository.list_companies(session, limit=limit, offset=offset)
    return await read_companies(session, companies)


async def create_technician(
    session: AsyncSession, company_id: uuid.UUID, *, name: str
) -> Technician:
    await get_company(session, company_id)
    technician = Technician(company_id=company_id, name=name)
    await repository.add(session, technician)
    return technician


async def list_technicians(session: AsyncSession, company_id: uuid.UUID) -> list[Technician]:
    await get_company(session, company_id)
    return await repository.list_technicians(session, company_id)


# -- jobs -----------------------------------------------------------------------------------


async def create_job(session: AsyncSession, settings: Settings, body: JobCreate) -> Job:
    """The job, its routings to the best-matching companies and one sync task per routing,
    all in the caller's transaction."""
    company_id, technician_id = body.created_by_company_id, body.created_by_technician_id
    company_found, employer = await repository.requester(session, company_id, technician_id)
    if not company_found:
        raise NotFoundError(f"Company {company_id} not found")
    if employer is None:
        raise NotFoundError(f"Technician {technician_id} not found")
    if employer != company_id:
        raise ValidationError(
            f"Technician {technician_id} does not belong to company {company_id}",
            details={"field": "created_by_technician_id"},
        )
    requirements = {normalize(skill): rank for skill, rank in body.requirements().items()}
    category = normalize(body.category) if body.category else None
    matches = await repository.best_matches(
        session,
        requirements=requirements,
        category=category,
        exclude=company_id,
        limit=settings.routing_max_routings,
    )
    job = Job(
        id=uuid.uuid4(),
        summary=body.summary,
        street=body.address.street,
        city=body.address.city,
        state=body.address.state,
        zip_code=body.address.zip_code,
        homeowner_name=body.homeowner.name,
        homeowner_phone=body.homeowner.phone,
        homeowner_email=str(body.homeowner.email) if body.homeowner.email else None,
        created_by_company_id=company_id,
        created_by_technician_id=technician_id,
        required_skills=list(requirements),
        skill_levels={skill: RANK_LEVEL[rank].value for skill, rank in requirements.items()},
        category=category,
        status=JobStatus.PENDING.value,
    )
    await repository.add(session, job)
    events = [
        SyncEvent(
            routing_id=uuid.uuid4(),
            job_id=job.id,
            company_id=match.company_id,
            matching_score=match.score,
            matched_skills=match.matched_skills,
            provider_type=ProviderType(match.provider_type),
        )
        for match in matches
    ]
    await repository.add_routings(
        session,
        [
            {
                "id": event.routing_id,
                "job_id": job.id,
                "company_id_received": event.company_id,
                "sync_status": SyncStatus.PENDING.value,
                "retry_count": 0,
                "matching_score": event.matching_score,
                "matched_skills": event.matched_skills,
            }
            for event in events
        ],
    )
    if events:
        await tasks.enqueue_many(session, "routing.sync", events)
    metrics.job_creation_total.inc()
    metrics.job_routing_total.inc(len(events))
    log.info(
        "Job created successfully",
        job_id=str(job.id),
        matching_score=matches[0].score if matches else None,
        routings=len(events),
    )
    return job


async def get_job(session: AsyncSession, job_id: uuid.UUID) -> Job:
    job = await repository.get_job(session, job_id)
    if job is None:
        raise NotFoundError(f"Job {job_id} not found")
    return job


async def list_jobs(session: AsyncSession, *, skip: int, limit: int) -> list[Job]:
    return await repository.list_jobs(session, skip=skip, limit=limit)


async def routings_of(session: AsyncSession, job_id: uuid.UUID) -> list[JobRouting]:
    await get_job(session, job_id)
    return await repository.routings_of(session, job_id)


async def routings_of_jobs(
    session: AsyncSession, job_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[JobRouting]]:
    """The routings of each of these jobs, best match first (one query for a page of jobs)."""
    return await repository.routings_of_jobs(session, job_ids)


company_names = repository.company_names
"""Company names by id, for the companies among these ids that exist."""


# -- sync -----------------------------------------------------------------------------------


def provider_for(company: Company, settings: Settings) -> PointOfSale:
    if company.provider_type == ProviderType.MOCK:
        return MockPointOfSale(
            latency=settings.mock_pos_latency_ms / 1000,
            failure_rate=settings.mock_pos_failure_rate,
            completion_after=timedelta(minutes=settings.mock_pos_completion_minutes),
        )
    if not company.provider_configured:
        raise ProviderError(f"company {company.id} has no complete ServiceTitan settings")
    box = _box(settings)
    assert company.st_client_secret_sealed is not None
    assert company.st_app_key_sealed is not None
    return ServiceTitanClient(
        ServiceTitanCredentials(
            tenant_id=company.st_tenant_id or "",
            client_id=company.st_client_id or "",
            client_secret=box.open(company.st_client_secret_sealed),
            app_key=box.open(company.st_app_key_sealed),
        ),
        auth_url=settings.servicetitan_auth_url,
        api_url=settings.servicetitan_api_url,
        booking_provider_id=settings.servicetitan_booking_provider_id,
        timeout=settings.servicetitan_timeout_seconds,
    )


async def claim_for_sync(
    database: Database, routing_id: uuid.UUID, attempt: int
) -> tuple[Booking, Company] | None:
    """Mark the routing as being synced now, and load what its provider is sent and the
    receiving company; None when there is nothing left to do. One short transaction: the
    provider is called after it."""
    async with database.transaction() as session:
        target = await repository.claim_for_sync(session, routing_id, now=utcnow())
    if target is None:
        return None
    booking = Booking(
        routing_id=str(routing_id),
        summary=target.summary,
        street=target.street,
        city=target.city,
        state=target.state,
        zip_code=target.zip_code,
        homeowner_name=target.homeowner_name,
        homeowner_phone=target.homeowner_phone,
        homeowner_email=target.homeowner_email,
        attempt=attempt,
    )
    company = Company(
        id=target.company_id,
        provider_type=target.provider_type,
        st_tenant_id=target.st_tenant_id,
        st_client_id=target.st_client_id,
        st_client_secret_sealed=target.st_client_secret_sealed,
        st_app_key_sealed=target.st_app_key_sealed,
    )
    return booking, company


async def record_synced(session: AsyncSession, routing_id: uuid.UUID, external_id: str) -> None:
    if await repository.mark_synced(session, routing_id, external_id=external_id, now=utcnow()):
        metrics.sync_success_total.inc()


async def record_failure(
    session: AsyncSession, routing_id: uuid.UUID, error: str, *, final: bool
) -> None:
    if await repository.mark_failed_attempt(
        session, routing_id, error=error[:2000], final=final, now=utcnow()
    ):
        metrics.sync_failure_total.inc()


async def sync_routing(
    database: Database,
    settings: Settings,
    routing_id: uuid.UUID,
    *,
    attempt: int,
    final: bool,
    commit: Callable[[], AbstractAsyncContextManager[AsyncSession]] | None = None,
) -> str | None:
    """One sync attempt: claim, call the provider outside any transaction, record the result.

    The success is written through `commit` (a task passes `ctx.complete`, so it commits with
    the task's own completion). Returns the error, or None when synced or nothing was left.
    """
    claimed = await claim_for_sync(database, routing_id, attempt)
    if claimed is None:
        return None
    booking, company = claimed
    try:
        provider = provider_for(company, settings)
        external_id = await provider.book(booking)
    except ProviderError as exc:
        async with database.transaction() as session:
            await record_failure(session, routing_id, str(exc), final=final)
        return str(exc)
    async with (commit or database.transaction)() as session:
        await record_synced(session, routing_id, external_id)
    return None


class SyncError(AppError):
    """The company's point-of-sale system did not take the job."""

    status_code = 502
    code = "SYNC_ERROR"
    title = "Bad gateway"


RETRY_AFTER_MANUAL_SYNC = timedelta(seconds=5)
"""When a manual sync routes a job to a new company, its engine task waits this long: the
manual attempt goes first, and the task (which does nothing once the routing is synced)
retries it with backoff if the provider refused."""


async def sync_now(
    database: Database, settings: Settings, job_id: uuid.UUID, company_id: uuid.UUID
) -> JobRouting:
    """`POST /jobs/{job_id}/sync`: sync the job to this company now (routing it first if new)."""
    async with database.transaction() as session:
        job = await get_job(session, job_id)
        company = await get_company(session, company_id)
        if company.id == job.created_by_company_id:
            raise ValidationError(
                "A job cannot be routed to the company that requested it",
                details={"field": "company_id"},
            )
        routing = await repository.find_routing(session, job_id, company_id)
        if routing is None:
            if not company.active:
                raise ValidationError(
                    f"Company {company_id} is not active", details={"field": "company_id"}
                )
            routing = JobRouting(
                job_id=job_id,
                company_id_received=company_id,
                sync_status=SyncStatus.PENDING.value,
                matching_score=None,
                matched_skills=[],
            )
            await repository.add(session, routing)
            await tasks.enqueue(
                session,
                "routing.sync",
                SyncEvent(
                    routing_id=routing.id,
                    job_id=job_id,
                    company_id=company_id,
                    matching_score=None,
                    matched_skills=[],
                    provider_type=ProviderType(company.provider_type),
                ),
                delay=RETRY_AFTER_MANUAL_SYNC,
            )
            metrics.job_routing_total.inc()
        routing_id, attempt = routing.id, routing.retry_count + 1
    error = await sync_routing(database, settings, routing_id, attempt=attempt, final=False)
    if error is not None:
        raise SyncError(f"The company's point of sale refused the job: {error}")
    async with database.read() as session:
        found = await repository.get_routing(session, routing_id)
    assert found is not None
    return found


async def check_completions(database: Database, settings: Settings, *, limit: int = 100) -> int:
    """Ask providers about synced routings; mark finished work completed, with its revenue."""
    async with database.read() as session:
        due = await repository.synced_routings(session, synced_before=utcnow(), limit=limit)
        companies = {
            routing.company_id_received: await get_company(session, routing.company_id_received)
            for routing in due
        }
    completed = 0
    for routing in due:
        assert routing.external_id is not None
        assert routing.last_synced_at is not None
        try:
            provider = provider_for(companies[routing.company_id_received], settings)
            status = await provider.work_status(
                routing.external_id, synced_at=routing.last_synced_at
            )
        except ProviderError as exc:
            log.warning("completion_check_failed", routing_id=str(routing.id), error=str(exc))
            continue
        if not status.completed:
            continue
        async with database.transaction() as session:
            completed += await complete_routing(session, routing.id, status.revenue)
    return completed


async def complete_routing(
    session: AsyncSession, routing_id: uuid.UUID, revenue: Decimal | None
) -> int:
    routing = await repository.get_routing(session, routing_id)
    if routing is None or routing.sync_status != SyncStatus.SYNCED:
        return 0
    now = utcnow()
    routing.sync_status = SyncStatus.COMPLETED.value
    routing.updated_at = now
    job = await get_job(session, routing.job_id)
    if job.status != JobStatus.COMPLETED:
        job.status = JobStatus.COMPLETED.value
        job.revenue = revenue
        job.completed_at = now
        job.updated_at = now
    await session.flush()
    return 1
