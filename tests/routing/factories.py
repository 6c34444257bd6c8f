"""Keyword-only helpers that make companies, technicians and jobs through the API."""

from typing import Any

import httpx


async def create_company(
    client: httpx.AsyncClient,
    *,
    name: str = "Acme Plumbing",
    skills: dict[str, str] | None = None,
    primary_skill: str | None = None,
    categories: list[str] | None = None,
    provider_type: str = "mock",
    **extra: Any,
) -> dict[str, Any]:
    body = {
        "name": name,
        "skills": [{"name": s, "level": level} for s, level in (skills or {}).items()],
        "primary_skill": primary_skill,
        "categories": categories or [],
        "provider_type": provider_type,
        **extra,
    }
    response = await client.post("/api/v1/companies", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def create_technician(
    client: httpx.AsyncClient, company_id: str, *, name: str = "Tess Tech"
) -> dict[str, Any]:
    response = await client.post(f"/api/v1/companies/{company_id}/technicians", json={"name": name})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def job_body(company_id: str, technician_id: str, **overrides: Any) -> dict[str, Any]:
    """The document's example request, from the given company and technician."""
    body: dict[str, Any] = {
        "summary": "Fix leaky kitchen faucet",
        "address": {
            "street": "456 Oak Avenue",
            "city": "Springfield",
            "state": "IL",
            "zip_code": "62701",
        },
        "homeowner": {
            "name": "Jane Smith",
            "phone": "(555) 987-6543",
            "email": "jane.smith@email.com",
        },
        "created_by_company_id": company_id,
        "created_by_technician_id": technician_id,
        "required_skills": ["plumbing"],
        "skill_levels": {"plumbing": "expert"},
        "category": "plumbing",
    }
    body.update(overrides)
    return body
