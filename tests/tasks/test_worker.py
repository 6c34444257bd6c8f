"""The worker in-process: outcomes, retries, leases, cancellation, schedules, shutdown."""

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text, update

from conveyor.database import Database
from conveyor.kit.clock import utcnow
from conveyor.tasks import (
    Backoff,
    LeaseLost,
    PermanentFailure,
    Registry,
    Retry,
    Task,
    TaskContext,
    TaskStatus,
    Worker,
    cancel,
    enqueue,
    replay,
    task,
)
from conveyor.tasks.repository import ClaimedTask, claim
from conveyor.tasks.worker import next_slot
from tests.tasks.conftest import FAST, load, running, status_is, wait_for


async def _enqueue(
    database: Database, registry: Registry, name: str, payload: Any = None, **kw: Any
) -> int:
    async with database.transaction() as session:
        return (await enqueue(session, name, payload or {}, tasks=registry, **kw)).id


async def test_a_successful_task_is_succeeded(database: Database, registry: Registry) -> None:
    seen: list[dict[str, Any]] = []

    @task("demo.record", into=registry)
    async def record(ctx: TaskContext, payload: dict[str, Any]) -> None:
        seen.append(payload)

    task_id = await _enqueue(database, registry, "demo.record", {"n": 1})
    async with running(Worker(database, FAST, tasks=registry)):
        await wait_for(status_is(database, task_id, "succeeded"))
    stored = await load(database, task_id)
    assert seen == [{"n": 1}]
    assert stored.attempts == 1
    assert stored.finished_at is not None
    assert stored.locked_by is None


async def test_failures_retry_with_backoff_then_die_after_exactly_max_attempts(
    database: Database, registry: Registry
) -> None:
    calls: list[int] = []

    @task("demo.flaky", max_attempts=3, backoff=Backoff(base=0.05, jitter=False), into=registry)
    async def flaky(ctx: TaskContext, payload: dict[str, Any]) -> None:
        calls.append(ctx.attempt)
        raise ConnectionError(f"outside system down (attempt {ctx.attempt})")

    task_id = await _enqueue(database, registry, "demo.flaky")
    async with running(Worker(database, FAST, tasks=registry)):
        await wait_for(status_is(database, task_id, "dead"))
        await asyncio.sleep(0.3)  # a dead task is never picked up again
    stored = await load(database, task_id)
    assert calls == [1, 2, 3]
    assert stored.attempts == 3
    assert "outside system down (attempt 3)" in (stored.last_error or "")
    assert "ConnectionError" in (stored.last_error or "")


async def test_a_retry_is_scheduled_by_the_backoff_policy(
    database: Database, registry: Registry
) -> None:
    @task("demo.fails_once", max_attempts=5, backoff=Backoff(base=60, jitter=False), into=registry)
    async def fails(ctx: TaskContext, payload: dict[str, Any]) -> None:
        raise ValueError("nope")

    task_id = await _enqueue(database, registry, "demo.fails_once")
    before = utcnow()
    async with running(Worker(database, FAST, tasks=registry)):
        await wait_for(lambda: _attempts_at_least(database, task_id, 1, TaskStatus.QUEUED))
    stored = await load(database, task_id)
    assert stored.status is TaskStatus.QUEUED
    assert stored.attempts == 1
    assert before + timedelta(seconds=59) <= stored.run_at <= utcnow() + timedelta(seconds=61)


async def _attempts_at_least(
    database: Database, task_id: int, attempts: int, status: TaskStatus
) -> bool:
    stored = await load(database, task_id)
    return stored.attempts >= attempts and stored.status is status


async def test_permanent_failure_goes_straight_to_dead(
    database: Database, registry: Registry
) -> None:
    @task("demo.hopeless", max_attempts=5, into=registry)
    async def hopeless(ctx: TaskContext, payload: dict[str, Any]) -> None:
        raise PermanentFailure("customer does not exist")

    task_id = await _enqueue(database, registry, "demo.hopeless")
    async with running(Worker(database, FAST, tasks=registry)):
        await wait_for(status_is(database, task_id, "dead"))
    stored = await load(database, task_id)
    assert stored.attempts == 1
    assert "customer does not exist" in (stored.last_error or "")


