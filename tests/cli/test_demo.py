"""`conveyor demo`: run as a newcomer runs it, then every surface is ready to try."""

import asyncio
import re
from pathlib import Path

import httpx

from tests.cli.test_cli import run_cli


async def demo(database_url: str, tmp_path: Path, **env: str) -> str:
    # In a thread: the app under `client` shares this event loop and must stay responsive.
    result = await asyncio.to_thread(
        run_cli, "demo", cwd=tmp_path, env={"CONVEYOR_DATABASE_URL": database_url, **env}
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


async def test_the_demo_loads_every_surface_once(
    client: httpx.AsyncClient, database_url: str, tmp_path: Path
) -> None:
    printed = await demo(database_url, tmp_path)
    passwords = dict(re.findall(r"(\S+@conveyor\.demo) / (\S+)", printed))
    assert set(passwords) == {
        "admin@conveyor.demo",
        "operator@conveyor.demo",
        "owner@conveyor.demo",
    }
    key = re.search(r"shown once\): (cvk_\S+)", printed)
    assert key is not None

    admin = {"X-API-Key": key.group(1)}
    restaurants = (await client.get("/api/restaurants")).json()
    assert restaurants["total_count"] == 6
    assert len((await client.get("/api/leads")).json()["leads"]) == 4
    companies = (await client.get("/api/v1/companies")).json()
    assert {company["name"] for company in companies} >= {"Pipe Pros", "Roof Right"}
    assert (await client.get("/api/v1/admin/tasks/stats", headers=admin)).status_code == 200
    # Report context belongs to the printed key.
    customer = await client.get("/api/reports/context/customers/cust-harbour-foods", headers=admin)
    assert customer.json()["data"]["name"] == "Harbour Foods"

    token = await client.post(
        "/api/v1/auth/token",
        data={"username": "admin@conveyor.demo", "password": passwords["admin@conveyor.demo"]},
    )
    assert token.status_code == 200, token.text
    bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
    pending = await client.get("/api/v1/restaurant-registrations/admin/pending", headers=bearer)
    assert [item["name"] for item in pending.json()["items"]] == ["Kai Kitchen", "Little Saigon"]

    # The printed job hint names a real company and technician: the job is routed.
    hint = re.search(r"created_by_company_id (\S+) and created_by_technician_id (\S+),", printed)
    assert hint is not None
    job = await client.post(
        "/api/v1/jobs/",
        json={
            "summary": "Rewire the kitchen",
            "address": {
                "street": "1 Queen St",
                "city": "Auckland",
                "state": "AK",
                "zip_code": "10100",
            },
            "homeowner": {"name": "Ana", "phone": "+6495550100", "email": "ana@example.com"},
            "created_by_company_id": hint.group(1),
            "created_by_technician_id": hint.group(2),
            "required_skills": ["electrical"],
        },
    )
    assert job.status_code == 201, job.text

    again = await demo(database_url, tmp_path)
    assert "loaded before" in again
    assert "@conveyor.demo /" not in again  # no password is printed twice
    assert (await client.get("/api/restaurants")).json()["total_count"] == 6


async def test_the_demo_refuses_production(database_url: str, tmp_path: Path) -> None:
    result = await asyncio.to_thread(
        run_cli,
        "demo",
        cwd=tmp_path,
        env={
            "CONVEYOR_DATABASE_URL": database_url,
            "CONVEYOR_ENV": "production",
            "CONVEYOR_SECRET_KEY": "x" * 40,
        },
    )
    assert result.returncode == 1
    assert "refusing to load demo data with CONVEYOR_ENV=production" in result.stderr
