"""`conveyor batches`: follow a registration batch from the shell."""

import asyncio
import uuid
from dataclasses import dataclass

import typer
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from conveyor.batches import service as batches_service
from conveyor.batches.pipeline import STEPS, BatchStatus, StepStatus, step
from conveyor.batches.schemas import Progress
from conveyor.cli.common import CliError, with_database
from conveyor.database import Database

app = typer.Typer(help="Registration batches: watch one run.", no_args_is_help=True)
console = Console(highlight=False)


@dataclass(frozen=True)
class Snapshot:
    progress: Progress
    steps: dict[str, dict[str, int]]

    def done(self, number: int) -> int:
        """Jobs past step `number`: completed it, or had no need of it."""
        counts = self.steps[f"step_{number}"]
        return counts.get(StepStatus.COMPLETED, 0) + counts.get(StepStatus.SKIPPED, 0)


async def snapshot(database: Database, batch_id: uuid.UUID) -> Snapshot:
    async with database.read() as session:
        try:
            found = await batches_service.progress(session, batch_id)
        except batches_service.BatchNotFound:
            raise CliError(f"no batch with id {batch_id}") from None
        return Snapshot(found, await batches_service.step_summary(session, batch_id))


def _restaurants(count: int) -> str:
    return f"{count} restaurant{'' if count == 1 else 's'}"


def outcome(current: Snapshot) -> str | None:
    """Why watching ends (the batch finished, or waits for an operator), or None to go on."""
    status, counts = current.progress.status, current.progress.restaurants_summary
    of_total = f"of {_restaurants(counts.total)}"
    if status == BatchStatus.COMPLETED:
        failed = f", {counts.failed} failed" if counts.failed else ""
        return f"Batch completed: {counts.completed} {of_total} completed{failed}"
    if status == BatchStatus.FAILED:
        return f"Batch failed: {counts.failed} {of_total} failed"
    if status == BatchStatus.CANCELLED:
        return (
            f"Batch cancelled: {counts.completed} {of_total} completed,"
            f" {counts.cancelled} cancelled"
        )
    number = current.progress.step_requiring_action
    if number is not None:
        waiting = current.steps[f"step_{number}"].get(StepStatus.ACTION_REQUIRED, 0)
        return f"Step {number} ({step(number).name}) needs action for {_restaurants(waiting)}"
    return None


def render(current: Snapshot) -> RenderableType:
    """One bar per step (jobs done with it out of the batch's), then the batch's status."""
    total = current.progress.restaurants_summary.total
    bars = Table.grid(padding=(0, 2))
    for item in STEPS:
        done = current.done(item.number)
        bars.add_row(
            Text(f"{item.number} {item.name}"),
            ProgressBar(total=max(total, 1), completed=done, width=40),
            Text(f"{done}/{total}"),
        )
    counts = current.progress.restaurants_summary
    summary = ", ".join(
        f"{count} {status.replace('_', ' ')}"
        for status, count in counts.model_dump(exclude={"total"}).items()
    )
    line = Text.assemble(
        ("status: ", "bold"),
        current.progress.status,
        f"  {current.progress.progress_percent}%  ",
        f"restaurants: {summary} (of {total})",
    )
    return Group(bars, line)


async def _watch(database: Database, batch_id: uuid.UUID, interval: float, once: bool) -> None:
    current = await snapshot(database, batch_id)
    if once:
        console.print(render(current))
    else:
        # Redrawn in place on a terminal; elsewhere (a pipe, a log) only the last frame prints.
        with Live(render(current), console=console, auto_refresh=False) as live:
            while outcome(current) is None:
                await asyncio.sleep(interval)
                current = await snapshot(database, batch_id)
                live.update(render(current), refresh=True)
        if not console.is_terminal:
            console.line()  # Live ends its last frame with a newline only on a terminal
    final = outcome(current)
    if final is not None:
        console.print(final)


@app.command()
def watch(
    batch_id: str = typer.Argument(..., help="The batch's id (a UUID)."),
    interval: float = typer.Option(1.0, min=0.1, help="Seconds between refreshes."),
    once: bool = typer.Option(False, "--once", help="Print one snapshot and exit."),
) -> None:
    """Live progress of a batch, step by step, until it finishes or needs an operator."""
    try:
        parsed = uuid.UUID(batch_id)
    except ValueError:
        raise CliError(f"not a batch id: {batch_id!r} (expected a UUID)", exit_code=2) from None
    try:
        with_database(lambda database: _watch(database, parsed, interval, once))
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