async def test_retry_after_snoozes_without_spending_an_attempt(
    database: Database, registry: Registry
) -> None:
    calls: list[int] = []

    @task("demo.poll", max_attempts=1, into=registry)
    async def poll(ctx: TaskContext, payload: dict[str, Any]) -> None:
        calls.append(ctx.attempt)
        if len(calls) < 3:
            raise Retry(after=0.05, reason="outside job still running")

    task_id = await _enqueue(database, registry, "demo.poll")
    async with running(Worker(database, FAST, tasks=registry)):
        await wait_for(status_is(database, task_id, "succeeded"))
    assert calls == [1, 1, 1]


async def test_a_handler_that_overruns_its_timeout_fails(
    database: Database, registry: Registry
) -> None:
    @task("demo.slow", max_attempts=1, timeout=timedelta(seconds=0.1), into=registry)
    async def slow(ctx: TaskContext, payload: dict[str, Any]) -> None:
        await asyncio.sleep(5)

    task_id = await _enqueue(database, registry, "demo.slow")
    async with running(Worker(database, FAST, tasks=registry)):
        await wait_for(status_is(database, task_id, "dead"))
    assert "timeout" in ((await load(database, task_id)).last_error or "")


async def test_unknown_task_names_are_buried_not_retried(
    database: Database, registry: Registry
) -> None:
    @task("demo.exists", into=registry)
    async def exists(ctx: TaskContext, payload: dict[str, Any]) -> None:
        return None

    task_id = await _enqueue(database, registry, "demo.exists")
    async with database.transaction() as session:
        await session.execute(update(Task).where(Task.id == task_id).values(name="demo.gone"))
    async with running(Worker(database, FAST, tasks=registry)):
        await wait_for(status_is(database, task_id, "dead"))
    assert "demo.gone" in ((await load(database, task_id)).last_error or "")


async def test_a_running_handler_sees_that_it_was_cancelled(
    database: Database, registry: Registry
) -> None:
    started = asyncio.Event()

    @task("demo.long", into=registry)
    async def long(ctx: TaskContext, payload: dict[str, Any]) -> None:
        started.set()
        while True:
            await ctx.check_cancelled()
            await asyncio.sleep(0.02)

    task_id = await _enqueue(database, registry, "demo.long")
    async with running(Worker(database, FAST, tasks=registry)):
        await asyncio.wait_for(started.wait(), 10)
        async with database.transaction() as session:
            assert await cancel(session, task_id) is TaskStatus.RUNNING
        await wait_for(status_is(database, task_id, "cancelled"))
    assert "cancelled" in ((await load(database, task_id)).last_error or "")


async def test_final_writes_commit_with_the_completion(
    database: Database, registry: Registry, probe: str
) -> None:
    @task("demo.write", into=registry)
    async def write(ctx: TaskContext, payload: dict[str, Any]) -> None:
        async with ctx.complete() as session:
            await session.execute(text("INSERT INTO probe (name) VALUES (:n)"), payload)

    task_id = await _enqueue(database, registry, "demo.write", {"n": "written"})
    async with running(Worker(database, FAST, tasks=registry)):
        await wait_for(status_is(database, task_id, "succeeded"))
    assert await _probe_names(database) == ["written"]


