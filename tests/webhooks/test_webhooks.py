"""Webhooks end to end: subscribe, emit in a transaction, deliver signed to a real local
receiver, verify with the `standardwebhooks` reference library, retry, and stop on 410."""

import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from sqlalchemy import select, update
from standardwebhooks import Webhook

from conveyor.config import Settings
from conveyor.database import Database
from conveyor.kit.clock import utcnow
from conveyor.main import create_app
from conveyor.tasks import Task, TaskStatus, Worker
from conveyor.webhooks import WebhookSubscription, emit
from conveyor.webhooks.tasks import RETRY_SCHEDULE
from tests.support import api_key_headers, make_settings
from tests.tasks.conftest import FAST, running, wait_for

PRODUCTION_SECRET = "a-production-secret-of-at-least-32-characters"


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1 that answers with the given statuses, in turn."""

    statuses: list[int]
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(statuses=[204])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            state.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            status = state.statuses.pop(0) if len(state.statuses) > 1 else state.statuses[0]
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


async def _subscribe(client: httpx.AsyncClient, url: str, *events: str) -> dict[str, str]:
    response = await client.post(
        "/api/v1/admin/webhooks", json={"url": url, "event_types": list(events)}
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def _emit(database: Database, event_type: str, data: dict[str, object]) -> str:
    async with database.transaction() as session:
        return await emit(session, event_type, data)


async def _deliveries(database: Database) -> list[Task]:
    async with database.read() as session:
        result = await session.execute(
            select(Task).where(Task.name == "webhooks.deliver").order_by(Task.id)
        )
        return list(result.scalars())


def _settled(database: Database, count: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        found = await _deliveries(database)
        return (
            len(found) == count
            and all(t.status != TaskStatus.QUEUED for t in found)
            and all(t.status != TaskStatus.RUNNING for t in found)
        )

    return check


async def test_an_event_arrives_signed_and_passes_the_reference_verification(
    admin_client: httpx.AsyncClient, database: Database, settings: Settings, receiver: Receiver
) -> None:
    subscription = await _subscribe(admin_client, receiver.url, "batch.completed")
    await _subscribe(admin_client, receiver.url + "/other", "registration.completed")
    message_id = await _emit(database, "batch.completed", {"batch_id": "b-1", "jobs": 3})

    async with running(Worker(database, FAST, settings=settings)):
        await wait_for(_settled(database, 1))

    ((headers, body),) = receiver.received
    assert headers["webhook-id"] == message_id
    verified = Webhook(subscription["secret"]).verify(body, headers)
    assert verified["type"] == "batch.completed"
    assert verified["data"] == {"batch_id": "b-1", "jobs": 3}
    assert verified["timestamp"].endswith("Z")
    with pytest.raises(Exception, match="No matching signature"):
        Webhook(subscription["secret"]).verify(body.replace(b"b-1", b"b-2"), headers)

    log = await admin_client.get(f"/api/v1/admin/webhooks/{subscription['id']}/deliveries")
    (attempt,) = log.json()
    assert attempt["succeeded"] is True
    assert attempt["status_code"] == 204
    assert attempt["message_id"] == message_id


async def test_a_failed_delivery_is_retried_with_the_same_id_on_the_schedule(
    admin_client: httpx.AsyncClient, database: Database, settings: Settings, receiver: Receiver
) -> None:
    receiver.statuses = [503, 200]
    subscription = await _subscribe(admin_client, receiver.url, "*")
    await _emit(database, "registration.failed", {"id": 7})

    async with running(Worker(database, FAST, settings=settings)) as worker:
        await wait_for(lambda: _has_attempts(database, 1))
        (task,) = await _deliveries(database)
        assert task.status == TaskStatus.QUEUED
        assert task.max_attempts == 8
        wait = (task.run_at - utcnow()).total_seconds()
        assert 3.5 < wait < 5.5  # 5 s, +-10 %, less the time since
        async with database.transaction() as session:  # let the 5 seconds pass
            await session.execute(update(Task).values(run_at=utcnow()))
        worker.wake()
        await wait_for(_settled(database, 1))

    first, second = receiver.received
    assert first[0]["webhook-id"] == second[0]["webhook-id"]
    assert Webhook(subscription["secret"]).verify(second[1], second[0])["data"] == {"id": 7}
    log = await admin_client.get(f"/api/v1/admin/webhooks/{subscription['id']}/deliveries")
    assert [(a["attempt"], a["status_code"], a["succeeded"]) for a in log.json()] == [
        (2, 200, True),
        (1, 503, False),
    ]
    assert log.json()[1]["error"].startswith("HTTP 503")


async def _has_attempts(database: Database, attempts: int) -> bool:
    found = await _deliveries(database)
    return bool(found) and found[0].attempts >= attempts and found[0].status == TaskStatus.QUEUED


async def test_410_gone_disables_the_subscription(
    admin_client: httpx.AsyncClient, database: Database, settings: Settings, receiver: Receiver
) -> None:
    receiver.statuses = [410]
    subscription = await _subscribe(admin_client, receiver.url, "*")
    await _emit(database, "batch.completed", {})
    async with running(Worker(database, FAST, settings=settings)):
        await wait_for(_settled(database, 1))
    (task,) = await _deliveries(database)
    assert task.status == TaskStatus.SUCCEEDED
    assert task.attempts == 1
    shown = (await admin_client.get(f"/api/v1/admin/webhooks/{subscription['id']}")).json()
    assert shown["active"] is False
    assert shown["disabled_reason"] == "the receiver answered 410 Gone"
    await _emit(database, "batch.completed", {})
    assert len(await _deliveries(database)) == 1


def test_the_schedule_spans_about_a_day() -> None:
    total = sum(RETRY_SCHEDULE.delays)
    assert timedelta(hours=24) < timedelta(seconds=total) < timedelta(hours=30)
    assert all(
        0.9 * base <= RETRY_SCHEDULE.delay(n) <= 1.1 * base
        for n, base in enumerate(RETRY_SCHEDULE.delays, start=1)
    )


async def test_the_secret_is_shown_once_and_sealed_at_rest(
    admin_client: httpx.AsyncClient, database: Database, receiver: Receiver
) -> None:
    created = await _subscribe(admin_client, receiver.url, "batch.completed")
    assert created["secret"].startswith("whsec_")
    listed = (await admin_client.get("/api/v1/admin/webhooks")).json()
    assert [item["id"] for item in listed] == [created["id"]]
    assert "secret" not in listed[0]
    async with database.read() as session:
        stored = await session.get(WebhookSubscription, uuid.UUID(created["id"]))
    assert stored is not None
    assert created["secret"] not in stored.secret_sealed
    assert created["secret"].removeprefix("whsec_") not in stored.secret_sealed

    assert (await admin_client.delete(f"/api/v1/admin/webhooks/{created['id']}")).status_code == 204
    gone = await admin_client.get(f"/api/v1/admin/webhooks/{created['id']}")
    assert gone.status_code == 404


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://203.0.113.10/hooks", "must use https in production"),
        ("https://127.0.0.1/hooks", "resolves to 127.0.0.1, an internal address"),
        ("https://10.1.2.3/hooks", "resolves to 10.1.2.3, an internal address"),
        ("https://169.254.169.254/latest", "resolves to 169.254.169.254, an internal address"),
        ("https://[::ffff:192.168.0.1]/", "an internal address"),
        ("https://localhost:8443/", "an internal address"),
        ("https://user:pw@hooks.example.com/", "must not carry credentials"),
    ],
)
async def test_production_refuses_urls_inside_the_network(
    database_url: str, database: Database, url: str, reason: str
) -> None:
    settings = make_settings(database_url, env="production", secret_key=PRODUCTION_SECRET)
    app = create_app(settings)
    headers = await api_key_headers(database, "admin")
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        refused = await client.post(
            "/api/v1/admin/webhooks",
            json={"url": url, "event_types": ["*"]},
            headers=headers,
        )
        public = await client.post(
            "/api/v1/admin/webhooks",
            json={"url": "https://93.184.215.14/hooks", "event_types": ["*"]},
            headers=headers,
        )
    assert refused.status_code == 400
    assert refused.json()["error_code"] == "WEBHOOK_URL_REFUSED"
    assert reason in refused.json()["detail"]
    assert public.status_code == 201


async def test_development_accepts_local_receivers(admin_client: httpx.AsyncClient) -> None:
    created = await _subscribe(admin_client, "http://localhost:9000/hooks", "*")
    assert created["url"] == "http://localhost:9000/hooks"
    bad = await admin_client.post(
        "/api/v1/admin/webhooks", json={"url": "ftp://x/", "event_types": ["Batch Done"]}
    )
    assert bad.status_code == 422
    assert bad.json()["error_code"] == "VALIDATION_ERROR"
    assert "url" in bad.json()["detail"]
    assert "event_types" in bad.json()["detail"]
