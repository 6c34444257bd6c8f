"""Fixtures for the registrations tests: rate limits off (tests poll), a worker to run stages."""

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from conveyor.config import Settings
from conveyor.database import Database
from conveyor.tasks import Worker
from tests.support import REDIS_URL, make_settings
from tests.tasks.conftest import FAST, running, wait_for

Status = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def settings(database_url: str) -> Settings:
    """The status limit (60 a minute) would stop the tests' polling; test_router.py tests the
    limit with its own app."""
    return make_settings(database_url, redis_url=REDIS_URL, rate_limits_enabled=False)


@pytest.fixture
async def worker(database: Database, settings: Settings) -> AsyncIterator[Worker]:
    async with running(Worker(database, FAST, settings=settings)) as running_worker:
        yield running_worker


async def register(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post("/api/registrations", json=body)
    assert response.status_code == 202, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def settled(
    client: httpx.AsyncClient, registration_id: int, *, within: float = 15.0
) -> dict[str, Any]:
    """The registration's answer once it left PENDING and APPROVED."""
    answer: dict[str, Any] = {}

    async def finished() -> bool:
        nonlocal answer
        answer = (await client.get(f"/api/registrations/{registration_id}")).json()
        return answer["data"]["status"] not in ("PENDING", "APPROVED")

    await wait_for(finished, within=within)
    return answer
