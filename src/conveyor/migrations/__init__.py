"""Alembic migrations shipped inside the package, and the helpers that run them."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from conveyor.database import normalize_url

MIGRATIONS_DIR = Path(__file__).parent


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    config.set_main_option("file_template", "%%(year)d-%%(month).2d-%%(day).2d_%%(slug)s")
    # Percent signs in passwords must survive ConfigParser interpolation.
    config.set_main_option("sqlalchemy.url", normalize_url(database_url).replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database up to `revision` (run outside any event loop)."""
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


def head_revisions() -> frozenset[str]:
    """The revisions the code expects the database to be at."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return frozenset(script.get_heads())


async def current_revisions(connection: AsyncConnection) -> frozenset[str]:
    """The revisions recorded in the database (empty when it was never migrated).

    A plain query rather than Alembic's MigrationContext: the readiness probe calls this, and
    it is several times cheaper.
    """
    try:
        result = await connection.execute(text("SELECT version_num FROM alembic_version"))
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise
        return frozenset()  # no alembic_version table yet
    return frozenset(str(row[0]) for row in result)
