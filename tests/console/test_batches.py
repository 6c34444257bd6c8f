"""Batch pages: list and filter, a new batch (restaurants or leads) with its errors next to the
fields, both action steps driven through the forms with a real worker, cancel, retry, and the
live part of the batch page."""

import re
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from conveyor.batches import providers
from conveyor.batches import service as batches_service
from conveyor.batches.providers import RestaurantFacts, SimulatedMenuExtractor
from conveyor.config import Settings
from conveyor.database import Database
from conveyor.kit.clock import utcnow
from conveyor.tasks import Task, Worker
from tests.batches.factories import batch_is, create_batch, create_restaurant, jobs_at
from tests.console.conftest import Console
from tests.console.html import attributes, element, field_error, text
from tests.tasks.conftest import FAST, running, wait_for

OVERRIDE_PASSWORD = "Own-Secret-Password-42"


def _batch_id(response: httpx.Response) -> str:
    assert response.status_code == 303, response.text
    found = re.fullmatch(r"/console/batches/([0-9a-f-]{36})", response.headers["location"])
    assert found, response.headers["location"]
    return found.group(1)


async def _restaurants(client: httpx.AsyncClient, *names: str) -> list[dict[str, Any]]:
    return [await create_restaurant(client, name=name) for name in names]


async def test_the_batch_list_filters_by_status(operator: Console) -> None:
    client = operator.client
    first, second = await _restaurants(client, "Pizza Palace", "Burger House")
    await create_batch(client, [first["id"]], name="Waiting batch")
    await create_batch(client, [second["id"]], name="Running batch", auto_start=True)

    everything = text((await operator.get("/console/batches")).text)
    assert "Waiting batch" in everything
    assert "Running batch" in everything
    assert "2 batches" in everything

    pending = text((await operator.get("/console/batches", status="pending")).text)
    assert "Waiting batch" in pending
    assert "Running batch" not in pending
    assert "1 batch pending" in pending

    none = text((await operator.get("/console/batches", status="completed")).text)
    assert "No batches with status “Completed” yet." in none
    unknown = await operator.get("/console/batches", status="bogus")
    assert "Running batch" in text(unknown.text)


async def test_the_new_batch_form_shows_each_error_next_to_its_field(operator: Console) -> None:
    client = operator.client
    (pizza,) = await _restaurants(client, "Pizza Palace")

    empty = await operator.post("/console/batches", {"name": "  "})
    assert empty.status_code == 400
    assert field_error(empty.text, "name") == "Give the batch a name."
    assert field_error(empty.text, "restaurant_ids") == "Choose at least one restaurant."
    assert "There is a problem" in text(empty.text)

    short = await operator.post(
        "/console/batches",
        {"name": "Q4", "restaurant_ids": pizza["id"], "default_password_pattern": "short"},
    )
    assert short.status_code == 400
    assert "at least 8 characters" in (field_error(short.text, "default_password_pattern") or "")
    assert field_error(short.text, "name") is None
    assert 'value="Q4"' in short.text  # what was typed stays
    assert "checked" in attributes(short.text, f"restaurant-{pizza['id']}")

    await create_batch(client, [pizza["id"]], name="Elsewhere")
    taken = await operator.post("/console/batches", {"name": "Q4", "restaurant_ids": pizza["id"]})
    assert taken.status_code == 400
    assert field_error(taken.text, "restaurant_ids") == (
        "Already in another active batch: Pizza Palace."
    )
    listed = text((await operator.get("/console/batches")).text)
    assert "1 batch" in listed
    assert "Q4" not in listed


