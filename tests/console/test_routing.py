"""Routing pages (004): jobs with their routings and sync statuses; companies and skills."""

import re

from conveyor.config import Settings
from conveyor.database import Database
from conveyor.tasks import Worker
from tests.console.conftest import Console
from tests.console.html import text
from tests.routing.factories import create_company, create_technician, job_body
from tests.tasks.conftest import FAST, running, wait_for


async def test_jobs_show_where_they_were_routed_and_how_each_sync_went(
    operator: Console, database: Database, settings: Settings
) -> None:
    client = operator.client
    origin = await create_company(client, name="Origin Plumbing", skills={"plumbing": "basic"})
    technician = await create_technician(client, origin["id"])
    await create_company(client, name="Expert Pipes", skills={"plumbing": "expert"})
    await create_company(
        client,
        name="Titan Drains",
        skills={"plumbing": "intermediate"},
        provider_type="servicetitan",  # without credentials: its sync fails
    )
    created = await client.post("/api/v1/jobs/", json=job_body(origin["id"], technician["id"]))
    assert created.status_code == 201, created.text
    job_id = created.json()["id"]

    pending = text((await operator.get("/console/routing")).text)
    assert "Fix leaky kitchen faucet" in pending
    assert "Springfield, IL 62701" in pending
    assert "From Origin Plumbing" in pending
    assert "plumbing (expert)" in pending
    assert pending.count("Pending") == 3  # the job and its two routings

    async def attempted() -> bool:
        routings = (await client.get(f"/api/v1/jobs/{job_id}/routings")).json()
        by_status = {routing["sync_status"]: routing for routing in routings}
        return "synced" in by_status and by_status.get("pending", {}).get("retry_count", 0) > 0

    async with running(Worker(database, FAST, settings=settings)):
        await wait_for(attempted)
    after = await operator.get("/console/routing")
    rows = re.findall(r"<tr>(.*?)</tr>", after.text, flags=re.S)
    expert = text(next(row for row in rows if "Expert Pipes" in row))
    titan = text(next(row for row in rows if "Titan Drains" in row))
    assert "Synced" in expert
    assert "Pending" in titan
    assert "has no complete ServiceTitan settings" in titan


async def test_companies_are_listed_with_their_skills(operator: Console) -> None:
    await create_company(
        operator.client,
        name="Expert Pipes",
        skills={"plumbing": "expert", "drain cleaning": "intermediate"},
        primary_skill="plumbing",
        categories=["plumbing", "drains"],
    )
    page = await operator.get("/console/routing/companies")
    shown = text(page.text)
    assert "Expert Pipes" in shown
    assert "plumbing · expert" in shown
    assert "drain cleaning · intermediate" in shown
    assert "drains, plumbing" in shown
    assert "Mock" in shown
    empty = text((await operator.get("/console/routing", page="3")).text)
    assert "No jobs yet." in empty
