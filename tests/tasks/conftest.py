"""Fixtures for the task engine: a private registry and workers tuned for fast tests."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
from sqlalchemy import select

from conveyor.database import Database
from conveyor.tasks import Registry, Task, Worker, WorkerConfig

FAST = WorkerConfig(
    concurrency=4,
    poll_interval=0.05,
    lease=timedelta(seconds=3),
    rescue_interval=0.1,
    grace_period=2.0,
)


@pytest.fixture
def registry() -> Registry:
    return Registry()


@asynccontextmanager
async def running(worker: Worker) -> AsyncIterator[Worker]:
    """Run `worker` in the background for the duration of the block, then stop it."""
    execution = asyncio.create_task(worker.run())
    try:
        yield worker
    finally:
        worker.stop()
        await asyncio.wait_for(execution, timeout=30)


async def wait_for(
    condition: Callable[[], Awaitable[bool]], *, within: float = 15.0, step: float = 0.02
) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(step)


async def load(database: Database, task_id: int) -> Task:
    async with database.read() as session:
        return (await session.execute(select(Task).where(Task.id == task_id))).scalar_one()


def status_is(database: Database, task_id: int, *statuses: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return (await load(database, task_id)).status.value in statuses

    return check
