"""The batch routes' contract: every error code of document 000, paging, leads, limits, SSE."""

import json
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from conveyor.batches.models import RegistrationJob
from conveyor.config import Settings
from conveyor.database import Database
from conveyor.main import create_app
from conveyor.tasks import Worker
from tests.batches.factories import create_batch, create_restaurant, jobs_at, progress
from tests.support import make_settings
from tests.tasks.conftest import FAST, running, wait_for

BATCHES = "/api/registration-batches"


def _error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    return body["error"]


async def test_unknown_batches_and_jobs_are_404_in_the_documents_format(
    client: httpx.AsyncClient,
) -> None:
    missing = uuid.uuid4()
    for path in ("", "/progress", "/steps/3", "/events"):
        error = _error(await client.get(f"{BATCHES}/{missing}{path}"), 404, "BATCH_NOT_FOUND")
        assert error["message"] == "Registration batch not found"
    _error(await client.post(f"{BATCHES}/{missing}/start"), 404, "BATCH_NOT_FOUND")
    _error(await client.post(f"{BATCHES}/{missing}/cancel"), 404, "BATCH_NOT_FOUND")
    error = _error(await client.get(f"/api/registration-jobs/{missing}"), 404, "JOB_NOT_FOUND")
    assert error["message"] == "Registration job not found"
    _error(await client.post(f"/api/registration-jobs/{missing}/retry"), 404, "JOB_NOT_FOUND")
    error = _error(await client.get(f"{BATCHES}/not-a-uuid"), 400, "VALIDATION_ERROR")
    assert error["details"]["fields"][0]["field"] == "batch_id"


async def test_creating_a_batch_checks_its_restaurants(client: httpx.AsyncClient) -> None:
    pizza = await create_restaurant(client, name="Pizza Palace")
    missing = str(uuid.uuid4())
    error = _error(
        await client.post(BATCHES, json={"name": "B", "restaurant_ids": [pizza["id"], missing]}),
        404,
        "RESTAURANT_NOT_FOUND",
    )
    assert error["details"] == {"restaurant_ids": [missing]}
    first = await create_batch(client, [pizza["id"]])
    error = _error(
        await client.post(BATCHES, json={"name": "Again", "restaurant_ids": [pizza["id"]]}),
        400,
        "RESTAURANT_ALREADY_IN_BATCH",
    )
    assert error["details"]["restaurants"] == [
        {"restaurant_id": pizza["id"], "batch_id": first["batch_job"]["id"]}
    ]
    for body, field in (
        ({"name": "B", "restaurant_ids": []}, "restaurant_ids"),
        ({"name": "B", "restaurant_ids": [pizza["id"], pizza["id"]]}, "restaurant_ids"),
        ({"name": "", "restaurant_ids": [pizza["id"]]}, "name"),
        ({"name": "B", "restaurant_ids": [pizza["id"]], "priority": 1}, "priority"),
        (
            {
                "name": "B",
                "restaurant_ids": [pizza["id"]],
                "execution_config": {"default_password_pattern": "short"},
            },
            "execution_config.default_password_pattern",
        ),
    ):
        error = _error(await client.post(BATCHES, json=body), 400, "VALIDATION_ERROR")
        assert [f["field"] for f in error["details"]["fields"]] == [field]
    # Nothing of the refused requests was kept.
    assert (await client.get(BATCHES)).json()["total_count"] == 1


@pytest.mark.parametrize("auto_start", [False, True])
async def test_a_batchs_jobs_are_listed_in_the_order_of_its_restaurants(
    client: httpx.AsyncClient, auto_start: bool
) -> None:
    restaurants = [(await create_restaurant(client, name=f"Cafe {n}"))["id"] for n in range(12)]
    order = restaurants[::-1]
    created = await create_batch(client, order, auto_start=auto_start)
    assert [job["restaurant_id"] for job in created["registration_jobs"]] == order
    batch_id = created["batch_job"]["id"]
    detail = (await client.get(f"{BATCHES}/{batch_id}")).json()
    assert [job["restaurant_id"] for job in detail["registration_jobs"]] == order
    step = (await client.get(f"{BATCHES}/{batch_id}/steps/1")).json()
    assert [row["restaurant_id"] for row in step["restaurants"]] == order


