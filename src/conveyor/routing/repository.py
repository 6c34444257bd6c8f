"""Every query of the routing package, matching included."""

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, and_, case, delete, exists, func, literal, or_, select, union
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
    session: AsyncSession, company_id: uuid.UUID, skills: Mapping[str, int]
) -> None:
    await session.execute(delete(CompanySkill).where(CompanySkill.company_id == company_id))
    session.add_all(
        CompanySkill(company_id=company_id, skill=skill, level=level)
        for skill, level in skills.items()
    )
    await session.flush()


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
    configured. Only companies holding a required skill or the category are candidates, read
    through the skill and category indexes: never every company.
    """
    skills = list(requirements)
    sources = []
    if skills:
        sources.append(
            select(CompanySkill.company_id.label("company_id")).where(
                CompanySkill.skill.in_(skills)
            )
        )
    if category:
        sources.append(
            select(CompanyCategory.company_id.label("company_id")).where(
                CompanyCategory.category == category
            )
        )
    if not sources:
        return []
    # UNION also removes duplicates: a company holding two required skills is one candidate.
    candidates = (union(*sources) if len(sources) > 1 else sources[0].distinct()).subquery(
        "candidate"
    )

    score: ColumnElement[int] = literal(-20 * len(skills), Integer)
    query = select(Company.id, Company.provider_type).join(
        candidates, candidates.c.company_id == Company.id
    )
    if skills:
        required = case(requirements, value=CompanySkill.skill)
        points = (
            select(
                CompanySkill.company_id.label("company_id"),
                func.sum(
                    case(
                        (CompanySkill.level >= required, 15 * CompanySkill.level - 5 * required),
                        else_=5 * CompanySkill.level,
                    )
                    + 20
                ).label("points"),
            )
            .where(CompanySkill.skill.in_(skills))
            .group_by(CompanySkill.company_id)
            .subquery("points")
        )
        query = query.outerjoin(points, points.c.company_id == Company.id)
        score = score + func.coalesce(points.c.points, 0)
        score = score + case((Company.primary_skill.in_(skills), 15), else_=0)
    if category:
        in_category = exists().where(
            CompanyCategory.company_id == Company.id, CompanyCategory.category == category
        )
        score = score + case((in_category, 5), else_=0)
    score = score + case((_configured(), 3), else_=0)
    scored = (
        query.add_columns(score.label("score"))
        .where(Company.active.is_(True), Company.id != exclude)
        .subquery("scored")
    )
    result = await session.execute(
        select(scored.c.id, scored.c.provider_type, scored.c.score)
        .where(scored.c.score > 0)
        .order_by(scored.c.score.desc(), scored.c.id)
        .limit(limit)
    )
    ranked = [(company_id, provider, int(tenths)) for company_id, provider, tenths in result]
    held = await skills_of(session, [company_id for company_id, _, _ in ranked]) if skills else {}
    return [
        Match(
            company_id=company_id,
            score=tenths / 10,
            matched_skills=[skill for skill, _ in held.get(company_id, []) if skill in skills],
            provider_type=provider,
        )
        for company_id, provider, tenths in ranked
    ]
