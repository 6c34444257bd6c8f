"""The core banking system: the T24 client against a local fake service bus (paging, 404,
5xx, timeouts, credentials), and the simulator's customers file."""

import base64
import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from conveyor.registrations.providers import (
    Account,
    CoreBankingUnavailable,
    SimulatedCoreBanking,
    T24Client,
    core_banking,
)
from tests.support import make_settings

USERNAME = "conveyor"
PASSWORD = "t24-secret-4b1d"


def record(number: int, currency: str = "MWK", **extra: str) -> dict[str, str]:
    return {"ACCOUNT.ID": f"10{number:08d}", "CATEGORY": "1001", "CURRENCY": currency, **extra}


@dataclass
class FakeBus:
    """The service bus in front of T24: Basic auth, `{header, body}`, pages of `page_size`
    records chained by `page_token`."""

    url: str = ""
    customers: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    status: int | None = None
    """Answer every request with this status instead (a broken bus)."""
    raw: bytes | None = None
    delay: float = 0.0
    requests: list[dict[str, str]] = field(default_factory=list)

    def answer(self, path: str, query: dict[str, str], authorization: str) -> tuple[int, bytes]:
        time.sleep(self.delay)
        self.requests.append(query)
        expected = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
        if authorization != f"Basic {expected}":
            return 401, b'{"error": "unauthorised"}'
        if self.status is not None:
            return self.status, b'{"error": "service bus failure"}'
        if self.raw is not None:
            return 200, self.raw
        customer = path.rsplit("/", 1)[-1]
        if customer not in self.customers:
            not_found = {"header": {"status": "failed"}, "error": {"type": "BUSINESS"}}
            return 404, json.dumps(not_found).encode()
        records = self.customers[customer]
        size = int(query.get("page_size", 25))
        start = int(query.get("page_start", 1))
        if start > 1 and query.get("page_token") != f"token-{customer}":
            return 400, b'{"error": "bad page token"}'
        page = records[(start - 1) * size : start * size]
        header = {
            "audit": {"T24_time": 120},
            "page_start": start,
            "page_token": f"token-{customer}",
            "total_size": len(records),
            "page_size": size,
            "status": "success",
        }
        return 200, json.dumps({"header": header, "body": page}).encode()


@pytest.fixture
def bus() -> Iterator[FakeBus]:
    state = FakeBus()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parsed = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(parsed.query))
            status, body = state.answer(parsed.path, query, self.headers.get("Authorization", ""))
            try:
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client timed out first, as the timeout test intends

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def client(bus: FakeBus, **overrides: Any) -> T24Client:
    values: dict[str, Any] = {
        "base_url": bus.url,
        "username": USERNAME,
        "password": PASSWORD,
        "timeout": 2.0,
        "page_size": 2,
    }
    values.update(overrides)
    return T24Client(**values)


async def test_accounts_are_read_across_pages(bus: FakeBus) -> None:
    bus.customers["1234567"] = [
        record(1),
        record(2),
        record(3, "USD"),
        {**record(4), "INACTIV.MARKER": "Y"},
        {**record(5), "POSTING.RESTRICT": "2"},
    ]
    accounts = await client(bus).accounts("1234567")
    assert accounts == [
        Account("1000000001", "1001", "MWK"),
        Account("1000000002", "1001", "MWK"),
        Account("1000000003", "1001", "USD"),
        Account("1000000004", "1001", "MWK", active=False),
        Account("1000000005", "1001", "MWK", active=False),
    ]
    assert bus.requests == [
        {"page_size": "2"},
        {"page_size": "2", "page_start": "2", "page_token": "token-1234567"},
        {"page_size": "2", "page_start": "3", "page_token": "token-1234567"},
    ]


