"""Jobs are durable: a real `conveyor serve` on SQLite restarted between POST and GET."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conveyor.database import Database
from conveyor.reports.client import ReportsClient
from tests.reports.conftest import SESSION
from tests.support import api_key_headers
from tests.workers import Server

pytestmark = pytest.mark.slow


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    started = Server(f"sqlite+aiosqlite:///{tmp_path / 'reports.db'}", tmp_path)
    yield started
    started.kill()


async def test_a_job_survives_a_server_restart_between_post_and_get(server: Server) -> None:
    # First life: no worker, so the job is still queued when the server stops.
    base = server.start(embedded_worker="false")
    database = Database(server.database_url)
    try:
        api_key = (await api_key_headers(database, name="reports frontend"))["X-API-Key"]
    finally:
        await database.dispose()
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        reports = ReportsClient("/api/reports", api_key=api_key, session_id=SESSION, http=http)
        started = await reports.start_generation(
            type="Technical_scope",
            customer_id="cust-001",
            opportunity_id="opp-042",
            section_title="Technology Stack",
        )
        assert not started.busy
    server.stop()

    # Second life: the embedded worker (on by default in development) picks the job up.
    base = server.start(simulator_latency_ms="0")
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        reports = ReportsClient("/api/reports", api_key=api_key, session_id=SESSION, http=http)
        answer = await reports.status(started.job_id)
        assert answer["data"]["job_id"] == started.job_id
        section = await reports.wait(started.job_id)  # the document's backoff: 1 s, 1.5 s, ...
    assert section.section_title == "Technology Stack"
    assert section.markdown.startswith("## Technology Stack\n\nThe technology stack is still")
    server.stop()
    assert "Traceback" not in server.logs()
