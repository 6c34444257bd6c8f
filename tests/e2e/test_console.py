"""The console in a real browser against a running server: an operator runs a batch through
both action steps to completion, an admin approves one registration and rejects another, and
replays a dead task. Every main page is photographed at a laptop's and a phone's size."""

import re
import threading
import uuid

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from conveyor.auth import service as auth_service
from conveyor.auth.models import Role
from conveyor.database import Database
from conveyor.restaurant_registrations import service as reviews_service
from conveyor.restaurant_registrations.schemas import RegistrationSubmit
from conveyor.tasks import PermanentFailure, TaskContext, enqueue, registry, task
from tests.e2e.conftest import Server, run, shoot
from tests.routing.factories import job_body
from tests.support import PASSWORD

pytestmark = pytest.mark.slow

LIVE = 30_000
"""How long to wait for the worker (milliseconds): the batch needs a few seconds."""


async def _user(url: str, role: Role, name: str) -> str:
    database = Database(url)
    try:
        async with database.transaction() as session:
            user = await auth_service.create_user(
                session,
                email=f"{role.value}-{uuid.uuid4().hex[:6]}@conveyor.example",
                password=PASSWORD,
                name=name,
                roles=[role],
            )
    finally:
        await database.dispose()
    return user.email


def sign_in(page: Page, server: Server, role: Role, name: str) -> None:
    """Sign in with the keyboard alone, from a page that needs it."""
    email = run(_user(server.settings.database_url, role, name))
    page.goto("/console")
    expect(page).to_have_url(re.compile(r"/console/sign-in\?next="))
    expect(page.get_by_label("Email address")).to_be_focused()
    page.keyboard.type(email)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Registration batches")).to_be_visible()


def test_an_operator_runs_a_batch_through_both_action_steps(page: Page, server: Server) -> None:
    with httpx.Client(base_url=server.url) as api:
        for name, email in (
            ("Pizza Palace", "owner@pizzapalace.co.nz"),
            ("Burger House", "owner@burgerhouse.co.nz"),
            ("Taco Town", "hola@tacotown.co.nz"),
        ):
            created = api.post(
                "/api/restaurants",
                json={
                    "name": name,
                    "address": "123 Main Street",
                    "city": "Auckland",
                    "email": email,
                },
            )
            assert created.status_code == 201, created.text
    page.goto("/console/sign-in")
    shoot(page, "sign-in")
    sign_in(page, server, Role.OPERATOR, "Olive Operator")
    shoot(page, "batches-empty")

    page.get_by_role("link", name="New batch").click()
    page.get_by_label("Batch name").fill("Auckland Q4")
    for name in ("Pizza Palace", "Burger House", "Taco Town"):
        page.get_by_label(name).check()
    expect(page.get_by_label("Start the batch right away")).to_be_checked()
    shoot(page, "batch-new")
    page.get_by_role("button", name="Create batch").click()

    # The batch page follows the batch live: no reload until step 3 needs the operator.
    expect(page.get_by_role("status").filter(has_text="created and started")).to_be_visible()
    expect(page.locator("#step-3-link")).to_be_visible(timeout=LIVE)
    expect(page.get_by_text("3 restaurants need a company.")).to_be_visible()
    expect(page.locator("#step-2-progress")).to_have_attribute("value", "3")
    shoot(page, "batch-step-3-waiting")

    page.locator("#step-3-link").click()
    expect(page.get_by_role("heading", name="Step 3 · Choose companies")).to_be_visible()
    shoot(page, "step-3")
    for name in ("Pizza Palace", "Burger House"):
        page.get_by_role("row").filter(has_text=name).get_by_role("radio").first.check()
    page.get_by_role("row").filter(has_text="Taco Town").get_by_role(
        "radio", name=re.compile("^No match")
    ).check()
    page.get_by_role("button", name="Submit 3 choices").click()
    expect(page.get_by_text("Companies chosen for 3 restaurants")).to_be_visible()

    expect(page.locator("#step-5-link")).to_be_visible(timeout=LIVE)
    page.locator("#step-5-link").click()
    expect(page.get_by_role("heading", name="Step 5 · Configure accounts")).to_be_visible()
    burger = page.locator("fieldset[data-config]").filter(has_text="Burger House")
    expect(burger.get_by_label("Account email")).to_have_value("owner@burgerhouse.co.nz")
    shoot(page, "step-5")
    burger.get_by_label("Account email").fill("not an email")
    page.get_by_role("button", name="Configure ticked restaurants").click()
    expect(page.locator(".field-error").first).to_have_text(
        "Error: Enter an email address like name@example.com."
    )
    burger = page.locator("fieldset[data-config]").filter(has_text="Burger House")
    shoot(page, "step-5-error")
    burger.get_by_label("Account email").fill("accounts@burgerhouse.example")
    burger.get_by_label("Payments").uncheck()
    expect(burger.get_by_label("Configure now")).to_be_checked()  # ticked for the operator
    page.get_by_role("button", name="Configure ticked, apply defaults to the rest").click()
    expect(page.get_by_text("3 restaurants configured")).to_be_visible()

    expect(page.locator("#batch-status")).to_have_text("Completed", timeout=LIVE)
    expect(page.get_by_text("3 of 3 done")).to_be_visible()
    shoot(page, "batch-completed")

    page.get_by_role("link", name="Burger House").click()
    expect(page.get_by_text("accounts@burgerhouse.example")).to_be_visible()
    expect(page.get_by_role("listitem").filter(has_text="Payments")).to_contain_text("Skipped")
    shoot(page, "job")

    page.get_by_role("navigation", name="Console sections").get_by_role(
        "link", name="Batches"
    ).click()
    expect(page.get_by_role("cell", name="Auckland Q4")).to_be_visible()
    shoot(page, "batches")