async def test_a_batch_is_created_from_restaurants_or_from_leads(operator: Console) -> None:
    client = operator.client
    pizza, burger = await _restaurants(client, "Pizza Palace", "Burger House")
    form = await operator.get("/console/batches/new")
    assert "Pizza Palace" in text(form.text)
    assert "Burger House" in text(form.text)
    searched = text((await operator.get("/console/batches/new", q="burger")).text)
    assert "Burger House" in searched
    assert "Pizza Palace" not in searched

    created = await operator.post(
        "/console/batches",
        {"name": "Auckland Q4", "restaurant_ids": [pizza["id"], burger["id"]]},
    )
    batch_id = _batch_id(created)
    page = await operator.get(f"/console/batches/{batch_id}")
    shown = text(page.text)
    assert "Batch “Auckland Q4” created." in shown
    assert "Pending" in shown
    assert "Pizza Palace" in shown
    assert "Burger House" in shown
    assert "1. Menu & Branding Extraction" in shown
    assert element(page.text, "start-batch") == "Start batch"

    started = await operator.post(f"/console/batches/{batch_id}/start")
    assert started.status_code == 303
    page = await operator.get(f"/console/batches/{batch_id}")
    assert "Batch “Auckland Q4” started." in text(page.text)
    assert element(page.text, "batch-status") == "In progress"
    assert element(page.text, "start-batch") is None

    leads = await client.post(
        "/api/leads",
        json={"leads": [{"name": "Sushi Corner", "city": "Wellington", "email": "hi@sushi.nz"}]},
    )
    assert leads.status_code == 201
    lead_id = leads.json()["leads"][0]["id"]
    lead_form = await operator.get("/console/batches/new", source="leads")
    assert "Sushi Corner" in text(lead_form.text)
    nothing = await operator.post("/console/batches/from-leads", {"name": "Leads"})
    assert field_error(nothing.text, "lead_ids") == "Choose at least one lead."
    from_leads = await operator.post(
        "/console/batches/from-leads",
        {"name": "Wellington leads", "lead_ids": lead_id, "auto_start": "on"},
    )
    page = await operator.get(f"/console/batches/{_batch_id(from_leads)}")
    shown = text(page.text)
    assert "Batch “Wellington leads” created from 1 leads and started." in shown
    assert "Sushi Corner" in shown
    again = text((await operator.get("/console/batches/new", source="leads")).text)
    assert "Every lead has been converted." in again


