"""Point-of-sale systems that routed jobs are pushed to: a deterministic simulator (`mock`) and
a real ServiceTitan client. Both are idempotent on the routing id, so a retried sync never
books a job twice.
"""

import asyncio
import hashlib
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

import httpx

from conveyor.kit.clock import utcnow
from conveyor.kit.simulation import dice


class ProviderError(Exception):
    """The provider refused or could not be reached; the sync is retried."""


@dataclass(frozen=True)
class Booking:
    """What a provider needs to create a job in its system."""

    routing_id: str
    summary: str
    street: str
    city: str
    state: str
    zip_code: str
    homeowner_name: str
    homeowner_phone: str | None
    homeowner_email: str | None
    attempt: int = 1
    """Which try this is (the simulator decides failures by routing id and attempt)."""


@dataclass(frozen=True)
class WorkStatus:
    completed: bool
    revenue: Decimal | None = None


class PointOfSale(Protocol):
    name: str

    async def book(self, booking: Booking) -> str:
        """Create the job in the provider's system; its reference (our `external_id`)."""
        ...

    async def work_status(self, external_id: str, *, synced_at: datetime) -> WorkStatus:
        """Whether the company has finished the work, and for how much."""
        ...


@dataclass
class CallRecord:
    """Recent outcomes of calls to one provider: what its health check reports."""

    outcomes: deque[bool] = field(default_factory=lambda: deque(maxlen=20))

    def record(self, ok: bool) -> None:
        self.outcomes.append(ok)

    @property
    def healthy(self) -> bool:
        """Healthy unless the most recent calls all failed (no calls yet: healthy)."""
        recent = list(self.outcomes)[-5:]
        return not recent or any(recent)


CALLS: dict[str, CallRecord] = {"servicetitan": CallRecord(), "mock": CallRecord()}


@dataclass
class MockPointOfSale:
    """A simulated point-of-sale system.

    `failure_rate` of booking attempts fail (which ones is decided by the routing id and the
    attempt, so a run can be replayed); each booking takes `latency` seconds; the work is
    reported completed `completion_after` after booking, for a revenue between 100 and 2,000
    fixed by the external id.
    """

    latency: float = 0.05
    failure_rate: float = 0.0
    completion_after: timedelta = timedelta(minutes=5)
    name: str = "mock"

    async def book(self, booking: Booking) -> str:
        attempt = booking.attempt
        await asyncio.sleep(self.latency)
        if dice("fail", booking.routing_id, attempt) < self.failure_rate:
            CALLS[self.name].record(False)
            raise ProviderError(f"mock point of sale refused the booking (attempt {attempt})")
        CALLS[self.name].record(True)
        return "mock-" + hashlib.sha256(booking.routing_id.encode()).hexdigest()[:12]

    async def work_status(self, external_id: str, *, synced_at: datetime) -> WorkStatus:
        if utcnow() - synced_at < self.completion_after:
            return WorkStatus(completed=False)
        cents = 10_000 + int(dice("revenue", external_id) * 190_000)
        return WorkStatus(completed=True, revenue=Decimal(cents) / 100)


@dataclass(frozen=True)
class ServiceTitanCredentials:
    tenant_id: str
    client_id: str
    client_secret: str
    app_key: str


@dataclass
class _Token:
    value: str
    expires_at: float


class ServiceTitanClient:
    """ServiceTitan's API over httpx: OAuth2 client credentials, then the booking provider API.

    Tokens are cached per client id until shortly before they expire. Every API call carries
    `Authorization: Bearer` and `ST-App-Key`. A booking's `externalId` is our routing id, so
    ServiceTitan itself can recognise a retry.
    """

    name = "servicetitan"
    _tokens: dict[tuple[str, str], _Token] = {}
    """Shared by every client in the process: one token per (auth host, client id)."""
    TOKEN_MARGIN_SECONDS = 60.0

    def __init__(
        self,
        credentials: ServiceTitanCredentials,
        *,
        auth_url: str,
        api_url: str,
        booking_provider_id: str,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.credentials = credentials
        self.auth_url = auth_url.rstrip("/")
        self.api_url = api_url.rstrip("/")
        self.booking_provider_id = booking_provider_id
        self.timeout = timeout
        self.transport = transport

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=self.timeout, transport=self.transport)

    async def _token(self, client: httpx.AsyncClient) -> str:
        key = (self.auth_url, self.credentials.client_id)
        cached = self._tokens.get(key)
        if cached is not None and cached.expires_at > time.monotonic():
            return cached.value
        response = await client.post(
            f"{self.auth_url}/connect/token",
            data={
                "grant_type": "client_credentials",
                "client_id": self.credentials.client_id,
                "client_secret": self.credentials.client_secret,
            },
        )
        if response.status_code != 200:
            raise ProviderError(f"ServiceTitan sign-in failed: HTTP {response.status_code}")
        body = response.json()
        lifetime = float(body.get("expires_in", 900))
        token = _Token(
            body["access_token"], time.monotonic() + max(0.0, lifetime - self.TOKEN_MARGIN_SECONDS)
        )
        self._tokens[key] = token
        return token.value

    async def _call(self, method: str, path: str, json: dict[str, Any] | None = None) -> Any:
        try:
            async with self._client() as client:
                token = await self._token(client)
                response = await client.request(
                    method,
                    f"{self.api_url}{path}",
                    json=json,
                    headers={
                        "Authorization": f"Bearer {token}",
                        "ST-App-Key": self.credentials.app_key,
                    },
                )
        except httpx.HTTPError as exc:
            CALLS[self.name].record(False)
            raise ProviderError(f"ServiceTitan unreachable: {type(exc).__name__}") from None
        if response.status_code == 401:
            self._tokens.pop((self.auth_url, self.credentials.client_id), None)
        if response.status_code >= 400:
            CALLS[self.name].record(response.status_code < 500)
            raise ProviderError(
                f"ServiceTitan answered HTTP {response.status_code}: {response.text[:200]}"
            )
        CALLS[self.name].record(True)
        return response.json()

    def _booking_path(self) -> str:
        return (
            f"/crm/v2/tenant/{self.credentials.tenant_id}"
            f"/booking-provider/{self.booking_provider_id}/bookings"
        )

    async def book(self, booking: Booking) -> str:
        contacts = [
            {"type": kind, "value": value, "memo": "homeowner"}
            for kind, value in (
                ("Phone", booking.homeowner_phone),
                ("Email", booking.homeowner_email),
            )
            if value
        ]
        body = {
            "source": "TradeEngage",
            "name": booking.homeowner_name,
            "summary": booking.summary,
            "address": {
                "street": booking.street,
                "city": booking.city,
                "state": booking.state,
                "zip": booking.zip_code,
                "country": "USA",
            },
            "contacts": contacts,
            "isFirstTimeClient": True,
            "externalId": booking.routing_id,
        }
        created = await self._call("POST", self._booking_path(), json=body)
        return f"st-{created['id']}"

    async def work_status(self, external_id: str, *, synced_at: datetime) -> WorkStatus:
        booking = await self._call(
            "GET", f"{self._booking_path()}/{external_id.removeprefix('st-')}"
        )
        job_id = booking.get("jobId")
        if not job_id:
            return WorkStatus(completed=False)
        job = await self._call("GET", f"/jpm/v2/tenant/{self.credentials.tenant_id}/jobs/{job_id}")
        if job.get("jobStatus") != "Completed":
            return WorkStatus(completed=False)
        total = job.get("total")
        return WorkStatus(completed=True, revenue=None if total is None else Decimal(str(total)))
