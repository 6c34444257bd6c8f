"""The OWASP API Security Top 10 items that apply, one test each, across the surfaces:
object-level access, mass assignment, page-size caps, oversized bodies, caching of personal
data and the CORS allow-list. (Token forgery is tested in tests/auth/test_router.py, webhook
URLs inside the network in tests/webhooks/test_webhooks.py.)"""

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from conveyor.auth.models import Role
from conveyor.config import Settings
from conveyor.database import Database
from conveyor.main import create_app
from conveyor.registrations.models import CustomerRegistration
from tests.support import bearer_headers, make_settings

SUBMISSION = {
    "name": "Kai Kitchen",
    "description": "Modern New Zealand food",
    "cuisineType": "New Zealand",
    "street": "12 Karangahape Road",
    "city": "Auckland",
    "state": "Auckland",
    "zipCode": "1010",
    "country": "New Zealand",
    "phoneNumber": "+64 9 555 0100",
    "email": "owner@example.com",
    "businessHours": "Tue-Sun 11:00-22:00",
}
REGISTRATION = {"customer_number": "1234567", "phone_number": "0991234567"}


@asynccontextmanager
async def served(database_url: str, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(make_settings(database_url, **settings))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        yield client


async def test_a_user_sees_only_their_own_submissions(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    alice = await bearer_headers(database, settings, email="alice@example.com")
    bob = await bearer_headers(database, settings, email="bob@example.com")
    created = await client.post("/api/v1/restaurant-registrations", json=SUBMISSION, headers=alice)
    assert created.status_code == 201, created.text
    registration_id = created.json()["registrationId"]

    mine = await client.get("/api/v1/restaurant-registrations/mine", headers=bob)
    assert mine.json()["items"] == []
    # The admin view of a submission is not a back door for its owner or anyone else.
    for user in (alice, bob):
        peek = await client.get(
            f"/api/v1/restaurant-registrations/admin/{registration_id}", headers=user
        )
        assert peek.status_code == 403
        assert "Kai Kitchen" not in peek.text


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        (
            "POST",
            "/api/v1/auth/signup",
            {"email": "m@example.com", "password": "long enough", "name": "M", "roles": ["admin"]},
            "roles",
        ),
        ("POST", "/api/registrations", {**REGISTRATION, "status": "COMPLETED"}, "status"),
        ("POST", "/api/registrations", {**REGISTRATION, "user_id": 1}, "user_id"),
        ("POST", "/api/restaurants", {"name": "Pizza Palace", "source": "registration"}, "source"),
        (
            "POST",
            "/api/registration-batches",
            {"name": "B", "restaurant_ids": [], "status": "completed"},
            "status",
        ),
        ("POST", "/api/v1/companies", {"name": "Pipe Pros", "id": "x"}, "id"),
    ],
)
async def test_fields_a_client_may_not_set_are_refused(
    client: httpx.AsyncClient, method: str, path: str, body: dict[str, Any], field: str
) -> None:
    response = await client.request(method, path, json=body)
    assert response.status_code in (400, 422), response.text
    assert field in response.text
    assert "not permitted" in response.text


