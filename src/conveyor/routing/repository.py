"""Every query of the routing package, matching included."""

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    and_,
    case,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from conveyor.routing.models import (
    Company,
    CompanyCategory,
    CompanySkill,
    Job,
    JobRouting,
    ProviderType,
    SyncStatus,
    Technician,
)


async def add(session: AsyncSession, *rows: object) -> None:
    session.add_all(rows)
    await session.flush()


async def get_company(session: AsyncSession, company_id: uuid.UUID) -> Company | None:
    return await session.get(Company, company_id)


async def list_companies(session: AsyncSession, *, limit: int, offset: int) -> list[Company]:
    result = await session.execute(
        select(Company).order_by(Company.created_at, Company.id).limit(limit).offset(offset)
    )
    return list(result.scalars())


async def skills_of(
    session: AsyncSession, company_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[str, int]]]:
    ids = list(company_ids)
    found: dict[uuid.UUID, list[tuple[str, int]]] = {company_id: [] for company_id in ids}
    if not ids:
        return found
    result = await session.execute(
        select(CompanySkill.company_id, CompanySkill.skill, CompanySkill.level)
        .where(CompanySkill.company_id.in_(ids))
        .order_by(CompanySkill.company_id, CompanySkill.skill)
    )
    for company_id, skill, level in result:
        found[company_id].append((skill, level))
    return found


async def categories_of(
    session: AsyncSession, company_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[str]]:
    ids = list(company_ids)
    found: dict[uuid.UUID, list[str]] = {company_id: [] for company_id in ids}
    if not ids:
        return found
    result = await session.execute(
        select(CompanyCategory.company_id, CompanyCategory.category)
        .where(CompanyCategory.company_id.in_(ids))
        .order_by(CompanyCategory.company_id, CompanyCategory.category)
    )
    for company_id, category in result:
        found[company_id].append(category)
    return found


async def replace_skills(
    session: AsyncSession, company: Company, skills: Mapping[str, int]
) -> None:
    await session.execute(delete(CompanySkill).where(CompanySkill.company_id == company.id))
    session.add_all(
        CompanySkill(
            company_id=company.id,
            skill=skill,
            level=level,
            is_primary=skill == company.primary_skill,
            active=company.active,
            provider_configured=company.provider_configured,
        )
        for skill, level in skills.items()
    )
    await session.flush()


async def refresh_skill_flags(session: AsyncSession, company: Company) -> None:
    """Copy the company's scoring flags onto its skill rows after the company changed."""
    await session.execute(
        update(CompanySkill)
        .where(CompanySkill.company_id == company.id)
        .values(
            is_primary=CompanySkill.skill == company.primary_skill,
            active=company.active,
            provider_configured=company.provider_configured,
        )
    )


async def replace_categories(
    session: AsyncSession, company_id: uuid.UUID, categories: Iterable[str]
) -> None:
    await session.execute(delete(CompanyCategory).where(CompanyCategory.company_id == company_id))
    session.add_all(
        CompanyCategory(company_id=company_id, category=category) for category in set(categories)
    )
    await session.flush()


async def get_technician(session: AsyncSession, technician_id: uuid.UUID) -> Technician | None:
    return await session.get(Technician, technician_id)


async def list_technicians(session: AsyncSession, company_id: uuid.UUID) -> list[Technician]:
    result = await session.execute(
        select(Technician)
        .where(Technician.company_id == company_id)
        .order_by(Technician.created_at, Technician.id)
    )
    return list(result.scalars())


async def get_job(session: AsyncSession, job_id: uuid.UUID) -> Job | None:
    return await session.get(Job, job_id)


async def list_jobs(session: AsyncSession, *, skip: int, limit: int) -> list[Job]:
    result = await session.execute(
        select(Job).order_by(Job.created_at.desc(), Job.id.desc()).offset(skip).limit(limit)
    )
    return list(result.scalars())


async def routings_of(session: AsyncSession, job_id: uuid.UUID) -> list[JobRouting]:
    result = await session.execute(
        select(JobRouting)
        .where(JobRouting.job_id == job_id)
        .order_by(JobRouting.matching_score.desc(), JobRouting.created_at, JobRouting.id)
    )
    return list(result.scalars())


async def get_routing(session: AsyncSession, routing_id: uuid.UUID) -> JobRouting | None:
    return await session.get(JobRouting, routing_id)


async def find_routing(
    session: AsyncSession, job_id: uuid.UUID, company_id: uuid.UUID
) -> JobRouting | None:
    result = await session.execute(
        select(JobRouting).where(
            JobRouting.job_id == job_id, JobRouting.company_id_received == company_id
        )
    )
    return result.scalar_one_or_none()


async def synced_routings(
    session: AsyncSession, *, synced_before: datetime, limit: int
) -> list[JobRouting]:
    """Synced routings due for a completion check, oldest sync first."""
    result = await session.execute(
        select(JobRouting)
        .where(
            JobRouting.sync_status == SyncStatus.SYNCED.value,
            JobRouting.last_synced_at <= synced_before,
        )
        .order_by(JobRouting.last_synced_at, JobRouting.id)
        .limit(limit)
    )
    return list(result.scalars())


