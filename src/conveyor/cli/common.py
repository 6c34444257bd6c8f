"""What every CLI command shares: settings loading, database sessions and user-facing errors."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from alembic.util import CommandError
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from conveyor import migrations
from conveyor.config import Settings
from conveyor.database import Database
from conveyor.errors import AppError

T = TypeVar("T")


class CliError(Exception):
    """A mistake the user can fix; printed as one line."""

    def __init__(self, message: str, *, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def load_settings() -> Settings:
    """Read settings once; an invalid value becomes a one-line error."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"CONVEYOR_{'.'.join(str(p) for p in e['loc']).upper() or 'SETTINGS'}: {e['msg']}"
            for e in exc.errors()
        )
        raise CliError(f"invalid settings: {problems}", exit_code=2) from None


def database_error(exc: BaseException) -> str:
    """The driver's own first line (e.g. "Connect call failed"), without SQLAlchemy's wrapping."""
    return str(getattr(exc, "orig", None) or exc).splitlines()[0]


def migrate(settings: Settings) -> None:
    """Bring the schema up to date; a database that cannot be reached is a one-line error."""
    try:
        migrations.upgrade(settings.database_url)
    except (SQLAlchemyError, OSError, CommandError) as exc:
        raise CliError(f"could not migrate the database: {database_error(exc)}") from None


def with_database(work: Callable[[Database], Awaitable[T]]) -> T:
    """Run `work` against the configured database, for commands that open several sessions."""
    settings = load_settings()

    async def run() -> T:
        database = Database(settings.database_url)
        try:
            return await work(database)
        finally:
            await database.dispose()

    try:
        return asyncio.run(run())
    except AppError as exc:
        raise CliError(exc.message) from None
    except (SQLAlchemyError, OSError) as exc:
        raise CliError(f"could not use the database: {database_error(exc)}") from None


def in_session(work: Callable[[AsyncSession], Awaitable[T]], *, write: bool = True) -> T:
    """Run `work` in a transaction (or a read session) on the configured database."""

    async def run(database: Database) -> T:
        async with database.transaction() if write else database.read() as session:
            return await work(session)

    return with_database(run)
