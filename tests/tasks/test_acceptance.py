"""`conveyor worker` processes, killed, stopped and restarted for real.

Workers run as subprocesses on the test's database with a 2-second lease, so a worker that
dies has its tasks rescued within a few seconds.
"""

import asyncio
import random
import signal
import sqlite3
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import make_url, text

from conveyor.database import Database
from conveyor.tasks import enqueue, enqueue_many
from tests.tasks import handlers
from tests.workers import Workers

pytestmark = pytest.mark.slow


OURS = "FROM task WHERE name LIKE 'accept.%'"
"""This test's tasks, not the periodic ones (pruning) that workers enqueue on the hour."""


@pytest.fixture
def workers(database_url: str, tmp_path: Path) -> Iterator[Workers]:
    pool = Workers(database_url, tmp_path)
    yield pool
    pool.stop_all()


@pytest.fixture
async def tables(database: Database) -> AsyncIterator[None]:
    async with database.transaction() as session:
        for statement in handlers.CREATE_TABLES:
            await session.execute(text(statement))
    yield
    async with database.transaction() as session:
        for statement in handlers.DROP_TABLES:
            await session.execute(text(statement))


async def scalar(database: Database, sql: str) -> Any:
    async with database.read() as session:
        return (await session.execute(text(sql))).scalar()


