"""Document 001 (registration status check), its request examples in its order: the
missing-parameter error, the status check by customer number and by phone number (the curl
usage examples), the JavaScript example's reading of the answer, the four response examples
reproduced by real registrations, the error table (400, 404, 500) and the polling workflow.
The Python example runs unchanged in tests/registrations/test_document_example.py."""

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from conveyor.config import Settings
from conveyor.database import Database
from conveyor.registrations import service
from conveyor.registrations.models import BankingAccount, BankingUser
from conveyor.tasks import Worker
from tests.contract.conftest import TEXT, assert_like
from tests.registrations.conftest import register, settled
from tests.tasks.conftest import FAST, running

STATUS = "/api/registrations/status"

# The document's "Response Examples", as printed there.
PENDING: dict[str, Any] = {
    "success": True,
    "message": "Registration request is pending processing",
    "data": {
        "registration_id": 123,
        "status": "PENDING",
        "customer_number": "1234567",
        "phone_number": "+265991234567",
        "created_at": "2024-12-14T16:00:00.000Z",
        "processed_at": None,
        "estimated_completion": "Processing typically takes 1-2 minutes",
    },
}
COMPLETED: dict[str, Any] = {
    "success": True,
    "message": "Registration completed successfully",
    "data": {
        "registration_id": 123,
        "status": "COMPLETED",
        "customer_number": "1234567",
        "phone_number": "+265991234567",
        "created_at": "2024-12-14T16:00:00.000Z",
        "processed_at": "2024-12-14T16:01:30.000Z",
        "user_id": 456,
        "username": "user1234567",
        "is_active": True,
        "notes": "User created successfully with 3 accounts linked",
        "process_stages": [
            {
                "stage": "duplicate_check",
                "status": "completed",
                "timestamp": "2024-12-14T16:00:05.000Z",
                "details": "No duplicate found",
            },
            {
                "stage": "t24_lookup",
                "status": "completed",
                "timestamp": "2024-12-14T16:00:10.000Z",
                "details": "Found 3 accounts",
            },
            {
                "stage": "account_validation",
                "status": "completed",
                "timestamp": "2024-12-14T16:00:15.000Z",
                "details": "Validated 3 accounts",
            },
        ],
    },
}
FAILED: dict[str, Any] = {
    "success": False,
    "message": "Registration validation failed",
    "data": {
        "registration_id": 123,
        "status": "FAILED",
        "customer_number": "1234567",
        "phone_number": "+265991234567",
        "created_at": "2024-12-14T16:00:00.000Z",
        "processed_at": "2024-12-14T16:00:20.000Z",
        "error": "No accounts found for customer",
        "can_retry": True,
        "process_stages": [
            {
                "stage": "duplicate_check",
                "status": "completed",
                "timestamp": "2024-12-14T16:00:05.000Z",
                "details": "No duplicate found",
            },
            {
                "stage": "t24_lookup",
                "status": "failed",
                "timestamp": "2024-12-14T16:00:20.000Z",
                "details": "No accounts found",
            },
        ],
    },
}
DUPLICATE: dict[str, Any] = {
    "success": True,
    "message": "User already exists with this information",
    "data": {
        "registration_id": 123,
        "status": "DUPLICATE",
        "customer_number": "1234567",
        "phone_number": "+265991234567",
        "created_at": "2024-12-14T16:00:00.000Z",
        "processed_at": "2024-12-14T16:00:10.000Z",
        "user_id": 456,
        "username": "user1234567",
        "error": "User already exists with identical information",
    },
}


def stages(answer: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(s["stage"], s["status"], s["details"]) for s in answer["data"]["process_stages"]]


async def test_query_parameters_at_least_one_is_required(client: httpx.AsyncClient) -> None:
    # "Error Response (400/404/500)": {"success": false, "error": "Error type", "message"}.
    missing = await client.get(STATUS)
    assert missing.status_code == 400
    assert_like(
        missing.json(),
        {"success": False, "error": "Bad Request", "message": TEXT},
    )
    assert "customer_number or phone_number" in missing.json()["message"]


async def test_usage_examples_check_by_customer_number_and_by_phone_number(
    client: httpx.AsyncClient,
) -> None:
    created = await register(client, customer_number="1234567", phone_number="+265991234567")
    # curl -X GET ".../api/registrations/status?customer_number=1234567"
    by_customer = await client.get(f"{STATUS}?customer_number=1234567")
    # curl -X GET ".../api/registrations/status?phone_number=%2B265991234567"
    by_phone = await client.get(f"{STATUS}?phone_number=%2B265991234567")
    for answer in (by_customer, by_phone):
        assert answer.status_code == 200
        assert answer.json() == created


