"""`conveyor batches watch`: a batch's progress in the shell, run as a user runs it."""

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from conveyor.batches.pipeline import STEPS
from conveyor.batches.schemas import Progress, RestaurantsSummary
from conveyor.cli.batches import Snapshot, outcome
from tests.cli.test_cli import run_cli


async def create_batch(client: httpx.AsyncClient, *, restaurants: int) -> str:
    ids = []
    for number in range(restaurants):
        created = await client.post("/api/restaurants", json={"name": f"Restaurant {number}"})
        assert created.status_code == 201, created.text
        ids.append(created.json()["restaurant"]["id"])
    batch = await client.post(
        "/api/registration-batches", json={"name": "B", "restaurant_ids": ids}
    )
    assert batch.status_code == 201, batch.text
    batch_id: str = batch.json()["batch_job"]["id"]
    return batch_id


async def watch(database_url: str, tmp_path: Path, *args: str) -> Any:
    # In a thread: the app under `client` shares this event loop and must stay responsive.
    return await asyncio.to_thread(
        run_cli,
        "batches",
        "watch",
        *args,
        cwd=tmp_path,
        env={"CONVEYOR_DATABASE_URL": database_url},
    )


async def test_once_prints_every_step_of_a_pending_batch(
    client: httpx.AsyncClient, database_url: str, tmp_path: Path
) -> None:
    batch_id = await create_batch(client, restaurants=2)
    result = await watch(database_url, tmp_path, batch_id, "--once")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for item in STEPS:
        row = next(line for line in lines if f"{item.number} {item.name}" in line)
        assert row.rstrip().endswith("0/2"), row
    assert "status: pending  0%" in result.stdout
    assert "0 completed" in result.stdout
    assert "2 pending" in result.stdout
    assert "Batch" not in result.stdout, "a pending batch has no outcome yet"


async def test_an_unknown_or_malformed_id_is_one_line_without_a_traceback(
    client: httpx.AsyncClient, database_url: str, tmp_path: Path
) -> None:
    unknown = str(uuid.uuid4())
    missing = await watch(database_url, tmp_path, unknown)
    assert missing.returncode == 1
    assert missing.stderr.strip() == f"error: no batch with id {unknown}"
    assert missing.stdout == ""
    malformed = await watch(database_url, tmp_path, "batch-7", "--once")
    assert malformed.returncode == 2
    assert malformed.stderr.strip() == "error: not a batch id: 'batch-7' (expected a UUID)"


async def test_watching_a_cancelled_batch_ends_at_once_and_says_so(
    client: httpx.AsyncClient, database_url: str, tmp_path: Path
) -> None:
    batch_id = await create_batch(client, restaurants=3)
    cancelled = await client.post(f"/api/registration-batches/{batch_id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    # A long interval: the command can only end quickly if it never waits for a refresh.
    result = await watch(database_url, tmp_path, batch_id, "--interval", "60")
    assert result.returncode == 0, result.stderr
    assert "status: cancelled" in result.stdout
    final = result.stdout.strip().splitlines()[-1]
    assert final == "Batch cancelled: 0 of 3 restaurants completed, 3 cancelled"


def snapshot(status: str, *, step_requiring_action: int | None = None, **counts: int) -> Snapshot:
    summary = {"completed": 0, "in_progress": 0, "action_required": 0, "failed": 0}
    summary |= {"pending": 0, "cancelled": 0} | counts
    steps = {f"step_{item.number}": {"completed": 0, "pending": 0} for item in STEPS}
    steps["step_3"]["action_required"] = summary["action_required"]
    return Snapshot(
        Progress(
            status=status,
            progress_percent=0,
            current_step=1,
            step_requiring_action=step_requiring_action,
            restaurants_summary=RestaurantsSummary(total=sum(summary.values()), **summary),
            last_updated=datetime.now(UTC),
        ),
        steps,
    )


def test_the_final_line_names_why_watching_stopped() -> None:
    assert outcome(snapshot("in_progress", in_progress=4)) is None
    assert outcome(snapshot("completed", completed=12)) == (
        "Batch completed: 12 of 12 restaurants completed"
    )
    assert outcome(snapshot("completed", completed=2, failed=1)) == (
        "Batch completed: 2 of 3 restaurants completed, 1 failed"
    )
    assert outcome(snapshot("failed", failed=1)) == "Batch failed: 1 of 1 restaurant failed"
    waiting = snapshot("in_progress", step_requiring_action=3, action_required=2, in_progress=1)
    assert outcome(waiting) == "Step 3 (Company Selection) needs action for 2 restaurants"
