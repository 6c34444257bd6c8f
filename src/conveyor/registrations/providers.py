"""The core banking system (Temenos T24) a registration is checked against.

`CoreBanking` answers one question: which accounts does a customer hold? Two implementations:
a simulator serving customers from a JSON file (`t24_customers.json` in this package, or
`CONVEYOR_T24_CUSTOMERS_FILE`), with the shared latency and failure knobs; and `T24Client`,
the bank's service bus call `GET {base}/esb/customer/accounts/v1/api/{customer}` over httpx.
"""

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import httpx

from conveyor.config import Settings
from conveyor.kit.simulation import Simulation

ACCOUNTS_PATH = "/esb/customer/accounts/v1/api/{customer}"
MAX_PAGES = 100
"""A customer with more than `MAX_PAGES` pages of accounts is a misbehaving service bus."""


class CoreBankingUnavailable(Exception):
    """The core banking system could not answer; the lookup is retried."""


@dataclass(frozen=True)
class Account:
    """One account as T24 describes it."""

    account_id: str
    category: str
    currency: str
    active: bool = True
    """False when T24 marks it dormant (`INACTIV.MARKER` = Y) or restricts postings to it."""

    @classmethod
    def from_t24(cls, record: dict[str, Any]) -> "Account":
        """From a T24 record (`ACCOUNT.ID`, `CATEGORY`, `CURRENCY`, ...)."""
        try:
            account_id = str(record["ACCOUNT.ID"]).strip()
            currency = str(record["CURRENCY"]).strip().upper()
        except (KeyError, TypeError):
            raise CoreBankingUnavailable(
                "core banking answered an account without ACCOUNT.ID or CURRENCY"
            ) from None
        dormant = str(record.get("INACTIV.MARKER") or "").strip().upper() == "Y"
        restricted = bool(str(record.get("POSTING.RESTRICT") or "").strip())
        return cls(
            account_id=account_id,
            category=str(record.get("CATEGORY") or "").strip(),
            currency=currency,
            active=not (dormant or restricted),
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "category": self.category,
            "currency": self.currency,
            "active": self.active,
        }


class CoreBanking(Protocol):
    name: str

    async def accounts(self, customer_number: str, *, attempt: int = 1) -> list[Account]:
        """The customer's accounts; empty when the customer is unknown or holds none."""
        ...


@dataclass
class SimulatedCoreBanking(Simulation):
    """Customers and their accounts from a JSON file (see `t24_customers.json`)."""

    failure = CoreBankingUnavailable
    name = "simulator"

    customers_file: Path | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> "SimulatedCoreBanking":
        simulator = super().from_settings(settings)
        simulator.customers_file = settings.t24_customers_file
        return simulator

    async def accounts(self, customer_number: str, *, attempt: int = 1) -> list[Account]:
        await self._call("accounts", customer_number, attempt)
        return list(_customers(self.customers_file).get(customer_number, ()))


@lru_cache(maxsize=4)
def _customers(path: Path | None) -> dict[str, tuple[Account, ...]]:
    """Accounts by customer number, read once per file."""
    if path is None:
        text = resources.files(__package__).joinpath("t24_customers.json").read_text("utf-8")
    else:
        text = path.read_text(encoding="utf-8")
    return {
        str(customer["customer_number"]): tuple(
            Account.from_t24(record) for record in customer.get("accounts", [])
        )
        for customer in json.loads(text)["customers"]
    }


class T24Client:
    """Temenos T24 through the bank's service bus: Basic auth, a `{header, body}` envelope,
    paged by `page_token` (the header says `total_size`; the next `page_start` follows).

    A 404 means T24 knows no accounts for the customer. Timeouts, refused connections, 5xx and
    answers that are not the envelope raise `CoreBankingUnavailable`, so the engine retries.
    """

    name = "t24"

    def __init__(
        self,
        *,
        base_url: str,
        username: str | None,
        password: str | None,
        timeout: float = 10.0,
        page_size: int = 100,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._auth = httpx.BasicAuth(username, password) if username and password else None
        self.timeout = timeout
        self.page_size = page_size
        self.transport = transport

    async def accounts(self, customer_number: str, *, attempt: int = 1) -> list[Account]:
        if self._auth is None:
            raise CoreBankingUnavailable(
                "CONVEYOR_T24_USERNAME and CONVEYOR_T24_PASSWORD are not set"
            )
        url = self.base_url + ACCOUNTS_PATH.format(customer=customer_number)
        found: list[Account] = []
        params: dict[str, str | int] = {"page_size": self.page_size}
        async with httpx.AsyncClient(
            auth=self._auth, timeout=self.timeout, transport=self.transport
        ) as client:
            for page in range(1, MAX_PAGES + 1):
                header, body = await self._page(client, url, params)
                if body is None:
                    return found
                found += [Account.from_t24(record) for record in body]
                total = header.get("total_size")
                token = header.get("page_token")
                more = isinstance(total, int) and len(found) < total
                if not (more and token and body):
                    return found
                params = {"page_size": self.page_size, "page_start": page + 1, "page_token": token}
        raise CoreBankingUnavailable(f"core banking kept paging past {MAX_PAGES} pages")

    async def _page(
        self, client: httpx.AsyncClient, url: str, params: dict[str, str | int]
    ) -> tuple[dict[str, Any], list[dict[str, Any]] | None]:
        """One page's header and records; records are None when T24 knows none (HTTP 404)."""
        try:
            response = await client.get(url, params=params, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise CoreBankingUnavailable(
                f"core banking unreachable: {type(exc).__name__}"
            ) from None
        if response.status_code == 404:
            return {}, None
        if response.status_code in (401, 403):
            raise CoreBankingUnavailable(
                f"core banking refused the credentials (HTTP {response.status_code})"
            )
        if response.status_code >= 400:
            raise CoreBankingUnavailable(f"core banking answered HTTP {response.status_code}")
        try:
            envelope = response.json()
        except ValueError:
            envelope = None
        if not isinstance(envelope, dict):
            raise CoreBankingUnavailable("core banking answered with something other than JSON")
        header, body = envelope.get("header") or {}, envelope.get("body")
        if not isinstance(header, dict) or not isinstance(body, list):
            raise CoreBankingUnavailable("core banking answered without a {header, body} envelope")
        if str(header.get("status", "success")).lower() != "success":
            raise CoreBankingUnavailable(f"core banking reported status {header.get('status')!r}")
        return header, [record for record in body if isinstance(record, dict)]


def core_banking(settings: Settings) -> CoreBanking:
    if settings.core_banking == "t24":
        password = settings.t24_password
        return T24Client(
            base_url=settings.t24_url,
            username=settings.t24_username,
            password=password.get_secret_value() if password else None,
            timeout=settings.t24_timeout_seconds,
        )
    return SimulatedCoreBanking.from_settings(settings)