def test_an_operator_follows_routing_and_registrations(page: Page, server: Server) -> None:
    with httpx.Client(base_url=server.url) as api:
        company = api.post(
            "/api/v1/companies",
            json={"name": "Origin Plumbing", "skills": [{"name": "plumbing", "level": "basic"}]},
        ).json()
        technician = api.post(
            f"/api/v1/companies/{company['id']}/technicians", json={"name": "Tess Tech"}
        ).json()
        for name, level in (("Expert Pipes", "expert"), ("Flow Masters", "intermediate")):
            api.post(
                "/api/v1/companies",
                json={
                    "name": name,
                    "skills": [
                        {"name": "plumbing", "level": level},
                        {"name": "drains", "level": "basic"},
                    ],
                    "primary_skill": "plumbing",
                    "categories": ["plumbing"],
                },
            )
        assert api.post("/api/v1/jobs/", json=job_body(company["id"], technician["id"])).is_success
        registered = api.post(
            "/api/registrations",
            json={"customer_number": "1234567", "phone_number": "+265991234567"},
        )
        assert registered.status_code == 202
    sign_in(page, server, Role.OPERATOR, "Olive Operator")

    page.get_by_role("link", name="Routing").click()
    expect(page.get_by_role("heading", name="Fix leaky kitchen faucet")).to_be_visible()
    for _ in range(50):  # the embedded worker syncs both routings within moments
        if page.get_by_text("Synced").count() == 2:
            break
        page.wait_for_timeout(200)
        page.reload()
    expect(page.get_by_text("Synced")).to_have_count(2)
    shoot(page, "routing")
    page.get_by_role("link", name="Companies").click()
    expect(page.get_by_text("plumbing · expert")).to_be_visible()
    shoot(page, "companies")

    page.get_by_role("link", name="Registrations").click()
    page.get_by_label("Phone number").fill("0991234567")
    page.get_by_role("button", name="Look up").click()
    for _ in range(50):
        if page.get_by_text("Registration completed successfully").count():
            break
        page.wait_for_timeout(200)
        page.reload()
    expect(page.locator(".timeline-item")).to_have_count(4)
    expect(page.locator(".timeline-item").first).to_contain_text("Duplicate check")
    shoot(page, "registrations")
    page.get_by_label("Phone number").fill("")
    page.get_by_label("Customer number").fill("12ab")
    page.get_by_role("button", name="Look up").click()
    expect(page.locator("#customer_number-error")).to_contain_text("digits only")
    expect(page.get_by_label("Customer number")).to_have_attribute("aria-invalid", "true")