async def test_the_javascript_example_reads_what_it_expects(client: httpx.AsyncClient) -> None:
    """`checkRegistrationStatus` reads `success`, `data.status`, `message`, `data.user_id` and,
    on failure, `error`: each is where it looks, for a found and an unknown customer."""
    await register(client, customer_number="1234567", phone_number="+265991234567")
    found = (await client.get(f"{STATUS}?customer_number=1234567")).json()
    assert found["success"] is True
    assert found["data"]["status"] == "PENDING"
    assert found["message"] == "Registration request is pending processing"
    assert "user_id" not in found["data"]  # the example prints it only "if (result.data.user_id)"
    unknown = (await client.get(f"{STATUS}?customer_number=7654321")).json()
    assert unknown["success"] is False
    assert unknown["error"] == "Not Found"


async def test_the_documents_four_examples(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    created = await register(client, customer_number="1234567", phone_number="0991234567")
    # Pending: exactly the document's fields, nothing more (no stage has run yet).
    assert_like(created, PENDING)
    registration_id = created["data"]["registration_id"]
    polled = await client.get("/api/registrations/status", params={"customer_number": "1234567"})
    assert polled.status_code == 200
    assert polled.json() == created

    async with running(Worker(database, FAST, settings=settings)):
        completed = await settled(client, registration_id)
        # One stage more than the example: the user's creation (specs README, stage 4).
        assert_like(completed, COMPLETED, extra={"data.process_stages[3]"})
        assert stages(completed)[3] == (
            "user_creation",
            "completed",
            "User user1234567 created with 3 accounts linked",
        )

        # Failed: a customer the core banking system has no accounts for.
        failed = await register(client, customer_number="7654321", phone_number="+265888765432")
        failed = await settled(client, failed["data"]["registration_id"])
        assert_like(
            failed,
            {
                **FAILED,
                "data": {
                    **FAILED["data"],
                    "customer_number": "7654321",
                    "phone_number": "+265888765432",
                },
            },
        )

        # Duplicate: the first customer registers again with the same details.
        again = await register(client, customer_number="1234567", phone_number="+265991234567")
        assert again["data"]["registration_id"] != registration_id
        duplicate = await settled(client, again["data"]["registration_id"])
        # Beyond the example: the stage that found the user, as every other status shows.
        assert_like(duplicate, DUPLICATE, extra={"data.process_stages"})
        assert duplicate["data"]["user_id"] == completed["data"]["user_id"]
        assert stages(duplicate) == [
            ("duplicate_check", "failed", "User user1234567 already exists")
        ]

    by_phone = await client.get(
        "/api/registrations/status", params={"phone_number": "+265991234567"}
    )
    assert by_phone.json()["data"]["registration_id"] == again["data"]["registration_id"]

    async with database.read() as session:
        user = (await session.execute(select(BankingUser))).scalar_one()
        accounts = (await session.execute(select(BankingAccount))).scalars().all()
    assert (user.username, user.is_active, user.phone_number) == (
        "user1234567",
        True,
        "+265991234567",
    )
    assert sorted(account.account_id for account in accounts) == [
        "1000123456",
        "1000123457",
        "1000123458",
    ]


async def test_error_codes_400_404_and_500(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = await client.get(STATUS, params={"customer_number": "12ab"})
    assert (bad.status_code, bad.json()["error"]) == (400, "Bad Request")
    none = await client.get(STATUS, params={"customer_number": "7654321"})
    assert none.status_code == 404
    assert none.json() == {
        "success": False,
        "error": "Not Found",
        "message": "No registration found for the given criteria",
    }

    async def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the database is on fire")

    monkeypatch.setattr(service.repository, "latest", broken)
    failed = await client.get(STATUS, params={"customer_number": "1234567"})
    assert failed.status_code == 500
    body = failed.json()
    assert (body["success"], body["error"]) == (False, "Internal Server Error")
    assert "Quote reference" in body["message"]
    assert "on fire" not in failed.text  # no internals leak


async def test_the_integration_workflow_polls_until_a_terminal_status(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    """Create, then poll the status: PENDING and APPROVED mean "continue polling", COMPLETED,
    FAILED and DUPLICATE end it (the document's "Polling Best Practices")."""
    await register(client, customer_number="1234567", phone_number="0991234567")
    seen: list[str] = []
    async with running(Worker(database, FAST, settings=settings)):
        for _ in range(300):
            answer = (await client.get(STATUS, params={"customer_number": "1234567"})).json()
            status = answer["data"]["status"]
            if not seen or seen[-1] != status:
                seen.append(status)
            if status in ("COMPLETED", "FAILED", "DUPLICATE"):
                break
            await asyncio.sleep(0.02)
    assert seen[0] == "PENDING"
    assert seen[-1] == "COMPLETED"
    assert set(seen) <= {"PENDING", "APPROVED", "COMPLETED"}
