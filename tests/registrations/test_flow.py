"""Registrations end to end on the simulated core banking system and a real worker: the
document's four response examples reproduced by real registrations, and every stage outcome."""

import dataclasses
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from conveyor.config import Settings
from conveyor.database import Database
from conveyor.registrations import service
from conveyor.registrations.models import BankingAccount, BankingUser
from conveyor.tasks import Backoff, Task, Worker, registry
from tests.contract.conftest import assert_like
from tests.contract.test_001_registrations import PENDING
from tests.registrations.conftest import register, settled
from tests.support import make_settings
from tests.tasks.conftest import FAST, running


def stages(answer: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(s["stage"], s["status"], s["details"]) for s in answer["data"]["process_stages"]]


async def test_approved_is_visible_between_validation_and_user_creation(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    created = await register(client, customer_number="1234567", phone_number="+265991234567")
    registration_id = created["data"]["registration_id"]

    # The two stages' service functions, run by hand so the moment between them is visible.
    await service.verify(
        database, settings, registration_id, attempt=1, final=True, complete=database.transaction
    )
    approved = (await client.get(f"/api/registrations/{registration_id}")).json()
    assert approved["success"] is True
    assert approved["message"] == "Registration approved; the user is being created"
    data = approved["data"]
    assert data["status"] == "APPROVED"
    assert data["processed_at"] is None
    assert data["username"] == "user1234567"
    assert data["notes"] == "Validated 3 accounts; creating the user"
    assert "is_active" not in data
    assert "error" not in data
    assert [stage["stage"] for stage in data["process_stages"]] == [
        "duplicate_check",
        "t24_lookup",
        "account_validation",
    ]
    async with database.read() as session:
        user = await session.get(BankingUser, data["user_id"])
    assert user is not None
    assert user.is_active is False

    await service.create_user(database.transaction, registration_id)
    await service.create_user(database.transaction, registration_id)  # a repeat changes nothing
    completed = (await client.get(f"/api/registrations/{registration_id}")).json()["data"]
    assert (completed["status"], completed["is_active"]) == ("COMPLETED", True)
    async with database.read() as session:
        linked = (await session.execute(select(BankingAccount))).scalars().all()
    assert len(linked) == 3


async def test_changed_contact_details_update_the_existing_user(
    client: httpx.AsyncClient, worker: Worker
) -> None:
    first = await register(client, customer_number="1234567", phone_number="+265991234567")
    user_id = (await settled(client, first["data"]["registration_id"]))["data"]["user_id"]

    moved = await register(
        client, customer_number="1234567", phone_number="0881112222", email="chikondi@example.mw"
    )
    answer = await settled(client, moved["data"]["registration_id"])
    data = answer["data"]
    assert (answer["success"], answer["message"]) == (True, "Registration completed successfully")
    assert (data["status"], data["user_id"], data["is_active"]) == ("COMPLETED", user_id, True)
    assert data["phone_number"] == "+265881112222"
    assert data["notes"] == "Existing user's information updated: phone_number, email"
    assert stages(answer) == [
        ("duplicate_check", "completed", "Existing user user1234567 found"),
        ("update_user_info", "completed", "Updated phone_number, email"),
    ]
    # The old number no longer finds a user: registering it for this customer is new again.
    latest = await client.get("/api/registrations/status", params={"phone_number": "0881112222"})
    assert latest.json()["data"]["registration_id"] == data["registration_id"]


async def test_a_phone_number_of_another_customer_is_a_duplicate(
    client: httpx.AsyncClient, worker: Worker
) -> None:
    first = await register(client, customer_number="1234567", phone_number="+265991234567")
    owner = (await settled(client, first["data"]["registration_id"]))["data"]

    other = await register(client, customer_number="4567890", phone_number="+265991234567")
    answer = await settled(client, other["data"]["registration_id"])
    assert answer["data"]["status"] == "DUPLICATE"
    assert answer["data"]["error"] == "Phone number is already registered to another customer"
    assert (answer["data"]["user_id"], answer["data"]["username"]) == (
        owner["user_id"],
        "user1234567",
    )


@pytest.mark.parametrize(
    ("customer", "phone", "details"),
    [
        ("2345678", "+265992345678", "No active account in an allowed currency (1 not active)"),
        (
            "3456789",
            "+265883456789",
            "No active account in an allowed currency (currencies not allowed: CNY)",
        ),
    ],
)
async def test_accounts_that_do_not_qualify_fail_for_good(
    client: httpx.AsyncClient, worker: Worker, customer: str, phone: str, details: str
) -> None:
    created = await register(client, customer_number=customer, phone_number=phone)
    answer = await settled(client, created["data"]["registration_id"])
    assert answer["success"] is False
    assert answer["data"]["error"] == "No active account in an allowed currency"
    assert answer["data"]["can_retry"] is False
    assert stages(answer)[1:] == [
        ("t24_lookup", "completed", "Found 1 account"),
        ("account_validation", "failed", details),
    ]
    refused = await client.post(f"/api/registrations/{answer['data']['registration_id']}/retry")
    assert refused.status_code == 409
    assert refused.json() == {
        "success": False,
        "error": "Conflict",
        "message": f"Registration {answer['data']['registration_id']} is FAILED and cannot be "
        "retried; only a FAILED registration with can_retry true can be retried",
    }


async def test_only_qualifying_accounts_are_linked(
    client: httpx.AsyncClient, worker: Worker
) -> None:
    created = await register(client, customer_number="4567890", phone_number="0994567890")
    answer = await settled(client, created["data"]["registration_id"])
    assert answer["data"]["notes"] == "User created successfully with 1 account linked"
    assert stages(answer)[1:3] == [
        ("t24_lookup", "completed", "Found 2 accounts"),
        ("account_validation", "completed", "Validated 1 account"),
    ]


async def test_no_accounts_can_be_retried_and_then_succeed(
    client: httpx.AsyncClient, worker: Worker
) -> None:
    created = await register(client, customer_number="7654321", phone_number="+265888765432")
    registration_id = created["data"]["registration_id"]
    assert (await settled(client, registration_id))["data"]["can_retry"] is True

    retried = await client.post(f"/api/registrations/{registration_id}/retry")
    assert retried.status_code == 202
    assert_like(
        retried.json(),
        {
            **PENDING,
            "data": {
                **PENDING["data"],
                "customer_number": "7654321",
                "phone_number": "+265888765432",
            },
        },
    )
    again = await settled(client, registration_id)
    # The simulated bank still holds no accounts for this customer.
    assert again["data"]["error"] == "No accounts found for customer"
    assert [stage[0] for stage in stages(again)] == ["duplicate_check", "t24_lookup"]


def _fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (service.VERIFY, service.CREATE_USER):
        definition = registry.get(name)
        quick = dataclasses.replace(definition, backoff=Backoff(base=0.01, factor=1.0, cap=0.01))
        monkeypatch.setitem(registry._definitions, name, quick)


async def test_core_banking_outage_is_retried_then_fails_retryably(
    client: httpx.AsyncClient,
    database: Database,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _fast_retries(monkeypatch)
    created = await register(client, customer_number="1234567", phone_number="+265991234567")
    registration_id = created["data"]["registration_id"]

    down = make_settings(database_url, simulator_failure_rate=1.0)
    async with running(Worker(database, FAST, settings=down)):
        answer = await settled(client, registration_id)
    data = answer["data"]
    assert (answer["success"], data["status"], data["can_retry"]) == (False, "FAILED", True)
    assert data["error"] == "The core banking system could not be reached; try again later"
    assert stages(answer) == [
        ("duplicate_check", "completed", "No duplicate found"),
        ("t24_lookup", "failed", "simulated accounts failure (attempt 5)"),
    ]
    async with database.read() as session:
        task = (await session.execute(select(Task).where(Task.name == service.VERIFY))).scalar_one()
    assert (task.attempts, task.status) == (5, "succeeded")

    # The bank is back: the registration is retried and completes.
    assert (await client.post(f"/api/registrations/{registration_id}/retry")).status_code == 202
    up = make_settings(database_url)
    async with running(Worker(database, FAST, settings=up)):
        assert (await settled(client, registration_id))["data"]["status"] == "COMPLETED"


async def test_a_passing_outage_is_ridden_out_by_the_engine(
    client: httpx.AsyncClient,
    database: Database,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _fast_retries(monkeypatch)
    created = await register(client, customer_number="1234567", phone_number="+265991234567")
    # At this rate the simulated bank fails this customer's first lookup and answers the second.
    flaky = make_settings(database_url, simulator_failure_rate=0.5)
    async with running(Worker(database, FAST, settings=flaky)):
        answer = await settled(client, created["data"]["registration_id"])
    assert answer["data"]["status"] == "COMPLETED"
    async with database.read() as session:
        task = (await session.execute(select(Task).where(Task.name == service.VERIFY))).scalar_one()
    assert task.attempts == 2
    assert "simulated accounts failure (attempt 1)" in (task.last_error or "")


async def test_finished_registrations_are_announced_to_webhook_subscribers(
    admin_client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    client = admin_client
    hook = await client.post(
        "/api/v1/admin/webhooks",
        json={
            "url": "https://hooks.example/registrations",
            "event_types": ["registration.completed", "registration.failed"],
        },
    )
    assert hook.status_code == 201, hook.text
    done = await register(client, customer_number="1234567", phone_number="+265991234567")
    failed = await register(client, customer_number="7654321", phone_number="+265888765432")
    async with running(Worker(database, FAST, settings=settings)):
        user_id = (await settled(client, done["data"]["registration_id"]))["data"]["user_id"]
        await settled(client, failed["data"]["registration_id"])
        # Deliveries are queued tasks; the subscriber's host does not exist, so they stay.
        async with database.read() as session:
            deliveries = (
                (await session.execute(select(Task).where(Task.name == "webhooks.deliver")))
                .scalars()
                .all()
            )
    events = sorted((task.payload["event_type"], task.payload["data"]) for task in deliveries)
    assert events == [
        (
            "registration.completed",
            {
                "registration_id": done["data"]["registration_id"],
                "status": "COMPLETED",
                "customer_number": "1234567",
                "user_id": user_id,
                "error": None,
            },
        ),
        (
            "registration.failed",
            {
                "registration_id": failed["data"]["registration_id"],
                "status": "FAILED",
                "customer_number": "7654321",
                "user_id": None,
                "error": "No accounts found for customer",
            },
        ),
    ]
