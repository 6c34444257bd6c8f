"""Fixtures shared by every test: a clean, migrated database and an app bound to it.

The suite runs on SQLite by default. With `CONVEYOR_TEST_DATABASE_URL` set it runs on that
PostgreSQL database instead (a connection failure then fails the run; it never skips), and
with `CONVEYOR_TEST_REDIS_URL` set, Redis-backed features use that server.
"""

import asyncio
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from conveyor import migrations
from conveyor.config import Settings
from conveyor.database import Base, Database
from conveyor.main import create_app, import_all_models
from tests.support import POSTGRES_URL, REDIS_URL, api_key_headers, make_settings

pytest_plugins = ("pytester", "tests.secrets_guard")


def pytest_report_header() -> str:
    backend = "postgresql" if POSTGRES_URL else "sqlite"
    return f"conveyor: database={backend} redis={'yes' if REDIS_URL else 'no'}"


async def _truncate_all(url: str) -> None:
    import_all_models()
    tables = [table.name for table in Base.metadata.sorted_tables]
    if not tables:
        return
    database = Database(url)
    try:
        async with database.transaction() as session:
            quoted = ", ".join(f'"{name}"' for name in tables)
            await session.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
    finally:
        await database.dispose()


async def _reset_postgres_schema(url: str) -> None:
    database = Database(url)
    try:
        async with database.transaction() as session:
            await session.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await session.execute(text("CREATE SCHEMA public"))
    finally:
        await database.dispose()


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database migrated once per run: a SQLite file to copy, or the PostgreSQL database."""
    if POSTGRES_URL:
        asyncio.run(_reset_postgres_schema(POSTGRES_URL))
        migrations.upgrade(POSTGRES_URL)
        return POSTGRES_URL
    template = tmp_path_factory.mktemp("template") / "template.db"
    migrations.upgrade(f"sqlite+aiosqlite:///{template}")
    return str(template)


@pytest.fixture
def database_url(migrated_template: str, tmp_path: Path) -> Iterator[str]:
    """A clean, fully migrated database for one test."""
    if POSTGRES_URL:
        asyncio.run(_truncate_all(POSTGRES_URL))
        yield POSTGRES_URL
        return
    target = tmp_path / "conveyor.db"
    shutil.copyfile(migrated_template, target)
    yield f"sqlite+aiosqlite:///{target}"


@pytest.fixture
def empty_database_url(tmp_path: Path) -> str:
    """A SQLite database that was never migrated."""
    return f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, redis_url=REDIS_URL)


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database(database_url)
    try:
        yield db
    finally:
        await db.dispose()


@pytest.fixture
async def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
async def client(
    app: FastAPI, no_echoed_credentials: Callable[[httpx.Response], Awaitable[None]]
) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://test",
            event_hooks={"response": [no_echoed_credentials]},
        ) as http,
    ):
        yield http


@pytest.fixture
async def admin_client(client: httpx.AsyncClient, database: Database) -> httpx.AsyncClient:
    """`client`, signed in with an API key that has the admin scope."""
    client.headers.update(await api_key_headers(database, "admin", name="admin key"))
    return client
