"""Registration pages (001): look up by customer number or phone, the stage timeline, and
lookup errors next to the field that caused them."""

from collections.abc import Awaitable, Callable

import httpx

from conveyor.config import Settings
from conveyor.database import Database
from conveyor.tasks import Worker
from tests.console.conftest import Console
from tests.console.html import field_error, text
from tests.tasks.conftest import FAST, running, wait_for


async def _register(client: httpx.AsyncClient, customer_number: str, phone_number: str) -> int:
    created = await client.post(
        "/api/registrations",
        json={"customer_number": customer_number, "phone_number": phone_number},
    )
    assert created.status_code == 202, created.text
    registration_id: int = created.json()["data"]["registration_id"]
    return registration_id


def _status_is(
    client: httpx.AsyncClient, registration_id: int, status: str
) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        found = await client.get(f"/api/registrations/{registration_id}")
        return bool(found.json()["data"]["status"] == status)

    return check


async def test_a_registration_is_found_with_its_stage_timeline(
    operator: Console, database: Database, settings: Settings
) -> None:
    client = operator.client
    completed = await _register(client, "1234567", "+265991234567")
    failed = await _register(client, "7654321", "0888765432")

    waiting = text((await operator.get("/console/registrations", customer_number="1234567")).text)
    assert f"Registration {completed}" in waiting
    assert "Registration request is pending processing" in waiting
    assert "No stage has run yet." in waiting

    async with running(Worker(database, FAST, settings=settings)):
        await wait_for(_status_is(client, completed, "COMPLETED"))
        await wait_for(_status_is(client, failed, "FAILED"))

    page = await operator.get("/console/registrations", customer_number="1234567")
    shown = text(page.text)
    assert "Completed" in shown
    assert "Registration completed successfully" in shown
    assert "+265991234567" in shown
    stages = [
        "Duplicate check Completed No duplicate found",
        "Core banking (T24) lookup Completed Found 3 accounts",
        "Account validation Completed Validated 3 accounts",
        "Digital banking user creation Completed",
    ]
    positions = [shown.index(stage) for stage in stages]
    assert positions == sorted(positions)  # in the order they ran

    by_phone = text((await operator.get("/console/registrations", phone_number="0888765432")).text)
    assert f"Registration {failed}" in by_phone
    assert "Error: No accounts found for customer" in by_phone
    assert "Can be retried Yes" in by_phone
    assert "Core banking (T24) lookup Failed No accounts found" in by_phone


async def test_lookup_errors_are_shown_next_to_their_field(operator: Console) -> None:
    letters = await operator.get("/console/registrations", customer_number="12ab")
    assert letters.status_code == 400
    assert field_error(letters.text, "customer_number") == (
        "The customer number must contain digits only (at most 20)."
    )
    phone = await operator.get("/console/registrations", phone_number="12")
    assert phone.status_code == 400
    assert (field_error(phone.text, "phone_number") or "").startswith("The phone number ")
    assert field_error(phone.text, "customer_number") is None
    neither = await operator.get("/console/registrations", customer_number="", phone_number="")
    assert neither.status_code == 400
    assert "Enter a customer number, a phone number, or both." in text(neither.text)
    unknown = await operator.get("/console/registrations", customer_number="999")
    assert unknown.status_code == 200
    assert "No registration matches." in text(unknown.text)
    form = await operator.get("/console/registrations")
    assert "No registration matches." not in text(form.text)
    assert "There is a problem" not in text(form.text)
