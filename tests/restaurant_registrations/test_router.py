"""Document 003 over HTTP: submit, the review queue, detail, approve, reject, and who may."""

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from conveyor.auth.models import Role
from conveyor.config import Settings
from conveyor.database import Database
from conveyor.restaurants.models import Restaurant
from conveyor.tasks import Task
from tests.support import bearer_headers

URL = "/api/v1/restaurant-registrations"
EXAMPLE = {
    "name": "Pasta Palace",
    "description": "Fresh handmade pasta.",
    "cuisineType": "Italian",
    "street": "123 Market St",
    "city": "San Francisco",
    "state": "CA",
    "zipCode": "94105",
    "country": "USA",
    "phoneNumber": "+1 (415) 555-2121",
    "email": "contact@pastapalace.example",
    "businessHours": "09:00-17:30",
    "logoUrl": "https://cdn.example.com/pasta/logo.png",
    "latitude": 37.7936,
    "longitude": -122.3965,
}


@pytest.fixture
async def owner(database: Database, settings: Settings) -> dict[str, str]:
    return await bearer_headers(database, settings, email="owner@example.com")


@pytest.fixture
async def admin(database: Database, settings: Settings) -> dict[str, str]:
    return await bearer_headers(database, settings, Role.ADMIN)


async def _submit(client: httpx.AsyncClient, owner: dict[str, str], **changes: Any) -> str:
    response = await client.post(URL, json={**EXAMPLE, **changes}, headers=owner)
    assert response.status_code == 201, response.text
    return str(response.json()["registrationId"])


async def test_the_documents_flow_submit_list_detail_approve(
    client: httpx.AsyncClient, owner: dict[str, str], admin: dict[str, str], database: Database
) -> None:
    registration_id = await _submit(client, owner)
    uuid.UUID(registration_id)

    queue = (await client.get(f"{URL}/admin/pending", headers=admin)).json()
    assert queue["pageNumber"] == 1
    assert (queue["totalCount"], queue["totalPages"]) == (1, 1)
    assert (queue["hasPreviousPage"], queue["hasNextPage"]) == (False, False)
    (item,) = queue["items"]
    assert item["registrationId"] == registration_id
    assert (item["name"], item["city"], item["status"]) == (
        "Pasta Palace",
        "San Francisco",
        "Pending",
    )
    assert item["submittedAtUtc"].endswith("Z")
    assert item["reviewedAtUtc"] is None
    assert item["reviewNote"] is None

    detail = (await client.get(f"{URL}/admin/{registration_id}", headers=admin)).json()
    for field, value in EXAMPLE.items():
        assert detail[field] == value, field
    assert detail["status"] == "Pending"
    assert detail["submitterName"] == "Test User"
    assert detail["reviewedByUserId"] is None
    assert detail["submitterUserId"] == item["submitterUserId"]

    approved = await client.post(
        f"{URL}/admin/{registration_id}/approve",
        json={"note": "Verified business license."},
        headers=admin,
    )
    assert approved.status_code == 200
    restaurant_id = approved.json()["restaurantId"]
    async with database.read() as session:
        restaurant = await session.get(Restaurant, uuid.UUID(restaurant_id))
    assert restaurant is not None
    assert (restaurant.name, restaurant.source) == ("Pasta Palace", "registration")
    assert str(restaurant.owner_user_id) == item["submitterUserId"]
    assert restaurant.latitude == pytest.approx(37.7936)

    again = await client.get(f"{URL}/admin/{registration_id}", headers=admin)
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["status"] == 409
    assert (await client.get(f"{URL}/admin/pending", headers=admin)).json()["totalCount"] == 0
    mine = (await client.get(f"{URL}/mine", headers=owner)).json()
    assert mine["items"][0]["status"] == "Approved"
    assert mine["items"][0]["reviewNote"] == "Verified business license."


