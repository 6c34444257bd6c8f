"""`conveyor api-keys`: create, list and revoke machine credentials."""

import typer
from rich.console import Console
from rich.table import Table

from conveyor.auth import service
from conveyor.cli.common import in_session

app = typer.Typer(help="API keys (header X-API-Key): create, list, revoke.", no_args_is_help=True)
console = Console(stderr=True)


@app.command()
def create(
    name: str,
    scopes: str = typer.Option("", help="Comma-separated scopes."),
) -> None:
    """Create a key. It is printed once, alone on the last line of standard output."""
    scope_list = [scope.strip() for scope in scopes.split(",") if scope.strip()]
    api_key, plaintext = in_session(
        lambda session: service.create_api_key(session, name=name, scopes=scope_list)
    )
    console.print(f"created API key {api_key.id} ({api_key.name}); it is shown only now:")
    typer.echo(plaintext)


@app.command("list")
def list_keys() -> None:
    """Every key, without secrets."""
    keys = in_session(service.list_api_keys, write=False)
    table = Table(title=f"{len(keys)} API keys")
    for column in ("id", "name", "scopes", "created", "last used", "revoked"):
        table.add_column(column)
    for key in keys:
        table.add_row(
            key.id,
            key.name,
            ", ".join(key.scopes),
            f"{key.created_at:%Y-%m-%d %H:%M}",
            f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "",
            f"{key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "",
        )
    Console().print(table)


@app.command()
def revoke(key_id: str) -> None:
    """Revoke a key: it stops working at once."""
    api_key = in_session(lambda session: service.revoke_api_key(session, key_id))
    console.print(f"revoked API key {api_key.id} ({api_key.name})")
