"""The ServiceTitan client against a local fake ServiceTitan: tokens, headers, errors."""

import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from conveyor.routing.providers import (
    CALLS,
    Booking,
    CallRecord,
    ProviderError,
    ServiceTitanClient,
    ServiceTitanCredentials,
)

CREDENTIALS = ServiceTitanCredentials(
    tenant_id="4242", client_id="cid.test", client_secret="shh-secret", app_key="ak-test"
)
BOOKING = Booking(
    routing_id="9d3f0c8e-1111-4c4c-8888-000000000001",
    summary="Fix leaky kitchen faucet",
    street="456 Oak Avenue",
    city="Springfield",
    state="IL",
    zip_code="62701",
    homeowner_name="Jane Smith",
    homeowner_phone="(555) 987-6543",
    homeowner_email="jane.smith@email.com",
)


@dataclass
class FakeServiceTitan:
    """Answers like ServiceTitan, checking what a real one would refuse."""

    url: str = ""
    token_requests: int = 0
    bookings: list[dict[str, Any]] = field(default_factory=list)
    booking_status: int = 200
    delay: float = 0.0
    token_lifetime: int = 900
    issued: int = 0


@pytest.fixture
def fake() -> Iterator[FakeServiceTitan]:
    state = FakeServiceTitan()

    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: object) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _authorized(self) -> bool:
            return (
                self.headers.get("Authorization") == f"Bearer token-{state.issued}"
                and self.headers.get("ST-App-Key") == CREDENTIALS.app_key
            )

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", 0))
            raw = self.rfile.read(length).decode()
            time.sleep(state.delay)
            if self.path == "/connect/token":
                form = dict(urllib.parse.parse_qsl(raw))
                if form != {
                    "grant_type": "client_credentials",
                    "client_id": CREDENTIALS.client_id,
                    "client_secret": CREDENTIALS.client_secret,
                }:
                    self._send(400, {"error": "invalid_client"})
                    return
                state.token_requests += 1
                state.issued += 1
                self._send(
                    200,
                    {"access_token": f"token-{state.issued}", "expires_in": state.token_lifetime},
                )
                return
            expected = (
                f"/crm/v2/tenant/{CREDENTIALS.tenant_id}/booking-provider/tradeengage/bookings"
            )
            if self.path != expected:
                self._send(404, {"title": "Not Found"})
                return
            if not self._authorized():
                self._send(401, {"title": "Unauthorized"})
                return
            if state.booking_status != 200:
                self._send(state.booking_status, {"title": "Server error"})
                return
            body = json.loads(raw)
            state.bookings.append(body)
            self._send(200, {"id": 7000 + len(state.bookings), "externalId": body["externalId"]})

        def do_GET(self) -> None:
            if not self._authorized():
                self._send(401, {"title": "Unauthorized"})
                return
            if "/bookings/" in self.path:
                self._send(200, {"id": 7001, "jobId": 555})
            elif self.path.endswith("/jobs/555"):
                self._send(200, {"id": 555, "jobStatus": "Completed", "total": 450.0})
            else:
                self._send(404, {})

        def log_message(self, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: object, client_address: object) -> None:
            pass  # a client that timed out and hung up is what the timeout test wants

    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    ServiceTitanClient._tokens.clear()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def _client(fake: FakeServiceTitan, *, timeout: float = 5.0) -> ServiceTitanClient:
    return ServiceTitanClient(
        CREDENTIALS,
        auth_url=fake.url,
        api_url=fake.url,
        booking_provider_id="tradeengage",
        timeout=timeout,
    )


async def test_a_booking_carries_the_job_and_the_routing_id(fake: FakeServiceTitan) -> None:
    external_id = await _client(fake).book(BOOKING)
    assert external_id == "st-7001"
    (sent,) = fake.bookings
    assert sent["externalId"] == BOOKING.routing_id
    assert sent["summary"] == "Fix leaky kitchen faucet"
    assert sent["name"] == "Jane Smith"
    assert sent["address"] == {
        "street": "456 Oak Avenue",
        "city": "Springfield",
        "state": "IL",
        "zip": "62701",
        "country": "USA",
    }
    assert [c["type"] for c in sent["contacts"]] == ["Phone", "Email"]


async def test_the_token_is_cached_until_it_nears_expiry(fake: FakeServiceTitan) -> None:
    client = _client(fake)
    await client.book(BOOKING)
    await client.book(BOOKING)
    assert fake.token_requests == 1
    fake.token_lifetime = 30  # shorter than the safety margin: never reused
    ServiceTitanClient._tokens.clear()
    await client.book(BOOKING)
    await client.book(BOOKING)
    assert fake.token_requests == 3


async def test_a_rejected_token_is_dropped_and_fetched_again(fake: FakeServiceTitan) -> None:
    client = _client(fake)
    await client.book(BOOKING)
    fake.issued += 1  # the server rotates its tokens: the cached one is now refused
    with pytest.raises(ProviderError, match="HTTP 401"):
        await client.book(BOOKING)
    assert await client.book(BOOKING) == "st-7002"


async def test_server_errors_and_timeouts_are_provider_errors(fake: FakeServiceTitan) -> None:
    fake.booking_status = 503
    with pytest.raises(ProviderError, match="HTTP 503"):
        await _client(fake).book(BOOKING)
    fake.booking_status = 200
    fake.delay = 0.5
    with pytest.raises(ProviderError, match="unreachable: ReadTimeout"):
        await _client(fake, timeout=0.1).book(BOOKING)


async def test_repeated_failures_make_the_provider_unhealthy_in_detailed_health(
    fake: FakeServiceTitan, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(CALLS, "servicetitan", CallRecord())
    before = (await client.get("/api/v1/health/detailed")).json()
    assert before["components"]["external_apis"]["providers"] == {
        "servicetitan": "healthy",
        "mock": "healthy",
    }
    fake.booking_status = 500
    for _ in range(5):
        with pytest.raises(ProviderError):
            await _client(fake).book(BOOKING)
    after = (await client.get("/api/v1/health/detailed")).json()
    assert after["status"] == "degraded"
    assert after["components"]["external_apis"]["providers"]["servicetitan"] == "unhealthy"
    fake.booking_status = 200
    await _client(fake).book(BOOKING)
    again = (await client.get("/api/v1/health/detailed")).json()
    assert again["components"]["external_apis"]["providers"]["servicetitan"] == "healthy"


async def test_bad_credentials_are_a_provider_error_without_the_secret(
    fake: FakeServiceTitan,
) -> None:
    wrong = ServiceTitanCredentials("4242", "cid.test", "wrong", "ak-test")
    client = ServiceTitanClient(
        wrong, auth_url=fake.url, api_url=fake.url, booking_provider_id="tradeengage"
    )
    with pytest.raises(ProviderError) as raised:
        await client.book(BOOKING)
    assert "HTTP 400" in str(raised.value)
    assert "wrong" not in str(raised.value)


async def test_completed_work_is_read_from_the_job(fake: FakeServiceTitan) -> None:
    status = await _client(fake).work_status("st-7001", synced_at=datetime.now(UTC))
    assert status.completed is True
    assert status.revenue == Decimal("450.0")