async def test_start_twice_and_start_after_cancel(client: httpx.AsyncClient) -> None:
    pizza = await create_restaurant(client, name="Pizza Palace")
    batch_id = (await create_batch(client, [pizza["id"]]))["batch_job"]["id"]
    assert (await client.post(f"{BATCHES}/{batch_id}/start")).status_code == 200
    _error(await client.post(f"{BATCHES}/{batch_id}/start"), 400, "BATCH_ALREADY_STARTED")
    cancelled = (await client.post(f"{BATCHES}/{batch_id}/cancel")).json()
    assert (cancelled["cancelled_jobs"], cancelled["already_completed"]) == (1, 0)
    _error(await client.post(f"{BATCHES}/{batch_id}/start"), 400, "INVALID_STATUS")


async def test_completing_steps_is_refused_until_they_wait_for_a_person(
    client: httpx.AsyncClient,
) -> None:
    pizza = await create_restaurant(client, name="Pizza Palace")
    created = await create_batch(client, [pizza["id"]])
    batch_id, job_id = created["batch_job"]["id"], created["registration_jobs"][0]["id"]
    selection = {"selections": {job_id: {"company_number": "1"}}}
    _error(
        await client.post(f"{BATCHES}/{batch_id}/steps/3/complete", json=selection),
        400,
        "INVALID_STATUS",  # the batch has not started
    )
    await client.post(f"{BATCHES}/{batch_id}/start")
    error = _error(
        await client.post(f"{BATCHES}/{batch_id}/steps/1/complete", json={}),
        400,
        "STEP_NOT_ACTION_REQUIRED",
    )
    assert "automatic" in error["message"]
    error = _error(
        await client.post(f"{BATCHES}/{batch_id}/steps/3/complete", json=selection),
        400,
        "STEP_NOT_ACTION_REQUIRED",  # the job is still at step 1
    )
    assert error["details"] == {"job_ids": [job_id]}
    _error(
        await client.post(f"{BATCHES}/{batch_id}/steps/7/complete", json={}),
        400,
        "VALIDATION_ERROR",
    )
    _error(
        await client.post(
            f"{BATCHES}/{batch_id}/steps/3/complete",
            json={"selections": {str(uuid.uuid4()): {"no_match": True}}},
        ),
        404,
        "JOB_NOT_FOUND",
    )
    _error(
        await client.post(f"/api/registration-jobs/{job_id}/retry", json={}),
        400,
        "INVALID_STATUS",  # only failed jobs are retried
    )