# -- matching ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    company_id: uuid.UUID
    score: float
    matched_skills: list[str]
    provider_type: str


def _configured() -> ColumnElement[bool]:
    return or_(
        Company.provider_type == ProviderType.MOCK.value,
        and_(
            Company.st_tenant_id.is_not(None),
            Company.st_client_id.is_not(None),
            Company.st_client_secret_sealed.is_not(None),
            Company.st_app_key_sealed.is_not(None),
        ),
    )


CATEGORY_BONUS = 5
"""+0.5, in tenths: the only part of a score not read from the skill index."""


async def best_matches(
    session: AsyncSession,
    *,
    requirements: Mapping[str, int],
    category: str | None,
    exclude: uuid.UUID,
    limit: int,
) -> list[Match]:
    """The `limit` best-scoring active companies (score > 0), best first, ties by id.

    Scores are computed in SQL in tenths, so they are exact integers: per required skill the
    company has, 15 x level - 5 x required when at or above it, else 5 x level; -20 per missing
    skill; +15 when its primary skill is required; +5 for the category; +3 when its provider is
    configured.

    With required skills, candidates are the companies holding one of them: every other company
    scores at most -2 + 0.5 + 0.3 < 0 (a primary skill is always one of the company's skills).
    Their scores but the category bonus come from the skill index alone (the company's flags
    are copied onto its skill rows), and the category from its own index, so no company row is
    read until the winners are known. Without required skills, the candidates are the
    companies in the category.
    """
    if requirements:
        return await _by_skills(
            session, requirements=requirements, category=category, exclude=exclude, limit=limit
        )
    if category:
        return await _by_category(session, category=category, exclude=exclude, limit=limit)
    return []


async def _by_skills(
    session: AsyncSession,
    *,
    requirements: Mapping[str, int],
    category: str | None,
    exclude: uuid.UUID,
    limit: int,
) -> list[Match]:
    skills = list(requirements)
    required = case(requirements, value=CompanySkill.skill)
    per_skill = (
        case(
            (CompanySkill.level >= required, 15 * CompanySkill.level - 5 * required),
            else_=5 * CompanySkill.level,
        )
        + 20
        + case((CompanySkill.is_primary, 15), else_=0)
    )
    configured = func.max(case((CompanySkill.provider_configured, 3), else_=0))
    partial = (
        select(
            CompanySkill.company_id.label("company_id"),
            (func.sum(per_skill) + configured - 20 * len(skills)).label("score"),
        )
        .where(
            CompanySkill.skill.in_(skills),
            CompanySkill.active.is_(True),
            CompanySkill.company_id != exclude,
        )
        .group_by(CompanySkill.company_id)
        .subquery("partial")
    )
    score: ColumnElement[int] = partial.c.score
    query = select(partial.c.company_id)
    if category:
        in_category = (
            select(CompanyCategory.company_id.label("company_id"))
            .where(CompanyCategory.category == category)
            .subquery("in_category")
        )
        query = query.outerjoin(in_category, in_category.c.company_id == partial.c.company_id)
        score = score + case((in_category.c.company_id.is_not(None), CATEGORY_BONUS), else_=0)
    result = await session.execute(
        query.add_columns(score.label("score"))
        .where(score > 0)
        .order_by(score.desc(), partial.c.company_id)
        .limit(limit)
    )
    ranked = [(company_id, int(tenths)) for company_id, tenths in result]
    ids = [company_id for company_id, _ in ranked]
    held = await skills_of(session, ids)
    providers = await provider_types(session, ids)
    return [
        Match(
            company_id=company_id,
            score=tenths / 10,
            matched_skills=[skill for skill, _ in held[company_id] if skill in requirements],
            provider_type=providers[company_id],
        )
        for company_id, tenths in ranked
    ]


async def provider_types(
    session: AsyncSession, company_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, str]:
    ids = list(company_ids)
    if not ids:
        return {}
    result = await session.execute(
        select(Company.id, Company.provider_type).where(Company.id.in_(ids))
    )
    found: dict[uuid.UUID, str] = {}
    for company_id, provider in result:
        found[company_id] = provider
    return found


async def _by_category(
    session: AsyncSession, *, category: str, exclude: uuid.UUID, limit: int
) -> list[Match]:
    score = CATEGORY_BONUS + case((_configured(), 3), else_=0)
    result = await session.execute(
        select(Company.id, score.label("score"), Company.provider_type)
        .join(CompanyCategory, CompanyCategory.company_id == Company.id)
        .where(
            CompanyCategory.category == category,
            Company.active.is_(True),
            Company.id != exclude,
        )
        .order_by(score.desc(), Company.id)
        .limit(limit)
    )
    return [
        Match(company_id=company_id, score=tenths / 10, matched_skills=[], provider_type=provider)
        for company_id, tenths, provider in result
    ]
