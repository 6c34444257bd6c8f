"""`conveyor serve`: the HTTP API (migrating the database first in development)."""

import typer
import uvicorn
from alembic.util import CommandError
from sqlalchemy.exc import SQLAlchemyError

from conveyor import migrations
from conveyor.cli.common import CliError, load_settings
from conveyor.observability import configure_logging


def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to bind."),
    port: int = typer.Option(8000, help="Port to listen on."),
    reload: bool = typer.Option(False, "--reload", help="Restart when the code changes."),
) -> None:
    """Serve the API."""
    settings = load_settings()
    configure_logging(level=settings.log_level, json_format=settings.effective_log_format == "json")
    if not settings.is_production:
        try:
            migrations.upgrade(settings.database_url)
        except (SQLAlchemyError, OSError, CommandError) as exc:
            reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            raise CliError(f"could not migrate the database: {reason}") from None
    uvicorn.run(
        "conveyor.main:create_app",
        factory=True,
        host=host,
        port=port,
        reload=reload,
        log_config=None,
        access_log=False,
    )
