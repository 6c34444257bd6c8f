"""The matching formula on hand-computed cases, and the SQL that ranks companies with it."""

import random
import uuid
from typing import Any

import pytest

from conveyor.database import Database
from conveyor.routing import repository
from conveyor.routing.models import Company, CompanyCategory
from conveyor.routing.service import score


@pytest.mark.parametrize(
    ("requirements", "skills", "primary", "in_category", "configured", "expected"),
    [
        # expert plumbing asked, expert held: 3 + 0.5*(3-3) = 3
        ({"plumbing": 3}, {"plumbing": 3}, None, False, False, 3.0),
        # intermediate asked, expert held: 3 + 0.5*(3-2) = 3.5; +1.5 primary; +0.5; +0.3
        ({"plumbing": 2}, {"plumbing": 3}, "plumbing", True, True, 5.8),
        # expert asked, basic held: 0.5*1 = 0.5
        ({"plumbing": 3}, {"plumbing": 1}, None, False, False, 0.5),
        # the document's example job: plumbing expert + electrical intermediate, only plumbing
        # held at expert: 3 - 2 (missing electrical) + 0.5 category + 0.3 configured = 1.8
        ({"plumbing": 3, "electrical": 2}, {"plumbing": 3}, None, True, True, 1.8),
        # both missing: -4 + 1.5 (primary required though not held) = -2.5
        ({"hvac": 1, "roofing": 1}, {"plumbing": 3}, "hvac", False, False, -2.5),
        # basic asked, intermediate held: 2 + 0.5 = 2.5; electrical expert vs basic: 3 + 1 = 4
        (
            {"plumbing": 1, "electrical": 1},
            {"plumbing": 2, "electrical": 3},
            None,
            False,
            False,
            6.5,
        ),
    ],
)
def test_the_formula_on_hand_computed_cases(
    requirements: dict[str, int],
    skills: dict[str, int],
    primary: str | None,
    in_category: bool,
    configured: bool,
    expected: float,
) -> None:
    got = score(
        requirements,
        skills=skills,
        primary_skill=primary,
        in_category=in_category,
        provider_configured=configured,
    )
    assert got == expected


SKILLS = ["plumbing", "electrical", "hvac", "roofing", "carpentry", "painting"]
CATEGORIES = ["plumbing", "hvac", "electrical", "general"]


@pytest.mark.parametrize(("seed", "limit"), [(4, 5), (5, 1), (6, 3), (7, 40)])
async def test_sql_ranking_agrees_with_the_formula(
    database: Database, seed: int, limit: int
) -> None:
    rng = random.Random(seed)
    companies: list[tuple[Company, dict[str, int], list[str]]] = []
    async with database.transaction() as session:
        for n in range(120):
            held = {s: rng.randint(1, 3) for s in rng.sample(SKILLS, rng.randint(0, 4))}
            categories = rng.sample(CATEGORIES, rng.randint(0, 2))
            servicetitan = rng.random() < 0.4
            company = Company(
                id=uuid.UUID(int=n + 1),
                name=f"Company {n}",
                primary_skill=rng.choice([*held, None]) if held else None,
                active=rng.random() < 0.9,
                provider_type="servicetitan" if servicetitan else "mock",
                st_tenant_id="t" if servicetitan and rng.random() < 0.5 else None,
                st_client_id="c" if servicetitan else None,
                st_client_secret_sealed="s" if servicetitan else None,
                st_app_key_sealed="k" if servicetitan else None,
            )
            session.add(company)
            await session.flush()
            await repository.replace_skills(session, company, held)
            session.add_all(CompanyCategory(company_id=company.id, category=c) for c in categories)
            companies.append((company, held, categories))
        await session.flush()

    requester = companies[0][0].id
    for _ in range(25):
        requirements = {s: rng.randint(1, 3) for s in rng.sample(SKILLS, rng.randint(1, 4))}
        category = rng.choice([*CATEGORIES, None])
        expected = sorted(
            (
                (
                    -score(
                        requirements,
                        skills=held,
                        primary_skill=company.primary_skill,
                        in_category=category in categories,
                        provider_configured=company.provider_configured,
                    ),
                    company.id,
                )
                for company, held, categories in companies
                if company.active
                and company.id != requester
                and (set(held) & set(requirements) or category in categories)
            ),
        )
        expected = [item for item in expected if -item[0] > 0][:limit]
        async with database.read() as session:
            found = await repository.best_matches(
                session,
                requirements=requirements,
                category=category,
                exclude=requester,
                limit=limit,
            )
        got = [(m.score, m.company_id.int) for m in found]
        want = [(-s, c.int) for s, c in expected]
        assert got == want, (requirements, category, got, want)
        for match in found:
            held = next(h for c, h, _ in companies if c.id == match.company_id)
            assert match.matched_skills == sorted(set(held) & set(requirements))


