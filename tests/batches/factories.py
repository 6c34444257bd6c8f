"""Keyword-only helpers that build batches through the API, and run the engine under them."""

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from sqlalchemy import func, select

from conveyor.batches.models import RegistrationBatchCount, RegistrationJob
from conveyor.database import Database


async def create_restaurant(
    client: httpx.AsyncClient,
    *,
    name: str = "Pizza Palace",
    address: str | None = "123 Main Street",
    city: str | None = "Auckland",
    email: str | None = "owner@pizzapalace.co.nz",
) -> dict[str, Any]:
    body = {"name": name, "address": address, "city": city, "email": email}
    response = await client.post(
        "/api/restaurants", json={key: value for key, value in body.items() if value is not None}
    )
    assert response.status_code == 201, response.text
    restaurant: dict[str, Any] = response.json()["restaurant"]
    return restaurant


async def create_batch(
    client: httpx.AsyncClient,
    restaurant_ids: list[str],
    *,
    name: str = "Auckland Outbound Q4",
    auto_start: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    response = await client.post(
        "/api/registration-batches",
        json={"name": name, "restaurant_ids": restaurant_ids, "auto_start": auto_start, **extra},
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def progress(client: httpx.AsyncClient, batch_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/registration-batches/{batch_id}/progress")
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def jobs_at(
    client: httpx.AsyncClient, batch_id: str, step: int, status: str, count: int
) -> Callable[[], Awaitable[bool]]:
    """A condition: `count` jobs of the batch have step `step` in `status`."""

    async def check() -> bool:
        detail = (await client.get(f"/api/registration-batches/{batch_id}")).json()
        return detail["step_summary"][f"step_{step}"].get(status, 0) == count

    return check


def batch_is(
    client: httpx.AsyncClient, batch_id: str, *statuses: str
) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return (await progress(client, batch_id))["status"] in statuses

    return check


async def assert_counts_match_jobs(database: Database) -> None:
    """On SQLite, the per-batch counts the triggers keep (what the progress poll reads) equal
    the jobs themselves, and so does the latest update. PostgreSQL aggregates the jobs."""
    if not database.is_sqlite:
        return
    counted, job = RegistrationBatchCount, RegistrationJob
    async with database.read() as session:
        kept = {
            (batch_id, status, step): jobs
            for batch_id, status, step, jobs in await session.execute(
                select(counted.batch_id, counted.status, counted.current_step, counted.jobs).where(
                    counted.jobs > 0
                )
            )
        }
        actual = {
            (batch_id, status, step): jobs
            for batch_id, status, step, jobs in await session.execute(
                select(job.batch_id, job.status, job.current_step, func.count()).group_by(
                    job.batch_id, job.status, job.current_step
                )
            )
        }
        kept_latest = await session.scalar(
            select(func.max(counted.last_updated)).where(counted.jobs > 0)
        )
        latest = await session.scalar(select(func.max(job.updated_at)))
    assert kept == actual
    assert kept_latest == latest
