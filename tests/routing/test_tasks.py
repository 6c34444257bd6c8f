"""Syncing routings on the engine: mock provider, retries, the dead letter, replay, completion."""

import uuid
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import select, update

from conveyor.config import Settings
from conveyor.database import Database
from conveyor.kit.clock import utcnow
from conveyor.routing import service
from conveyor.routing.models import JobRouting
from conveyor.tasks import Task, TaskStatus, Worker
from tests.routing.factories import create_company, create_technician, job_body
from tests.support import make_settings
from tests.tasks.conftest import FAST, running, wait_for


async def _routed_job(client: httpx.AsyncClient) -> tuple[str, dict[str, str]]:
    requester = await create_company(client, name="Finder Co")
    technician = await create_technician(client, requester["id"])
    plumber = await create_company(client, name="Pipe Pros", skills={"plumbing": "expert"})
    job = await client.post("/api/v1/jobs/", json=job_body(requester["id"], technician["id"]))
    assert job.status_code == 201, job.text
    return job.json()["id"], {"requester": requester["id"], "plumber": plumber["id"]}


async def _routing(client: httpx.AsyncClient, job_id: str) -> dict[str, object]:
    (routing,) = (await client.get(f"/api/v1/jobs/{job_id}/routings")).json()
    return routing  # type: ignore[no-any-return]


async def _sync_task(database: Database) -> Task:
    async with database.read() as session:
        return (await session.execute(select(Task).where(Task.name == "routing.sync"))).scalar_one()


def _fast_mock(database_url: str, **overrides: object) -> Settings:
    return make_settings(database_url, mock_pos_latency_ms=0, **overrides)


async def test_the_worker_syncs_a_routing_to_the_mock_point_of_sale(
    client: httpx.AsyncClient, database: Database, database_url: str
) -> None:
    job_id, _ = await _routed_job(client)
    async with running(Worker(database, FAST, settings=_fast_mock(database_url))):
        await wait_for(lambda: _status_is(client, job_id, "synced"))
    routing = await _routing(client, job_id)
    assert str(routing["external_id"]).startswith("mock-")
    assert routing["retry_count"] == 0
    assert routing["error_message"] is None
    assert routing["last_synced_at"] is not None
    assert routing["last_sync_attempt"] is not None
    assert (await _sync_task(database)).status == TaskStatus.SUCCEEDED


async def _status_is(client: httpx.AsyncClient, job_id: str, status: str) -> bool:
    return (await _routing(client, job_id))["sync_status"] == status


async def test_retries_then_failed_then_replayed_to_synced(
    admin_client: httpx.AsyncClient, database: Database, database_url: str
) -> None:
    job_id, _ = await _routed_job(admin_client)
    failing = _fast_mock(database_url, mock_pos_failure_rate=1.0)
    async with running(Worker(database, FAST, settings=failing)) as worker:
        while (task := await _sync_task(database)).status != TaskStatus.DEAD:
            if task.status == TaskStatus.QUEUED and task.attempts > 0:
                routing = await _routing(admin_client, job_id)
                assert routing["sync_status"] == "pending"
                assert routing["retry_count"] == task.attempts
                async with database.transaction() as session:  # skip the backoff wait
                    await session.execute(update(Task).values(run_at=utcnow()))
                worker.wake()
            await wait_for(lambda: _changed(database, task), within=10)
    routing = await _routing(admin_client, job_id)
    assert routing["sync_status"] == "failed"
    assert routing["retry_count"] == 6
    assert "refused the booking (attempt 6)" in str(routing["error_message"])
    assert routing["external_id"] is None

    replayed = await admin_client.post(f"/api/v1/admin/tasks/{task.id}/replay")
    assert replayed.json()["status"] == "queued"
    async with running(Worker(database, FAST, settings=_fast_mock(database_url))):
        await wait_for(lambda: _status_is(admin_client, job_id, "synced"))
    assert (await _routing(admin_client, job_id))["error_message"] is None


async def _changed(database: Database, before: Task) -> bool:
    now = await _sync_task(database)
    return (now.status, now.attempts) != (before.status, before.attempts)


async def test_completed_work_completes_the_routing_and_the_job(
    client: httpx.AsyncClient, database: Database, database_url: str
) -> None:
    job_id, _ = await _routed_job(client)
    settings = _fast_mock(database_url, mock_pos_completion_minutes=0)
    async with running(Worker(database, FAST, settings=settings)):
        await wait_for(lambda: _status_is(client, job_id, "synced"))
    assert await service.check_completions(database, settings) == 1
    job = (await client.get(f"/api/v1/jobs/{job_id}")).json()
    assert job["status"] == "completed"
    assert 100 <= job["revenue"] <= 2000
    assert Decimal(str(job["revenue"])) == Decimal(str(job["revenue"])).quantize(Decimal("0.01"))
    assert job["completed_at"] is not None
    assert (await _routing(client, job_id))["sync_status"] == "completed"
    assert await service.check_completions(database, settings) == 0


async def test_sync_now_routes_a_new_company_and_refuses_the_requester(
    client: httpx.AsyncClient, database: Database
) -> None:
    job_id, companies = await _routed_job(client)
    newcomer = await create_company(client, name="Late Plumbing", skills={"roofing": "basic"})
    synced = await client.post(f"/api/v1/jobs/{job_id}/sync", json={"company_id": newcomer["id"]})
    assert synced.status_code == 200, synced.text
    body = synced.json()
    assert body["company_id_received"] == newcomer["id"]
    assert body["sync_status"] == "synced"
    assert body["external_id"].startswith("mock-")
    again = await client.post(f"/api/v1/jobs/{job_id}/sync", json={"company_id": newcomer["id"]})
    assert again.json()["id"] == body["id"]
    assert again.json()["external_id"] == body["external_id"]
    own = await client.post(
        f"/api/v1/jobs/{job_id}/sync", json={"company_id": companies["requester"]}
    )
    assert own.status_code == 400
    assert own.json()["error_code"] == "VALIDATION_ERROR"
    ghost = str(uuid.uuid4())
    unknown = await client.post(f"/api/v1/jobs/{job_id}/sync", json={"company_id": ghost})
    assert unknown.status_code == 404
    async with database.read() as session:
        count = len((await session.execute(select(JobRouting))).scalars().all())
    assert count == 2


@pytest.mark.parametrize("rate", [0.0, 0.5])
async def test_the_simulator_is_deterministic(rate: float) -> None:
    from conveyor.routing.providers import Booking, MockPointOfSale, ProviderError

    async def outcomes() -> list[bool]:
        mock = MockPointOfSale(latency=0, failure_rate=rate)
        results = []
        for n in range(40):
            booking = Booking(str(uuid.UUID(int=n)), "s", "st", "c", "IL", "62701", "J", None, None)
            try:
                await mock.book(booking)
                results.append(True)
            except ProviderError:
                results.append(False)
        return results

    first, second = await outcomes(), await outcomes()
    assert first == second
    failures = first.count(False)
    assert (failures == 0) if rate == 0 else (8 <= failures <= 32)
