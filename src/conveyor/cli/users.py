"""`conveyor users`: create and list accounts from the shell."""

import sys

import typer
from rich.console import Console
from rich.table import Table

from conveyor.auth import service
from conveyor.auth.models import Role
from conveyor.cli.common import CliError, in_session

app = typer.Typer(help="User accounts: create, list.", no_args_is_help=True)
console = Console()


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
    user = in_session(
        lambda session: service.create_user(
            session,
            email=email,
            password=password,
            name=name or email,
            roles=roles,
            signup_completed=signup_complete,
        )
    )
    console.print(f"created user {user.email} ({', '.join(user.roles)}) with id {user.id}")


@app.command("list")
def list_users(limit: int = typer.Option(100, min=1, max=1000)) -> None:
    """The users, oldest first."""
    users = in_session(lambda session: service.list_users(session, limit=limit), write=False)
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
