"""Rate limits: per caller, named, configurable, shared through Redis, and refused in format."""

import time
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
import pytest
from fastapi import Depends

from conveyor.auth.policies import OPEN
from conveyor.config import Settings
from conveyor.database import Database
from conveyor.errors import PLATFORM, NotFoundError
from conveyor.main import create_app
from conveyor.module import Module
from conveyor.ratelimit import RateLimit
from tests.support import REDIS_URL, api_key_headers, make_settings

PING_LIMIT = RateLimit("test.ping", "3/minute")


def _ping_module() -> Module:
    router = PLATFORM.router("/api/test", dependencies=[Depends(OPEN), Depends(PING_LIMIT)])

    @router.get("/ping")
    async def ping() -> dict[str, bool]:
        return {"pong": True}

    @router.get("/pings/{number}")
    async def one_ping(number: int) -> dict[str, bool]:
        raise NotFoundError(f"Ping {number} not found")

    return Module(name="ping", routers=[router])


@asynccontextmanager
async def _clients(*all_settings: Settings) -> AsyncIterator[Sequence[httpx.AsyncClient]]:
    async with AsyncExitStack() as stack:
        clients = []
        for settings in all_settings:
            app = create_app(settings, extra_modules=[_ping_module()])
            await stack.enter_async_context(app.router.lifespan_context(app))
            transport = httpx.ASGITransport(app=app)
            clients.append(
                await stack.enter_async_context(
                    httpx.AsyncClient(transport=transport, base_url="http://test")
                )
            )
        yield clients


async def test_a_caller_over_its_limit_gets_429_in_the_surface_format(settings: Settings) -> None:
    async with _clients(settings) as (client,):
        answers = [await client.get("/api/test/ping") for _ in range(4)]
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    assert [answer.headers["X-RateLimit-Remaining"] for answer in answers] == ["2", "1", "0", "0"]
    assert {answer.headers["X-RateLimit-Limit"] for answer in answers} == {"3"}
    reset = int(answers[0].headers["X-RateLimit-Reset"])
    assert time.time() < reset <= time.time() + 61
    refused = answers[3]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    body = refused.json()
    assert body["error_code"] == "RATE_LIMIT_EXCEEDED"
    assert body["detail"].startswith("Too many requests; try again in")


async def test_error_answers_carry_the_headers_and_count(settings: Settings) -> None:
    async with _clients(settings) as (client,):
        missing = await client.get("/api/test/pings/7")
        invalid = await client.get("/api/test/pings/seven")
        fine = await client.get("/api/test/ping")
    assert (missing.status_code, invalid.status_code, fine.status_code) == (404, 422, 200)
    assert [answer.headers.get("X-RateLimit-Remaining") for answer in (missing, invalid, fine)] == [
        "2",
        "1",
        "0",
    ]
    assert missing.headers["X-RateLimit-Limit"] == "3"
    assert int(missing.headers["X-RateLimit-Reset"]) > time.time()


async def test_callers_are_counted_by_api_key_else_by_address(
    settings: Settings, database: Database
) -> None:
    first, second = await api_key_headers(database), await api_key_headers(database)
    async with _clients(settings) as (client,):
        for _ in range(3):
            assert (await client.get("/api/test/ping", headers=first)).status_code == 200
        assert (await client.get("/api/test/ping", headers=first)).status_code == 429
        assert (await client.get("/api/test/ping", headers=second)).status_code == 200
        assert (await client.get("/api/test/ping")).status_code == 200


async def test_limits_are_overridden_by_name_or_switched_off(database_url: str) -> None:
    tighter = make_settings(database_url, rate_limits={"test.ping": "1/hour"})
    off = make_settings(database_url, rate_limits_enabled=False)
    async with _clients(tighter, off) as (limited, unlimited):
        assert (await limited.get("/api/test/ping")).status_code == 200
        refused = await limited.get("/api/test/ping")
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) > 60
        answers = [await unlimited.get("/api/test/ping") for _ in range(5)]
    assert {answer.status_code for answer in answers} == {200}
    assert all("X-RateLimit-Limit" not in answer.headers for answer in answers)


def test_a_malformed_override_is_refused_at_start(database_url: str) -> None:
    with pytest.raises(ValueError, match=r"'test\.ping': 'lots' is not like"):
        make_settings(database_url, rate_limits={"test.ping": "lots"})


async def test_sign_in_has_its_own_strict_limit(client: httpx.AsyncClient) -> None:
    form = {"username": "nobody@example.com", "password": "wrong password"}
    answers = [await client.post("/api/v1/auth/token", data=form) for _ in range(11)]
    assert [answer.status_code for answer in answers] == [401] * 10 + [429]


@pytest.mark.skipif(not REDIS_URL, reason="needs CONVEYOR_TEST_REDIS_URL")
async def test_two_app_instances_share_one_budget_through_redis(database_url: str) -> None:
    shared = make_settings(database_url, redis_url=REDIS_URL)
    async with _clients(shared, shared) as (one, other):
        assert (await one.get("/api/test/ping")).status_code == 200
        assert (await other.get("/api/test/ping")).status_code == 200
        assert (await one.get("/api/test/ping")).status_code == 200
        refused = await other.get("/api/test/ping")
    assert refused.status_code == 429


async def test_requests_go_through_when_redis_is_unreachable(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    unreachable = make_settings(database_url, redis_url="redis://127.0.0.1:9/0")
    async with _clients(unreachable) as (client,):
        answers = [await client.get("/api/test/ping") for _ in range(4)]
    assert {answer.status_code for answer in answers} == {200}
    assert "rate_limit_unavailable" in capsys.readouterr().err
