"""Document 003 (admin restaurant registrations), example by example: submit, the pending
queue, a registration's detail, approve and reject, then every error the document lists, in
RFC 9457 problem details. The document's base path `/api/v1/` is where the service mounts it.
"""

import uuid
from typing import Any

import httpx
import pytest

from conveyor.auth.models import Role
from conveyor.config import Settings
from conveyor.database import Database
from conveyor.restaurant_registrations import service
from tests.contract.conftest import TEXT, assert_like, exactly, sign_in

URL = "/api/v1/restaurant-registrations"

# The document's examples, as printed there.
SUBMIT: dict[str, Any] = {
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
SUBMITTED = {"registrationId": "b64f47b6-61a6-4490-89c7-2cc5bfdb8c3c"}
PENDING_ITEM: dict[str, Any] = {
    "registrationId": "b64f47b6-61a6-4490-89c7-2cc5bfdb8c3c",
    "name": "Pasta Palace",
    "city": "San Francisco",
    "status": "Pending",
    "submittedAtUtc": "2024-12-18T10:02:00Z",
    "reviewedAtUtc": None,
    "reviewNote": None,
    "submitterUserId": "4f7edb91-7710-4c3a-b737-60e3a8a6a7af",
}
PENDING_PAGE: dict[str, Any] = {
    "items": [PENDING_ITEM],
    "pageNumber": 1,
    "totalPages": 3,
    "totalCount": 25,
    "hasPreviousPage": False,
    "hasNextPage": True,
}
DETAIL: dict[str, Any] = {
    "registrationId": "b64f47b6-61a6-4490-89c7-2cc5bfdb8c3c",
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
    "status": "Pending",
    "submittedAtUtc": "2024-12-18T10:02:00Z",
    "reviewedAtUtc": None,
    "reviewNote": None,
    "submitterUserId": "4f7edb91-7710-4c3a-b737-60e3a8a6a7af",
    "submitterName": "Jane Nguyen",
    "reviewedByUserId": None,
}
APPROVE = {"note": "Verified business license."}
APPROVED = {"restaurantId": "6bdb6aa7-2b76-4bb2-9c16-7a9f1ce0df9f"}
REJECT = {"reason": "Missing required documentation."}

# RFC 9457, as every 003 error is rendered. `code` and `traceId` are extension members
# (docs/spec-decisions.md, 003 "Extra members in problem details?"); a validation failure
# also has the ASP.NET `errors` map (ARCHITECTURE.md, the errors table).
PROBLEM_EXTRAS = {"code", "traceId"}


# Where RFC 9110 defines each status the document lists: the problem's `type`.
SECTIONS = {
    400: "15.5.1",
    401: "15.5.2",
    403: "15.5.4",
    404: "15.5.5",
    409: "15.5.10",
    500: "15.6.1",
}


def problem(status: int, instance: str) -> dict[str, Any]:
    return {
        "type": f"https://tools.ietf.org/html/rfc9110#section-{SECTIONS[status]}",
        "title": TEXT,
        "status": status,
        "detail": TEXT,
        "instance": instance,
    }


def assert_problem(
    response: httpx.Response, status: int, code: str, *, errors: list[str] | None = None
) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    expected = problem(status, response.request.url.path)
    extra = set(PROBLEM_EXTRAS)
    if errors is not None:
        extra.add("errors")
        assert list(body["errors"]) == errors
        assert body["title"] == "One or more validation errors occurred."
    assert_like(body, expected, extra=extra)
    assert body["code"] == code


@pytest.fixture
async def jane(database: Database, settings: Settings) -> tuple[str, dict[str, str]]:
    """The example's submitter: a signed-up user named Jane Nguyen."""
    return await sign_in(database, settings, name="Jane Nguyen", email="jane@example.com")


@pytest.fixture
async def admin(database: Database, settings: Settings) -> tuple[str, dict[str, str]]:
    return await sign_in(
        database, settings, name="Ada Admin", email="admin@example.com", roles=(Role.ADMIN,)
    )


async def _submit(client: httpx.AsyncClient, headers: dict[str, str], **changes: Any) -> str:
    response = await client.post(URL, json={**SUBMIT, **changes}, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["registrationId"])


# --- the examples, in the document's order ------------------------------------------------


async def test_post_restaurant_registrations(
    client: httpx.AsyncClient, jane: tuple[str, dict[str, str]]
) -> None:
    _, headers = jane
    response = await client.post(URL, json=SUBMIT, headers=headers)
    assert response.status_code == 201
    assert_like(response.json(), SUBMITTED)
    assert response.headers["content-type"] == "application/json"


async def test_get_admin_pending(
    client: httpx.AsyncClient,
    jane: tuple[str, dict[str, str]],
    admin: tuple[str, dict[str, str]],
) -> None:
    # The example's queue: 25 pending registrations, Pasta Palace the oldest.
    jane_id, headers = jane
    registration_id = await _submit(client, headers)
    others = [await _submit(client, headers, name=f"Place {n}") for n in range(24)]
    ids = {
        "b64f47b6-61a6-4490-89c7-2cc5bfdb8c3c": registration_id,
        "4f7edb91-7710-4c3a-b737-60e3a8a6a7af": jane_id,
    }

    def like_the_item(n: int) -> dict[str, Any]:
        return {**PENDING_ITEM, "registrationId": exactly(others[n]), "name": f"Place {n}"}

    # The example shows the first item of the page; the other nine are the next oldest.
    page = {**PENDING_PAGE, "items": [PENDING_ITEM, *(like_the_item(n) for n in range(9))]}
    for params in ({"pageNumber": 1, "pageSize": 10}, {}):  # the defaults are 1 and 10
        response = await client.get(f"{URL}/admin/pending", params=params, headers=admin[1])
        assert response.status_code == 200
        assert_like(response.json(), page, ids=ids)

    last = await client.get(
        f"{URL}/admin/pending", params={"pageNumber": 3, "pageSize": 10}, headers=admin[1]
    )
    assert_like(
        last.json(),
        {
            **PENDING_PAGE,
            "items": [like_the_item(n) for n in range(19, 24)],
            "pageNumber": 3,
            "hasPreviousPage": True,
            "hasNextPage": False,
        },
        ids={"4f7edb91-7710-4c3a-b737-60e3a8a6a7af": jane_id},
    )


async def test_get_admin_registration(
    client: httpx.AsyncClient,
    jane: tuple[str, dict[str, str]],
    admin: tuple[str, dict[str, str]],
) -> None:
    jane_id, headers = jane
    registration_id = await _submit(client, headers)
    response = await client.get(f"{URL}/admin/{registration_id}", headers=admin[1])
    assert response.status_code == 200
    assert_like(
        response.json(),
        DETAIL,
        ids={
            "b64f47b6-61a6-4490-89c7-2cc5bfdb8c3c": registration_id,
            "4f7edb91-7710-4c3a-b737-60e3a8a6a7af": jane_id,
        },
    )


async def test_post_approve(
    client: httpx.AsyncClient,
    jane: tuple[str, dict[str, str]],
    admin: tuple[str, dict[str, str]],
) -> None:
    registration_id = await _submit(client, jane[1])
    response = await client.post(
        f"{URL}/admin/{registration_id}/approve", json=APPROVE, headers=admin[1]
    )
    assert response.status_code == 200
    assert_like(response.json(), APPROVED)
    # "Only pending registrations can be retrieved. Non-pending registrations return a conflict."
    reviewed = await client.get(f"{URL}/admin/{registration_id}", headers=admin[1])
    assert_problem(reviewed, 409, "REGISTRATION_NOT_PENDING")
    # The note is optional.
    second = await _submit(client, jane[1], name="Pasta Palace Two")
    bare = await client.post(f"{URL}/admin/{second}/approve", headers=admin[1])
    assert bare.status_code == 200
    assert_like(bare.json(), APPROVED)


async def test_post_reject(
    client: httpx.AsyncClient,
    jane: tuple[str, dict[str, str]],
    admin: tuple[str, dict[str, str]],
) -> None:
    registration_id = await _submit(client, jane[1])
    response = await client.post(
        f"{URL}/admin/{registration_id}/reject", json=REJECT, headers=admin[1]
    )
    assert response.status_code == 204
    assert response.content == b""
    pending = await client.get(f"{URL}/admin/pending", headers=admin[1])
    assert pending.json()["totalCount"] == 0


# --- every error response the document lists, per endpoint --------------------------------


async def test_submit_errors(
    client: httpx.AsyncClient,
    database: Database,
    settings: Settings,
    jane: tuple[str, dict[str, str]],
) -> None:
    _, headers = jane
    missing = {key: value for key, value in SUBMIT.items() if key != "name"}
    assert_problem(
        await client.post(URL, json=missing, headers=headers),
        400,
        "VALIDATION_ERROR",
        errors=["name"],
    )
    assert_problem(await client.post(URL, json=SUBMIT), 401, "UNAUTHORIZED")
    _, unfinished = await sign_in(
        database, settings, name="New User", email="new@example.com", signup_completed=False
    )
    assert_problem(
        await client.post(URL, json=SUBMIT, headers=unfinished), 403, "SIGNUP_INCOMPLETE"
    )
    await _submit(client, headers)
    assert_problem(
        await client.post(URL, json=SUBMIT, headers=headers),
        409,
        "DUPLICATE_PENDING_REGISTRATION",
    )


async def test_pending_errors(
    client: httpx.AsyncClient,
    jane: tuple[str, dict[str, str]],
    admin: tuple[str, dict[str, str]],
) -> None:
    pending = f"{URL}/admin/pending"
    assert_problem(
        await client.get(pending, params={"pageSize": 0}, headers=admin[1]),
        400,
        "VALIDATION_ERROR",
    )
    assert_problem(await client.get(pending), 401, "UNAUTHORIZED")
    assert_problem(await client.get(pending, headers=jane[1]), 403, "FORBIDDEN")


@pytest.mark.parametrize(
    ("action", "body", "invalid", "field"),
    [
        ("approve", APPROVE, {"note": "x" * 501}, "note"),
        ("reject", REJECT, {}, "reason"),
    ],
)
async def test_review_errors(
    client: httpx.AsyncClient,
    jane: tuple[str, dict[str, str]],
    admin: tuple[str, dict[str, str]],
    action: str,
    body: dict[str, str],
    invalid: dict[str, str],
    field: str,
) -> None:
    registration_id = await _submit(client, jane[1])
    path = f"{URL}/admin/{registration_id}/{action}"
    assert_problem(
        await client.post(path, json=invalid, headers=admin[1]),
        400,
        "VALIDATION_ERROR",
        errors=[field],
    )
    assert_problem(await client.post(path, json=body), 401, "UNAUTHORIZED")
    assert_problem(await client.post(path, json=body, headers=jane[1]), 403, "FORBIDDEN")
    ghost = f"{URL}/admin/{uuid.uuid4()}/{action}"
    assert_problem(await client.post(ghost, json=body, headers=admin[1]), 404, "NOT_FOUND")
    done = await client.post(path, json=body, headers=admin[1])
    assert done.status_code in (200, 204)
    assert_problem(
        await client.post(path, json=body, headers=admin[1]), 409, "REGISTRATION_NOT_PENDING"
    )


async def test_detail_errors(
    client: httpx.AsyncClient,
    jane: tuple[str, dict[str, str]],
    admin: tuple[str, dict[str, str]],
) -> None:
    registration_id = await _submit(client, jane[1])
    path = f"{URL}/admin/{registration_id}"
    assert_problem(await client.get(path), 401, "UNAUTHORIZED")
    assert_problem(await client.get(path, headers=jane[1]), 403, "FORBIDDEN")
    ghost = await client.get(f"{URL}/admin/{uuid.uuid4()}", headers=admin[1])
    assert_problem(ghost, 404, "NOT_FOUND")
    await client.post(f"{URL}/admin/{registration_id}/reject", json=REJECT, headers=admin[1])
    assert_problem(await client.get(path, headers=admin[1]), 409, "REGISTRATION_NOT_PENDING")


@pytest.mark.parametrize(
    ("method", "path", "body", "function"),
    [
        ("POST", "", SUBMIT, "submit"),
        ("GET", "/admin/pending", None, "page"),
        ("GET", "/admin/{id}", None, "detail"),
        ("POST", "/admin/{id}/approve", APPROVE, "approve"),
        ("POST", "/admin/{id}/reject", REJECT, "reject"),
    ],
)
async def test_500_internal_server_error(
    client: httpx.AsyncClient,
    jane: tuple[str, dict[str, str]],
    admin: tuple[str, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    function: str,
) -> None:
    registration_id = await _submit(client, jane[1], name="Before The Fault")
    headers = jane[1] if function == "submit" else admin[1]

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the database fell over")

    monkeypatch.setattr(service, function, broken)
    response = await client.request(
        method, URL + path.format(id=registration_id), json=body, headers=headers
    )
    assert_problem(response, 500, "INTERNAL_ERROR")
    assert "fell over" not in response.text
