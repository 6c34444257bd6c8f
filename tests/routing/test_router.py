"""Document 004 over HTTP: the example flow, every validation rule, paging, errors, limits."""

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, func, select

from conveyor import tasks
from conveyor.database import Database
from conveyor.routing.models import Job, JobRouting
from tests.routing.factories import create_company, create_technician, job_body


@pytest.fixture
async def requester(client: httpx.AsyncClient) -> tuple[str, str]:
    company = await create_company(client, name="Finder Co", skills={"general": "basic"})
    technician = await create_technician(client, company["id"])
    return company["id"], technician["id"]


async def test_the_documents_example_flow(
    client: httpx.AsyncClient, requester: tuple[str, str], database: Database
) -> None:
    plumber = await create_company(
        client,
        name="Pipe Pros",
        skills={"plumbing": "expert", "electrical": "basic"},
        primary_skill="plumbing",
        categories=["plumbing"],
    )
    await create_company(client, name="Sparky", skills={"electrical": "expert"})
    company_id, technician_id = requester

    created = await client.post("/api/v1/jobs/", json=job_body(company_id, technician_id))
    assert created.status_code == 201, created.text
    job = created.json()
    assert job["summary"] == "Fix leaky kitchen faucet"
    assert job["address"] == {
        "street": "456 Oak Avenue",
        "city": "Springfield",
        "state": "IL",
        "zip_code": "62701",
    }
    assert job["homeowner"] == {
        "name": "Jane Smith",
        "phone": "(555) 987-6543",
        "email": "jane.smith@email.com",
    }
    assert job["created_by_company_id"] == company_id
    assert job["created_by_technician_id"] == technician_id
    assert (job["status"], job["revenue"], job["completed_at"]) == ("pending", None, None)
    assert job["created_at"].endswith("Z")
    assert created.headers["X-RateLimit-Limit"] == "10"

    routings = (await client.get(f"/api/v1/jobs/{job['id']}/routings")).json()
    assert [r["company_id_received"] for r in routings] == [plumber["id"]]
    (routing,) = routings
    assert routing["job_id"] == job["id"]
    assert (routing["sync_status"], routing["retry_count"], routing["external_id"]) == (
        "pending",
        0,
        None,
    )
    assert set(routing) == {
        "id", "job_id", "company_id_received", "external_id", "sync_status", "retry_count",
        "last_sync_attempt", "last_synced_at", "error_message", "created_at", "updated_at",
    }  # fmt: skip
    async with database.read() as session:
        (task,) = (
            await session.execute(select(tasks.Task).where(tasks.Task.name == "routing.sync"))
        ).scalars()
    assert task.payload == {
        "routing_id": routing["id"],
        "job_id": job["id"],
        "company_id": plumber["id"],
        "matching_score": 5.3,  # 3 + 1.5 primary + 0.5 category + 0.3 mock
        "matched_skills": ["plumbing"],
        "provider_type": "mock",
    }

    shown = await client.get(f"/api/v1/jobs/{job['id']}")
    assert shown.json() == job
    listed = await client.get("/api/v1/jobs/", params={"skip": 0, "limit": 100})
    assert listed.json() == [job]


async def test_jobs_are_listed_newest_first_and_paged(
    client: httpx.AsyncClient, requester: tuple[str, str]
) -> None:
    ids = []
    for n in range(3):
        body = job_body(*requester, summary=f"job {n}")
        ids.append((await client.post("/api/v1/jobs/", json=body)).json()["id"])
    page = await client.get("/api/v1/jobs/", params={"skip": 1, "limit": 1})
    assert [job["id"] for job in page.json()] == [ids[1]]
    assert [j["id"] for j in (await client.get("/api/v1/jobs/")).json()] == ids[::-1]
    too_many = await client.get("/api/v1/jobs/", params={"limit": 101})
    assert too_many.status_code == 422
    assert "limit" in too_many.json()["detail"]


