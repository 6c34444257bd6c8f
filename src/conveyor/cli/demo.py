"""`conveyor demo`: a coherent data set for every enabled surface, and what to try with it."""

import secrets

from rich.console import Console

from conveyor.auth import service as auth_service
from conveyor.auth.models import Role
from conveyor.cli.common import CliError, load_settings, migrate, with_database
from conveyor.config import Settings
from conveyor.database import Database
from conveyor.main import load_modules
from conveyor.reports import demo as reports_demo

ADMIN = "admin@conveyor.demo"
OPERATOR = "operator@conveyor.demo"

console = Console(highlight=False, soft_wrap=True)


async def load(database: Database, settings: Settings) -> list[str]:
    """Everything in one transaction: a half-loaded demo never exists. A second run adds
    nothing but a new API key (keys are shown once)."""
    async with database.transaction() as session:
        lines: list[str] = []
        if await auth_service.find_user(session, ADMIN) is not None:
            lines.append("The demo data was loaded before; its users keep their passwords.")
        else:
            for email, name, role in (
                (ADMIN, "Demo Admin", Role.ADMIN),
                (OPERATOR, "Demo Operator", Role.OPERATOR),
            ):
                password = secrets.token_urlsafe(12)
                await auth_service.create_user(
                    session, email=email, password=password, name=name, roles=(Role.USER, role)
                )
                lines.append(f"user {email} / {password} ({role.value})")
            for module in load_modules(settings):
                if module.demo is not None:
                    lines += await module.demo(session, settings)
        api_key, key = await auth_service.create_api_key(session, name="demo", scopes=["admin"])
        if "reports" in settings.services:  # report context belongs to one key: this one
            lines += await reports_demo.load_context(session, settings, api_key.id)
        lines.append(f"API key (X-API-Key, admin scope; shown once): {key}")
    return lines


def demo() -> None:
    """Load demo data for every enabled surface (once) and print how to try each."""
    settings = load_settings()
    if settings.is_production:
        raise CliError("refusing to load demo data with CONVEYOR_ENV=production")
    migrate(settings)
    lines = with_database(lambda database: load(database, settings))
    for line in lines:
        console.print(f"• {line}")
    console.print("Try them at http://127.0.0.1:8000/docs (after `make run`).")
