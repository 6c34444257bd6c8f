"""Engines, sessions and portable column types for SQLite (WAL) and PostgreSQL.

SQLite allows one writer at a time. Every write goes through a single pooled writer
connection that opens its transactions with `BEGIN IMMEDIATE`, so a transaction takes the
write lock up front instead of failing with "database is locked" when a deferred read
upgrades to a write; reads use a separate pool of read-only connections. On PostgreSQL both
roles share one engine.
"""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import JSON, DateTime, MetaData, Uuid, event, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator

from conveyor.kit.clock import utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite stores no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")
"""JSON on SQLite, JSONB on PostgreSQL."""


class Base(DeclarativeBase):
    """Declarative base for every table; constraint names follow `NAMING_CONVENTION`."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: UTCDateTime(),
        uuid.UUID: Uuid(),
        dict[str, Any]: JSONType,
        list[Any]: JSONType,
    }


class TimestampMixin:
    """`created_at` and `updated_at`, set by the application clock."""

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def normalize_url(url: str) -> str:
    """Pick the async driver for plain `sqlite://` and `postgresql://` URLs."""
    parsed = make_url(url)
    driver = {
        "sqlite": "sqlite+aiosqlite",
        "postgresql": "postgresql+asyncpg",
        "postgres": "postgresql+asyncpg",
    }.get(parsed.drivername)
    if driver is not None:
        parsed = parsed.set(drivername=driver)
    return parsed.render_as_string(hide_password=False)


def is_sqlite_url(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _is_memory(url: str) -> bool:
    return make_url(url).database in (None, "", ":memory:")


def _sqlite_engine(url: str, *, busy_timeout_ms: int, writer: bool, echo: bool) -> AsyncEngine:
    # One writer connection serialises writes inside this process; other processes wait on
    # busy_timeout. Readers never take the write lock, so they get a small pool. An in-memory
    # database exists only inside its one connection, which then plays both roles.
    pool: dict[str, Any] = (
        {}
        if _is_memory(url)
        else {"pool_size": 1 if writer else 4, "max_overflow": 0, "pool_timeout": 60}
    )
    engine = create_async_engine(url, echo=echo, **pool)
    begin = "BEGIN IMMEDIATE" if writer else "BEGIN"

    @event.listens_for(engine.sync_engine, "connect")
    def _configure(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when a transaction begins.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        if not writer:
            cursor.execute("PRAGMA query_only = ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)

    return engine


class Database:
    """The engines and session factories of one process (API, worker or CLI)."""

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        busy_timeout_ms: int = 5000,
        pool_size: int = 10,
        pre_ping: bool = True,
    ) -> None:
        self.url = normalize_url(url)
        self.is_sqlite = is_sqlite_url(self.url)
        if self.is_sqlite:
            self.writer = _sqlite_engine(
                self.url, busy_timeout_ms=busy_timeout_ms, writer=True, echo=echo
            )
            self.reader = (
                self.writer
                if _is_memory(self.url)
                else _sqlite_engine(
                    self.url, busy_timeout_ms=busy_timeout_ms, writer=False, echo=echo
                )
            )
        else:
            self.writer = create_async_engine(
                self.url,
                echo=echo,
                # Up to 2 x pool_size connections, each kept once opened: an overflow
                # connection is closed on its return, so a worker running more handlers than
                # pool_size opened one per task or so (a new backend costs PostgreSQL about
                # 5 ms of CPU, and every statement is prepared again on it).
                pool_size=2 * pool_size,
                max_overflow=0,
                # A ping per checkout costs a round trip; the worker (which retries on its own)
                # turns it off, the API keeps it to survive database restarts.
                pool_pre_ping=pre_ping,
                # Short OLTP queries: JIT compiling one costs more than running it (a matching
                # query over 100,000 companies spent 60-1,600 ms compiling, 30 ms running).
                connect_args={"server_settings": {"jit": "off"}},
            )
            self.reader = self.writer
        self.write_sessions = async_sessionmaker(self.writer, expire_on_commit=False)
        self.read_sessions = async_sessionmaker(self.reader, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.writer.dialect.name

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A write session that commits when the block succeeds and rolls back otherwise."""
        async with self.write_sessions() as session:
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise
            await session.commit()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read-only session; on SQLite it never waits for the writer.

        Closing (not rolling back) ends its transaction, so loaded objects stay readable.
        """
        async with self.read_sessions() as session:
            yield session

    async def ping(self) -> None:
        async with self.reader.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.writer.dispose()
        if self.reader is not self.writer:
            await self.reader.dispose()


def _database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


CurrentDatabase = Annotated[Database, Depends(_database)]
"""The app's database, for handlers that open their own short transactions."""


async def _write_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with _database(request).transaction() as session:
        yield session


async def _read_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with _database(request).read() as session:
        yield session


# scope="function": the transaction commits before the response is sent, so a client that
# polls right after a 201/202 always finds what it was promised.
WriteSession = Annotated[AsyncSession, Depends(_write_session, scope="function")]
"""The request's write transaction; committed by the edge when the handler succeeds."""

ReadSession = Annotated[AsyncSession, Depends(_read_session, scope="function")]
"""A read-only session for handlers that change nothing."""
