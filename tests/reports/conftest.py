"""Fixtures for the reports tests: an API key with a session, the context of one customer and
opportunity, and a worker that writes sections."""

import base64
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import pytest

from conveyor.config import Settings
from conveyor.database import Database
from conveyor.reports.client import PollingBackoff, ReportsClient
from conveyor.tasks import Worker
from tests.support import api_key_headers
from tests.tasks.conftest import FAST, running

PREFIX = "/api/reports"
SESSION = "session_123"
FAST_POLLING = PollingBackoff(initial=0.02, factor=1.5, cap=0.2)
"""The document's backoff, scaled down: tests poll a worker that writes in milliseconds."""

CUSTOMER = {
    "name": "Harbour Freight Ltd",
    "industry": "logistics",
    "location": "Auckland, New Zealand",
    "size": "about 250 employees",
    "description": "Harbour Freight moves containers between the port and inland depots.",
    "facts": {"Account manager": "Mere Tane"},
}
OPPORTUNITY = {
    "name": "Depot scheduling platform",
    "summary": "Replace spreadsheet scheduling of depot slots with a booking platform.",
    "current_state": "Slots are booked by phone and tracked in shared spreadsheets.",
    "budget": "NZD 400,000",
    "timeline": "live before the 2027 peak season",
    "objectives": ["Cut truck waiting time by half", "Give hauliers self-service booking"],
    "requirements": ["Hauliers book and move slots online", "Gate staff see the day's plan"],
    "risks": ["Hauliers keep phoning in", "Integration with the port's system slips"],
    "stakeholders": ["Operations manager", "Gate supervisors", "Haulier partners"],
    "technologies": ["PostgreSQL", "Port community system API"],
    "facts": {"Procurement route": "Direct award"},
}


def b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def unb64(text: str) -> str:
    return base64.b64decode(text).decode("utf-8")


def generate_body(**overrides: Any) -> dict[str, Any]:
    return {
        "type": "Technical_scope",
        "customer_id": "cust-001",
        "opportunity_id": "opp-042",
        "section_title": "Executive Summary",
        **overrides,
    }


def refine_body(text: str = "## Risks\n\nWe're going to slip.", **overrides: Any) -> dict[str, Any]:
    return {
        **generate_body(section_title="Risks & Mitigations"),
        "original_text": b64(text),
        "prompt": "Make it more formal",
        **overrides,
    }


@pytest.fixture
async def headers(database: Database) -> dict[str, str]:
    """An API key's headers, with a Session-Id, for the POSTs."""
    return {**await api_key_headers(database, name="reports frontend"), "Session-Id": SESSION}


@pytest.fixture
async def other_headers(database: Database) -> dict[str, str]:
    """Another API key (another frontend)."""
    return {**await api_key_headers(database, name="other frontend"), "Session-Id": SESSION}


@pytest.fixture
def reports(client: httpx.AsyncClient, headers: dict[str, str]) -> ReportsClient:
    """The package's own client, on the test app, polling fast."""
    return ReportsClient(
        PREFIX,
        api_key=headers["X-API-Key"],
        session_id=SESSION,
        http=client,
        backoff=FAST_POLLING,
        max_wait=30,
    )


@pytest.fixture
def worker(
    database: Database, settings: Settings
) -> Callable[..., AbstractAsyncContextManager[Worker]]:
    """`async with worker(): ...` runs a task worker with the app's settings (or overrides)."""

    def start(settings_: Settings = settings) -> AbstractAsyncContextManager[Worker]:
        return running(Worker(database, FAST, settings=settings_))

    return start


async def put_context(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    for path, body in (
        ("customers/cust-001", CUSTOMER),
        ("opportunities/opp-042", OPPORTUNITY),
    ):
        response = await client.put(f"{PREFIX}/context/{path}", json=body, headers=headers)
        assert response.status_code in (200, 201), response.text
