"""Automatic steps that finish together are recorded together, each on its own terms."""

import asyncio
import uuid
from collections import Counter
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from conveyor.batches import repository, service
from conveyor.batches.models import RegistrationJob, RegistrationJobStep
from conveyor.config import Settings
from conveyor.database import Database
from conveyor.tasks import Task
from tests.batches.factories import create_batch, create_restaurant


async def test_steps_finishing_together_share_a_transaction_and_keep_their_own_fences(
    client: httpx.AsyncClient,
    database: Database,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    restaurants = [await create_restaurant(client, name=f"Cafe {n}") for n in range(12)]
    created = await create_batch(client, [r["id"] for r in restaurants], auto_start=True)
    jobs = [uuid.UUID(job["id"]) for job in created["registration_jobs"]]
    moved_on = jobs[5]  # as if cancelled while its step 1 ran
    async with database.transaction() as session:
        await session.execute(
            update(RegistrationJobStep)
            .where(RegistrationJobStep.job_id == moved_on, RegistrationJobStep.step_number == 1)
            .values(status="cancelled")
        )
    recorded: list[int] = []
    finish_steps = repository.finish_steps

    async def counting(*args: Any, **kwargs: Any) -> set[uuid.UUID]:
        moved = await finish_steps(*args, **kwargs)
        recorded.append(len(args[2]))
        return moved

    monkeypatch.setattr(repository, "finish_steps", counting)

    # Every job's step 1 at once, and job 0's twice (a rescued attempt still running).
    await asyncio.gather(
        *(
            service.run_step(database, settings, job_id, 1, attempt=1, final=False)
            for job_id in [*jobs, jobs[0]]
        )
    )

    # Fewer statements than steps: they were recorded together. Job 0's second result was
    # dropped, in the same batch as its first or by the fence in a later one.
    assert len(recorded) < 12
    async with database.read() as session:
        steps = {
            row.job_id: row
            for row in (
                await session.execute(
                    select(RegistrationJobStep).where(RegistrationJobStep.step_number.in_([1, 2]))
                )
            ).scalars()
            if row.step_number == 1
        }
        step_two = dict(
            (
                await session.execute(
                    select(RegistrationJobStep.job_id, RegistrationJobStep.status).where(
                        RegistrationJobStep.step_number == 2
                    )
                )
            ).all()
        )
        menus = dict(
            (await session.execute(select(RegistrationJob.id, RegistrationJob.menu))).all()
        )
        queued = Counter(
            task.payload["job_id"]
            for task in (
                await session.execute(select(Task).where(Task.name == "batches.run_step"))
            ).scalars()
            if task.payload["step"] == 2
        )
    for job_id in jobs:
        if job_id == moved_on:
            continue
        step = steps[job_id]
        assert step.status == "completed"
        assert step.task_id is None
        assert step.started_at is not None
        assert step.finished_at is not None
        assert step.started_at <= step.finished_at
        assert step.duration_ms == int((step.finished_at - step.started_at).total_seconds() * 1000)
        assert menus[job_id]["items"]  # its own extraction result
        assert step_two[job_id] == "in_progress"
        assert queued[str(job_id)] == 1  # one step-2 task, even for job 0
    assert steps[moved_on].status == "cancelled"
    assert step_two[moved_on] == "pending"
    assert menus[moved_on] is None
    assert str(moved_on) not in queued
