"""Review pages (003): the pending queue with paging, a registration in full, approve with a
note, reject with a reason (required, shown next to its field), admins only."""

import uuid

from conveyor.auth import service as auth_service
from conveyor.database import Database
from conveyor.restaurant_registrations import service
from conveyor.restaurant_registrations.schemas import RegistrationSubmit
from conveyor.restaurants import service as restaurants_service
from tests.console.conftest import Console
from tests.console.html import element, field_error, text
from tests.support import PASSWORD


async def submit(database: Database, *names: str) -> list[uuid.UUID]:
    """Pending registrations of these restaurants, by one new owner."""
    async with database.transaction() as session:
        owner = await auth_service.create_user(
            session,
            email=f"{uuid.uuid4().hex[:8]}@owner.example",
            password=PASSWORD,
            name="Rita Owner",
            signup_completed=True,
        )
        registrations = [
            await service.submit(
                session,
                owner.id,
                RegistrationSubmit(
                    name=name,
                    description="Family-run trattoria",
                    cuisine_type="Italian",
                    street="12 Main Street",
                    city="Springfield",
                    state="IL",
                    zip_code="62701",
                    country="USA",
                    phone_number="+1 555 0100",
                    email="hello@trattoria.example",
                    business_hours="Tue-Sun 11:00-22:00",
                ),
            )
            for name in names
        ]
    return [registration.id for registration in registrations]


async def test_the_queue_pages_through_pending_registrations(
    admin: Console, database: Database
) -> None:
    await submit(database, *(f"Trattoria {number:02d}" for number in range(23)))
    first = text((await admin.get("/console/reviews")).text)
    assert "23 pending, oldest first" in first
    assert "Trattoria 00" in first
    assert "Trattoria 19" in first
    assert "Trattoria 20" not in first
    assert "Page 1 of 2" in first
    second = text((await admin.get("/console/reviews", page="2")).text)
    assert "Trattoria 20" in second
    assert "Trattoria 22" in second
    assert "Trattoria 19" not in second
    assert "← Previous" in second


async def test_an_admin_approves_one_registration_and_rejects_another(
    admin: Console, database: Database
) -> None:
    approved, rejected = await submit(database, "Luigi's Trattoria", "Totally Real Diner")

    detail = await admin.get(f"/console/reviews/{approved}")
    shown = text(detail.text)
    assert "Family-run trattoria" in shown
    assert "12 Main Street, Springfield, IL 62701, USA" in shown
    assert "by Rita Owner" in shown

    blank = await admin.post(f"/console/reviews/{rejected}/reject", {"reason": "   "})
    assert blank.status_code == 400
    assert field_error(blank.text, "reason") == "Give the reason for rejecting: the owner sees it."
    too_long = await admin.post(f"/console/reviews/{approved}/approve", {"note": "x" * 501})
    assert too_long.status_code == 400
    assert "at most 500 characters" in (field_error(too_long.text, "note") or "")

    done = await admin.post(f"/console/reviews/{approved}/approve", {"note": "Checked the licence"})
    assert done.status_code == 303
    queue = await admin.get(done.headers["location"])
    assert "Approved “Luigi's Trattoria”: the restaurant now exists." in text(queue.text)
    async with database.read() as session:
        found, _ = await restaurants_service.search(session, text="Luigi", limit=5, offset=0)
    assert [restaurant.name for restaurant in found] == ["Luigi's Trattoria"]

    refused = await admin.post(f"/console/reviews/{rejected}/reject", {"reason": "No such address"})
    queue = await admin.get(refused.headers["location"])
    shown = text(queue.text)
    assert "Rejected “Totally Real Diner”." in shown
    assert "Nothing to review." in shown

    again = await admin.get(f"/console/reviews/{approved}")
    assert again.status_code == 303
    queue = await admin.get(again.headers["location"])
    assert f"Registration {approved} is Approved, not Pending" in text(queue.text)
    assert element(queue.text, "approve") is None


async def test_operators_cannot_review(operator: Console, database: Database) -> None:
    (registration,) = await submit(database, "Luigi's Trattoria")
    refused = await operator.post(f"/console/reviews/{registration}/approve")
    assert refused.status_code == 403
    assert "This page needs the admin role" in text(refused.text)
    async with database.read() as session:
        assert (await service.detail(session, registration)).status == "Pending"
