"""`conveyor users`: create and list accounts from the shell."""

import asyncio
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from conveyor.auth import service
from conveyor.auth.models import Role, User
from conveyor.cli.common import CliError, load_settings
from conveyor.database import Database
from conveyor.errors import AppError

app = typer.Typer(help="User accounts: create, list.", no_args_is_help=True)
console = Console()
T = TypeVar("T")


def _run(work: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(work)
    except AppError as exc:
        raise CliError(exc.message) from None
    except (SQLAlchemyError, OSError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise CliError(f"could not use the database: {reason}") from None


@app.command()
def create(
    email: str,
    password: str | None = typer.Option(None, help="The password (prefer --password-stdin)."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read it from stdin."),
    name: str | None = typer.Option(None, help="Display name (default: the email)."),
    admin: bool = typer.Option(False, "--admin", help="May do everything."),
    operator: bool = typer.Option(False, "--operator", help="Runs batches and routing."),
    signup_complete: bool = typer.Option(
        False, "--signup-complete", help="Mark the profile complete (restaurant owners, 003)."
    ),
) -> None:
    """Create a user."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    if not password:
        raise CliError("give a password with --password or --password-stdin")
    if len(password) < 8:
        raise CliError("the password must have at least 8 characters")
    roles = [Role.USER] + [Role.ADMIN] * admin + [Role.OPERATOR] * operator
    settings = load_settings()

    async def work() -> User:
        database = Database(settings.database_url)
        try:
            async with database.transaction() as session:
                return await service.create_user(
                    session,
                    email=email,
                    password=password,
                    name=name or email,
                    roles=roles,
                    signup_completed=signup_complete,
                )
        finally:
            await database.dispose()

    user = _run(work())
    console.print(f"created user {user.email} ({', '.join(user.roles)}) with id {user.id}")


@app.command("list")
def list_users(limit: int = typer.Option(100, min=1, max=1000)) -> None:
    """The users, oldest first."""
    settings = load_settings()

    async def work() -> list[User]:
        database = Database(settings.database_url)
        try:
            async with database.read() as session:
                return await service.list_users(session, limit=limit)
        finally:
            await database.dispose()

    users = _run(work())
    table = Table(title=f"{len(users)} users")
    for column in ("email", "name", "roles", "signup completed", "active", "id"):
        table.add_column(column)
    for user in users:
        table.add_row(
            user.email,
            user.name,
            ", ".join(user.roles),
            "yes" if user.signup_completed else "no",
            "yes" if user.active else "no",
            str(user.id),
        )
    console.print(table)