async def test_reject_stores_the_reason_and_a_second_review_is_409(
    client: httpx.AsyncClient, owner: dict[str, str], admin: dict[str, str]
) -> None:
    registration_id = await _submit(client, owner)
    rejected = await client.post(
        f"{URL}/admin/{registration_id}/reject",
        json={"reason": "Missing required documentation."},
        headers=admin,
    )
    assert rejected.status_code == 204
    assert rejected.content == b""
    mine = (await client.get(f"{URL}/mine", headers=owner)).json()
    assert (mine["items"][0]["status"], mine["items"][0]["reviewNote"]) == (
        "Rejected",
        "Missing required documentation.",
    )
    for action, body in (("approve", {}), ("reject", {"reason": "again"})):
        late = await client.post(
            f"{URL}/admin/{registration_id}/{action}", json=body, headers=admin
        )
        assert late.status_code == 409, action
    ghost = uuid.uuid4()
    for method, path, body in (
        ("GET", f"{URL}/admin/{ghost}", None),
        ("POST", f"{URL}/admin/{ghost}/reject", {"reason": "no"}),
    ):
        missing = await client.request(method, path, json=body, headers=admin)
        assert missing.status_code == 404, path
        assert missing.json()["detail"] == f"Registration {ghost} not found"
    unknown = await client.post(f"{URL}/admin/{uuid.uuid4()}/approve", json={}, headers=admin)
    assert unknown.status_code == 404
    assert unknown.json()["status"] == 404
    assert unknown.json()["type"] == "https://tools.ietf.org/html/rfc9110#section-15.5.5"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        *[(name, "   ") for name in EXAMPLE if name not in {"logoUrl", "latitude", "longitude"}],
        ("name", "x" * 101),
        ("description", "x" * 501),
        ("cuisineType", "x" * 51),
        ("street", "x" * 201),
        ("city", "x" * 101),
        ("state", "x" * 101),
        ("zipCode", "x" * 21),
        ("country", "x" * 101),
        ("phoneNumber", "x" * 31),
        ("email", "not-an-email"),
        ("businessHours", "x" * 201),
        ("logoUrl", "/relative/logo.png"),
        ("logoUrl", "ftp://cdn.example.com/logo.png"),
        ("latitude", 90.5),
        ("latitude", -91),
        ("longitude", 180.1),
        ("longitude", -181),
    ],
)
async def test_each_rule_is_a_400_whose_errors_map_names_the_field(
    client: httpx.AsyncClient, owner: dict[str, str], field: str, value: object
) -> None:
    refused = await client.post(URL, json={**EXAMPLE, field: value}, headers=owner)
    assert refused.status_code == 400, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["title"] == "One or more validation errors occurred."
    assert list(problem["errors"]) == [field]


@pytest.mark.parametrize("missing", ["name", "email", "businessHours"])
async def test_a_missing_required_field_is_named(
    client: httpx.AsyncClient, owner: dict[str, str], missing: str
) -> None:
    body = {k: v for k, v in EXAMPLE.items() if k != missing}
    refused = await client.post(URL, json=body, headers=owner)
    assert refused.status_code == 400
    assert list(refused.json()["errors"]) == [missing]


async def test_review_bodies_are_validated(
    client: httpx.AsyncClient, owner: dict[str, str], admin: dict[str, str]
) -> None:
    registration_id = await _submit(client, owner)
    long_note = await client.post(
        f"{URL}/admin/{registration_id}/approve", json={"note": "x" * 501}, headers=admin
    )
    assert list(long_note.json()["errors"]) == ["note"]
    for body in ({}, {"reason": "  "}, {"reason": "x" * 501}):
        refused = await client.post(
            f"{URL}/admin/{registration_id}/reject", json=body, headers=admin
        )
        assert refused.status_code == 400, body
        assert list(refused.json()["errors"]) == ["reason"]


async def test_a_duplicate_pending_submission_is_409(
    client: httpx.AsyncClient, owner: dict[str, str]
) -> None:
    await _submit(client, owner)
    duplicate = await client.post(
        URL, json={**EXAMPLE, "name": "PASTA palace", "street": "123 market st"}, headers=owner
    )
    assert duplicate.status_code == 409
    assert duplicate.json()["code"] == "DUPLICATE_PENDING_REGISTRATION"
    await _submit(client, owner, street="9 Other St")