async def test_a_batch_runs_through_both_action_steps_from_the_console(
    operator: Console, database: Database, settings: Settings
) -> None:
    client = operator.client
    restaurants = await _restaurants(client, "Pizza Palace", "Burger House", "Taco Town")
    created = await operator.post(
        "/console/batches",
        {
            "name": "Auckland Q4",
            "restaurant_ids": [r["id"] for r in restaurants],
            "auto_start": "on",
            "auto_configure_services": "on",
        },
    )
    batch_id = _batch_id(created)
    async with running(Worker(database, FAST, settings=settings)):
        await wait_for(jobs_at(client, batch_id, 3, "action_required", 3))
    page = await operator.get(f"/console/batches/{batch_id}")
    assert "3 restaurants need a company." in text(page.text)
    assert attributes(page.text, "step-3-link")["href"] == f"/console/batches/{batch_id}/steps/3"
    assert attributes(page.text, "step-2-progress")["value"] == "3"

    step3 = await operator.get(f"/console/batches/{batch_id}/steps/3")
    shown = text(step3.text)
    assert "Pizza Palace Limited" in shown
    assert "found by name" in shown
    assert shown.count("No match none of these runs the restaurant") == 3
    choices: dict[str, list[str]] = {}
    for job_id, value in re.findall(
        r'name="selection-([0-9a-f-]{36})" value="([^"]+)"', step3.text
    ):
        choices.setdefault(job_id, []).append(value)
    by_restaurant = _jobs_by_restaurant(step3.text)
    pizza, burger, taco = (
        by_restaurant["Pizza Palace"],
        by_restaurant["Burger House"],
        by_restaurant["Taco Town"],
    )
    job_ids = [pizza, burger, taco]

    partial = await operator.post(
        f"/console/batches/{batch_id}/steps/3",
        {
            "job_ids": job_ids,
            f"selection-{pizza}": choices[pizza][0],
            f"selection-{taco}": "__no_match__",
        },
    )
    assert partial.status_code == 400
    assert field_error(partial.text, f"selection-{burger}") == (
        "Burger House: choose a company, or “No match”."
    )
    assert field_error(partial.text, f"selection-{pizza}") is None
    assert "checked" in attributes(partial.text, f"selection-{taco}-none")
    still = await client.get(f"/api/registration-batches/{batch_id}/steps/3")
    assert still.json()["summary"] == {"total": 3, "action_required": 3}

    chosen = await operator.post(
        f"/console/batches/{batch_id}/steps/3",
        {
            "job_ids": job_ids,
            f"selection-{pizza}": choices[pizza][0],
            f"selection-{burger}": choices[burger][0],
            f"selection-{taco}": "__no_match__",
        },
    )
    assert chosen.status_code == 303
    page = await operator.get(chosen.headers["location"])
    assert "Companies chosen for 3 restaurants (2 matched, 1 without a match)." in text(page.text)

    async with running(Worker(database, FAST, settings=settings)):
        await wait_for(jobs_at(client, batch_id, 5, "action_required", 3))
    step5 = await operator.get(f"/console/batches/{batch_id}/steps/5")
    assert step5.status_code == 200
    shown = text(step5.text)
    assert "Defaults of this batch" in shown
    assert attributes(step5.text, f"email-{pizza}")["value"] == "owner@pizzapalace.co.nz"
    assert "checked" in attributes(step5.text, f"steps-{pizza}-servicesConfig")

    every_step = [
        "account",
        "codeGeneration",
        "restaurantRegistration",
        "websiteConfig",
        "servicesConfig",
        "paymentConfig",
        "menuImport",
        "optionSets",
        "itemTags",
    ]
    untouched = _form_as_shown(step5.text)
    assert untouched[f"steps-{taco}"] == every_step
    invalid = await operator.post(
        f"/console/batches/{batch_id}/steps/5",
        {
            **untouched,
            "action": "selected",
            f"email-{pizza}": "not an email",
            f"steps-{burger}": [s for s in every_step if s != "menuImport"],
            f"password-{burger}": OVERRIDE_PASSWORD,
        },
    )
    assert invalid.status_code == 400
    assert field_error(invalid.text, f"email-{pizza}") == (
        "Enter an email address like name@example.com."
    )
    assert field_error(invalid.text, f"steps-{burger}") == (
        "Option sets needs Menu import: turn Menu import on, or Option sets off."
    )
    assert field_error(invalid.text, f"email-{taco}") is None
    assert OVERRIDE_PASSWORD not in invalid.text  # a password is never sent back
    assert attributes(invalid.text, f"email-{pizza}")["value"] == "not an email"
    assert "checked" not in attributes(invalid.text, f"steps-{burger}-menuImport")

    nothing = await operator.post(
        f"/console/batches/{batch_id}/steps/5", {**untouched, "action": "selected"}
    )
    assert nothing.status_code == 400
    assert "Tick at least one restaurant" in text(nothing.text)
    waiting = await client.get(f"/api/registration-batches/{batch_id}/steps/5")
    assert waiting.json()["summary"] == {"total": 3, "action_required": 3}

    configured = await operator.post(
        f"/console/batches/{batch_id}/steps/5",
        {
            **untouched,
            "action": "rest",
            f"email-{burger}": "accounts@burger.example",
            f"password-{burger}": OVERRIDE_PASSWORD,
            f"steps-{burger}": [s for s in every_step if s != "paymentConfig"],
        },
    )
    assert configured.status_code == 303
    page = await operator.get(configured.headers["location"])
    assert "3 restaurants configured; their accounts are being set up." in text(page.text)

    async with running(Worker(database, FAST, settings=settings)):
        await wait_for(batch_is(client, batch_id, "completed"))
    page = await operator.get(f"/console/batches/{batch_id}")
    shown = text(page.text)
    assert element(page.text, "batch-status") == "Completed"
    assert "3 of 3 done" in shown
    assert element(page.text, "cancel-batch") is None
    assert "data-live" not in page.text  # nothing left to follow

    job = await operator.get(f"/console/jobs/{burger}")
    shown = text(job.text)
    assert "accounts@burger.example" in shown
    assert "set (never shown)" in shown
    assert "Skipped Payments" in shown
    assert "Completed Menu import" in shown
    assert OVERRIDE_PASSWORD not in job.text