async def test_a_stale_attempt_changes_nothing(
    database: Database, registry: Registry, probe: str
) -> None:
    """A worker whose lease expired and whose task was re-claimed cannot complete it."""
    outcomes: list[str] = []

    @task("demo.fenced", into=registry)
    async def fenced(ctx: TaskContext, payload: dict[str, Any]) -> None:
        try:
            async with ctx.complete() as session:
                await session.execute(text("INSERT INTO probe (name) VALUES ('stale')"))
        except LeaseLost:
            outcomes.append("lease lost")
            raise

    task_id = await _enqueue(database, registry, "demo.fenced")
    stale = await _claim_one(database, "worker-a")
    # Worker A stalls past its lease; the rescuer requeues the task; worker B claims it.
    async with database.transaction() as session:
        await session.execute(
            update(Task).where(Task.id == task_id).values(locked_until=utcnow() - timedelta(1))
        )
    worker_b = Worker(database, FAST, tasks=registry, worker_id="worker-b")
    assert await worker_b.rescue() == (1, 0)
    fresh = await _claim_one(database, "worker-b")
    assert fresh.attempt == stale.attempt + 1
    # Worker A wakes up and tries to finish: nothing is written, the task is untouched.
    stale_ctx = _context(database, stale, "worker-a")
    with pytest.raises(LeaseLost):
        await fenced.handler(stale_ctx, {})
    assert outcomes == ["lease lost"]
    assert await _probe_names(database) == []
    stored = await load(database, task_id)
    assert (stored.status, stored.locked_by) == (TaskStatus.RUNNING, "worker-b")
    # Worker B's completion applies, once.
    await fenced.handler(_context(database, fresh, "worker-b"), {})
    assert await _probe_names(database) == ["stale"]
    assert (await load(database, task_id)).status is TaskStatus.SUCCEEDED


async def test_expired_leases_are_rescued_and_exhausted_ones_buried(
    database: Database, registry: Registry
) -> None:
    @task("demo.crashy", max_attempts=2, into=registry)
    async def crashy(ctx: TaskContext, payload: dict[str, Any]) -> None:
        return None

    first = await _enqueue(database, registry, "demo.crashy")
    await _claim_one(database, "lost-worker")
    async with database.transaction() as session:
        await session.execute(update(Task).values(locked_until=utcnow() - timedelta(seconds=1)))
    rescuer = Worker(database, FAST, tasks=registry)
    assert await rescuer.rescue() == (1, 0)
    requeued = await load(database, first)
    assert (requeued.status, requeued.attempts) == (TaskStatus.QUEUED, 1)
    assert "lost-worker stopped heartbeating" in (requeued.last_error or "")
    await _claim_one(database, "lost-worker")
    async with database.transaction() as session:
        await session.execute(update(Task).values(locked_until=utcnow() - timedelta(seconds=1)))
    assert await rescuer.rescue() == (0, 1)
    assert (await load(database, first)).status is TaskStatus.DEAD


async def test_heartbeats_keep_a_long_task_leased(database: Database, registry: Registry) -> None:
    # The task outlives its lease almost three times over; heartbeats every lease/3 keep it.
    # The lease leaves a heartbeat 0.8 s of slack, which a loaded CI machine needs.
    @task("demo.steady", into=registry)
    async def steady(ctx: TaskContext, payload: dict[str, Any]) -> None:
        await asyncio.sleep(3.5)

    config = dataclasses.replace(FAST, lease=timedelta(seconds=1.2))
    task_id = await _enqueue(database, registry, "demo.steady")
    async with running(Worker(database, config, tasks=registry)):
        await wait_for(status_is(database, task_id, "succeeded"))
    assert (await load(database, task_id)).attempts == 1


async def test_stopping_lets_tasks_finish_then_releases_the_rest(
    database: Database, registry: Registry
) -> None:
    @task("demo.quick", into=registry)
    async def quick(ctx: TaskContext, payload: dict[str, Any]) -> None:
        await asyncio.sleep(0.1)

    @task("demo.endless", into=registry)
    async def endless(ctx: TaskContext, payload: dict[str, Any]) -> None:
        await asyncio.sleep(60)

    quick_id = await _enqueue(database, registry, "demo.quick")
    endless_id = await _enqueue(database, registry, "demo.endless")
    config = dataclasses.replace(FAST, grace_period=0.5)
    worker = Worker(database, config, tasks=registry)
    async with running(worker):
        await wait_for(status_is(database, endless_id, "running"))
    assert (await load(database, quick_id)).status is TaskStatus.SUCCEEDED
    released = await load(database, endless_id)
    assert (released.status, released.attempts, released.locked_by) == (TaskStatus.QUEUED, 0, None)


