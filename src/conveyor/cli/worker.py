"""`conveyor worker`: a task worker process (as many as you like, on one database)."""

import asyncio
import importlib
import signal

import typer
import uvloop
from prometheus_client import start_http_server
from sqlalchemy.exc import SQLAlchemyError

from conveyor import migrations, tasks
from conveyor.cli.common import CliError, database_error, load_settings
from conveyor.database import Database
from conveyor.main import load_modules, worker_config
from conveyor.observability import configure_logging


async def _run(worker: tasks.Worker) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, worker.stop)
    await worker.run()


async def _check_schema(database: Database) -> None:
    async with database.reader.connect() as connection:
        current = await migrations.current_revisions(connection)
    if current != migrations.head_revisions():
        raise CliError("the database schema is not current: run `conveyor db upgrade` first")


def worker(
    concurrency: int | None = typer.Option(None, min=1, help="Tasks run at once."),
    queues: str | None = typer.Option(None, help="Comma-separated queues (default: all)."),
    imports: list[str] = typer.Option(
        [], "--import", help="Also import this module for its task handlers (repeatable)."
    ),
    metrics_port: int | None = typer.Option(None, help="Serve Prometheus metrics on this port."),
) -> None:
    """Run background tasks until SIGTERM/SIGINT, then finish or release what is running."""
    settings = load_settings()
    configure_logging(level=settings.log_level, json_format=settings.effective_log_format == "json")
    load_modules(settings)
    for name in imports:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise CliError(f"cannot import {name}: {exc}") from None
    config = worker_config(
        settings,
        concurrency=concurrency,
        queues=tuple(q.strip() for q in queues.split(",") if q.strip()) if queues else None,
    )
    if metrics_port is not None:
        start_http_server(metrics_port, addr="127.0.0.1")

    async def main() -> None:
        database = Database(
            settings.database_url,
            busy_timeout_ms=settings.sqlite_busy_timeout_ms,
            pool_size=settings.database_pool_size,
            pre_ping=False,
        )
        try:
            await _check_schema(database)
            await _run(tasks.Worker(database, config, settings=settings))
        finally:
            await database.dispose()

    try:
        uvloop.run(main())
    except (SQLAlchemyError, OSError) as exc:
        raise CliError(f"worker could not use the database: {database_error(exc)}") from None
