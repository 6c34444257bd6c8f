"""Idempotency-Key: a retried create is answered from the first response, never done twice."""

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from fastapi import Depends
from pydantic import BaseModel
from sqlalchemy import func, select, update

from conveyor import tasks
from conveyor.auth.policies import OPEN
from conveyor.config import Settings
from conveyor.database import Database, WriteSession
from conveyor.errors import PLATFORM
from conveyor.idempotency import IDEMPOTENT, IdempotencyRecord
from conveyor.idempotency.service import prune
from conveyor.kit.clock import utcnow
from conveyor.main import create_app
from conveyor.module import Module
from tests.support import api_key_headers
from tests.tasks import handlers  # noqa: F401 - registers the accept.* tasks

URL = "/api/test/widgets"


class WidgetCreate(BaseModel):
    seconds: float


def _widget_module() -> Module:
    """A POST that creates something (a task) in the request's transaction, and may dawdle."""
    router = PLATFORM.router("/api/test", dependencies=[Depends(OPEN)])

    @router.post("/widgets", status_code=201, dependencies=[Depends(IDEMPOTENT)])
    async def create_widget(body: WidgetCreate, session: WriteSession) -> dict[str, int]:
        enqueued = await tasks.enqueue(session, "accept.sleep", {"seconds": body.seconds})
        await asyncio.sleep(body.seconds)
        return {"id": enqueued.id}

    return Module(name="widgets", routers=[router])


@pytest.fixture
async def widgets(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, extra_modules=[_widget_module()])
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http,
    ):
        yield http


async def _created(database: Database) -> int:
    async with database.read() as session:
        return int((await session.execute(select(func.count()).select_from(tasks.Task))).scalar())


def _key(value: str) -> dict[str, str]:
    return {"Idempotency-Key": value}


async def test_a_retry_gets_the_first_answer_and_creates_nothing(
    widgets: httpx.AsyncClient, database: Database
) -> None:
    first = await widgets.post(URL, json={"seconds": 0}, headers=_key("order-1"))
    retry = await widgets.post(URL, json={"seconds": 0}, headers=_key("order-1"))
    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.headers["content-type"] == "application/json"
    assert "Idempotent-Replayed" not in first.headers
    fresh = await widgets.post(URL, json={"seconds": 0}, headers=_key("order-2"))
    assert fresh.json() != first.json()
    plain = await widgets.post(URL, json={"seconds": 0})
    assert plain.status_code == 201
    assert await _created(database) == 3


async def test_the_same_key_with_another_request_is_422(
    widgets: httpx.AsyncClient, database: Database
) -> None:
    await widgets.post(URL, json={"seconds": 0}, headers=_key("k"))
    reused = await widgets.post(URL, json={"seconds": 0.001}, headers=_key("k"))
    assert reused.status_code == 422
    assert reused.json()["error_code"] == "IDEMPOTENCY_KEY_REUSED"
    assert "POST /api/test/widgets" in reused.json()["detail"]
    assert await _created(database) == 1


async def test_keys_belong_to_one_client(widgets: httpx.AsyncClient, database: Database) -> None:
    one, other = await api_key_headers(database), await api_key_headers(database)
    first = await widgets.post(URL, json={"seconds": 0}, headers={**one, **_key("k")})
    second = await widgets.post(URL, json={"seconds": 0}, headers={**other, **_key("k")})
    assert first.json() != second.json()
    assert await _created(database) == 2


async def test_a_key_still_being_processed_is_409(
    widgets: httpx.AsyncClient, database: Database
) -> None:
    await widgets.post(URL, json={"seconds": 0}, headers=_key("slow"))
    async with database.transaction() as session:  # as if the first answer were not yet stored
        await session.execute(update(IdempotencyRecord).values(status_code=None))
    busy = await widgets.post(URL, json={"seconds": 0}, headers=_key("slow"))
    assert busy.status_code == 409
    assert busy.json()["error_code"] == "IDEMPOTENCY_KEY_IN_USE"
    assert busy.headers["Retry-After"] == "1"
    assert await _created(database) == 1


async def test_concurrent_retries_create_once(
    widgets: httpx.AsyncClient, database: Database
) -> None:
    answers = await asyncio.gather(
        *(widgets.post(URL, json={"seconds": 0.2}, headers=_key("race")) for _ in range(3))
    )
    assert await _created(database) == 1
    created = [answer for answer in answers if answer.status_code == 201]
    assert created
    assert {answer.json()["id"] for answer in created} == {created[0].json()["id"]}
    assert {answer.status_code for answer in answers} <= {201, 409}


async def test_a_failed_request_leaves_its_key_free(
    widgets: httpx.AsyncClient, database: Database
) -> None:
    invalid = await widgets.post(URL, json={"seconds": "soon"}, headers=_key("k"))
    assert invalid.status_code == 422
    assert invalid.json()["error_code"] == "VALIDATION_ERROR"
    assert (await widgets.post(URL, json={"seconds": 0}, headers=_key("k"))).status_code == 201
    assert await _created(database) == 1


async def test_keys_expire_after_a_day(widgets: httpx.AsyncClient, database: Database) -> None:
    first = await widgets.post(URL, json={"seconds": 0}, headers=_key("k"))
    async with database.transaction() as session:
        await session.execute(
            update(IdempotencyRecord).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    again = await widgets.post(URL, json={"seconds": 0}, headers=_key("k"))
    assert again.json() != first.json()
    assert "Idempotent-Replayed" not in again.headers
    async with database.transaction() as session:
        await session.execute(
            update(IdempotencyRecord).values(expires_at=utcnow() - timedelta(seconds=1))
        )
        assert await prune(session) == 1


@pytest.mark.parametrize("key", [b"", b"x" * 256, "naïve".encode()])
async def test_malformed_keys_are_refused(widgets: httpx.AsyncClient, key: bytes) -> None:
    refused = await widgets.post(URL, json={"seconds": 0}, headers={"Idempotency-Key": key})
    assert refused.status_code == 400
    assert "Idempotency-Key must be 1 to 255 printable ASCII characters" in refused.text
