"""Enqueueing is part of the caller's transaction; dedupe, cancel and replay."""

from datetime import timedelta
from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy import func, select, update

from conveyor.database import Database
from conveyor.kit.clock import utcnow
from conveyor.tasks import (
    InvalidTransition,
    Registry,
    Task,
    TaskContext,
    TaskNotFound,
    TaskStatus,
    UnknownTask,
    cancel,
    cancel_by_key,
    enqueue,
    enqueue_many,
    replay,
    task,
)
from tests.tasks.conftest import load


class Ping(BaseModel):
    target: str


@pytest.fixture
def ping(registry: Registry) -> Any:
    @task("demo.ping", max_attempts=3, into=registry)
    async def handler(ctx: TaskContext, payload: Ping) -> None:
        return None

    return handler


async def _count(database: Database) -> int:
    async with database.read() as session:
        return int((await session.execute(select(func.count()).select_from(Task))).scalar_one())


async def test_rollback_of_the_enqueuing_transaction_leaves_no_task(
    database: Database, registry: Registry, ping: Any
) -> None:
    async def enqueue_then_fail() -> None:
        async with database.transaction() as session:
            await enqueue(session, ping, {"target": "a"}, tasks=registry)
            raise RuntimeError("business change failed")

    with pytest.raises(RuntimeError):
        await enqueue_then_fail()
    assert await _count(database) == 0


async def test_commit_writes_exactly_one_task_invisible_until_then(
    database: Database, registry: Registry, ping: Any
) -> None:
    async with database.transaction() as session:
        queued = await enqueue(session, ping, Ping(target="a"), tasks=registry)
        assert queued.created
        # Another connection must not see the task before the enqueuing transaction commits.
        assert await _count(database) == 0
    assert await _count(database) == 1
    stored = await load(database, queued.id)
    assert stored.status is TaskStatus.QUEUED
    assert stored.payload == {"target": "a"}
    assert (stored.name, stored.queue, stored.attempts, stored.max_attempts) == (
        "demo.ping",
        "default",
        0,
        3,
    )


async def test_dedupe_key_returns_the_active_task(
    database: Database, registry: Registry, ping: Any
) -> None:
    async with database.transaction() as session:
        first = await enqueue(session, ping, {"target": "a"}, key="ping:a", tasks=registry)
    async with database.transaction() as session:
        second = await enqueue(session, ping, {"target": "a"}, key="ping:a", tasks=registry)
        other = await enqueue(session, ping, {"target": "b"}, key="ping:b", tasks=registry)
    assert first.created
    assert (second.id, second.created) == (first.id, False)
    assert other.created
    assert other.id != first.id
    assert await _count(database) == 2
    # Once the keyed task is finished, the key is free again.
    async with database.transaction() as session:
        await session.execute(
            update(Task).where(Task.id == first.id).values(status=TaskStatus.SUCCEEDED)
        )
    async with database.transaction() as session:
        third = await enqueue(session, ping, {"target": "a"}, key="ping:a", tasks=registry)
    assert third.created
    assert third.id != first.id


async def test_keyed_enqueues_still_dedupe_once_postgresql_plans_them_generically(
    database_url: str, registry: Registry, ping: Any
) -> None:
    """PostgreSQL plans a prepared statement generically after five runs on one connection;
    the keyed insert must still find the partial unique index then (it once raised)."""
    database = Database(database_url, pool_size=1)
    try:
        outcomes = []
        for n in range(12):
            async with database.transaction() as session:
                queued = await enqueue(
                    session, ping, {"target": "a"}, key=f"ping:{n % 3}", tasks=registry
                )
            outcomes.append(queued.created)
    finally:
        await database.dispose()
    assert outcomes == [True] * 3 + [False] * 9


async def test_delay_and_run_at_schedule_the_task(
    database: Database, registry: Registry, ping: Any
) -> None:
    before = utcnow()
    later = before + timedelta(hours=2)
    async with database.transaction() as session:
        delayed = await enqueue(session, ping, {"target": "a"}, delay=60, tasks=registry)
        scheduled = await enqueue(session, ping, {"target": "b"}, run_at=later, tasks=registry)
        urgent = await enqueue(session, ping, {"target": "c"}, priority=-5, tasks=registry)
        with pytest.raises(ValueError, match="not both"):
            await enqueue(session, ping, {"target": "d"}, delay=1, run_at=later, tasks=registry)
    assert (await load(database, delayed.id)).run_at >= before + timedelta(seconds=60)
    assert (await load(database, scheduled.id)).run_at == later
    assert (await load(database, urgent.id)).priority == -5


async def test_unknown_names_and_invalid_payloads_are_refused(
    database: Database, registry: Registry, ping: Any
) -> None:
    async with database.transaction() as session:
        with pytest.raises(UnknownTask):
            await enqueue(session, "demo.nothing", {}, tasks=registry)
        with pytest.raises(ValueError, match="target"):
            await enqueue(session, ping, {"wrong": 1}, tasks=registry)
        assert await enqueue(session, "demo.ping", {"target": "by name"}, tasks=registry)
    assert await _count(database) == 1


async def test_enqueue_many_writes_them_all_in_order(
    database: Database, registry: Registry, ping: Any
) -> None:
    async with database.transaction() as session:
        ids = await enqueue_many(
            session, ping, [{"target": str(n)} for n in range(250)], tasks=registry
        )
    assert len(ids) == 250
    assert ids == sorted(ids)
    assert (await load(database, ids[42])).payload == {"target": "42"}


async def test_cancel_queued_and_running_tasks(
    database: Database, registry: Registry, ping: Any
) -> None:
    async with database.transaction() as session:
        queued = await enqueue(session, ping, {"target": "a"}, tasks=registry)
        running = await enqueue(session, ping, {"target": "b"}, key="b", tasks=registry)
        await session.execute(
            update(Task).where(Task.id == running.id).values(status=TaskStatus.RUNNING)
        )
    async with database.transaction() as session:
        assert await cancel(session, queued.id) is TaskStatus.CANCELLED
        assert await cancel_by_key(session, "b") == 1
    assert (await load(database, queued.id)).status is TaskStatus.CANCELLED
    flagged = await load(database, running.id)
    assert flagged.status is TaskStatus.RUNNING
    assert flagged.cancel_requested
    async with database.transaction() as session:
        with pytest.raises(InvalidTransition, match="cancelled"):
            await cancel(session, queued.id)
        with pytest.raises(TaskNotFound):
            await cancel(session, 999_999)


async def test_replay_revives_a_dead_task_with_fresh_attempts(
    database: Database, registry: Registry, ping: Any
) -> None:
    async with database.transaction() as session:
        queued = await enqueue(session, ping, {"target": "a"}, tasks=registry)
        await session.execute(
            update(Task)
            .where(Task.id == queued.id)
            .values(status=TaskStatus.DEAD, attempts=3, last_error="boom", finished_at=utcnow())
        )
    async with database.transaction() as session:
        revived = await replay(session, queued.id)
    assert revived.status is TaskStatus.QUEUED
    assert revived.attempts == 0
    assert revived.finished_at is None
    async with database.transaction() as session:
        with pytest.raises(InvalidTransition, match="only dead or cancelled"):
            await replay(session, queued.id)
