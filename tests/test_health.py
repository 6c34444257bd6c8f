"""The four health endpoints of document 004, and the probes' failure answers."""

import re

import httpx
from fastapi import FastAPI

from conveyor import __version__
from conveyor.config import Settings
from conveyor.main import create_app
from conveyor.module import Module
from tests.support import REDIS_URL, make_settings

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


async def test_basic_health(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert body["version"] == __version__
    assert TIMESTAMP.match(body["timestamp"])


async def test_liveness_and_readiness(client: httpx.AsyncClient) -> None:
    live = await client.get("/api/v1/health/live")
    assert live.status_code == 200
    assert live.json()["status"] == "alive"
    ready = await client.get("/api/v1/health/ready")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    assert TIMESTAMP.match(ready.json()["timestamp"])


async def test_detailed_reports_each_component(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/health/detailed")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    database = body["components"]["database"]
    assert database["status"] == "healthy"
    assert re.match(r"^\d+ms$", database["response_time"])
    redis = body["components"]["redis"]
    if REDIS_URL:
        assert redis["status"] == "healthy"
        assert re.match(r"^\d+ms$", redis["response_time"])
    else:
        assert redis == {"status": "not_configured"}
    assert body["components"]["external_apis"] == {
        "status": "healthy",
        "providers": {"servicetitan": "healthy", "mock": "healthy"},  # 004's point of sale
    }


async def _client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_provider_checks_from_modules_are_reported(settings: Settings) -> None:
    async def up() -> bool:
        return True

    async def down() -> bool:
        raise ConnectionError("provider unreachable")

    app = create_app(
        settings, extra_modules=[Module(name="probe", health_checks={"good": up, "bad": down})]
    )
    async with app.router.lifespan_context(app), await _client_for(app) as client:
        response = await client.get("/api/v1/health/detailed")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["components"]["external_apis"] == {
        "status": "degraded",
        "providers": {
            "servicetitan": "healthy",
            "mock": "healthy",
            "bad": "unhealthy",
            "good": "healthy",
        },
    }


async def test_unreachable_redis_degrades(database_url: str) -> None:
    app = create_app(make_settings(database_url, redis_url="redis://127.0.0.1:1/0"))
    async with app.router.lifespan_context(app), await _client_for(app) as client:
        response = await client.get("/api/v1/health/detailed")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["components"]["redis"]["status"] == "unhealthy"


async def test_ready_is_503_while_migrations_are_pending(empty_database_url: str) -> None:
    app = create_app(make_settings(empty_database_url))
    async with app.router.lifespan_context(app), await _client_for(app) as client:
        response = await client.get("/api/v1/health/ready")
    assert response.status_code == 503
    assert response.json()["status"] == "not_ready"
    assert "migrations are pending" in response.json()["reason"]


async def test_unreachable_database_is_not_ready_and_unhealthy() -> None:
    # (A SQLite path that cannot be opened would do too, but aiosqlite then finishes closing
    # its thread after the test's event loop is gone, which pytest reports as an error.)
    app = create_app(make_settings("postgresql+asyncpg://nobody@127.0.0.1:1/none"))
    async with app.router.lifespan_context(app), await _client_for(app) as client:
        ready = await client.get("/api/v1/health/ready")
        detailed = await client.get("/api/v1/health/detailed")
        live = await client.get("/api/v1/health/live")
    assert ready.status_code == 503
    assert ready.json()["reason"] == "database is unreachable"
    assert detailed.status_code == 503
    assert detailed.json()["status"] == "unhealthy"
    assert detailed.json()["components"]["database"]["status"] == "unhealthy"
    assert live.status_code == 200


async def test_docs_and_openapi_are_served(client: httpx.AsyncClient) -> None:
    assert "swagger-ui" in (await client.get("/docs")).text
    assert "redoc" in (await client.get("/redoc")).text.lower()
    schema = (await client.get("/openapi.json")).json()
    assert "/api/v1/health/detailed" in schema["paths"]
