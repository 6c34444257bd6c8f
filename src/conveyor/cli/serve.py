"""`conveyor serve`: the HTTP API (migrating the database first in development)."""

import os

import typer
import uvicorn

from conveyor.cli.common import load_settings, migrate
from conveyor.observability import configure_logging


def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to bind."),
    port: int = typer.Option(8000, help="Port to listen on."),
    reload: bool = typer.Option(False, "--reload", help="Restart when the code changes."),
    no_worker: bool = typer.Option(
        False, "--no-worker", help="Do not run background tasks in this process."
    ),
    processes: int = typer.Option(
        1, "--processes", min=1, help="API processes sharing the port (not with --reload)."
    ),
) -> None:
    """Serve the API (with an embedded task worker in development)."""
    if no_worker:
        # uvicorn builds the app from settings in its own import; the environment carries this.
        os.environ["CONVEYOR_EMBEDDED_WORKER"] = "false"
    settings = load_settings()
    configure_logging(level=settings.log_level, json_format=settings.effective_log_format == "json")
    if not settings.is_production:
        migrate(settings)
    uvicorn.run(
        "conveyor.main:create_app",
        factory=True,
        host=host,
        port=port,
        reload=reload,
        workers=None if reload else processes,
        log_config=None,
        access_log=False,
    )
