"""Delivering one message to one subscription, with Standard Webhooks' retry schedule."""

import json
import time
from dataclasses import dataclass
from datetime import timedelta

import httpx

from conveyor import __version__
from conveyor.tasks import Schedule, TaskContext, task
from conveyor.webhooks import repository, service, signing
from conveyor.webhooks.destinations import DestinationRefused, check_destination
from conveyor.webhooks.models import WebhookDelivery
from conveyor.webhooks.schemas import DeliverPayload

TIMEOUT_SECONDS = 15.0
RETRY_SCHEDULE = Schedule((5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600))
"""After the first try: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (about 27 h in all)."""


class DeliveryFailed(Exception):
    """The receiver did not accept the message; the engine retries on the schedule."""


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def message_body(payload: DeliverPayload) -> bytes:
    """The Standard Webhooks envelope: type, timestamp, data."""
    envelope = {"type": payload.event_type, "timestamp": payload.occurred_at, "data": payload.data}
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()


async def _post(url: str, body: bytes, headers: dict[str, str], *, production: bool) -> Outcome:
    started = time.perf_counter()

    def elapsed() -> int:
        return round((time.perf_counter() - started) * 1000)

    try:
        await check_destination(url, production=production)
        async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS, follow_redirects=False) as client:
            response = await client.post(url, content=body, headers=headers)
    except DestinationRefused as exc:
        return Outcome(None, exc.message, elapsed())
    except httpx.HTTPError as exc:
        return Outcome(None, f"{type(exc).__name__}: {exc}"[:1000], elapsed())
    error = None
    if not 200 <= response.status_code < 300:
        error = f"HTTP {response.status_code}: {response.text[:300]}"
    return Outcome(response.status_code, error, elapsed())


@task(
    "webhooks.deliver",
    queue="webhooks",
    max_attempts=len(RETRY_SCHEDULE.delays) + 1,
    backoff=RETRY_SCHEDULE,
    timeout=timedelta(seconds=TIMEOUT_SECONDS * 4),
)
async def deliver(ctx: TaskContext, payload: DeliverPayload) -> None:
    settings = ctx.app_settings
    async with ctx.database.read() as session:
        subscription = await repository.get(session, payload.subscription_id)
    if subscription is None or not subscription.active:
        ctx.log.info("webhook_not_sent", reason="subscription deleted or disabled")
        return
    secret = service.secret_box(settings).open(subscription.secret_sealed)
    body = message_body(payload)
    headers = {
        **signing.headers(secret, payload.message_id, int(time.time()), body),
        "user-agent": f"Conveyor-Webhooks/{__version__}",
    }
    outcome = await _post(subscription.url, body, headers, production=settings.is_production)
    delivery = WebhookDelivery(
        subscription_id=subscription.id,
        message_id=payload.message_id,
        event_type=payload.event_type,
        attempt=ctx.attempt,
        status_code=outcome.status_code,
        error=outcome.error,
        duration_ms=outcome.duration_ms,
        succeeded=outcome.succeeded,
    )
    if outcome.succeeded or outcome.status_code == 410:
        async with ctx.complete() as session:
            await service.record_delivery(session, delivery)
            if outcome.status_code == 410:
                await service.disable(session, subscription.id, "the receiver answered 410 Gone")
        return
    async with ctx.database.transaction() as session:
        await service.record_delivery(session, delivery)
    raise DeliveryFailed(outcome.error or "not delivered")