async def test_a_submission_cannot_set_its_own_review_status(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    owner = await bearer_headers(database, settings)
    response = await client.post(
        "/api/v1/restaurant-registrations",
        json={**SUBMISSION, "status": "Approved"},
        headers=owner,
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert "status" in response.json()["errors"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/restaurants?limit=101",
        "/api/registration-batches?limit=101",
        "/api/leads?limit=101",
        "/api/v1/jobs/?limit=101",
        "/api/v1/companies?limit=101",
    ],
)
async def test_pages_are_capped_at_100(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code in (400, 422), response.text
    assert "limit" in response.text
    assert "100" in response.text


async def test_review_pages_are_capped_too(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    admin = await bearer_headers(database, settings, Role.ADMIN)
    response = await client.get(
        "/api/v1/restaurant-registrations/admin/pending?pageSize=101", headers=admin
    )
    assert response.status_code == 400
    assert "pageSize must be between 1 and 100" in response.text


def body_of(size: int) -> bytes:
    return json.dumps({**REGISTRATION, "first_name": "x" * size}).encode()


async def chunks(size: int) -> AsyncIterator[bytes]:
    """A JSON body of about `size` bytes, streamed without a Content-Length."""
    body = body_of(size)
    for start in range(0, len(body), 1000):
        yield body[start : start + 1000]


@pytest.mark.parametrize(
    ("path", "shape"),
    [
        ("/api/registrations", {"success": False, "error": "Request Entity Too Large"}),
        ("/api/registration-batches", {"success": False}),
        ("/api/v1/jobs/", {"error_code": "REQUEST_ENTITY_TOO_LARGE"}),
        ("/api/v1/restaurant-registrations", {"status": 413}),
    ],
)
async def test_oversized_bodies_are_refused_in_each_surfaces_format(
    database_url: str, database: Database, path: str, shape: dict[str, Any]
) -> None:
    async with served(database_url, max_body_bytes=4096) as client:
        declared = await client.post(path, json={**REGISTRATION, "first_name": "x" * 5000})
        streamed = await client.post(
            path,
            content=chunks(5000),
            headers={"content-type": "application/json", "Idempotency-Key": "big-1"},
        )
    for response in (declared, streamed):
        assert response.status_code == 413, response.text
        body = response.json()
        assert {key: body[key] for key in shape} == shape
        assert "larger than the limit of 4096 bytes" in response.text
    async with database.read() as session:
        count = select(func.count()).select_from(CustomerRegistration)
        assert (await session.execute(count)).scalar_one() == 0


async def test_bodies_within_the_limit_go_through(database_url: str) -> None:
    async with served(database_url, max_body_bytes=4096) as client:
        response = await client.post(
            "/api/registrations",
            content=body_of(10),
            headers={"content-type": "application/json"},
        )
    assert response.status_code == 202, response.text


async def test_answers_with_personal_data_are_never_cached(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    owner = await bearer_headers(database, settings)
    registration = await client.post("/api/registrations", json=REGISTRATION)
    answers = [
        registration,
        await client.get("/api/registrations/status", params={"customer_number": "1234567"}),
        await client.get("/api/v1/auth/me", headers=owner),
        await client.get("/api/v1/restaurant-registrations/mine", headers=owner),
        await client.post("/api/restaurants", json={"name": "Pizza Palace"}),
        await client.get("/api/registrations/999"),  # errors too
    ]
    assert [answer.headers.get("cache-control") for answer in answers] == ["no-store"] * 6


async def test_cors_allows_only_the_configured_origins(database_url: str) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-api-key",
    }
    async with served(database_url, cors_origins=["https://console.bank.example"]) as client:
        allowed = await client.options(
            "/api/registrations", headers={"Origin": "https://console.bank.example", **preflight}
        )
        refused = await client.options(
            "/api/registrations", headers={"Origin": "https://evil.example", **preflight}
        )
        simple = await client.get(
            "/api/v1/health", headers={"Origin": "https://console.bank.example"}
        )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://console.bank.example"
    assert "x-api-key" in allowed.headers["access-control-allow-headers"].lower()
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers
    assert simple.headers["access-control-allow-origin"] == "https://console.bank.example"

    async with served(database_url) as client:  # the default: no browser origin at all
        default = await client.get("/api/v1/health", headers={"Origin": "https://any.example"})
    assert "access-control-allow-origin" not in default.headers


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "where"),
    [
        (
            "POST",
            "/api/registrations",
            {"content": b'{"customer_number": "1\\u0000"}'},
            400,
            "body",
        ),
        ("POST", "/api/v1/companies", {"content": b'{"name": "Pipe\\u0000 Pros"}'}, 422, "body"),
        ("GET", "/api/restaurants?search=pizza%00", {}, 400, "query"),
        ("GET", "/api/v1/jobs/%00", {}, 422, "path"),
    ],
)
async def test_nul_characters_are_refused_before_any_handler(
    client: httpx.AsyncClient, method: str, path: str, kwargs: Any, status: int, where: str
) -> None:
    """PostgreSQL can store no NUL character in text; a request carrying one is the caller's
    mistake (the surface's validation error), never the database's (a 500)."""
    headers = {"content-type": "application/json"}
    response = await client.request(method, path, headers=headers, **kwargs)
    assert response.status_code == status, response.text
    assert f"{where}: must not contain NUL characters" in response.text


async def test_an_escaped_backslash_before_u0000_is_plain_text(client: httpx.AsyncClient) -> None:
    # The JSON text `\\u0000` is a backslash followed by "u0000": harmless, and accepted.
    created = await client.post(
        "/api/restaurants",
        content=b'{"name": "Pizza \\\\u0000 Palace"}',
        headers={"content-type": "application/json"},
    )
    assert created.status_code == 201, created.text
    assert created.json()["restaurant"]["name"] == "Pizza \\u0000 Palace"
