"""`conveyor tasks`: see and repair background tasks from the shell."""

from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from conveyor import tasks
from conveyor.cli.common import CliError, in_session

app = typer.Typer(help="Background tasks: list, show, replay, stats.", no_args_is_help=True)
console = Console()
T = TypeVar("T")


def _with_session(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    try:
        return in_session(work)
    except tasks.TaskNotFound as exc:
        raise CliError(f"no task with id {exc.args[0]}") from None
    except tasks.InvalidTransition as exc:
        raise CliError(str(exc)) from None


def _when(value: object) -> str:
    return "" if value is None else f"{value:%Y-%m-%d %H:%M:%S}"


@app.command("list")
def list_tasks(
    status: tasks.TaskStatus | None = typer.Option(None, help="Only tasks in this status."),
    name: str | None = typer.Option(None, help="Only tasks with this name."),
    limit: int = typer.Option(20, min=1, max=1000),
) -> None:
    """The newest tasks."""
    items, total = _with_session(
        lambda session: tasks.list_tasks(session, status=status, name=name, limit=limit)
    )
    table = Table(title=f"{len(items)} of {total} tasks")
    for column in ("id", "name", "queue", "status", "attempts", "run at", "finished at"):
        table.add_column(column)
    for item in items:
        table.add_row(
            str(item.id),
            item.name,
            item.queue,
            item.status.value,
            f"{item.attempts}/{item.max_attempts}",
            _when(item.run_at),
            _when(item.finished_at),
        )
    console.print(table)


@app.command()
def show(task_id: int) -> None:
    """One task in full, with its last error."""
    item = _with_session(lambda session: tasks.get(session, task_id))
    for field in (
        "id", "name", "queue", "status", "priority", "attempts", "max_attempts", "key",
        "payload", "run_at", "locked_by", "locked_until", "cancel_requested", "created_at",
        "started_at", "finished_at",
    ):  # fmt: skip
        value = getattr(item, field)
        console.print(f"[bold]{field}[/]: {getattr(value, 'value', value)}", highlight=False)
    if item.last_error:
        console.print("[bold]last_error[/]:")
        console.print(item.last_error, highlight=False, markup=False)


@app.command()
def replay(task_id: int) -> None:
    """Put a dead (or cancelled) task back in its queue with fresh attempts."""
    item = _with_session(lambda session: tasks.replay(session, task_id))
    console.print(f"task {item.id} ({item.name}) is queued again")


@app.command()
def stats() -> None:
    """Task counts by queue, name and status."""
    rows = _with_session(tasks.stats)
    table = Table(title="tasks")
    for column in ("queue", "name", "status", "count"):
        table.add_column(column)
    for queue, name, status, count in sorted(rows):
        table.add_row(queue, name, status, str(count))
    console.print(table)
