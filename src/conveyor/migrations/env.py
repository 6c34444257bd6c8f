"""Alembic environment: runs migrations over Conveyor's own async engines."""

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from conveyor.database import Base, Database
from conveyor.main import import_all_models

import_all_models()
config = context.config
target_metadata = Base.metadata


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        # SQLite runs DDL inside transactions too once SQLAlchemy emits BEGIN itself, so a
        # failed migration leaves nothing half-applied on either backend.
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_online() -> None:
    database = Database(config.get_main_option("sqlalchemy.url") or "")
    try:
        async with database.writer.connect() as connection:
            await connection.run_sync(run_migrations)
            await connection.commit()
    finally:
        await database.dispose()


if context.is_offline_mode():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(run_online())