async def test_the_access_matrix(
    client: httpx.AsyncClient, database: Database, settings: Settings, admin: dict[str, str]
) -> None:
    incomplete = await bearer_headers(database, settings, signup_completed=False)
    plain = await bearer_headers(database, settings)
    assert (await client.post(URL, json=EXAMPLE)).status_code == 401
    refused = await client.post(URL, json=EXAMPLE, headers=incomplete)
    assert refused.status_code == 403
    assert refused.json()["code"] == "SIGNUP_INCOMPLETE"
    registration_id = await _submit(client, plain)
    for method, path in (
        ("GET", f"{URL}/admin/pending"),
        ("GET", f"{URL}/admin/{registration_id}"),
        ("POST", f"{URL}/admin/{registration_id}/approve"),
        ("POST", f"{URL}/admin/{registration_id}/reject"),
    ):
        assert (await client.request(method, path)).status_code == 401, path
        assert (await client.request(method, path, headers=plain)).status_code == 403, path
    assert (await client.get(f"{URL}/admin/pending", headers=admin)).status_code == 200


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"pageNumber": 0}, "pageNumber must be 1 or more"),
        ({"pageSize": 0}, "pageSize must be between 1 and 100"),
        ({"pageSize": 101}, "pageSize must be between 1 and 100"),
    ],
)
async def test_bad_paging_is_400(
    client: httpx.AsyncClient, admin: dict[str, str], params: dict[str, int], problem: str
) -> None:
    refused = await client.get(f"{URL}/admin/pending", params=params, headers=admin)
    assert refused.status_code == 400
    assert problem in refused.json()["detail"]


async def test_paging_fields_at_the_edges(
    client: httpx.AsyncClient, owner: dict[str, str], admin: dict[str, str]
) -> None:
    ids = [await _submit(client, owner, name=f"Place {n}") for n in range(5)]

    async def page(number: int, size: int) -> dict[str, Any]:
        params = {"pageNumber": number, "pageSize": size}
        return (await client.get(f"{URL}/admin/pending", params=params, headers=admin)).json()

    first, last, beyond = await page(1, 2), await page(3, 2), await page(4, 2)
    assert [i["registrationId"] for i in first["items"]] == ids[:2]  # oldest first
    assert (first["totalPages"], first["hasPreviousPage"], first["hasNextPage"]) == (3, False, True)
    assert [i["registrationId"] for i in last["items"]] == ids[4:]
    assert (last["hasPreviousPage"], last["hasNextPage"]) == (True, False)
    assert (beyond["items"], beyond["hasPreviousPage"], beyond["hasNextPage"]) == ([], True, False)
    exact = await page(1, 5)
    assert (exact["totalPages"], exact["hasNextPage"]) == (1, False)


async def test_concurrent_reviews_one_wins_and_one_restaurant_exists(
    client: httpx.AsyncClient, owner: dict[str, str], admin: dict[str, str], database: Database
) -> None:
    registration_id = await _submit(client, owner)
    actions = [
        client.post(f"{URL}/admin/{registration_id}/approve", json={}, headers=admin)
        for _ in range(4)
    ] + [
        client.post(f"{URL}/admin/{registration_id}/reject", json={"reason": "no"}, headers=admin)
        for _ in range(2)
    ]
    answers = await asyncio.gather(*actions)
    codes = sorted(answer.status_code for answer in answers)
    assert codes.count(409) == 5, codes
    assert set(codes) - {409} <= {200, 204}
    async with database.read() as session:
        restaurants = (await session.execute(select(func.count()).select_from(Restaurant))).scalar()
    assert restaurants == (1 if 200 in codes else 0)


async def test_each_step_is_announced_to_webhook_subscribers(
    admin_client: httpx.AsyncClient,
    owner: dict[str, str],
    admin: dict[str, str],
    database: Database,
) -> None:
    subscribed = await admin_client.post(
        "/api/v1/admin/webhooks",
        json={"url": "http://localhost:9/hooks", "event_types": ["restaurant_registration.*"]},
    )
    assert subscribed.status_code == 422  # event types are exact names or "*"
    await admin_client.post(
        "/api/v1/admin/webhooks",
        json={
            "url": "http://localhost:9/hooks",
            "event_types": [
                "restaurant_registration.submitted",
                "restaurant_registration.approved",
                "restaurant_registration.rejected",
            ],
        },
    )
    first = await _submit(admin_client, owner)
    second = await _submit(admin_client, owner, name="Second Place")
    await admin_client.post(f"{URL}/admin/{first}/approve", json={}, headers=admin)
    await admin_client.post(
        f"{URL}/admin/{second}/reject", json={"reason": "Closed"}, headers=admin
    )
    async with database.read() as session:
        queued = (
            await session.execute(
                select(Task.payload).where(Task.name == "webhooks.deliver").order_by(Task.id)
            )
        ).scalars()
        events = [(p["event_type"], p["data"]["registration_id"]) for p in queued]
    assert events == [
        ("restaurant_registration.submitted", first),
        ("restaurant_registration.submitted", second),
        ("restaurant_registration.approved", first),
        ("restaurant_registration.rejected", second),
    ]
