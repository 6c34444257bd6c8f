"""The schema comes from the migrations, and the migrations match the models."""

import asyncio
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from conveyor import migrations
from conveyor.database import Base, Database
from conveyor.main import import_all_models
from tests.support import POSTGRES_URL


def _diff(url: str) -> list[Any]:
    import_all_models()

    def compare(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async def run() -> list[Any]:
        database = Database(url)
        try:
            async with database.writer.connect() as connection:
                return await connection.run_sync(compare)
        finally:
            await database.dispose()

    return asyncio.run(run())


def test_models_and_migrations_do_not_drift(database_url: str) -> None:
    assert _diff(database_url) == []


def test_file_names_follow_the_date_slug_convention() -> None:
    names = sorted(path.name for path in (migrations.MIGRATIONS_DIR / "versions").glob("*.py"))
    assert names
    for name in names:
        assert name[:10].count("-") == 2, name
        assert name[10] == "_", name


def test_every_migration_downgrades_and_upgrades_again(empty_database_url: str) -> None:
    url = POSTGRES_URL or empty_database_url
    migrations.upgrade(url)
    migrations.downgrade(url, "base")
    migrations.upgrade(url)

    async def current() -> frozenset[str]:
        database = Database(url)
        try:
            async with database.reader.connect() as connection:
                return await migrations.current_revisions(connection)
        finally:
            await database.dispose()

    assert asyncio.run(current()) == migrations.head_revisions()
    assert _diff(url) == []
