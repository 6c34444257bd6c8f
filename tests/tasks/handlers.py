"""Task handlers for the acceptance tests, imported by `conveyor worker --import`.

They record what happened in tables the tests create with plain SQL: `accept_row` (the effect
that must happen exactly once, unique per task), `accept_effect` (the same effect without a
unique constraint, to show fencing alone prevents doubles) and `accept_run` (every execution,
committed at once, to count duplicate executions and check overlaps).
"""

import asyncio
import os
import random
import signal
import time
from typing import Any

from sqlalchemy import text

from conveyor.tasks import TaskContext, task

CREATE_TABLES = (
    "CREATE TABLE accept_row (task_id BIGINT PRIMARY KEY, n INTEGER NOT NULL)",
    "CREATE TABLE accept_effect (task_id BIGINT NOT NULL)",
    "CREATE TABLE accept_run (task_id BIGINT NOT NULL, attempt INTEGER NOT NULL, "
    "pid INTEGER NOT NULL, started DOUBLE PRECISION NOT NULL, finished DOUBLE PRECISION)",
)
DROP_TABLES = ("DROP TABLE accept_row", "DROP TABLE accept_effect", "DROP TABLE accept_run")


async def _record_start(ctx: TaskContext) -> float:
    started = time.time()
    async with ctx.database.transaction() as session:
        await session.execute(
            text(
                "INSERT INTO accept_run (task_id, attempt, pid, started) "
                "VALUES (:task_id, :attempt, :pid, :started)"
            ),
            {
                "task_id": ctx.task_id,
                "attempt": ctx.attempt,
                "pid": os.getpid(),
                "started": started,
            },
        )
    return started


@task("accept.insert", max_attempts=10)
async def insert_row(ctx: TaskContext, payload: dict[str, Any]) -> None:
    """Insert one row per task, in the completing transaction."""
    await _record_start(ctx)
    await asyncio.sleep(random.uniform(0, 0.01))
    async with ctx.complete() as session:
        await session.execute(
            text("INSERT INTO accept_row (task_id, n) VALUES (:task_id, :n)"),
            {"task_id": ctx.task_id, "n": payload["n"]},
        )


@task("accept.slow_effect", max_attempts=5)
async def slow_effect(ctx: TaskContext, payload: dict[str, Any]) -> None:
    """Sleep, then write an effect that has no unique constraint to protect it."""
    await _record_start(ctx)
    await asyncio.sleep(payload["seconds"])
    async with ctx.complete() as session:
        await session.execute(
            text("INSERT INTO accept_effect (task_id) VALUES (:task_id)"), {"task_id": ctx.task_id}
        )


@task("accept.poison", max_attempts=3)
async def poison(ctx: TaskContext, payload: dict[str, Any]) -> None:
    """Kill the worker process that runs it, every time."""
    await _record_start(ctx)
    os.kill(os.getpid(), signal.SIGKILL)


@task("accept.sleep", max_attempts=3)
async def sleep(ctx: TaskContext, payload: dict[str, Any]) -> None:
    await asyncio.sleep(payload["seconds"])


@task("accept.timed", max_attempts=3)
async def timed(ctx: TaskContext, payload: dict[str, Any]) -> None:
    """Record start and finish times, to check that no attempt runs twice at once."""
    await _record_start(ctx)
    await asyncio.sleep(random.uniform(0, 0.02))
    async with ctx.complete() as session:
        await session.execute(
            text(
                "UPDATE accept_run SET finished = :finished "
                "WHERE task_id = :task_id AND attempt = :attempt AND pid = :pid"
            ),
            {
                "finished": time.time(),
                "task_id": ctx.task_id,
                "attempt": ctx.attempt,
                "pid": os.getpid(),
            },
        )
