"""Engines, sessions and types: the transaction contracts every package relies on."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest
from fastapi import Depends, FastAPI
from sqlalchemy import bindparam, text
from sqlalchemy.dialects import sqlite as sqlite_dialect

from conveyor.auth.policies import OPEN
from conveyor.config import Settings
from conveyor.database import Database, UTCDateTime, WriteSession, normalize_url
from conveyor.errors import PLATFORM, ConflictError
from conveyor.main import create_app
from conveyor.module import Module


@pytest.fixture
async def probe_table(database: Database) -> AsyncIterator[str]:
    """A scratch table for exercising transactions (the real schema comes from migrations)."""
    async with database.transaction() as session:
        await session.execute(text("CREATE TABLE probe (name TEXT, at TIMESTAMP WITH TIME ZONE)"))
    yield "probe"
    async with database.transaction() as session:
        await session.execute(text("DROP TABLE probe"))


async def _count(database: Database, where: str = "1=1") -> int:
    async with database.read() as session:
        return int(
            (await session.execute(text(f"SELECT count(*) FROM probe WHERE {where}"))).scalar_one()
        )


def test_plain_urls_get_async_drivers() -> None:
    assert normalize_url("sqlite:///x.db") == "sqlite+aiosqlite:///x.db"
    assert normalize_url("postgresql://u:p%40ss@h/db") == "postgresql+asyncpg://u:p%40ss@h/db"
    assert normalize_url("postgres://h/db") == "postgresql+asyncpg://h/db"
    assert normalize_url("postgresql+asyncpg://h/db") == "postgresql+asyncpg://h/db"


def test_utc_datetime_refuses_naive_values_and_normalises_offsets() -> None:
    column = UTCDateTime()
    dialect = sqlite_dialect.dialect()
    with pytest.raises(ValueError, match="naive"):
        column.process_bind_param(datetime(2025, 1, 1), dialect)
    plus_two = datetime(2025, 1, 1, 12, tzinfo=timezone(timedelta(hours=2)))
    assert column.process_bind_param(plus_two, dialect) == datetime(2025, 1, 1, 10, tzinfo=UTC)
    restored = column.process_result_value(datetime(2025, 1, 1, 10), dialect)
    assert restored is not None
    assert restored.tzinfo is UTC


async def test_timestamps_round_trip_as_aware_utc(database: Database, probe_table: str) -> None:
    moment = datetime(2025, 8, 27, 18, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    insert = text("INSERT INTO probe (name, at) VALUES ('x', :at)").bindparams(
        bindparam("at", type_=UTCDateTime())
    )
    async with database.transaction() as session:
        await session.execute(insert, {"at": moment})
    async with database.read() as session:
        select = text("SELECT at FROM probe WHERE name = 'x'").columns(at=UTCDateTime())
        value = (await session.execute(select)).scalar_one()
    assert value == moment
    assert value.tzinfo is UTC
    assert value.hour == 16


async def test_rollback_keeps_nothing_and_commit_keeps_everything(
    database: Database, probe_table: str
) -> None:
    async def write_then_fail() -> None:
        async with database.transaction() as session:
            await session.execute(text("INSERT INTO probe (name) VALUES ('lost')"))
            raise RuntimeError("abort")

    with pytest.raises(RuntimeError):
        await write_then_fail()
    async with database.transaction() as session:
        await session.execute(text("INSERT INTO probe (name) VALUES ('kept')"))
    assert await _count(database, "name = 'lost'") == 0
    assert await _count(database, "name = 'kept'") == 1


async def test_concurrent_writers_never_see_database_is_locked(
    database_url: str, probe_table: str
) -> None:
    # Two processes' worth of engines, each with read-then-write transactions: the pattern
    # that fails instantly under SQLite's deferred BEGIN whatever the busy timeout.
    first, second = Database(database_url), Database(database_url)

    async def read_then_write(db: Database, name: str) -> None:
        for _ in range(10):
            async with db.transaction() as session:
                await session.execute(text("SELECT count(*) FROM probe"))
                await asyncio.sleep(0.002)
                await session.execute(text("INSERT INTO probe (name) VALUES (:n)"), {"n": name})

    try:
        await asyncio.gather(
            read_then_write(first, "a"),
            read_then_write(second, "b"),
            read_then_write(first, "c"),
        )
    finally:
        await first.dispose()
        await second.dispose()
    checker = Database(database_url)
    try:
        async with checker.read() as session:
            total = (await session.execute(text("SELECT count(*) FROM probe"))).scalar_one()
    finally:
        await checker.dispose()
    assert total == 30


async def test_sqlite_connections_are_configured(database: Database) -> None:
    if not database.is_sqlite:
        pytest.skip("SQLite pragmas")
    async with database.transaction() as session:
        assert (await session.execute(text("PRAGMA journal_mode"))).scalar_one() == "wal"
        assert (await session.execute(text("PRAGMA foreign_keys"))).scalar_one() == 1
        assert (await session.execute(text("PRAGMA busy_timeout"))).scalar_one() == 5000
    async with database.read() as session:
        assert (await session.execute(text("PRAGMA query_only"))).scalar_one() == 1


def _probe_module() -> Module:
    router = PLATFORM.router(prefix="/probe", dependencies=[Depends(OPEN)])

    @router.post("/{name}", status_code=201)
    async def create(name: str, session: WriteSession) -> dict[str, str]:
        await session.execute(text("INSERT INTO probe (name) VALUES (:n)"), {"n": name})
        if name == "refused":
            raise ConflictError("refused after writing")
        return {"name": name}

    return Module(name="probe", routers=[router])


@pytest.fixture
async def app(settings: Settings) -> FastAPI:
    return create_app(settings, extra_modules=[_probe_module()])


async def test_request_transaction_commits_before_the_response(
    client: httpx.AsyncClient, database: Database, probe_table: str
) -> None:
    response = await client.post("/probe/accepted")
    assert response.status_code == 201
    # The response has been sent, so the write must already be visible to another reader.
    assert await _count(database, "name = 'accepted'") == 1


async def test_request_error_rolls_back_the_request_transaction(
    client: httpx.AsyncClient, database: Database, probe_table: str
) -> None:
    response = await client.post("/probe/refused")
    assert response.status_code == 409
    assert await _count(database, "name = 'refused'") == 0