async def test_a_restaurant_without_an_email_is_asked_for_one_at_step_5(
    operator: Console, database: Database, settings: Settings
) -> None:
    client = operator.client
    nameless = await create_restaurant(client, name="Unregistered Noodles", email=None)
    created = await create_batch(client, [nameless["id"]], auto_start=True)
    batch_id, job = created["batch_job"]["id"], created["registration_jobs"][0]["id"]
    async with running(Worker(database, FAST, settings=settings)):
        await wait_for(jobs_at(client, batch_id, 2, "action_required", 1))
    page = await operator.get(f"/console/jobs/{job}")
    assert element(page.text, "search-heading") == "The register found no company"
    blank = await operator.post(f"/console/jobs/{job}/company-search", {"action": "search"})
    assert field_error(blank.text, "search_term") == (
        "Enter the name to search the companies register for."
    )
    skipped = await operator.post(f"/console/jobs/{job}/company-search", {"action": "skip"})
    assert skipped.status_code == 303
    step5 = await operator.get(f"/console/batches/{batch_id}/steps/5")
    assert attributes(step5.text, f"email-{job}")["value"] == ""

    refused = await operator.post(
        f"/console/batches/{batch_id}/steps/5", {**_form_as_shown(step5.text), "action": "rest"}
    )
    assert refused.status_code == 400
    assert field_error(refused.text, f"email-{job}") == (
        "No email is known for this restaurant: enter one."
    )
    given = await operator.post(
        f"/console/batches/{batch_id}/steps/5",
        {**_form_as_shown(step5.text), "action": "selected", f"email-{job}": "hi@noodles.example"},
    )
    assert given.status_code == 303
    page = await operator.get(f"/console/jobs/{job}")
    assert "Account email hi@noodles.example" in text(page.text)


def _form_as_shown(html: str) -> dict[str, Any]:
    """The step-5 form's fields as a browser would send them untouched: every job id, each
    email as pre-filled, each ticked sub-step."""
    form: dict[str, Any] = {"job_ids": re.findall(r'name="job_ids" value="([^"]+)"', html)}
    for name, value in re.findall(
        r'name="(email-[^"]+)" type="email" maxlength="320" value="([^"]*)"', html
    ):
        form[name] = value
    for job in form["job_ids"]:
        form[f"steps-{job}"] = re.findall(rf'name="steps-{job}" value="([^"]+)" checked', html)
    return form


def _jobs_by_restaurant(html: str) -> dict[str, str]:
    """Restaurant name -> job id, from the step-3 form's rows."""
    found = re.findall(
        r'<th scope="row" data-label="Restaurant">([^<]+)<input type="hidden" name="job_ids" '
        r'value="([0-9a-f-]{36})">',
        html,
    )
    return dict(found)


