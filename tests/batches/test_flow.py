"""Batches end to end on the simulators and a real worker: the document's example, a search
that finds nothing, a step 6 that fails and is retried, and a cancel in the middle."""

import asyncio
from dataclasses import dataclass, field

import httpx
import pytest
from sqlalchemy import select, update

from conveyor.batches import providers
from conveyor.batches.providers import SimulatedAccountSetup, SimulatedCompanyRegistry
from conveyor.config import Settings
from conveyor.database import Database
from conveyor.kit.clock import utcnow
from conveyor.tasks import Task, Worker
from tests.batches.factories import (
    assert_counts_match_jobs,
    batch_is,
    create_batch,
    create_restaurant,
    jobs_at,
    progress,
)
from tests.tasks.conftest import FAST, running, wait_for

SUB_STEPS = [
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


async def test_the_documents_batch_runs_end_to_end(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    names = ["Pizza Palace", "Burger House", "Taco Town (Ponsonby)"]
    restaurants = [await create_restaurant(client, name=name) for name in names]
    created = await create_batch(client, [r["id"] for r in restaurants])
    batch = created["batch_job"]
    assert (batch["status"], batch["total_restaurants"], batch["current_step"]) == ("pending", 3, 1)
    assert batch["total_steps"] == 6
    assert [job["status"] for job in created["registration_jobs"]] == ["pending"] * 3
    assert [job["restaurant_id"] for job in created["registration_jobs"]] == [
        r["id"] for r in restaurants
    ]
    batch_id = batch["id"]

    started = (await client.post(f"/api/registration-batches/{batch_id}/start")).json()
    assert started["success"] is True
    assert started["batch_job"]["status"] == "in_progress"
    assert started["batch_job"]["started_at"] is not None

    async with running(Worker(database, FAST, settings=settings)):
        await wait_for(jobs_at(client, batch_id, 3, "action_required", 3))
        polled = await progress(client, batch_id)
        assert polled["status"] == "in_progress"
        assert polled["step_requiring_action"] == 3
        assert polled["current_step"] == 3
        assert polled["progress_percent"] == 33  # 2 of 6 steps, for every job
        assert polled["restaurants_summary"] == {
            "total": 3,
            "completed": 0,
            "in_progress": 0,
            "action_required": 3,
            "failed": 0,
            "pending": 0,
            "cancelled": 0,
        }

        step3 = (await client.get(f"/api/registration-batches/{batch_id}/steps/3")).json()
        assert (step3["step_name"], step3["step_type"]) == ("Company Selection", "action_required")
        assert step3["summary"] == {"total": 3, "action_required": 3}
        by_name = {row["restaurant_name"]: row for row in step3["restaurants"]}
        taco = by_name["Taco Town (Ponsonby)"]["candidates"]
        # The name search ran without the parenthesised suffix.
        assert taco[0]["company_name"] == "Taco Town Limited"
        assert taco[0]["match_source"] == "name"
        assert all(row["selected_company_number"] is None for row in step3["restaurants"])
        selections = {
            by_name["Pizza Palace"]["job_id"]: {
                "company_number": by_name["Pizza Palace"]["candidates"][0]["company_number"]
            },
            by_name["Burger House"]["job_id"]: {
                "company_number": by_name["Burger House"]["candidates"][0]["company_number"]
            },
            by_name["Taco Town (Ponsonby)"]["job_id"]: {"company_number": None, "no_match": True},
        }
        completed = await client.post(
            f"/api/registration-batches/{batch_id}/steps/3/complete",
            json={"selections": selections},
        )
        assert completed.json() == {
            "success": True,
            "updated_jobs": 3,
            "next_step": 4,
            "auto_processing": True,
        }

        await wait_for(jobs_at(client, batch_id, 5, "action_required", 3))
        detail = (await client.get(f"/api/registration-batches/{batch_id}")).json()
        assert detail["step_summary"]["step_4"] == {
            "completed": 2,
            "in_progress": 0,
            "pending": 0,
            "skipped": 1,
        }
        pizza_job = by_name["Pizza Palace"]["job_id"]
        job = (await client.get(f"/api/registration-jobs/{pizza_job}")).json()["job"]
        config = job["execution_config"]
        assert config["company_name"] == "Pizza Palace Limited"
        assert len(config["nzbn"]) == 13
        assert config["email"] == "owner@pizzapalace.co.nz"  # the restaurant's own
        assert config["password_set"] is False

        configured = await client.post(
            f"/api/registration-batches/{batch_id}/steps/5/complete",
            json={
                "configurations": {
                    pizza_job: {
                        "email": "owner@pizzapalace.co.nz",
                        "password": "Pizzapalace789!",
                        "steps_enabled": {
                            "account": True,
                            "codeGeneration": True,
                            "websiteConfig": True,
                            "menuImport": True,
                            "paymentConfig": False,
                        },
                    },
                    by_name["Burger House"]["job_id"]: {"use_defaults": True},
                },
                "apply_defaults_to_remaining": True,
            },
        )
        assert configured.json() == {
            "success": True,
            "updated_jobs": 3,
            "next_step": 6,
            "auto_processing": True,
        }
        await wait_for(batch_is(client, batch_id, "completed", "failed"))

    polled = await progress(client, batch_id)
    assert polled["status"] == "completed"
    assert polled["progress_percent"] == 100
    assert polled["step_requiring_action"] is None
    assert polled["restaurants_summary"]["completed"] == 3

    job = (await client.get(f"/api/registration-jobs/{pizza_job}")).json()["job"]
    assert job["status"] == "completed"
    assert job["pumpd_user_id"]
    assert job["pumpd_restaurant_id"]
    assert "password" not in job["execution_config"]
    assert job["execution_config"]["password_set"] is True
    step6 = job["steps"][5]
    assert step6["step_name"] == "Pumpd Account Setup"
    sub_steps = step6["sub_step_progress"]["sub_steps"]
    assert list(sub_steps) == SUB_STEPS
    assert sub_steps["paymentConfig"]["status"] == "skipped"
    assert {
        name: state["status"] for name, state in sub_steps.items() if name != "paymentConfig"
    } == {name: "completed" for name in SUB_STEPS if name != "paymentConfig"}
    assert job["menu"]["items"][0]["name"] == "Margherita"

    listed = (await client.get("/api/registration-batches")).json()
    assert listed["total_count"] == 1
    (row,) = listed["batch_jobs"]
    assert (row["status"], row["completed_restaurants"], row["failed_restaurants"]) == (
        "completed",
        3,
        0,
    )
    assert row["current_step"] == 6
    await assert_counts_match_jobs(database)


async def _hurry(database: Database, worker: Worker) -> None:
    """Skip the engine's backoff wait: every queued task is due now."""
    async with database.transaction() as session:
        await session.execute(update(Task).where(Task.status == "queued").values(run_at=utcnow()))
    worker.wake()


@dataclass
class FailingAccountSetup(SimulatedAccountSetup):
    """The simulator, except that the sub-steps in `failing` are refused."""

    failing: frozenset[str] = frozenset()

    async def run(
        self,
        sub_step: str,
        request: providers.AccountRequest,
        *,
        idempotency_key: str,
        attempt: int = 1,
    ) -> dict[str, str]:
        if sub_step in self.failing:
            raise providers.ProviderError(f"{sub_step} refused by the test")
        return await super().run(
            sub_step, request, idempotency_key=idempotency_key, attempt=attempt
        )


async def _to_step_5(client: httpx.AsyncClient, database: Database, settings: Settings) -> str:
    """A one-restaurant batch, run to step 5 with its first candidate chosen; its job id."""
    restaurant = await create_restaurant(client, name="Pizza Palace")
    created = await create_batch(client, [restaurant["id"]], auto_start=True)
    batch_id, job_id = created["batch_job"]["id"], created["registration_jobs"][0]["id"]
    async with running(Worker(database, FAST, settings=settings)):
        await wait_for(jobs_at(client, batch_id, 3, "action_required", 1))
        job = (await client.get(f"/api/registration-jobs/{job_id}")).json()["job"]
        number = job["candidates"][0]["company_number"]
        await client.post(
            f"/api/registration-batches/{batch_id}/steps/3/complete",
            json={"selections": {job_id: {"company_number": number}}},
        )
        await wait_for(jobs_at(client, batch_id, 5, "action_required", 1))
    return job_id


async def test_a_failed_sub_step_fails_the_job_and_a_retry_resumes_from_it(
    admin_client: httpx.AsyncClient,
    database: Database,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = admin_client
    hook = await client.post(
        "/api/v1/admin/webhooks",
        json={
            "url": "https://hooks.example/batches",
            "event_types": ["registration_batch.completed"],
        },
    )
    assert hook.status_code == 201, hook.text
    job_id = await _to_step_5(client, database, settings)
    batch_id = (await client.get(f"/api/registration-jobs/{job_id}")).json()["job"]["batch_job_id"]
    refusing = FailingAccountSetup(failing=frozenset({"menuImport"}))
    monkeypatch.setattr(providers, "account_setup", lambda settings: refusing)
    await client.post(
        f"/api/registration-batches/{batch_id}/steps/5/complete",
        json={"configurations": {job_id: {"use_defaults": True}}},
    )
    async with running(Worker(database, FAST, settings=settings)) as worker:
        while (await progress(client, batch_id))["status"] == "in_progress":
            await _hurry(database, worker)
            await asyncio.sleep(0.05)

    job = (await client.get(f"/api/registration-jobs/{job_id}")).json()["job"]
    assert job["status"] == "failed"
    assert "menuImport refused by the test" in job["error"]
    step6 = job["steps"][5]
    assert step6["status"] == "failed"
    sub_steps = step6["sub_step_progress"]["sub_steps"]
    assert sub_steps["menuImport"] == {
        "status": "failed",
        "attempts": 4,
        "error": "menuImport refused by the test",
    }
    assert sub_steps["account"] == {"status": "completed", "attempts": 1, "error": None}
    assert sub_steps["websiteConfig"]["status"] == "completed"
    assert sub_steps["optionSets"]["status"] == "pending"  # never reached
    assert job["pumpd_user_id"] is not None  # kept from the sub-steps that worked
    assert job["pumpd_restaurant_id"] is not None
    failed = await progress(client, batch_id)
    assert failed["status"] == "failed"
    assert failed["restaurants_summary"]["failed"] == 1

    monkeypatch.setattr(providers, "account_setup", lambda settings: SimulatedAccountSetup())
    retried = await client.post(f"/api/registration-jobs/{job_id}/retry", json={})
    assert retried.json() == {
        "success": True,
        "job": {"id": job_id, "status": "in_progress", "current_step": 6},
    }
    assert (await progress(client, batch_id))["status"] == "in_progress"
    async with running(Worker(database, FAST, settings=settings)):
        await wait_for(batch_is(client, batch_id, "completed"))
    job = (await client.get(f"/api/registration-jobs/{job_id}")).json()["job"]
    assert job["status"] == "completed"
    assert job["error"] is None
    sub_steps = job["steps"][5]["sub_step_progress"]["sub_steps"]
    assert sub_steps["account"]["attempts"] == 1  # done before: not run again
    assert sub_steps["menuImport"] == {"status": "completed", "attempts": 5, "error": None}
    assert sub_steps["itemTags"]["status"] == "completed"

    async with database.read() as session:
        deliveries = (
            (await session.execute(select(Task).where(Task.name == "webhooks.deliver")))
            .scalars()
            .all()
        )
    events = [(task.payload["data"]["status"], task.payload["data"]) for task in deliveries]
    assert [status for status, _ in events] == ["failed", "completed"]
    data = events[1][1]
    assert data["event"] == "registration_batch.completed"
    assert data["batch_id"] == batch_id
    assert data["summary"] == {"total": 1, "successful": 1, "failed": 0}
    assert data["timestamp"].endswith("Z")
    await assert_counts_match_jobs(database)


async def test_a_search_that_finds_nothing_waits_for_a_term_or_a_manual_entry(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    unknown = [
        await create_restaurant(client, name=name, address=None, email=None)
        for name in ("Unregistered Noodle Bar", "Unregistered Dumplings")
    ]
    created = await create_batch(client, [r["id"] for r in unknown], auto_start=True)
    batch_id = created["batch_job"]["id"]
    noodles, dumplings = (job["id"] for job in created["registration_jobs"])
    async with running(Worker(database, FAST, settings=settings)):
        await wait_for(jobs_at(client, batch_id, 2, "action_required", 2))
        polled = await progress(client, batch_id)
        assert polled["step_requiring_action"] == 2
        assert polled["restaurants_summary"]["action_required"] == 2
        job = (await client.get(f"/api/registration-jobs/{noodles}")).json()["job"]
        assert (job["status"], job["current_step"], job["candidates"]) == (
            "action_required",
            2,
            [],
        )

        searched = await client.post(
            f"/api/registration-jobs/{noodles}/company-search",
            json={"search_term": "Noodle Bar Company"},
        )
        assert searched.json()["job"] == {"id": noodles, "status": "in_progress", "current_step": 2}
        await wait_for(jobs_at(client, batch_id, 3, "action_required", 1))
        job = (await client.get(f"/api/registration-jobs/{noodles}")).json()["job"]
        assert job["candidates"][0]["company_name"] == "Noodle Bar Company Limited"

        skipped = await client.post(
            f"/api/registration-jobs/{dumplings}/company-search",
            json={
                "skip": True,
                "manual_company": {
                    "company_name": "Dumpling Brothers Limited",
                    "company_number": "4455667",
                    "gst_number": "123-456-789",
                    "email": "accounts@dumplings.example",
                },
            },
        )
        assert skipped.json()["job"] == {
            "id": dumplings,
            "status": "action_required",
            "current_step": 5,
        }
    job = (await client.get(f"/api/registration-jobs/{dumplings}")).json()["job"]
    assert [step["status"] for step in job["steps"]] == [
        "completed",
        "skipped",
        "skipped",
        "skipped",
        "action_required",
        "pending",
    ]
    assert job["execution_config"]["company_name"] == "Dumpling Brothers Limited"
    assert job["execution_config"]["email"] == "accounts@dumplings.example"
    # No longer waiting at step 2: a second resolution is refused.
    again = await client.post(
        f"/api/registration-jobs/{dumplings}/company-search", json={"search_term": "x"}
    )
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "STEP_NOT_ACTION_REQUIRED"
    await assert_counts_match_jobs(database)


@dataclass
class HeldRegistry(SimulatedCompanyRegistry):
    """The simulator, but `details` waits until the test lets it go."""

    entered: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def details(
        self, candidate: providers.Candidate, *, attempt: int = 1
    ) -> providers.CompanyDetails:
        self.entered.set()
        await self.release.wait()
        return await super().details(candidate, attempt=attempt)


async def test_cancel_in_the_middle_stops_queued_and_running_steps(
    client: httpx.AsyncClient,
    database: Database,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    restaurants = [await create_restaurant(client, name=f"Cafe {n}") for n in range(3)]
    created = await create_batch(client, [r["id"] for r in restaurants], auto_start=True)
    batch_id = created["batch_job"]["id"]
    first, second, third = (job["id"] for job in created["registration_jobs"])
    held = HeldRegistry()
    async with running(Worker(database, FAST, settings=settings)):
        await wait_for(jobs_at(client, batch_id, 3, "action_required", 3))
        monkeypatch.setattr(providers, "company_registry", lambda settings: held)
        candidates = {
            row["job_id"]: row["candidates"][0]["company_number"]
            for row in (await client.get(f"/api/registration-batches/{batch_id}/steps/3")).json()[
                "restaurants"
            ]
        }
        await client.post(
            f"/api/registration-batches/{batch_id}/steps/3/complete",
            json={"selections": {first: {"company_number": candidates[first]}}},
        )
        await asyncio.wait_for(held.entered.wait(), timeout=10)  # step 4 of `first` is running
        cancelled = await client.post(f"/api/registration-batches/{batch_id}/cancel")
        held.release.set()
        body = cancelled.json()
        assert body["batch_job"]["status"] == "cancelled"
        assert body["batch_job"]["cancelled_at"] is not None
        assert (body["cancelled_jobs"], body["already_completed"]) == (3, 0)
        await wait_for(lambda: _task_finished(database))

    job = (await client.get(f"/api/registration-jobs/{first}")).json()["job"]
    assert job["status"] == "cancelled"
    assert job["steps"][3]["status"] == "cancelled"  # the running step did not advance it
    assert job["execution_config"].get("company_name") is None
    for other in (second, third):
        job = (await client.get(f"/api/registration-jobs/{other}")).json()["job"]
        assert [step["status"] for step in job["steps"]] == ["completed"] * 2 + ["cancelled"] * 4
    polled = await progress(client, batch_id)
    assert polled["status"] == "cancelled"
    assert polled["restaurants_summary"]["cancelled"] == 3
    assert polled["step_requiring_action"] is None
    again = await client.post(f"/api/registration-batches/{batch_id}/cancel")
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "INVALID_STATUS"
    # The restaurants are free for another batch.
    await create_batch(client, [r["id"] for r in restaurants])
    await assert_counts_match_jobs(database)


async def _task_finished(database: Database) -> bool:
    async with database.read() as session:
        statuses = (
            await session.execute(select(Task.status).where(Task.name == "batches.run_step"))
        ).scalars()
        return all(status in ("succeeded", "cancelled") for status in statuses)