async def _registrations(url: str, *names: str) -> None:
    database = Database(url)
    try:
        async with database.transaction() as session:
            owner = await auth_service.create_user(
                session,
                email=f"owner-{uuid.uuid4().hex[:6]}@example.com",
                password=PASSWORD,
                name="Rita Owner",
                signup_completed=True,
            )
            for name in names:
                await reviews_service.submit(
                    session,
                    owner.id,
                    RegistrationSubmit(
                        name=name,
                        description="Wood-fired pizza and fresh pasta, family run since 1998",
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
    finally:
        await database.dispose()


def test_an_admin_approves_one_registration_and_rejects_another(page: Page, server: Server) -> None:
    run(_registrations(server.settings.database_url, "Luigi's Trattoria", "Totally Real Diner"))
    sign_in(page, server, Role.ADMIN, "Ada Admin")
    page.get_by_role("link", name="Reviews").click()
    expect(page.get_by_text("2 pending, oldest first")).to_be_visible()
    shoot(page, "reviews")

    page.get_by_role("link", name="Review Luigi's Trattoria").click()
    expect(page.get_by_text("by Rita Owner")).to_be_visible()
    shoot(page, "review")
    page.get_by_label("Note").fill("Licence checked")
    page.get_by_role("button", name="Approve and create the restaurant").click()
    expect(page.get_by_role("status")).to_have_text(
        "Approved “Luigi's Trattoria”: the restaurant now exists."
    )

    page.get_by_role("link", name="Review Totally Real Diner").click()
    page.get_by_role("button", name="Reject").click()
    expect(page.locator("#reason-error")).to_have_text(
        "Error: Give the reason for rejecting: the owner sees it."
    )
    expect(page.locator(".error-summary")).to_be_focused()
    shoot(page, "review-error")
    page.get_by_label("Reason for rejecting").fill("We could not verify the address")
    page.get_by_role("button", name="Reject").click()
    expect(page.get_by_role("status")).to_have_text("Rejected “Totally Real Diner”.")
    expect(page.get_by_text("Nothing to review.")).to_be_visible()


OUTAGE = threading.Event()
"""While set, the partner that `e2e.notify_partner` calls is down."""


async def _notify_partner(ctx: TaskContext, payload: dict[str, object]) -> None:
    if OUTAGE.is_set():
        raise PermanentFailure("partner API answered 503 Service Unavailable")


async def _enqueue_partner_call(url: str) -> int:
    definition = (
        registry.get("e2e.notify_partner")
        if "e2e.notify_partner" in registry
        else task("e2e.notify_partner", max_attempts=1)(_notify_partner)
    )
    database = Database(url)
    try:
        async with database.transaction() as session:
            return (await enqueue(session, definition, {"order": 42})).id
    finally:
        await database.dispose()


def _depth(page: Page, name: str) -> Locator:
    """The counts of one task name in the queue-depth table."""
    return page.locator("#queue-depth tbody tr").filter(has_text=name).get_by_role("cell")


def test_an_admin_replays_a_dead_task(page: Page, server: Server) -> None:
    OUTAGE.set()
    try:
        task_id = run(_enqueue_partner_call(server.settings.database_url))
        sign_in(page, server, Role.ADMIN, "Ada Admin")
        page.get_by_role("link", name="Tasks").click()
        dead = page.locator("#dead-tasks tbody tr").filter(has_text=f"#{task_id}")
        for _ in range(50):  # the embedded worker runs it (and it dies) within moments
            if dead.count():
                break
            page.wait_for_timeout(200)
            page.reload()
        expect(dead).to_contain_text("partner API answered 503 Service Unavailable")
        # Queued, running, succeeded, dead, cancelled.
        expect(_depth(page, "e2e.notify_partner")).to_have_text(["0", "0", "0", "1", "0"])
        shoot(page, "tasks")
    finally:
        OUTAGE.clear()
    dead.get_by_role("button", name=re.compile("^Replay task")).click()
    expect(page.get_by_role("status")).to_contain_text(
        f"Task {task_id} (e2e.notify_partner) is queued again"
    )
    for _ in range(50):
        if _depth(page, "e2e.notify_partner").all_inner_texts() == ["0", "0", "1", "0", "0"]:
            break
        page.wait_for_timeout(200)
        page.reload()
    expect(_depth(page, "e2e.notify_partner")).to_have_text(["0", "0", "1", "0", "0"])
    expect(page.get_by_text("No dead tasks.")).to_be_visible()
