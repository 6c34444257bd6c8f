"""`conveyor serve`: the HTTP API (migrating the database first in development)."""

import os
import shutil
import tempfile
from pathlib import Path

import typer
import uvicorn

from conveyor.cli.common import load_settings, migrate
from conveyor.observability import MULTIPROCESS_DIR, configure_logging


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
    metrics_dir = None
    if processes > 1 and not reload:
        metrics_dir = _fresh_metrics_dir()
    try:
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
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _fresh_metrics_dir() -> Path | None:
    """Where N processes keep their metrics for `/metrics` to add up (prometheus-client's
    multiprocess mode). An operator's own `PROMETHEUS_MULTIPROC_DIR` is emptied of an earlier
    run's files and kept; otherwise a temporary one is made, and returned for removal."""
    if configured := os.environ.get(MULTIPROCESS_DIR):
        for stale in Path(configured).glob("*.db"):
            stale.unlink()
        return None
    made = Path(tempfile.mkdtemp(prefix="conveyor-metrics-"))
    os.environ[MULTIPROCESS_DIR] = str(made)
    return made