async def until(database: Database, sql: str, expected: Any, *, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while (value := await scalar(database, sql)) != expected:
        if time.monotonic() > deadline:
            raise AssertionError(f"{sql!r} is {value!r}, expected {expected!r}")
        await asyncio.sleep(0.1)


async def test_crash_recovery_loses_nothing_and_duplicates_nothing(
    database: Database, tables: None, workers: Workers, capsys: pytest.CaptureFixture[str]
) -> None:
    total = 2000
    async with database.transaction() as session:
        await enqueue_many(session, "accept.insert", [{"n": n} for n in range(total)])
    running = [workers.start(), workers.start()]
    rng = random.Random(20261122)
    kills = 0
    deadline = time.monotonic() + 240
    thresholds = [0.2, 0.4, 0.6, 0.8]
    while kills < len(thresholds):
        assert time.monotonic() < deadline, "the workers made no progress"
        done = await scalar(database, "SELECT count(*) FROM accept_row")
        if done >= thresholds[kills] * total:
            victim = rng.randrange(len(running))
            running[victim].send_signal(signal.SIGKILL)
            running[victim].wait(timeout=30)
            kills += 1
            await asyncio.sleep(rng.uniform(0.0, 0.5))
            running[victim] = workers.start()
        await asyncio.sleep(0.02)
    await until(database, f"SELECT count(*) {OURS} AND status = 'succeeded'", total, within=120)

    rows = await scalar(database, "SELECT count(*) FROM accept_row")
    distinct = await scalar(database, "SELECT count(DISTINCT n) FROM accept_row")
    runs = await scalar(database, "SELECT count(*) FROM accept_run")
    assert (rows, distinct) == (total, total), workers.logs()
    assert await scalar(database, f"SELECT count(*) {OURS} AND status <> 'succeeded'") == 0
    with capsys.disabled():
        print(f"\n  crash recovery: {kills} SIGKILLs, {runs - total} duplicate executions")
    assert runs >= total


def _write_lock_free(database: Database) -> bool:
    """Whether a writer could start now (SQLite: nobody holds its one write lock)."""
    path = make_url(database.url).database
    connection = sqlite3.connect(path, timeout=0.2, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        connection.close()


async def stall(process: subprocess.Popen[bytes], database: Database) -> None:
    """SIGSTOP the worker, but not inside one of its SQLite write transactions.

    A process frozen while it holds SQLite's single write lock stops every writer (no
    SQLite design survives that); the scenario here is a worker stalled past its lease.
    """
    while True:
        process.send_signal(signal.SIGSTOP)
        if database.dialect != "sqlite" or await asyncio.to_thread(_write_lock_free, database):
            return
        process.send_signal(signal.SIGCONT)
        await asyncio.sleep(0.05)


async def test_a_stalled_worker_that_wakes_up_changes_nothing(
    database: Database, tables: None, workers: Workers
) -> None:
    async with database.transaction() as session:
        queued = await enqueue(session, "accept.slow_effect", {"seconds": 3.0})
    stalled = workers.start()
    await until(database, f"SELECT status FROM task WHERE id = {queued.id}", "running")
    await until(database, "SELECT count(*) FROM accept_run", 1)
    await stall(stalled, database)
    rescuer = workers.start()
    await until(database, "SELECT count(*) FROM accept_effect", 1, within=30)
    assert await scalar(database, f"SELECT attempts FROM task WHERE id = {queued.id}") == 2
    stalled.send_signal(signal.SIGCONT)
    await asyncio.sleep(4.0)  # the stalled attempt finishes its sleep and tries to complete
    assert await scalar(database, "SELECT count(*) FROM accept_effect") == 1
    assert await scalar(database, "SELECT count(*) FROM accept_run") == 2
    assert await scalar(database, f"SELECT status FROM task WHERE id = {queued.id}") == "succeeded"
    assert stalled.poll() is None
    assert rescuer.poll() is None


async def test_a_poison_task_dies_after_exactly_max_attempts(
    database: Database, tables: None, workers: Workers
) -> None:
    async with database.transaction() as session:
        queued = await enqueue(session, "accept.poison", {})
    deaths = 0
    deadline = time.monotonic() + 90
    while await scalar(database, f"SELECT status FROM task WHERE id = {queued.id}") != "dead":
        assert time.monotonic() < deadline, workers.logs()
        process = workers.start()
        while process.poll() is None and time.monotonic() < deadline:
            status = await scalar(database, f"SELECT status FROM task WHERE id = {queued.id}")
            if status == "dead":
                break
            await asyncio.sleep(0.1)
        if process.poll() is not None:
            assert process.returncode == -signal.SIGKILL
            deaths += 1
    assert deaths == 3
    assert await scalar(database, f"SELECT attempts FROM task WHERE id = {queued.id}") == 3
    assert await scalar(database, "SELECT count(*) FROM accept_run") == 3
    await asyncio.sleep(1.0)
    assert workers.processes[-1].poll() is None  # the last worker buried it and lives on


async def test_sigterm_leaves_no_task_claimed(database: Database, workers: Workers) -> None:
    async with database.transaction() as session:
        await enqueue_many(session, "accept.sleep", [{"seconds": 30}] * 12)
        quick = await enqueue(session, "accept.sleep", {"seconds": 0.0}, priority=-1)
    process = workers.start(concurrency=8, grace=1.0)
    await until(database, f"SELECT count(*) {OURS} AND status = 'running'", 8)
    await until(database, f"SELECT status FROM task WHERE id = {quick.id}", "succeeded")
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0, workers.logs()
    assert await scalar(database, f"SELECT count(*) {OURS} AND status = 'running'") == 0
    assert await scalar(database, f"SELECT count(*) {OURS} AND locked_by IS NOT NULL") == 0
    assert await scalar(database, f"SELECT count(*) {OURS} AND status = 'queued'") == 12
    assert await scalar(database, f"SELECT max(attempts) {OURS} AND status = 'queued'") == 0


async def test_four_workers_never_run_one_attempt_twice(
    database: Database, tables: None, workers: Workers
) -> None:
    total = 800
    async with database.transaction() as session:
        await enqueue_many(session, "accept.timed", [{}] * total)
    for _ in range(4):
        # A normal lease: four processes queue for SQLite's write lock, and a 2-second lease
        # would let some tasks be rescued (legitimately run again as a new attempt).
        workers.start(concurrency=6, lease=30.0)
    await until(database, f"SELECT count(*) {OURS} AND status = 'succeeded'", total, within=120)
    async with database.read() as session:
        runs = (
            await session.execute(
                text("SELECT task_id, attempt, pid, started, finished FROM accept_run")
            )
        ).all()
    attempts = [(run.task_id, run.attempt) for run in runs]
    assert len(set(attempts)) == len(attempts), "no attempt ran in two processes"
    completed = [run for run in runs if run.finished is not None]
    assert sorted(run.task_id for run in completed) == sorted({run.task_id for run in runs})
    assert len(completed) == total, "each task's completion applied exactly once"
    assert all(run.finished >= run.started for run in completed)
    assert len({run.pid for run in runs}) == 4, "all four workers took part"