async def test_cancelling_a_batch_stops_it_and_its_event_stream(operator: Console) -> None:
    client = operator.client
    (pizza,) = await _restaurants(client, "Pizza Palace")
    batch_id = (await create_batch(client, [pizza["id"]], auto_start=True))["batch_job"]["id"]
    page = await operator.get(f"/console/batches/{batch_id}")
    live = attributes(page.text, "batch-live")
    assert live["data-events"] == f"/console/batches/{batch_id}/events"
    assert live["data-fragment"] == f"/console/batches/{batch_id}/live"

    cancelled = await operator.post(f"/console/batches/{batch_id}/cancel")
    assert cancelled.status_code == 303
    page = await operator.get(f"/console/batches/{batch_id}")
    assert "cancelled: 1 restaurants stopped, 0 had already completed." in text(page.text)
    assert element(page.text, "batch-status") == "Cancelled"

    again = await operator.post(f"/console/batches/{batch_id}/cancel")
    page = await operator.get(again.headers["location"])
    assert "Batch is cancelled; only pending or in-progress batches cancel" in text(page.text)

    async with client.stream("GET", f"/console/batches/{batch_id}/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        body = "".join([chunk async for chunk in stream.aiter_text()])
    assert "event: progress" in body
    assert '"status": "cancelled"' in body

    fragment = await operator.get(f"/console/batches/{batch_id}/live")
    assert "<html" not in fragment.text
    assert "1. Menu & Branding Extraction" in text(fragment.text)
    assert (await operator.get(f"/console/batches/{batch_id}/events")).status_code == 200
    missing = await operator.get("/console/batches/00000000-0000-0000-0000-000000000000/events")
    assert missing.status_code == 404


@dataclass
class BrokenMenuExtractor(SimulatedMenuExtractor):
    """The simulator, refusing every call."""

    async def extract(self, restaurant: RestaurantFacts, *, attempt: int = 1) -> Any:
        raise providers.ProviderError("the website is down")


async def _run_until_failed(database: Database, settings: Settings, job_id: str) -> None:
    async def failed() -> bool:
        async with database.transaction() as session:  # skip the engine's backoff waits
            await session.execute(
                update(Task).where(Task.status == "queued").values(run_at=utcnow())
            )
        async with database.read() as session:
            job = await batches_service.get_job(session, uuid.UUID(job_id))
        return job.status == "failed"

    async with running(Worker(database, FAST, settings=settings)):
        await wait_for(failed, within=30)


async def test_a_failed_job_is_retried_from_a_chosen_step(
    operator: Console, database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = operator.client
    (pizza,) = await _restaurants(client, "Pizza Palace")
    broken = BrokenMenuExtractor()
    monkeypatch.setattr(providers, "menu_extractor", lambda settings: broken)
    created = await create_batch(client, [pizza["id"]], auto_start=True)
    batch_id = created["batch_job"]["id"]
    job_id = created["registration_jobs"][0]["id"]
    await _run_until_failed(database, settings, job_id)

    page = await operator.get(f"/console/batches/{batch_id}")
    shown = text(page.text)
    assert "Step 1 (Menu & Branding Extraction) failed: the website is down" in shown
    assert "Retry…" in shown
    job = await operator.get(f"/console/jobs/{job_id}")
    assert element(job.text, "retry-heading") == "Retry"
    assert "Step 1 · Menu & Branding Extraction" in text(job.text)

    too_late = await operator.post(f"/console/jobs/{job_id}/retry", {"from_step": "3"})
    assert too_late.status_code == 400
    assert field_error(too_late.text, "from_step") == (
        "The step must be at most 1, the step that failed"
    )
    blank = await operator.post(f"/console/jobs/{job_id}/retry", {"from_step": ""})
    assert field_error(blank.text, "from_step") == "Choose the step to run again from."

    monkeypatch.setattr(providers, "menu_extractor", lambda settings: SimulatedMenuExtractor())
    retried = await operator.post(f"/console/jobs/{job_id}/retry", {"from_step": "1"})
    assert retried.status_code == 303
    job = await operator.get(retried.headers["location"])
    assert "Retrying from step 1." in text(job.text)
    assert element(job.text, "retry-heading") is None
    async with running(Worker(database, FAST, settings=settings)):
        await wait_for(jobs_at(client, batch_id, 3, "action_required", 1))
    job = await operator.get(f"/console/jobs/{job_id}")
    assert "Action required" in text(job.text)
