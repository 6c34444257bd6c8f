"""The registrations surface over HTTP: phone normalisation, idempotent submission, the status
check's 400/404, retry refusals, the status limit and production access, in 001's error shape."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from conveyor.database import Database
from conveyor.main import create_app
from conveyor.tasks import Task
from tests.registrations.conftest import register
from tests.support import api_key_headers, make_settings

URL = "/api/registrations"


def bad(response: httpx.Response, status: int, message: str) -> None:
    assert response.status_code == status, response.text
    assert response.json() == {
        "success": False,
        "error": {400: "Bad Request", 404: "Not Found", 409: "Conflict"}[status],
        "message": message,
    }


@asynccontextmanager
async def served(database_url: str, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(make_settings(database_url, **settings))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        yield client


async def tasks_queued(database: Database) -> int:
    async with database.read() as session:
        return (await session.execute(select(func.count()).select_from(Task))).scalar_one()


@pytest.mark.parametrize("phone", ["0991234567", "099 123 4567", "265991234567", "+265991234567"])
async def test_phone_numbers_are_stored_in_e164(client: httpx.AsyncClient, phone: str) -> None:
    response = await client.post(URL, json={"customer_number": "1234567", "phone_number": phone})
    assert response.status_code == 202
    data = response.json()["data"]
    assert data["phone_number"] == "+265991234567"
    assert response.headers["Location"] == f"{URL}/{data['registration_id']}"
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"customer_number": "1234567", "phone_number": "12345"},
            "phone_number is not a valid phone number (national numbers are read as MW)",
        ),
        (
            {"customer_number": "1234567", "phone_number": "call me"},
            "phone_number is not a phone number",
        ),
        (
            {"customer_number": "12-345", "phone_number": "0991234567"},
            "Invalid request: customer_number: must contain digits only (at most 20)",
        ),
        ({"customer_number": "1234567"}, "Invalid request: phone_number: Field required"),
        (
            {"customer_number": "1234567", "phone_number": "0991234567", "role": "admin"},
            "Invalid request: role: Extra inputs are not permitted",
        ),
        (
            {"customer_number": "1234567", "phone_number": "0991234567", "email": "nope"},
            "Invalid request: email: value is not a valid email address: An email address must "
            "have an @-sign.",
        ),
    ],
)
async def test_bad_registrations_are_refused_naming_the_field(
    client: httpx.AsyncClient, database: Database, body: dict[str, str], message: str
) -> None:
    bad(await client.post(URL, json=body), 400, message)
    assert await tasks_queued(database) == 0


async def test_the_same_customer_and_phone_get_the_open_registration_back(
    client: httpx.AsyncClient, database: Database
) -> None:
    first = await register(client, customer_number="1234567", phone_number="+265991234567")
    again = await client.post(
        URL, json={"customer_number": "1234567", "phone_number": "0991234567"}
    )
    assert again.status_code == 200
    assert again.json() == first
    assert await tasks_queued(database) == 1

    # Another phone is another request.
    other = await register(client, customer_number="1234567", phone_number="0888765432")
    assert other["data"]["registration_id"] != first["data"]["registration_id"]
    assert await tasks_queued(database) == 2


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "At least one of customer_number or phone_number is required"),
        (
            {"customer_number": " ", "phone_number": ""},
            "At least one of customer_number or phone_number is required",
        ),
        ({"customer_number": "12a"}, "customer_number must contain digits only (at most 20)"),
        (
            {"phone_number": "555"},
            "phone_number is not a valid phone number (national numbers are read as MW)",
        ),
    ],
)
async def test_the_status_check_needs_a_valid_criterion(
    client: httpx.AsyncClient, params: dict[str, str], message: str
) -> None:
    bad(await client.get(f"{URL}/status", params=params), 400, message)


async def test_the_status_check_finds_the_most_recent_match_of_every_criterion(
    client: httpx.AsyncClient,
) -> None:
    older = await register(client, customer_number="1234567", phone_number="+265991234567")
    newer = await register(client, customer_number="1234567", phone_number="+265888765432")

    async def found(**params: str) -> int:
        response = await client.get(f"{URL}/status", params=params)
        assert response.status_code == 200, response.text
        assert response.headers["Cache-Control"] == "no-store"
        registration_id: int = response.json()["data"]["registration_id"]
        return registration_id

    assert await found(customer_number="1234567") == newer["data"]["registration_id"]
    # The national form finds what was stored in E.164.
    assert await found(phone_number="0991234567") == older["data"]["registration_id"]
    assert (
        await found(customer_number="1234567", phone_number="+265991234567")
        == older["data"]["registration_id"]
    )
    none = "No registration found for the given criteria"
    bad(await client.get(f"{URL}/status", params={"customer_number": "7654321"}), 404, none)
    mismatch = {"customer_number": "7654321", "phone_number": "+265991234567"}
    bad(await client.get(f"{URL}/status", params=mismatch), 404, none)


async def test_one_registration_by_id_and_its_retry_refusals(client: httpx.AsyncClient) -> None:
    created = await register(client, customer_number="1234567", phone_number="0991234567")
    registration_id = created["data"]["registration_id"]
    assert (await client.get(f"{URL}/{registration_id}")).json() == created

    bad(await client.get(f"{URL}/999999"), 404, "Registration 999999 not found")
    bad(await client.post(f"{URL}/999999/retry"), 404, "Registration 999999 not found")
    bad(
        await client.post(f"{URL}/{registration_id}/retry"),
        409,
        f"Registration {registration_id} is PENDING and has not failed; only a FAILED "
        "registration with can_retry true can be retried",
    )
    bad(
        await client.get(f"{URL}/abc"),
        400,
        "Invalid request: registration_id: Input should be a valid integer, unable to parse "
        "string as an integer",
    )


async def test_the_status_check_is_rate_limited_per_client(database_url: str) -> None:
    async with served(database_url, rate_limits={"registrations.status": "2/minute"}) as client:
        await register(client, customer_number="1234567", phone_number="0991234567")
        params = {"customer_number": "1234567"}
        polls = [await client.get(f"{URL}/status", params=params) for _ in range(3)]
    assert [poll.status_code for poll in polls] == [200, 200, 429]
    assert polls[2].json()["error"] == "Too Many Requests"
    assert polls[2].json()["success"] is False
    assert int(polls[2].headers["Retry-After"]) > 0


async def test_production_needs_an_api_key(database_url: str, database: Database) -> None:
    async with served(database_url, env="production", secret_key="x" * 40) as client:
        refused = await client.get(f"{URL}/status", params={"customer_number": "1234567"})
        assert refused.status_code == 401
        assert refused.json()["success"] is False
        assert refused.json()["error"] == "Unauthorized"
        client.headers.update(await api_key_headers(database, name="bank partner"))
        accepted = await client.post(
            URL, json={"customer_number": "1234567", "phone_number": "0991234567"}
        )
        assert accepted.status_code == 202
