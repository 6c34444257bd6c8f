"""Every query of the routing package, matching included."""

import functools
import heapq
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Row,
    Select,
    Table,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    select,
    true,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from conveyor.database import UTCDateTime
from conveyor.routing.models import (
    Company,
    CompanyCategory,
    CompanySkill,
    Job,
    JobRouting,
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


async def requester(
    session: AsyncSession, company_id: uuid.UUID, technician_id: uuid.UUID
) -> tuple[bool, uuid.UUID | None]:
    """Whether the company exists, and the company of the technician (None when there is no
    such technician): both in one query."""
    result = await session.execute(
        select(
            select(Company.id).where(Company.id == company_id).scalar_subquery(),
            select(Technician.company_id).where(Technician.id == technician_id).scalar_subquery(),
        )
    )
    found, employer = result.one()
    return found is not None, employer


async def list_technicians(session: AsyncSession, company_id: uuid.UUID) -> list[Technician]:
    result = await session.execute(
        select(Technician)
        .where(Technician.company_id == company_id)
        .order_by(Technician.created_at, Technician.id)
    )
    return list(result.scalars())


async def add_routings(session: AsyncSession, routings: list[dict[str, object]]) -> None:
    """Insert routings (column values, ids included) in one multi-row statement."""
    if routings:
        await session.execute(insert(JobRouting), routings)


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


async def routings_of_jobs(
    session: AsyncSession, job_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[JobRouting]]:
    found: dict[uuid.UUID, list[JobRouting]] = {job_id: [] for job_id in job_ids}
    if not job_ids:
        return found
    result = await session.execute(
        select(JobRouting)
        .where(JobRouting.job_id.in_(job_ids))
        .order_by(JobRouting.matching_score.desc(), JobRouting.created_at, JobRouting.id)
    )
    for routing in result.scalars():
        found[routing.job_id].append(routing)
    return found


async def company_names(
    session: AsyncSession, company_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, str]:
    ids = list(set(company_ids))
    if not ids:
        return {}
    result = await session.execute(select(Company.id, Company.name).where(Company.id.in_(ids)))
    return dict(result.all())


async def get_routing(session: AsyncSession, routing_id: uuid.UUID) -> JobRouting | None:
    return await session.get(JobRouting, routing_id)


# The sync's statements run for every routing: plain Core on the tables, built once (the ORM's
# update path and building a statement cost more CPU than PostgreSQL spends running them).
_ROUTING = cast(Table, JobRouting.__table__)
_JOB = cast(Table, Job.__table__)
_COMPANY = cast(Table, Company.__table__)
_NOW = bindparam("now", type_=UTCDateTime())
_CLAIM = (
    update(_ROUTING)
    .where(
        _ROUTING.c.id == bindparam("routing_id"),
        _ROUTING.c.sync_status.not_in((SyncStatus.SYNCED.value, SyncStatus.COMPLETED.value)),
    )
    .values(
        sync_status=SyncStatus.PROCESSING.value,
        claimed_at=_NOW,
        last_sync_attempt=_NOW,
        updated_at=_NOW,
    )
    .returning(_ROUTING.c.id)
)
_SYNC_TARGET = (
    select(
        _JOB.c.summary,
        _JOB.c.street,
        _JOB.c.city,
        _JOB.c.state,
        _JOB.c.zip_code,
        _JOB.c.homeowner_name,
        _JOB.c.homeowner_phone,
        _JOB.c.homeowner_email,
        _COMPANY.c.id.label("company_id"),
        _COMPANY.c.provider_type,
        _COMPANY.c.st_tenant_id,
        _COMPANY.c.st_client_id,
        _COMPANY.c.st_client_secret_sealed,
        _COMPANY.c.st_app_key_sealed,
    )
    .select_from(
        _ROUTING.join(_JOB, _JOB.c.id == _ROUTING.c.job_id).join(
            _COMPANY, _COMPANY.c.id == _ROUTING.c.company_id_received
        )
    )
    .where(_ROUTING.c.id == bindparam("routing_id"))
)
_SYNCED = (
    update(_ROUTING)
    .where(_ROUTING.c.id == bindparam("routing_id"))
    .values(
        sync_status=SyncStatus.SYNCED.value,
        external_id=bindparam("external_id"),
        last_synced_at=_NOW,
        error_message=None,
        updated_at=_NOW,
    )
    .returning(_ROUTING.c.id)
)
_FAILED_ATTEMPT = (
    update(_ROUTING)
    .where(_ROUTING.c.id == bindparam("routing_id"))
    .values(
        retry_count=_ROUTING.c.retry_count + 1,
        error_message=bindparam("error"),
        sync_status=bindparam("status"),
        updated_at=_NOW,
    )
    .returning(_ROUTING.c.id)
)


async def claim_for_sync(
    session: AsyncSession, routing_id: uuid.UUID, *, now: datetime
) -> Row[*tuple[Any, ...]] | None:
    """Mark the routing as being synced now unless it is already synced or completed, and
    read what the sync needs: the job's booking fields and the company's provider settings.
    None when there is nothing left to do."""
    claimed = await session.execute(_CLAIM, {"routing_id": routing_id, "now": now})
    if claimed.scalar_one_or_none() is None:
        return None
    return (await session.execute(_SYNC_TARGET, {"routing_id": routing_id})).one()


async def mark_synced(
    session: AsyncSession, routing_id: uuid.UUID, *, external_id: str, now: datetime
) -> bool:
    result = await session.execute(
        _SYNCED, {"routing_id": routing_id, "external_id": external_id, "now": now}
    )
    return result.scalar_one_or_none() is not None


async def mark_failed_attempt(
    session: AsyncSession, routing_id: uuid.UUID, *, error: str, final: bool, now: datetime
) -> bool:
    """Count a failed attempt: pending again for the retry, or failed after the last one."""
    status = SyncStatus.FAILED if final else SyncStatus.PENDING
    result = await session.execute(
        _FAILED_ATTEMPT,
        {"routing_id": routing_id, "error": error, "status": status.value, "now": now},
    )
    return result.scalar_one_or_none() is not None


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
    if 0 < len(requirements) <= MAX_TIERED_SKILLS:
        found = await _by_tiers(
            session,
            requirements=requirements,
            category=category,
            exclude=exclude,
            limit=limit,
            unless_few_holders=True,
        )
        if found is not None:
            return found
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
    # Which required skills the company holds, as bits (one row per company and skill).
    held = func.sum(
        case({skill: 1 << bit for bit, skill in enumerate(skills)}, value=CompanySkill.skill)
    )
    partial = (
        select(
            CompanySkill.company_id.label("company_id"),
            (func.sum(per_skill) + configured - 20 * len(skills)).label("score"),
            held.label("held"),
        )
        .where(
            CompanySkill.skill.in_(skills),
            CompanySkill.active,
            CompanySkill.company_id != exclude,
        )
        .group_by(CompanySkill.company_id)
        .subquery("partial")
    )
    score: ColumnElement[int] = partial.c.score
    query = select(partial.c.company_id, partial.c.held)
    if category:
        in_category = (
            select(CompanyCategory.company_id.label("company_id"))
            .where(CompanyCategory.category == category)
            .subquery("in_category")
        )
        query = query.outerjoin(in_category, in_category.c.company_id == partial.c.company_id)
        score = score + case((in_category.c.company_id.is_not(None), CATEGORY_BONUS), else_=0)
    ranked = (
        query.add_columns(score.label("score"))
        .where(score > 0)
        .order_by(score.desc(), partial.c.company_id)
        .limit(limit)
        .subquery("ranked")
    )
    result = await session.execute(
        select(ranked.c.company_id, ranked.c.score, ranked.c.held, Company.provider_type)
        .join(Company, Company.id == ranked.c.company_id)
        .order_by(ranked.c.score.desc(), ranked.c.company_id)
    )
    return [
        Match(
            company_id=company_id,
            score=int(tenths) / 10,
            matched_skills=sorted(
                skill for bit, skill in enumerate(skills) if int(bits) >> bit & 1
            ),
            provider_type=provider,
        )
        for company_id, tenths, bits, provider in result
    ]


# -- best-first search over skill tiers ------------------------------------------------------

MAX_TIERED_SKILLS = 3
"""Up to this many required skills, search tier combinations; beyond, aggregate."""
TIER_SEARCH_ABOVE = 2_000
"""Up to this many skill rows to score, aggregating them all is cheaper than searching."""
MAX_TIER_QUERIES = 12
"""Give up on the search (and aggregate) when the best companies are this hard to find."""
TIERS = tuple((level, primary) for level in (3, 2, 1) for primary in (True, False))
Tier = tuple[int, bool] | None
"""(level, is_primary) of the company's row for a skill, or None when it lacks the skill."""


def tier_points(tier: Tier, required: int) -> int:
    """A skill's share of the score, in tenths, +20 (so a missing skill is 0)."""
    if tier is None:
        return 0
    level, primary = tier
    points = 15 * level - 5 * required if level >= required else 5 * level
    return points + 20 + (15 if primary else 0)


async def _by_tiers(
    session: AsyncSession,
    *,
    requirements: Mapping[str, int],
    category: str | None,
    exclude: uuid.UUID,
    limit: int,
    unless_few_holders: bool = False,
) -> list[Match] | None:
    """The best matches found by visiting combinations from the best down.

    A company's rows put it in exactly one combination: its tier for each required skill,
    whether its provider is configured, and (with a category) whether it is in the category.
    Every company in a combination scores the combination's points, so only ids order them,
    and the skill index hands them over in id order: each visit reads the first `limit`.
    Combinations are visited in descending points; the search stops once the k-th best
    score found beats everything left. With thousands of companies per skill this reads a
    few dozen index entries instead of all of them. None when the search gives up (the
    caller aggregates instead), and, `unless_few_holders`, when no more than
    TIER_SEARCH_ABOVE active rows hold the required skills (the first query counts them).
    """
    skills = list(requirements)
    ranked = {
        skill: sorted([*TIERS, None], key=lambda tier: -tier_points(tier, requirements[skill]))
        for skill in skills
    }
    bonuses = sorted(
        (
            (configured, listed)
            for configured in (True, False)
            for listed in ((True, False) if category else (False,))
        ),
        key=lambda bonus: -bonus_points(*bonus),
    )

    def points(position: tuple[int, ...]) -> int:
        *tiers, bonus = position
        return bonus_points(*bonuses[bonus]) + sum(
            tier_points(ranked[skill][index], requirements[skill])
            for skill, index in zip(skills, tiers, strict=True)
        )

    sizes = [*(len(ranked[skill]) for skill in skills), len(bonuses)]
    start = (0,) * len(sizes)
    frontier = [(-points(start), start)]
    visited = {start}
    scores: dict[uuid.UUID, tuple[int, list[str], str]] = {}
    queries = 0
    while frontier:
        negative, position = heapq.heappop(frontier)
        best_left = -negative - 20 * len(skills)
        kth = sorted((score for score, _, _ in scores.values()), reverse=True)[limit - 1 : limit]
        if best_left <= 0 or (kth and kth[0] > best_left):
            break
        *tiers, bonus = position
        combination = {
            skill: ranked[skill][index] for skill, index in zip(skills, tiers, strict=True)
        }
        primaries = sum(1 for tier in combination.values() if tier is not None and tier[1])
        if primaries <= 1 and any(tier is not None for tier in combination.values()):
            if queries == MAX_TIER_QUERIES:
                return None
            queries += 1
            held = [skill for skill, tier in combination.items() if tier is not None]
            configured, listed = bonuses[bonus]
            found, holders = await _combination(
                session,
                combination,
                configured=configured,
                category=category,
                listed=listed,
                exclude=exclude,
                limit=limit,
                count_holders=unless_few_holders and queries == 1,
            )
            if holders is not None and holders <= TIER_SEARCH_ABOVE:
                return None
            for company_id, provider in found:
                scores[company_id] = (best_left, held, provider)
        for axis, size in enumerate(sizes):
            following = tuple(i + (1 if j == axis else 0) for j, i in enumerate(position))
            if following[axis] < size and following not in visited:
                visited.add(following)
                heapq.heappush(frontier, (-points(following), following))
    best = sorted(
        (
            (score, company_id, held, provider)
            for company_id, (score, held, provider) in scores.items()
            if score > 0
        ),
        key=lambda item: (-item[0], item[1]),
    )[:limit]
    return [
        Match(
            company_id=company_id,
            score=score / 10,
            matched_skills=sorted(held),
            provider_type=provider,
        )
        for score, company_id, held, provider in best
    ]


def bonus_points(configured: bool, listed: bool) -> int:
    """The configured and category bonus, in tenths."""
    return (3 if configured else 0) + (CATEGORY_BONUS if listed else 0)


async def _combination(
    session: AsyncSession,
    combination: Mapping[str, Tier],
    *,
    configured: bool,
    category: str | None,
    listed: bool,
    exclude: uuid.UUID,
    limit: int,
    count_holders: bool = False,
) -> tuple[list[tuple[uuid.UUID, str]], int | None]:
    """The first `limit` active companies by id, with their provider type, whose
    required-skill rows are exactly these tiers, whose provider is configured or not, and
    which are `listed` in the category or not (when there is one).

    With `count_holders`, also how many active rows hold any of the required skills, counted
    up to TIER_SEARCH_ABOVE + 1 (else None): the same round trip answers whether searching
    is worth it.
    """
    tiers = list(combination.values())
    shape = tuple(None if tier is None else tier[1] for tier in tiers)
    params: dict[str, object] = {"exclude": exclude, "category": category}
    for index, (skill, tier) in enumerate(combination.items()):
        params[f"skill_{index}"] = skill
        if tier is not None:
            params[f"level_{index}"] = tier[0]
    statement = _combination_statement(
        shape, configured=configured, categorised=category is not None, listed=listed, limit=limit
    )
    if not count_holders:
        result = await session.execute(statement, params)
        return [(company_id, provider) for company_id, provider in result], None
    params["holders_cap"] = TIER_SEARCH_ABOVE + 1
    rows = (await session.execute(_counting_holders(statement, len(shape)), params)).all()
    found = [
        (company_id, provider)
        for _, company_id, provider in rows
        if company_id is not None and provider is not None
    ]
    return found, int(rows[0][0])


@functools.lru_cache(maxsize=1024)
def _combination_statement(
    shape: tuple[bool | None, ...], *, configured: bool, categorised: bool, listed: bool, limit: int
) -> Select[uuid.UUID, str]:
    """`_combination`'s query for one shape (per required skill: missing, or whether it is
    the primary one), skills, levels, category and excluded company left as parameters.

    Built once per shape: building it (aliases, subqueries) costs the API more CPU, about a
    millisecond, than PostgreSQL spends running it.
    """
    rows = {
        index: aliased(CompanySkill) for index, primary in enumerate(shape) if primary is not None
    }
    first = next(iter(rows.values()))
    query = select(first.company_id)
    for index, row in rows.items():
        if row is not first:
            query = query.join(row, row.company_id == first.company_id)
        query = query.where(
            row.skill == bindparam(f"skill_{index}"),
            row.active,
            row.level == bindparam(f"level_{index}"),
            row.is_primary if shape[index] else ~row.is_primary,
        )
    for index, primary in enumerate(shape):
        if primary is None:
            query = query.where(
                ~exists().where(
                    CompanySkill.company_id == first.company_id,
                    CompanySkill.skill == bindparam(f"skill_{index}"),
                )
            )
    query = query.where(
        first.company_id != bindparam("exclude"),
        first.provider_configured if configured else ~first.provider_configured,
    )
    if categorised:
        in_category = exists().where(
            CompanyCategory.company_id == first.company_id,
            CompanyCategory.category == bindparam("category"),
        )
        query = query.where(in_category if listed else ~in_category)
    found = query.order_by(first.company_id).limit(limit).subquery("found")
    return select(found.c.company_id, Company.provider_type).join(
        Company, Company.id == found.c.company_id
    )


@functools.lru_cache(maxsize=1024)
def _counting_holders(
    statement: Select[uuid.UUID, str], skills: int
) -> Select[int, uuid.UUID | None, str | None]:
    """`statement`'s rows, each led by the capped count of active rows holding one of the
    `skills` required skills (one row with no company when the combination is empty)."""
    held = (
        select(CompanySkill.company_id)
        .where(
            CompanySkill.skill.in_([bindparam(f"skill_{index}") for index in range(skills)]),
            CompanySkill.active,
        )
        .limit(bindparam("holders_cap"))
        .subquery("held")
    )
    holders = select(func.count().label("holders")).select_from(held).subquery("holders")
    found = statement.subquery("found_companies")
    return select(holders.c.holders, found.c.company_id, found.c.provider_type).select_from(
        holders.outerjoin(found, true())
    )


async def _by_category(
    session: AsyncSession, *, category: str, exclude: uuid.UUID, limit: int
) -> list[Match]:
    score = CATEGORY_BONUS + case((Company.provider_configured, 3), else_=0)
    result = await session.execute(
        select(Company.id, score.label("score"), Company.provider_type)
        .join(CompanyCategory, CompanyCategory.company_id == Company.id)
        .where(
            CompanyCategory.category == category,
            Company.active,
            Company.id != exclude,
        )
        .order_by(score.desc(), Company.id)
        .limit(limit)
    )
    return [
        Match(company_id=company_id, score=tenths / 10, matched_skills=[], provider_type=provider)
        for company_id, tenths, provider in result
    ]
