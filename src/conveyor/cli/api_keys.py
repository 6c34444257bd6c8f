"""`conveyor api-keys`: create, list and revoke machine credentials."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from conveyor.auth import service
from conveyor.cli.common import CliError, load_settings
from conveyor.database import Database
from conveyor.errors import AppError

app = typer.Typer(help="API keys (header X-API-Key): create, list, revoke.", no_args_is_help=True)
console = Console(stderr=True)
T = TypeVar("T")


def _in_transaction(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    settings = load_settings()

    async def run() -> T:
        database = Database(settings.database_url)
        try:
            async with database.transaction() as session:
                return await work(session)
        finally:
            await database.dispose()

    try:
        return asyncio.run(run())
    except AppError as exc:
        raise CliError(exc.message) from None
    except (SQLAlchemyError, OSError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise CliError(f"could not use the database: {reason}") from None


@app.command()
def create(
    name: str,
    scopes: str = typer.Option("", help="Comma-separated scopes."),
) -> None:
    """Create a key. It is printed once, alone on the last line of standard output."""
    scope_list = [scope.strip() for scope in scopes.split(",") if scope.strip()]
    api_key, plaintext = _in_transaction(
        lambda session: service.create_api_key(session, name=name, scopes=scope_list)
    )
    console.print(f"created API key {api_key.id} ({api_key.name}); it is shown only now:")
    typer.echo(plaintext)


@app.command("list")
def list_keys() -> None:
    """Every key, without secrets."""
    keys = _in_transaction(service.list_api_keys)
    table = Table(title=f"{len(keys)} API keys")
    for column in ("id", "name", "scopes", "created", "last used", "revoked"):
        table.add_column(column)
    for key in keys:
        table.add_row(
            key.id,
            key.name,
            ", ".join(key.scopes),
            f"{key.created_at:%Y-%m-%d %H:%M}",
            f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "",
            f"{key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "",
        )
    Console().print(table)


@app.command()
def revoke(key_id: str) -> None:
    """Revoke a key: it stops working at once."""
    api_key = _in_transaction(lambda session: service.revoke_api_key(session, key_id))
    console.print(f"revoked API key {api_key.id} ({api_key.name})")