def _set(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    *parents, leaf = path.split(".")
    target = body
    for part in parents:
        target = target[part]
    if value is _DROP:
        del target[leaf]
    else:
        target[leaf] = value
    return body


_DROP = object()


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("summary", ""),
        ("summary", "x" * 1001),
        ("summary", _DROP),
        ("address.state", "Il"),
        ("address.state", "ILL"),
        ("address.zip_code", "1234"),
        ("address.zip_code", "12345678901"),
        ("address.street", "x" * 256),
        ("address.city", "x" * 101),
        ("homeowner.name", _DROP),
        ("homeowner.name", "x" * 256),
        ("homeowner.phone", "1" * 21),
        ("homeowner.email", "not-an-email"),
        ("category", "x" * 101),
        ("skill_levels", {"plumbing": "guru"}),
        ("skill_levels", {"roofing": "basic"}),
        ("created_by_company_id", "uuid-of-requesting-company"),
        ("priority", "high"),
    ],
)
async def test_each_schema_rule_is_a_422_naming_the_field(
    client: httpx.AsyncClient, requester: tuple[str, str], path: str, value: Any
) -> None:
    body = _set(job_body(*requester), path, value)
    refused = await client.post("/api/v1/jobs/", json=body)
    assert refused.status_code == 422, (path, refused.text)
    error = refused.json()
    assert error["error_code"] == "VALIDATION_ERROR"
    assert path.split(".")[-1] in error["detail"]
    if isinstance(value, str) and len(value) > 4:
        assert value not in error["detail"], "errors name the rule, never echo the value"


async def test_unknown_company_or_technician_is_404_and_a_stranger_is_400(
    client: httpx.AsyncClient, requester: tuple[str, str]
) -> None:
    company_id, technician_id = requester
    ghost = "00000000-0000-0000-0000-000000000001"
    unknown_company = await client.post("/api/v1/jobs/", json=job_body(ghost, technician_id))
    assert unknown_company.status_code == 404
    assert unknown_company.json()["error_code"] == "NOT_FOUND"
    assert unknown_company.json()["detail"] == f"Company {ghost} not found"
    unknown_tech = await client.post("/api/v1/jobs/", json=job_body(company_id, ghost))
    assert unknown_tech.status_code == 404
    other = await create_company(client, name="Other")
    stranger = await create_technician(client, other["id"])
    refused = await client.post("/api/v1/jobs/", json=job_body(company_id, stranger["id"]))
    assert refused.status_code == 400
    assert refused.json()["error_code"] == "VALIDATION_ERROR"
    assert "does not belong to company" in refused.json()["detail"]
    missing = await client.get(f"/api/v1/jobs/{ghost}")
    assert (missing.status_code, missing.json()["error_code"]) == (404, "NOT_FOUND")
    assert (await client.get(f"/api/v1/jobs/{ghost}/routings")).status_code == 404


