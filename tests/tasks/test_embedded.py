"""`conveyor serve` runs a worker inside the API process in development."""

import asyncio

import httpx

from conveyor.database import Database
from conveyor.main import create_app
from conveyor.tasks import enqueue
from tests.support import make_settings
from tests.tasks import handlers  # noqa: F401 - registers the accept.* tasks
from tests.tasks.conftest import status_is, wait_for


async def test_the_embedded_worker_runs_tasks_and_stops_with_the_app(
    database_url: str, database: Database
) -> None:
    settings = make_settings(
        database_url, embedded_worker=True, worker_poll_interval=0.05, worker_grace_seconds=0.5
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with database.transaction() as session:
            queued = await enqueue(session, "accept.sleep", {"seconds": 0.0})
        await wait_for(status_is(database, queued.id, "succeeded"))
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test"
        ) as client:
            assert (await client.get("/api/v1/health/live")).status_code == 200
        async with database.transaction() as session:
            slow = await enqueue(session, "accept.sleep", {"seconds": 30.0})
        await wait_for(status_is(database, slow.id, "running"))
    # Shutdown released the unfinished task instead of leaving it claimed.
    await wait_for(status_is(database, slow.id, "queued"), within=1)
    assert not any(task.get_name() == "embedded-worker" for task in asyncio.all_tasks())


async def test_production_has_no_embedded_worker_unless_asked(database_url: str) -> None:
    production = make_settings(
        database_url, env="production", secret_key="x" * 32, embedded_worker=None
    )
    assert not production.runs_embedded_worker
    assert make_settings(database_url, embedded_worker=None).runs_embedded_worker
