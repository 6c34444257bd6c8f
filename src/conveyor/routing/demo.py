"""Demo companies for document 004: trades with skills, categories and technicians."""

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from conveyor.config import Settings
from conveyor.routing import service
from conveyor.routing.models import SkillLevel
from conveyor.routing.schemas import CompanyCreate, SkillIn

COMPANIES: list[tuple[str, dict[str, SkillLevel], str, list[str], list[str]]] = [
    (
        "Pipe Pros",
        {"plumbing": SkillLevel.EXPERT, "gas fitting": SkillLevel.INTERMEDIATE},
        "plumbing",
        ["residential", "emergency"],
        ["Aroha Ngata", "Ben Tait"],
    ),
    (
        "Bright Sparks Electrical",
        {"electrical": SkillLevel.EXPERT, "solar": SkillLevel.BASIC},
        "electrical",
        ["residential", "commercial"],
        ["Mere Walker"],
    ),
    (
        "Cool Air HVAC",
        {"hvac": SkillLevel.EXPERT, "electrical": SkillLevel.BASIC},
        "hvac",
        ["commercial"],
        ["Sam Oduya"],
    ),
    (
        "All Trades Handy",
        {
            "plumbing": SkillLevel.BASIC,
            "electrical": SkillLevel.BASIC,
            "carpentry": SkillLevel.INTERMEDIATE,
        },
        "carpentry",
        ["residential"],
        ["Lee Chen", "Tama Rangi"],
    ),
    (
        "Roof Right",
        {"roofing": SkillLevel.EXPERT, "carpentry": SkillLevel.BASIC},
        "roofing",
        ["residential", "emergency"],
        ["Kiri Hohaia"],
    ),
]


async def load(session: AsyncSession, settings: Settings) -> Sequence[str]:
    first = None
    for name, skills, primary, categories, technicians in COMPANIES:
        company = await service.create_company(
            session,
            settings,
            CompanyCreate(
                name=name,
                skills=[SkillIn(name=skill, level=level) for skill, level in skills.items()],
                primary_skill=primary,
                categories=categories,
            ),
        )
        people = [
            await service.create_technician(session, company.id, name=person)
            for person in technicians
        ]
        first = first or (company, people[0])
    assert first is not None
    company, technician = first
    return [
        f"routing: {len(COMPANIES)} companies (GET /api/v1/companies); create a job as "
        f"{company.name} with created_by_company_id {company.id} and "
        f'created_by_technician_id {technician.id}, required_skills ["electrical"]',
    ]