async def test_periodic_tasks_run_once_per_slot_across_workers(
    database: Database, registry: Registry
) -> None:
    @task("demo.hourly", cron="0 * * * *", into=registry)
    async def hourly(ctx: TaskContext, payload: dict[str, Any]) -> None:
        return None

    now = datetime(2026, 1, 1, 10, 30, tzinfo=UTC)
    clock = {"now": now}
    workers = [Worker(database, FAST, tasks=registry, clock=lambda: clock["now"]) for _ in range(3)]
    assert [await w.schedule_periodic() for w in workers] == [[], [], []]  # first slot: 11:00
    clock["now"] = datetime(2026, 1, 1, 11, 0, 5, tzinfo=UTC)
    results = await asyncio.gather(*(w.schedule_periodic() for w in workers))
    assert sorted(len(result) for result in results) == [0, 0, 1]
    clock["now"] = datetime(2026, 1, 1, 11, 30, tzinfo=UTC)
    assert [await w.schedule_periodic() for w in workers] == [[], [], []]
    assert next_slot("0 * * * *", clock["now"]) == datetime(2026, 1, 1, 12, tzinfo=UTC)


async def test_prune_deletes_old_finished_tasks_only(
    database: Database, registry: Registry
) -> None:
    from conveyor.tasks import prune

    @task("demo.old", into=registry)
    async def old(ctx: TaskContext, payload: dict[str, Any]) -> None:
        return None

    ids = [await _enqueue(database, registry, "demo.old") for _ in range(4)]
    long_ago = utcnow() - timedelta(days=30)
    statuses = [TaskStatus.SUCCEEDED, TaskStatus.CANCELLED, TaskStatus.DEAD, TaskStatus.QUEUED]
    async with database.transaction() as session:
        for task_id, status in zip(ids, statuses, strict=True):
            await session.execute(
                update(Task).where(Task.id == task_id).values(status=status, finished_at=long_ago)
            )
    async with database.transaction() as session:
        assert await prune(session, older_than=timedelta(days=7)) == 2
    async with database.transaction() as session:
        revived = await replay(session, ids[2])  # dead tasks are kept for review
    assert revived.status is TaskStatus.QUEUED


# -- helpers -----------------------------------------------------------------------------


@pytest.fixture
async def probe(database: Database) -> Any:
    async with database.transaction() as session:
        await session.execute(text("CREATE TABLE probe (name TEXT UNIQUE)"))
    yield "probe"
    async with database.transaction() as session:
        await session.execute(text("DROP TABLE probe"))


async def _probe_names(database: Database) -> list[str]:
    async with database.read() as session:
        return list((await session.execute(text("SELECT name FROM probe"))).scalars())


async def _claim_one(database: Database, worker_id: str) -> ClaimedTask:
    async with database.transaction() as session:
        (claimed,) = await claim(
            session, queues=None, limit=1, worker_id=worker_id, now=utcnow(), lease=FAST.lease
        )
    return claimed


def _context(database: Database, claimed: ClaimedTask, worker_id: str) -> TaskContext:
    return TaskContext(
        task_id=claimed.id,
        name=claimed.name,
        queue=claimed.queue,
        attempt=claimed.attempt,
        max_attempts=claimed.max_attempts,
        worker_id=worker_id,
        database=database,
        config=FAST,
    )


async def test_an_enqueue_wakes_an_idle_worker_without_waiting_for_the_poll(
    database: Database, registry: Registry
) -> None:
    from conveyor.tasks import notify

    @task("demo.wake", into=registry)
    async def wake(ctx: TaskContext, payload: dict[str, Any]) -> None:
        return None

    config = dataclasses.replace(FAST, poll_interval=60.0)
    worker = Worker(database, config, tasks=registry)
    async with running(worker):
        await asyncio.sleep(0.3)  # the worker has polled once and is now idle
        if database.dialect == "postgresql":
            # Cut the in-process path: only PostgreSQL's NOTIFY can wake it now.
            notify.unsubscribe(worker.wake)
        task_id = await _enqueue(database, registry, "demo.wake")
        await wait_for(status_is(database, task_id, "succeeded"), within=5)