async def test_missing_selections(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    pizza = await create_restaurant(client, name="Pizza Palace")
    created = await create_batch(client, [pizza["id"]], auto_start=True)
    batch_id, job_id = created["batch_job"]["id"], created["registration_jobs"][0]["id"]
    async with running(Worker(database, FAST, settings=settings)):
        await wait_for(jobs_at(client, batch_id, 3, "action_required", 1))
    step3 = f"{BATCHES}/{batch_id}/steps/3/complete"
    _error(await client.post(step3, json={}), 400, "MISSING_SELECTIONS")
    _error(await client.post(step3, json={"selections": {}}), 400, "MISSING_SELECTIONS")
    error = _error(
        await client.post(step3, json={"selections": {job_id: {"company_number": None}}}),
        400,
        "MISSING_SELECTIONS",
    )
    assert error["details"] == {"job_ids": [job_id]}
    error = _error(
        await client.post(step3, json={"selections": {job_id: {"company_number": "0"}}}),
        400,
        "VALIDATION_ERROR",
    )
    assert "not one of the job's candidates" in error["message"]
    _error(
        await client.post(
            step3, json={"selections": {job_id: {"company_number": "1", "no_match": True}}}
        ),
        400,
        "VALIDATION_ERROR",
    )
    _error(
        await client.post(f"{BATCHES}/{batch_id}/steps/5/complete", json={}),
        400,
        "MISSING_SELECTIONS",
    )
    # The refusals changed nothing: the job still waits at step 3.
    assert (await progress(client, batch_id))["step_requiring_action"] == 3


async def test_step_5_takes_passwords_it_never_shows(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    pizza = await create_restaurant(client, name="Pizza Palace", email=None)
    created = await create_batch(client, [pizza["id"]], auto_start=True)
    batch_id, job_id = created["batch_job"]["id"], created["registration_jobs"][0]["id"]
    async with running(Worker(database, FAST, settings=settings)):
        await wait_for(jobs_at(client, batch_id, 3, "action_required", 1))
        await client.post(
            f"{BATCHES}/{batch_id}/steps/3/complete",
            json={"selections": {job_id: {"company_number": None, "no_match": True}}},
        )
    step5 = f"{BATCHES}/{batch_id}/steps/5/complete"
    # No company was chosen and the restaurant has no email: the defaults cannot do.
    error = _error(
        await client.post(step5, json={"configurations": {job_id: {"use_defaults": True}}}),
        400,
        "VALIDATION_ERROR",
    )
    assert error["details"] == {"job_ids": [job_id]}
    error = _error(
        await client.post(
            step5,
            json={
                "configurations": {
                    job_id: {
                        "email": "a@b.example",
                        "steps_enabled": {"menuImport": False, "itemTags": True},
                    }
                }
            },
        ),
        400,
        "VALIDATION_ERROR",
    )
    assert "itemTags needs menuImport" in error["message"]
    secret = "S3cret-Pizza-2024!"
    done = await client.post(
        step5,
        json={"configurations": {job_id: {"email": "owner@pizza.example", "password": secret}}},
    )
    assert done.json()["updated_jobs"] == 1
    for path in (f"/api/registration-jobs/{job_id}", f"{BATCHES}/{batch_id}/steps/5"):
        shown = await client.get(path)
        assert secret not in shown.text
        assert "password_set" in shown.text
    async with database.read() as session:
        stored = (await session.execute(select(RegistrationJob.password_sealed))).scalar_one()
    assert stored is not None
    assert secret not in stored


async def test_list_filters_pages_and_counts(client: httpx.AsyncClient) -> None:
    restaurants = [await create_restaurant(client, name=f"Cafe {n}") for n in range(3)]
    ids = [
        (await create_batch(client, [r["id"]], name=f"B{n}"))["batch_job"]["id"]
        for n, r in enumerate(restaurants)
    ]
    await client.post(f"{BATCHES}/{ids[0]}/cancel")
    page = (await client.get(BATCHES, params={"limit": 1, "offset": 1})).json()
    assert page["total_count"] == 3
    assert [row["name"] for row in page["batch_jobs"]] == ["B1"]  # newest first
    pending = (await client.get(BATCHES, params={"status": "pending"})).json()
    assert [row["name"] for row in pending["batch_jobs"]] == ["B2", "B1"]
    row = pending["batch_jobs"][0]
    assert (row["total_restaurants"], row["completed_restaurants"], row["failed_restaurants"]) == (
        1,
        0,
        0,
    )
    _error(await client.get(BATCHES, params={"status": "done"}), 400, "VALIDATION_ERROR")
    _error(await client.get(BATCHES, params={"limit": 101}), 400, "VALIDATION_ERROR")


async def test_leads_import_list_and_convert_into_a_batch(client: httpx.AsyncClient) -> None:
    scrape = str(uuid.uuid4())
    imported = await client.post(
        "/api/leads",
        json={
            "leads": [
                {
                    "name": "Pizza Palace",
                    "address": "123 Main St",
                    "city": "Auckland",
                    "google_address": "123 Main Street, Ponsonby, Auckland 1011",
                    "email": "owner@pizzapalace.co.nz",
                    "lead_scrape_job_id": scrape,
                },
                {"name": "Burger House", "address": "9 Queen St", "lead_scrape_job_id": scrape},
                {
                    "name": "Taco Town",
                    "address": "5 Dominion Rd",
                    "google_address": "5 Dominion Road",
                },
            ]
        },
    )
    assert imported.status_code == 201, imported.text
    leads = imported.json()["leads"]
    assert [lead["restaurant_id"] for lead in leads] == [None] * 3
    pizza, burger, taco = (lead["id"] for lead in leads)

    converted = await client.post(
        "/api/leads/convert",
        json={
            "lead_ids": [pizza, burger],
            "address_source": "auto",
            "create_registration_batch": True,
            "batch_name": "Auckland Q4 Batch",
            "auto_start_batch": False,
        },
    )
    assert converted.status_code == 200, converted.text
    body = converted.json()
    assert body["converted_count"] == 2
    assert [r["name"] for r in body["restaurants"]] == ["Pizza Palace", "Burger House"]
    batch = body["registration_batch"]
    assert (batch["name"], batch["status"], batch["total_restaurants"]) == (
        "Auckland Q4 Batch",
        "pending",
        2,
    )
    detail = (await client.get(f"{BATCHES}/{batch['id']}")).json()
    assert detail["batch_job"]["source_lead_scrape_job_id"] == scrape
    restaurant = (await client.get(f"/api/restaurants/{body['restaurants'][0]['id']}")).json()
    assert restaurant["restaurant"]["street"] == "123 Main Street"  # the enriched address
    assert restaurant["restaurant"]["source"] == "lead"

    again = (
        await client.post(
            "/api/leads/convert",
            json={
                "lead_ids": [pizza, taco],
                "address_source": "lead",
                "create_registration_batch": True,
                "auto_start_batch": True,
            },
        )
    ).json()
    assert again["converted_count"] == 1
    assert again["already_converted"] == [
        {"lead_id": pizza, "restaurant_id": body["restaurants"][0]["id"]}
    ]
    assert again["registration_batch"]["status"] == "in_progress"
    taco_restaurant = (await client.get(f"/api/restaurants/{again['restaurants'][0]['id']}")).json()
    assert taco_restaurant["restaurant"]["street"] == "5 Dominion Rd"  # the lead's own
    unconverted = (await client.get("/api/leads", params={"converted": False})).json()
    assert unconverted["total_count"] == 0
    error = _error(
        await client.post("/api/leads/convert", json={"lead_ids": [str(uuid.uuid4())]}),
        404,
        "LEAD_NOT_FOUND",
    )
    assert len(error["details"]["lead_ids"]) == 1


async def test_the_documents_rate_limits(database_url: str) -> None:
    app = create_app(make_settings(database_url, rate_limits={"batches.progress": "2/minute"}))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        pizza = await create_restaurant(client, name="Pizza Palace")
        batch_id = (await create_batch(client, [pizza["id"]]))["batch_job"]["id"]
        assert (await client.get(BATCHES)).headers["X-RateLimit-Limit"] == "30"
        assert (await client.post(f"{BATCHES}/{batch_id}/start")).headers[
            "X-RateLimit-Limit"
        ] == "10"
        polls = [await client.get(f"{BATCHES}/{batch_id}/progress") for _ in range(3)]
    assert [poll.status_code for poll in polls] == [200, 200, 429]
    error = _error(polls[2], 429, "RATE_LIMIT_EXCEEDED")
    assert "try again" in error["message"]
    assert int(polls[2].headers["Retry-After"]) > 0


async def test_events_stream_the_progress_until_the_batch_finishes(
    client: httpx.AsyncClient,
) -> None:
    pizza = await create_restaurant(client, name="Pizza Palace")
    batch_id = (await create_batch(client, [pizza["id"]]))["batch_job"]["id"]
    await client.post(f"{BATCHES}/{batch_id}/cancel")
    streamed = await client.get(f"{BATCHES}/{batch_id}/events")
    assert streamed.headers["content-type"].startswith("text/event-stream")
    events = [block for block in streamed.text.split("\n\n") if block.strip()]
    assert len(events) == 1  # a finished batch: one event, then the stream ends
    lines = dict(line.split(": ", 1) for line in events[0].splitlines())
    assert lines["event"] == "progress"
    assert json.loads(lines["data"]) == await progress(client, batch_id)


@pytest.mark.parametrize("path", ["/api/registration-batches", "/api/leads"])
async def test_operations_need_a_key_or_an_operator_in_production(
    database_url: str, path: str
) -> None:
    settings = make_settings(database_url, env="production", secret_key="x" * 40)
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        refused = await client.get(path)
    _error(refused, 401, "UNAUTHORIZED")
