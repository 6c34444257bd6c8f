"""`conveyor webhooks`: subscribe URLs to events, list and delete subscriptions."""

import uuid

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from conveyor.cli.common import CliError, in_session, load_settings
from conveyor.webhooks import service
from conveyor.webhooks.schemas import SubscriptionCreate

app = typer.Typer(help="Webhook subscriptions (Standard Webhooks).", no_args_is_help=True)
console = Console(stderr=True)


@app.command()
def create(
    url: str,
    events: str = typer.Option("*", help='Comma-separated event types, or "*" for all.'),
    description: str = typer.Option("", help="What the receiver is."),
) -> None:
    """Subscribe URL. The signing secret is printed once, alone on the last line of stdout."""
    try:
        body = SubscriptionCreate(
            url=url,
            event_types=[event.strip() for event in events.split(",") if event.strip()],
            description=description,
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise CliError(problems) from None
    settings = load_settings()
    subscription, secret = in_session(
        lambda session: service.create_subscription(
            session,
            settings,
            url=str(body.url),
            event_types=body.event_types,
            description=body.description,
        )
    )
    console.print(
        f"subscribed {subscription.url} to {', '.join(subscription.event_types)}"
        f" as {subscription.id}; the signing secret is shown only now:"
    )
    typer.echo(secret)


@app.command("list")
def list_subscriptions() -> None:
    """Every subscription, without secrets."""
    found = in_session(service.list_subscriptions, write=False)
    table = Table("id", "url", "events", "active", "note")
    for item in found:
        table.add_row(
            str(item.id),
            item.url,
            ", ".join(item.event_types),
            "yes" if item.active else "no",
            item.disabled_reason or item.description,
        )
    Console().print(table)


@app.command()
def delete(subscription_id: uuid.UUID) -> None:
    """Delete a subscription; queued deliveries to it are dropped."""
    in_session(lambda session: service.delete(session, subscription_id))
    console.print(f"deleted webhook subscription {subscription_id}")