async def test_a_customer_unknown_to_t24_has_no_accounts(bus: FakeBus) -> None:
    bus.customers["7654321"] = []
    assert await client(bus).accounts("7654321") == []
    assert await client(bus).accounts("9999999") == []


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ({"status": 503}, "core banking answered HTTP 503"),
        ({"status": 500}, "core banking answered HTTP 500"),
        (
            {"raw": b"<html>maintenance</html>"},
            "core banking answered with something other than JSON",
        ),
        ({"raw": b'{"data": []}'}, "core banking answered without a {header, body} envelope"),
        (
            {"raw": b'{"header": {"status": "failed"}, "body": []}'},
            "core banking reported status 'failed'",
        ),
        (
            {"raw": b'{"header": {}, "body": [{"CATEGORY": "1001"}]}'},
            "core banking answered an account without ACCOUNT.ID or CURRENCY",
        ),
    ],
)
async def test_a_broken_service_bus_is_unavailable(
    bus: FakeBus, setup: dict[str, Any], message: str
) -> None:
    for name, value in setup.items():
        setattr(bus, name, value)
    with pytest.raises(CoreBankingUnavailable) as raised:
        await client(bus).accounts("1234567")
    assert str(raised.value) == message


async def test_a_slow_service_bus_times_out(bus: FakeBus) -> None:
    bus.customers["1234567"] = [record(1)]
    bus.delay = 0.5
    with pytest.raises(CoreBankingUnavailable, match="core banking unreachable: ReadTimeout"):
        await client(bus, timeout=0.1).accounts("1234567")


async def test_nothing_listening_is_unavailable() -> None:
    lookup = T24Client(base_url="http://127.0.0.1:9", username=USERNAME, password=PASSWORD)
    with pytest.raises(CoreBankingUnavailable, match="core banking unreachable: ConnectError"):
        await lookup.accounts("1234567")


async def test_credentials_are_needed_and_never_repeated(bus: FakeBus) -> None:
    with pytest.raises(CoreBankingUnavailable) as refused:
        await client(bus, password="wrong").accounts("1234567")
    assert str(refused.value) == "core banking refused the credentials (HTTP 401)"
    with pytest.raises(CoreBankingUnavailable) as missing:
        await client(bus, password=None).accounts("1234567")
    assert str(missing.value) == "CONVEYOR_T24_USERNAME and CONVEYOR_T24_PASSWORD are not set"
    assert bus.requests == [{"page_size": "2"}]  # no call without credentials


def test_settings_choose_the_client(tmp_path: Path) -> None:
    chosen = core_banking(
        make_settings(
            f"sqlite:///{tmp_path}/x.db",
            core_banking="t24",
            t24_url="https://esb.bank.example/",
            t24_username=USERNAME,
            t24_password=PASSWORD,
        )
    )
    assert isinstance(chosen, T24Client)
    assert chosen.base_url == "https://esb.bank.example"
    assert isinstance(
        core_banking(make_settings(f"sqlite:///{tmp_path}/x.db")), SimulatedCoreBanking
    )


async def test_the_simulator_serves_the_shipped_customers() -> None:
    simulator = SimulatedCoreBanking()
    accounts = await simulator.accounts("1234567")
    assert [(a.account_id, a.currency, a.active) for a in accounts] == [
        ("1000123456", "MWK", True),
        ("1000123457", "MWK", True),
        ("1000123458", "MWK", True),
    ]
    assert await simulator.accounts("7654321") == []
    assert await simulator.accounts("1111111") == []


async def test_the_simulator_reads_a_customers_file_of_the_operators(tmp_path: Path) -> None:
    customers = tmp_path / "customers.json"
    customers.write_text(
        json.dumps({"customers": [{"customer_number": "42", "accounts": [record(7, "ZAR")]}]})
    )
    settings = make_settings(f"sqlite:///{tmp_path}/x.db", t24_customers_file=str(customers))
    simulator = core_banking(settings)
    assert await simulator.accounts("42") == [Account("1000000007", "1001", "ZAR")]
    assert await simulator.accounts("1234567") == []


async def test_the_simulators_failures_replay_by_attempt() -> None:
    simulator = SimulatedCoreBanking(failure_rate=0.5)
    # The dice for this customer: attempt 1 fails, attempt 2 answers (on every run).
    with pytest.raises(CoreBankingUnavailable, match=r"simulated accounts failure \(attempt 1\)"):
        await simulator.accounts("1234567", attempt=1)
    assert len(await simulator.accounts("1234567", attempt=2)) == 3