async def test_a_failure_after_routing_leaves_no_job_routing_or_task(
    client: httpx.AsyncClient,
    requester: tuple[str, str],
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await create_company(client, name="Pipe Pros", skills={"plumbing": "expert"})

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the task table is on fire")

    monkeypatch.setattr(tasks, "enqueue_many", broken)
    failed = await client.post("/api/v1/jobs/", json=job_body(*requester))
    assert failed.status_code == 500
    assert failed.json()["error_code"] == "INTERNAL_ERROR"
    assert "fire" not in failed.text
    async with database.read() as session:
        for table in (Job, JobRouting, tasks.Task):
            count = (await session.execute(select(func.count()).select_from(table))).scalar()
            assert count == 0, table


async def test_job_creation_is_limited_to_ten_a_minute(
    client: httpx.AsyncClient, requester: tuple[str, str]
) -> None:
    answers = [await client.post("/api/v1/jobs/", json=job_body(*requester)) for _ in range(11)]
    assert [a.status_code for a in answers] == [201] * 10 + [429]
    assert answers[-1].json()["error_code"] == "RATE_LIMIT_EXCEEDED"
    assert int(answers[-1].headers["Retry-After"]) >= 1
    health = [await client.get("/api/v1/health") for _ in range(3)]
    assert all("X-RateLimit-Limit" not in h.headers for h in health)


async def test_a_retried_create_with_an_idempotency_key_routes_once(
    client: httpx.AsyncClient, requester: tuple[str, str], database: Database
) -> None:
    await create_company(client, name="Pipe Pros", skills={"plumbing": "expert"})
    headers = {"Idempotency-Key": "job-7"}
    first = await client.post("/api/v1/jobs/", json=job_body(*requester), headers=headers)
    again = await client.post("/api/v1/jobs/", json=job_body(*requester), headers=headers)
    assert again.json() == first.json()
    async with database.read() as session:
        routings = (await session.execute(select(func.count()).select_from(JobRouting))).scalar()
    assert routings == 1


async def test_companies_keep_provider_secrets_write_only(client: httpx.AsyncClient) -> None:
    company = await create_company(
        client,
        name="Titan HVAC",
        skills={"HVAC ": "expert"},
        categories=["HVAC"],
        provider_type="servicetitan",
        provider_settings={
            "tenant_id": "123",
            "client_id": "cid.abc",
            "client_secret": "st-secret-value",
            "app_key": "ak-value",
        },
    )
    assert company["skills"] == [{"name": "hvac", "level": "expert"}]
    assert company["categories"] == ["hvac"]
    assert company["provider_configured"] is True
    assert company["provider_settings"] == {
        "tenant_id": "123",
        "client_id": "cid.abc",
        "client_secret_set": True,
        "app_key_set": True,
    }
    listed = await client.get("/api/v1/companies")
    assert "st-secret-value" not in listed.text
    assert "ak-value" not in listed.text
    patched = await client.patch(
        f"/api/v1/companies/{company['id']}",
        json={"active": False, "provider_settings": {"app_key": None}},
    )
    assert patched.json()["active"] is False
    assert patched.json()["provider_configured"] is False
    assert patched.json()["provider_settings"]["client_secret_set"] is True
    techs = await client.get(f"/api/v1/companies/{company['id']}/technicians")
    assert techs.json() == []
    ghost = "00000000-0000-0000-0000-000000000009"
    assert (await client.get(f"/api/v1/companies/{ghost}")).status_code == 404
    assert (
        await client.post(f"/api/v1/companies/{ghost}/technicians", json={"name": "T"})
    ).status_code == 404


async def test_matching_follows_company_changes(
    client: httpx.AsyncClient, requester: tuple[str, str]
) -> None:
    plumber = await create_company(client, name="Pipe Pros", skills={"plumbing": "basic"})
    rival = await create_company(client, name="Drip Fix", skills={"plumbing": "basic"})

    async def routed() -> list[str]:
        job = (await client.post("/api/v1/jobs/", json=job_body(*requester))).json()
        routings = (await client.get(f"/api/v1/jobs/{job['id']}/routings")).json()
        return [r["company_id_received"] for r in routings]

    assert set(await routed()) == {plumber["id"], rival["id"]}
    await client.patch(f"/api/v1/companies/{rival['id']}", json={"active": False})
    assert await routed() == [plumber["id"]]
    await client.patch(
        f"/api/v1/companies/{plumber['id']}",
        json={"skills": [{"name": "roofing", "level": "expert"}]},
    )
    assert await routed() == []
    await client.patch(f"/api/v1/companies/{rival['id']}", json={"active": True})
    assert await routed() == [rival["id"]]


async def test_a_primary_skill_must_be_one_of_the_companys_skills(
    client: httpx.AsyncClient,
) -> None:
    refused = await client.post(
        "/api/v1/companies",
        json={
            "name": "X",
            "skills": [{"name": "hvac", "level": "basic"}],
            "primary_skill": "plumbing",
        },
    )
    assert refused.status_code == 400
    assert refused.json()["detail"] == "primary_skill: plumbing is not one of the company's skills"


async def test_a_job_is_created_in_six_statements(
    app: FastAPI, client: httpx.AsyncClient, requester: tuple[str, str]
) -> None:
    """Each statement is a round trip and CPU on both sides: the requester and technician
    (one query), matching (here its first search query finds few holders, and one aggregate
    answers), then one INSERT each for the job, its routings and their sync tasks (on
    PostgreSQL the workers' wake-up rides in the last)."""
    await create_company(client, name="Pipe Pros", skills={"plumbing": "expert"})
    await create_company(client, name="Drip Fix", skills={"plumbing": "basic"})
    statements: list[str] = []

    def record(*args: Any) -> None:
        statement = " ".join(args[2].split())
        if not statement.upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA")):
            statements.append(statement[:40])

    database = app.state.database
    engine = database.writer.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        created = await client.post("/api/v1/jobs/", json=job_body(*requester))
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert created.status_code == 201, created.text
    routings = (await client.get(f"/api/v1/jobs/{created.json()['id']}/routings")).json()
    assert len(routings) == 2
    if database.dialect == "sqlite":
        # SQLite does not promise RETURNING's order, so SQLAlchemy inserts the tasks (whose
        # ids it returns in order) one by one.
        assert statements[-1] == statements[-2]
        statements.pop()
    assert len(statements) == 6, statements
    assert [s.split()[:3] for s in statements[-3:]] == [
        ["INSERT", "INTO", "job"],
        ["INSERT", "INTO", "job_routing"],
        ["INSERT", "INTO", "task"],
    ]