DENSE_SKILLS = ["plumbing", "electrical", "hvac"]


async def _dense(database: Database, rng: random.Random) -> None:
    """600 companies with one or two of three skills: hundreds of ties per combination."""
    async with database.transaction() as session:
        for n in range(600):
            held = {s: rng.randint(1, 3) for s in rng.sample(DENSE_SKILLS, rng.randint(1, 2))}
            company = Company(
                id=uuid.UUID(int=n + 1),
                name=f"C{n}",
                primary_skill=rng.choice([*held, None]),
                provider_type=rng.choice(["mock", "servicetitan"]),
            )
            session.add(company)
            await session.flush()
            await repository.replace_skills(session, company, held)
            if rng.random() < 0.3:
                session.add(CompanyCategory(company_id=company.id, category="hvac"))


def _dense_arguments(rng: random.Random, limit: int) -> dict[str, Any]:
    requirements = {s: rng.randint(1, 3) for s in rng.sample(DENSE_SKILLS, rng.randint(1, 3))}
    return {
        "requirements": requirements,
        "category": rng.choice(["hvac", None]),
        "exclude": uuid.UUID(int=1),
        "limit": limit,
    }


@pytest.mark.parametrize("limit", [1, 3, 5])
async def test_the_tier_search_finds_what_the_aggregate_finds(
    database: Database, limit: int
) -> None:
    """Dense data, few skills: thousands of ties, as with 100,000 companies."""
    rng = random.Random(limit)
    await _dense(database, rng)
    searched = 0
    for _ in range(20):
        arguments = _dense_arguments(rng, limit)
        async with database.read() as session:
            found = await repository._by_tiers(session, **arguments)  # type: ignore[arg-type]
            aggregated = await repository._by_skills(session, **arguments)  # type: ignore[arg-type]
        if found is not None:
            searched += 1
            assert found == aggregated, arguments
    assert searched >= 10


async def test_the_search_reaches_companies_missing_a_skill(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(repository, "MAX_TIER_QUERIES", 100)
    async with database.transaction() as session:
        for n, held in enumerate(
            [{"plumbing": 3}, {"plumbing": 1, "electrical": 1}, {"roofing": 3}], start=1
        ):
            company = Company(
                id=uuid.UUID(int=n), name=f"C{n}", primary_skill="plumbing" if n == 1 else None
            )
            session.add(company)
            await session.flush()
            await repository.replace_skills(session, company, held)
    async with database.read() as session:
        found = await repository._by_tiers(
            session,
            requirements={"plumbing": 1, "electrical": 1},
            category=None,
            exclude=uuid.UUID(int=99),
            limit=3,
        )
    assert found is not None
    # expert where basic is asked: 3 + 0.5 x 2 = 4, +1.5 primary, -2 missing, +0.3 = 3.8;
    # two basics where basic is asked: 1 + 1 + 0.3 = 2.3; roofing holds neither: not a candidate
    assert [(m.company_id.int, m.score, m.matched_skills) for m in found] == [
        (1, 3.8, ["plumbing"]),
        (2, 2.3, ["electrical", "plumbing"]),
    ]


@pytest.mark.parametrize(("threshold", "searching"), [(50, True), (2_000, False)])
async def test_matching_searches_only_when_many_rows_hold_the_skills(
    database: Database, monkeypatch: pytest.MonkeyPatch, threshold: int, searching: bool
) -> None:
    """The search's first query counts the rows holding the required skills: with few of
    them (here about 300 a skill) the aggregate answers instead. Both find the same."""
    await _dense(database, random.Random(3))
    monkeypatch.setattr(repository, "TIER_SEARCH_ABOVE", threshold)
    aggregate = repository._by_skills
    aggregated = 0

    async def counted(*args: Any, **kwargs: Any) -> list[repository.Match]:
        nonlocal aggregated
        aggregated += 1
        return await aggregate(*args, **kwargs)

    monkeypatch.setattr(repository, "_by_skills", counted)
    rng = random.Random(9)
    for _ in range(10):
        arguments = _dense_arguments(rng, 3)
        async with database.read() as session:
            found = await repository.best_matches(session, **arguments)
            assert found == await aggregate(session, **arguments), arguments
    # Searching, the aggregate still answers where the search gives up (MAX_TIER_QUERIES).
    assert (aggregated < 10) if searching else (aggregated == 10)
