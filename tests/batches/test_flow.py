"""Batches end to end on the simulators and a real worker: the document's example, a search
that finds nothing, a step 6 that fails and is retried, and a cancel in the middle."""

import httpx

from conveyor.config import Settings
from conveyor.database import Database
from conveyor.tasks import Worker
from tests.batches.factories import batch_is, create_batch, create_restaurant, jobs_at, progress
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
