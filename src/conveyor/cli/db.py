"""`conveyor db`: apply and inspect schema migrations."""

import asyncio
import re
from datetime import UTC, datetime

import typer
from alembic import command
from alembic.util import CommandError
from rich.console import Console
from sqlalchemy.exc import SQLAlchemyError

from conveyor import migrations
from conveyor.cli.common import CliError, database_error, load_settings
from conveyor.database import Database

app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
console = Console()


@app.command()
def upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    settings = load_settings()
    try:
        migrations.upgrade(settings.database_url, revision)
    except (SQLAlchemyError, OSError, CommandError) as exc:
        raise CliError(f"could not migrate the database: {database_error(exc)}") from None
    console.print(f"database is at {', '.join(sorted(migrations.head_revisions()))}")


@app.command()
def current() -> None:
    """Show the database's revision and whether it is up to date."""
    settings = load_settings()

    async def read() -> frozenset[str]:
        database = Database(settings.database_url)
        try:
            async with database.reader.connect() as connection:
                return await migrations.current_revisions(connection)
        finally:
            await database.dispose()

    try:
        revisions = asyncio.run(read())
    except (SQLAlchemyError, OSError) as exc:
        raise CliError(f"could not read the database: {database_error(exc)}") from None
    heads = migrations.head_revisions()
    shown = ", ".join(sorted(revisions)) or "(none: never migrated)"
    state = "up to date" if revisions == heads else f"pending; latest is {', '.join(sorted(heads))}"
    console.print(f"{shown} ({state})")


@app.command()
def revision(
    message: str = typer.Argument(..., help='What the migration does, e.g. "add task table".'),
    autogenerate: bool = typer.Option(
        False, "--autogenerate", help="Diff the models against the (migrated) database."
    ),
) -> None:
    """Write a new migration file named YYYY-MM-DD_slug."""
    settings = load_settings()
    slug = re.sub(r"[^a-z0-9]+", "_", message.lower()).strip("_")
    if not slug:
        raise CliError("the message must contain letters or digits")
    rev_id = f"{datetime.now(UTC):%Y%m%d}_{slug}"
    try:
        script = command.revision(
            migrations.alembic_config(settings.database_url),
            message=message,
            autogenerate=autogenerate,
            rev_id=rev_id,
        )
    except (SQLAlchemyError, OSError, CommandError) as exc:
        raise CliError(f"could not write the migration: {database_error(exc)}") from None
    path = getattr(script, "path", None)
    console.print(f"wrote {path}" if path else f"wrote revision {rev_id}")
