"""A batch run by real `conveyor worker` processes that are killed in the middle."""

import asyncio
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from conveyor.batches.models import RegistrationJobStep
from conveyor.database import Database
from tests.batches.factories import batch_is, create_batch, create_restaurant, jobs_at
from tests.tasks.conftest import wait_for
from tests.workers import Workers

pytestmark = pytest.mark.slow

RESTAURANTS = 12


@pytest.fixture
def workers(database_url: str, tmp_path: Path) -> Iterator[Workers]:
    pool = Workers(database_url, tmp_path)
    yield pool
    pool.stop_all()


def _worker(workers: Workers) -> object:
    # Slow simulators, so that every kill lands while steps are under way.
    return workers.start(services="batches", concurrency=4, simulator_latency_ms="150")


async def _finished_steps(database: Database) -> int:
    async with database.read() as session:
        query = select(func.count()).where(RegistrationJobStep.status.in_(["completed", "skipped"]))
        return int((await session.execute(query)).scalar_one())


async def _kill_when_more_steps_finish(workers: Workers, database: Database) -> None:
    """Let the running worker finish a few more steps, then SIGKILL it and start another."""
    before = await _finished_steps(database)
    await wait_for(lambda: _more_than(database, before + 2), within=60)
    workers.processes[-1].send_signal(signal.SIGKILL)
    workers.processes[-1].wait(timeout=30)
    _worker(workers)


async def _more_than(database: Database, count: int) -> bool:
    return await _finished_steps(database) > count


async def test_a_batch_completes_after_its_worker_is_killed(
    client: httpx.AsyncClient, database: Database, workers: Workers
) -> None:
    restaurants = [await create_restaurant(client, name=f"Cafe {n}") for n in range(RESTAURANTS)]
    created = await create_batch(client, [r["id"] for r in restaurants], auto_start=True)
    batch_id = created["batch_job"]["id"]
    _worker(workers)
    await _kill_when_more_steps_finish(workers, database)
    await wait_for(jobs_at(client, batch_id, 3, "action_required", RESTAURANTS), within=90)

    rows = (await client.get(f"/api/registration-batches/{batch_id}/steps/3")).json()
    selections = {
        row["job_id"]: {"company_number": row["candidates"][0]["company_number"]}
        for row in rows["restaurants"]
    }
    await client.post(
        f"/api/registration-batches/{batch_id}/steps/3/complete", json={"selections": selections}
    )
    await _kill_when_more_steps_finish(workers, database)
    await wait_for(jobs_at(client, batch_id, 5, "action_required", RESTAURANTS), within=90)
    await client.post(
        f"/api/registration-batches/{batch_id}/steps/5/complete",
        json={"configurations": {}, "apply_defaults_to_remaining": True},
    )
    await asyncio.sleep(0.5)  # let step 6 get under way
    workers.processes[-1].send_signal(signal.SIGKILL)
    _worker(workers)
    await wait_for(batch_is(client, batch_id, "completed", "failed"), within=120)

    detail = (await client.get(f"/api/registration-batches/{batch_id}")).json()
    assert detail["batch_job"]["status"] == "completed", workers.logs()
    assert detail["batch_job"]["completed_restaurants"] == RESTAURANTS
    assert detail["step_summary"]["step_6"]["completed"] == RESTAURANTS
    for row in detail["registration_jobs"]:
        job = (await client.get(f"/api/registration-jobs/{row['id']}")).json()["job"]
        assert job["pumpd_user_id"] is not None
        sub_steps = job["steps"][5]["sub_step_progress"]["sub_steps"]
        assert {state["status"] for state in sub_steps.values()} == {"completed"}
