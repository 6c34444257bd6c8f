"""The `conveyor` command line: serve, db and the groups each package adds."""

import sys

import typer
from pydantic import ValidationError
from rich.console import Console

from conveyor import __version__
from conveyor.cli import api_keys as api_keys_commands
from conveyor.cli import batches as batches_commands
from conveyor.cli import db as db_commands
from conveyor.cli import tasks as tasks_commands
from conveyor.cli import users as users_commands
from conveyor.cli import webhooks as webhooks_commands
from conveyor.cli.common import CliError
from conveyor.cli.demo import demo
from conveyor.cli.serve import serve
from conveyor.cli.worker import worker

app = typer.Typer(
    name="conveyor",
    help="Conveyor: asynchronous registration and job workflows.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command()(serve)
app.command()(worker)
app.command()(demo)
app.add_typer(db_commands.app, name="db")
app.add_typer(tasks_commands.app, name="tasks")
app.add_typer(users_commands.app, name="users")
app.add_typer(api_keys_commands.app, name="api-keys")
app.add_typer(webhooks_commands.app, name="webhooks")
app.add_typer(batches_commands.app, name="batches")


@app.command()
def version() -> None:
    """Print the installed version."""
    typer.echo(__version__)


def main() -> None:
    """Entry point: user mistakes print one line and exit non-zero, never a traceback."""
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        app(standalone_mode=True)
    except CliError as exc:
        err.print(f"[bold red]error:[/] {exc}")
        sys.exit(exc.exit_code)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        err.print(f"[bold red]error:[/] invalid settings: {problems}")
        sys.exit(2)
