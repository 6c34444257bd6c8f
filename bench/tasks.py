"""Task engines: Conveyor's durable engine against the Python queues users pick instead.

For every system, on this machine:

* enqueue 20,000 no-op tasks in batches of 500 (enqueue/s), then drain them with ONE worker
  process and, with a fresh 20,000, with TWO (tasks/s from the first task seen done to the
  last, so process start-up is not counted);
* enqueue→start latency: one running worker, 2,000 tasks enqueued one at a time at 250/s, the
  handler records `time.time()` minus the enqueue time carried in the payload (p50, p99);
* pgbench running Conveyor's claim/complete SQL (bench/pgbench_claim.sql) against a
  pre-filled task table: what the database itself allows for this design.

Systems: Conveyor on SQLite and on PostgreSQL (`conveyor worker` subprocesses), PgQueuer,
Procrastinate (PostgreSQL), SAQ and Celery (Redis). Each PostgreSQL system gets its own
database on the server named by CONVEYOR_BENCH_DATABASE_URL (default: the test suite's
server), created and wiped by this benchmark; the Redis systems get their own Redis database
numbers on BENCH_REDIS_URL. Only loopback servers are accepted. A system whose server is down
is skipped with a note. Every wait is bounded; the whole run takes about seven minutes.
"""

import asyncio
import contextlib
import glob
import ipaddress
import os
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import redis.asyncio as aioredis
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import make_url

from bench.common import write_results
from bench.latency import LATENCY_FILE_ENV

TASKS = 20_000
BATCH = 500
CONCURRENCY = 10
WORKER_COUNTS = (1, 2)
LATENCY_TASKS = 2_000
LATENCY_RATE = 250.0  # tasks/s, one enqueue (one transaction) each
LATENCY_IN_FLIGHT = 32  # enqueues allowed to overlap when one is slower than 1/LATENCY_RATE
POLL_SECONDS = 0.2
DRAIN_TIMEOUT = 150.0
LATENCY_TIMEOUT = 60.0
STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0
PGBENCH_SECONDS = 10
PGBENCH_BATCH = 10  # \set batch in the scripts: Conveyor claims `concurrency` tasks at once
PGBENCH_ROWS = 600_000  # more than two clients can drain in PGBENCH_SECONDS

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS = "redis://127.0.0.1:6379"
SAQ_REDIS_DB = 12
CELERY_REDIS_DB = 13


class Skip(Exception):
    """The system cannot run here (its server is down); the reason becomes the row's note."""


# -- servers --------------------------------------------------------------------------------


def _require_loopback(url: str) -> None:
    host = urlsplit(url).hostname or "localhost"
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise SystemExit(f"the task benchmark wipes databases: refusing non-loopback {url}")


def _plain(url: str) -> str:
    """postgresql://… without a SQLAlchemy driver suffix (for asyncpg, libpq and the peers)."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


class Postgres:
    """The server every PostgreSQL system uses; one database per system when allowed."""

    def __init__(self, admin_url: str) -> None:
        _require_loopback(admin_url)
        self.admin_url = _plain(admin_url)
        self.fallback_note = ""

    async def check(self) -> None:
        try:
            connection = await asyncpg.connect(self.admin_url, timeout=5)
        except (OSError, asyncpg.PostgresError) as exc:
            raise Skip(f"PostgreSQL unavailable ({exc.__class__.__name__})") from None
        await connection.close()

    async def fresh_database(self, name: str) -> str:
        """An empty `public` schema in database `name` (created if needed); returns its URL.

        Without CREATE DATABASE rights it falls back to the admin database, wiping its schema.
        """
        url = make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)
        admin = await asyncpg.connect(self.admin_url, timeout=10)
        try:
            if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
                await admin.execute(f'CREATE DATABASE "{name}"')
        except asyncpg.PostgresError as exc:
            self.fallback_note = f"could not create databases ({exc}); used the admin database"
            url = self.admin_url
        finally:
            await admin.close()
        connection = await asyncpg.connect(url, timeout=10)
        try:
            await connection.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public")
        finally:
            await connection.close()
        return url


async def _redis_up(url: str) -> None:
    _require_loopback(url)
    client = aioredis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        await client.ping()
    except (OSError, aioredis.RedisError) as exc:
        raise Skip(f"Redis unavailable ({exc.__class__.__name__})") from None
    finally:
        await client.aclose()


def _redis_db_url(base: str, db: int) -> str:
    parts = urlsplit(base)
    return f"{parts.scheme}://{parts.netloc}/{db}"


# -- the systems ----------------------------------------------------------------------------


class System:
    """One engine: how to reset it, enqueue to it, count what it finished, start a worker."""

    key = ""
    name = ""
    setup = ""  # the worker setup, for the notes column
    notes: list[str]

    def __init__(self) -> None:
        self.notes = []

    async def prepare(self) -> None:
        """Fresh storage; raise Skip if the server is down."""

    async def clear(self) -> None:
        """No tasks left (between runs)."""

    async def enqueue_batch(self, count: int) -> None:
        raise NotImplementedError

    async def enqueue_one(self, enqueued_at: float | None) -> None:
        raise NotImplementedError

    async def done(self) -> int:
        """How many tasks of this run have finished (durably recorded as such)."""
        raise NotImplementedError

    async def after_enqueue(self) -> None:
        """Runs between enqueueing and starting workers (ANALYZE on PostgreSQL)."""

    def worker_command(self, index: int) -> list[str]:
        raise NotImplementedError

    def worker_env(self) -> dict[str, str]:
        return {}

    async def close(self) -> None:
        pass


async def _analyze(url: str) -> None:
    # Autovacuum would do this a minute later; doing it for every PostgreSQL system at the
    # same point keeps a stale row estimate from deciding the plan of the first claims.
    connection = await asyncpg.connect(url)
    try:
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


class ConveyorSystem(System):
    def __init__(self, *, key: str, name: str, poll_interval: float | None) -> None:
        super().__init__()
        self.key = key
        self.name = name
        self.url = ""
        self.poll_interval = poll_interval
        self.setup = f"`conveyor worker --concurrency {CONCURRENCY}` (asyncio)"
        self.database: Any = None

    async def _migrate(self) -> None:
        from conveyor import migrations

        await asyncio.to_thread(migrations.upgrade, self.url)

    async def _open(self) -> None:
        import bench.conveyor_tasks  # noqa: F401 - registers bench.noop in this process
        from conveyor.database import Database

        self.database = Database(self.url)

    async def enqueue_batch(self, count: int) -> None:
        from conveyor.tasks import enqueue_many

        async with self.database.transaction() as session:
            await enqueue_many(session, "bench.noop", [{} for _ in range(count)])

    async def enqueue_one(self, enqueued_at: float | None) -> None:
        from conveyor.tasks import enqueue

        payload = {} if enqueued_at is None else {"t": enqueued_at}
        async with self.database.transaction() as session:
            await enqueue(session, "bench.noop", payload)

    def worker_command(self, index: int) -> list[str]:
        return [
            sys.executable,
            *("-m", "conveyor", "worker", "--concurrency", str(CONCURRENCY)),
            *("--import", "bench.conveyor_tasks"),
        ]

    def worker_env(self) -> dict[str, str]:
        env = {"CONVEYOR_DATABASE_URL": self.url, "CONVEYOR_LOG_LEVEL": "WARNING"}
        if self.poll_interval is not None:
            env["CONVEYOR_WORKER_POLL_INTERVAL"] = str(self.poll_interval)
        return env

    async def close(self) -> None:
        if self.database is not None:
            await self.database.dispose()


class ConveyorSqlite(ConveyorSystem):
    def __init__(self, directory: Path) -> None:
        super().__init__(key="conveyor_sqlite", name="Conveyor (SQLite)", poll_interval=0.05)
        self.path = directory / "conveyor-bench.db"
        self.url = f"sqlite:///{self.path}"
        self.setup += ", poll 0.05 s (SQLite has no wake-up across processes)"

    def _remove_files(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    async def prepare(self) -> None:
        await asyncio.to_thread(self._remove_files)
        await self._migrate()
        await self._open()

    def _sql(self, statement: str) -> int:
        with (
            contextlib.closing(sqlite3.connect(self.path, timeout=30)) as connection,
            connection,  # commits
        ):
            row = connection.execute(statement).fetchone()
        return int(row[0]) if row else 0

    async def clear(self) -> None:
        await asyncio.to_thread(self._sql, "DELETE FROM task")

    async def done(self) -> int:
        return await asyncio.to_thread(
            self._sql,
            "SELECT count(*) FROM task WHERE name = 'bench.noop' AND status = 'succeeded'",
        )


class ConveyorPostgres(ConveyorSystem):
    def __init__(self, server: Postgres) -> None:
        super().__init__(key="conveyor_postgres", name="Conveyor (PostgreSQL)", poll_interval=None)
        self.server = server
        self.connection: Any = None
        self.setup += ", LISTEN/NOTIFY wake-ups, default poll 1 s"

    async def prepare(self) -> None:
        await self.server.check()
        self.url = await self.server.fresh_database("conveyor_bench")
        await self._migrate()
        await self._open()
        self.connection = await asyncpg.connect(self.url)

    async def clear(self) -> None:
        await self.connection.execute("TRUNCATE task RESTART IDENTITY")

    async def after_enqueue(self) -> None:
        await _analyze(self.url)

    async def done(self) -> int:
        return int(
            await self.connection.fetchval(
                "SELECT count(*) FROM task WHERE name = 'bench.noop' AND status = 'succeeded'"
            )
        )

    async def close(self) -> None:
        if self.connection is not None:
            await self.connection.close()
        await super().close()


class PgQueuerSystem(System):
    key = "pgqueuer"
    name = "PgQueuer"
    setup = (
        f"`pgqueuer.run` (what `pgq run` calls; uvloop, asyncpg), batch size {CONCURRENCY}, "
        "no max_concurrent_tasks cap (its default)"
    )

    def __init__(self, server: Postgres) -> None:
        super().__init__()
        self.server = server
        self.url = ""
        self.producer: Any = None
        self.connection: Any = None
        self.queries: Any = None
        self.base = 0

    async def prepare(self) -> None:
        from pgqueuer.db import AsyncpgDriver
        from pgqueuer.queries import Queries

        await self.server.check()
        self.url = await self.server.fresh_database("bench_pgqueuer")
        self.producer = await asyncpg.connect(self.url)
        self.queries = Queries(AsyncpgDriver(self.producer))
        await self.queries.install()
        self.connection = await asyncpg.connect(self.url)

    async def clear(self) -> None:
        await self.connection.execute("TRUNCATE pgqueuer, pgqueuer_log")
        self.base = 0

    async def enqueue_batch(self, count: int) -> None:
        from bench.peers.pgqueuer_app import ENTRYPOINT

        await self.queries.enqueue([ENTRYPOINT] * count, [None] * count, [0] * count)
        self.base += count

    async def enqueue_one(self, enqueued_at: float | None) -> None:
        from bench.peers.pgqueuer_app import ENTRYPOINT

        payload = None if enqueued_at is None else repr(enqueued_at).encode()
        await self.queries.enqueue(ENTRYPOINT, payload)
        self.base += 1

    async def done(self) -> int:
        # Finished jobs leave the queue table (moved to pgqueuer_log in the same statement).
        remaining = await self.connection.fetchval("SELECT count(*) FROM pgqueuer")
        return self.base - int(remaining)

    async def after_enqueue(self) -> None:
        await _analyze(self.url)

    def worker_command(self, index: int) -> list[str]:
        return [sys.executable, "-m", "bench.peers.pgqueuer_app", str(CONCURRENCY)]

    def worker_env(self) -> dict[str, str]:
        return {"BENCH_PGQUEUER_DSN": self.url}

    async def close(self) -> None:
        for connection in (self.producer, self.connection):
            if connection is not None:
                await connection.close()


class ProcrastinateSystem(System):
    key = "procrastinate"
    name = "Procrastinate"
    setup = f"`procrastinate worker --concurrency {CONCURRENCY}` (psycopg 3, asyncio)"

    def __init__(self, server: Postgres) -> None:
        super().__init__()
        self.server = server
        self.url = ""
        self.connection: Any = None
        self.app: Any = None
        self.task: Any = None

    async def prepare(self) -> None:
        await self.server.check()
        self.url = await self.server.fresh_database("bench_procrastinate")
        os.environ["BENCH_PROCRASTINATE_DSN"] = self.url
        from bench.peers import procrastinate_app

        self.app = procrastinate_app.app
        self.task = procrastinate_app.noop
        await self.app.open_async()
        await self.app.schema_manager.apply_schema_async()
        self.connection = await asyncpg.connect(self.url)

    async def clear(self) -> None:
        await self.connection.execute("TRUNCATE procrastinate_jobs CASCADE")

    async def enqueue_batch(self, count: int) -> None:
        await self.task.batch_defer_async(*({} for _ in range(count)))

    async def enqueue_one(self, enqueued_at: float | None) -> None:
        await self.task.defer_async(t=enqueued_at)

    async def done(self) -> int:
        return int(
            await self.connection.fetchval(
                "SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded'"
            )
        )

    async def after_enqueue(self) -> None:
        await _analyze(self.url)

    def worker_command(self, index: int) -> list[str]:
        return [
            sys.executable,
            *("-m", "procrastinate", "--log-level", "warning"),
            *("--app", "bench.peers.procrastinate_app.app"),
            *("worker", "--concurrency", str(CONCURRENCY), "--name", f"bench-{index}"),
        ]

    def worker_env(self) -> dict[str, str]:
        return {"BENCH_PROCRASTINATE_DSN": self.url}

    async def close(self) -> None:
        if self.connection is not None:
            await self.connection.close()
        if self.app is not None:
            await self.app.close_async()


class SaqSystem(System):
    key = "saq"
    name = "SAQ (Redis)"
    setup = f"`saq bench.peers.saq_app.settings`, concurrency {CONCURRENCY} (asyncio)"

    def __init__(self, redis_url: str) -> None:
        super().__init__()
        self.url = _redis_db_url(redis_url, SAQ_REDIS_DB)
        self.base_url = redis_url
        self.queue: Any = None
        self.client: Any = None
        self.base = 0

    async def prepare(self) -> None:
        await _redis_up(self.base_url)
        os.environ["BENCH_SAQ_REDIS_URL"] = self.url
        from saq import Queue

        from bench.peers.saq_app import QUEUE_NAME

        self.client = aioredis.Redis.from_url(self.url)
        await self.client.flushdb()
        self.queue = Queue.from_url(self.url, name=QUEUE_NAME)
        await self.queue.connect()

    async def clear(self) -> None:
        await self.client.flushdb()
        self.base = 0

    async def enqueue_batch(self, count: int) -> None:
        # SAQ has no bulk enqueue; concurrent enqueues share its connection pool.
        await asyncio.gather(*(self.queue.enqueue("noop") for _ in range(count)))
        self.base += count

    async def enqueue_one(self, enqueued_at: float | None) -> None:
        await self.queue.enqueue("noop", t=enqueued_at)
        self.base += 1

    async def done(self) -> int:
        return self.base - int(await self.queue.count("incomplete"))

    def worker_command(self, index: int) -> list[str]:
        return [sys.executable, "-m", "saq", "bench.peers.saq_app.settings"]

    def worker_env(self) -> dict[str, str]:
        return {"BENCH_SAQ_REDIS_URL": self.url, "BENCH_CONCURRENCY": str(CONCURRENCY)}

    async def close(self) -> None:
        if self.queue is not None:
            await self.queue.disconnect()
        if self.client is not None:
            await self.client.flushdb()
            await self.client.aclose()


class CelerySystem(System):
    key = "celery"
    name = "Celery (Redis broker)"
    setup = f"`celery worker --pool threads --concurrency {CONCURRENCY}`, prefetch x4 (default)"

    def __init__(self, redis_url: str) -> None:
        super().__init__()
        self.url = _redis_db_url(redis_url, CELERY_REDIS_DB)
        self.base_url = redis_url
        self.client: Any = None
        self.task: Any = None
        self.app: Any = None

    async def prepare(self) -> None:
        await _redis_up(self.base_url)
        os.environ["BENCH_CELERY_BROKER_URL"] = self.url
        from bench.peers import celery_app

        self.app = celery_app.app
        self.task = celery_app.noop
        self.client = aioredis.Redis.from_url(self.url)
        await self.client.flushdb()

    async def clear(self) -> None:
        await self.client.flushdb()

    def _publish(self, payloads: list[dict[str, Any]]) -> None:
        # One producer (one broker connection) for the whole batch: Celery's batch idiom.
        with self.app.producer_or_acquire() as producer:
            for kwargs in payloads:
                self.task.apply_async(kwargs=kwargs, producer=producer)

    async def enqueue_batch(self, count: int) -> None:
        await asyncio.to_thread(self._publish, [{} for _ in range(count)])

    async def enqueue_one(self, enqueued_at: float | None) -> None:
        await asyncio.to_thread(self._publish, [{"t": enqueued_at}])

    async def done(self) -> int:
        from bench.peers.celery_app import DONE_KEY

        return int(await self.client.get(DONE_KEY) or 0)

    def worker_command(self, index: int) -> list[str]:
        return [
            sys.executable,
            *("-m", "celery", "-A", "bench.peers.celery_app", "worker"),
            *("--pool", "threads", "--concurrency", str(CONCURRENCY)),
            *("--loglevel", "WARNING", "--hostname", f"bench{index}@%h"),
            *("--without-gossip", "--without-mingle", "--without-heartbeat"),
        ]

    def worker_env(self) -> dict[str, str]:
        return {"BENCH_CELERY_BROKER_URL": self.url}

    async def close(self) -> None:
        if self.client is not None:
            await self.client.flushdb()
            await self.client.aclose()


# -- running workers ------------------------------------------------------------------------


@dataclass
class Workers:
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)

    def check_alive(self) -> None:
        for process, log in zip(self.processes, self.logs, strict=True):
            if process.poll() is not None:
                tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
                raise RuntimeError(f"worker exited with {process.returncode}: {tail}")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for process in self.processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def start_workers(
    system: System, count: int, directory: Path, extra_env: dict[str, str] | None = None
) -> Workers:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    python_path = [str(ROOT), *filter(None, [environment.get("PYTHONPATH")])]
    environment.update(
        {"PYTHONPATH": os.pathsep.join(python_path), **system.worker_env(), **(extra_env or {})}
    )
    workers = Workers()
    for index in range(count):
        log = directory / f"{system.key}-worker-{index}-{time.monotonic_ns()}.log"
        with log.open("wb") as err:
            process = subprocess.Popen(
                system.worker_command(index),
                cwd=ROOT,
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=err,
                stderr=subprocess.STDOUT,
            )
        workers.processes.append(process)
        workers.logs.append(log)
    return workers


async def wait_for(system: System, target: int, workers: Workers, seconds: float) -> int:
    deadline = time.monotonic() + seconds
    while True:
        done = await system.done()
        if done >= target or time.monotonic() > deadline:
            return done
        workers.check_alive()
        await asyncio.sleep(POLL_SECONDS)


# -- the measurements -----------------------------------------------------------------------


async def throughput(system: System, workers_count: int, directory: Path) -> dict[str, Any]:
    await system.clear()
    started = time.perf_counter()
    for _ in range(TASKS // BATCH):
        await system.enqueue_batch(BATCH)
    enqueue_seconds = time.perf_counter() - started
    await system.after_enqueue()

    workers = start_workers(system, workers_count, directory)
    first: tuple[float, int] | None = None
    last = (time.perf_counter(), 0)
    timed_out = False
    try:
        deadline = time.monotonic() + DRAIN_TIMEOUT
        while True:
            await asyncio.sleep(POLL_SECONDS)
            done = await system.done()
            last = (time.perf_counter(), done)
            if first is None and done > 0:
                first = last
            if done >= TASKS:
                break
            workers.check_alive()
            if time.monotonic() > deadline:
                timed_out = True
                break
    finally:
        workers.stop()
    rate = None
    if first is not None and last[0] > first[0]:
        rate = (last[1] - first[1]) / (last[0] - first[0])
    return {
        "enqueue_per_s": round(TASKS / enqueue_seconds),
        "tasks_per_s": round(rate) if rate is not None else None,
        "drained": last[1],
        "timed_out": timed_out,
    }


async def latency(system: System, directory: Path) -> dict[str, Any]:
    await system.clear()
    record = directory / f"{system.key}-latency.txt"
    record.unlink(missing_ok=True)
    workers = start_workers(system, 1, directory, {LATENCY_FILE_ENV: str(record)})
    try:
        # Warm-up: the worker is up and consuming once this first task is done.
        await system.enqueue_one(None)
        if await wait_for(system, 1, workers, STARTUP_TIMEOUT) < 1:
            raise RuntimeError("worker did not start within the start-up timeout")
        # Open loop: each enqueue starts on its own schedule, whether or not the previous
        # one has returned, so a slow enqueue does not lower the offered rate.
        in_flight = asyncio.Semaphore(LATENCY_IN_FLIGHT)

        async def one() -> None:
            async with in_flight:
                await system.enqueue_one(time.time())

        pending = set()
        started = time.perf_counter()
        for index in range(LATENCY_TASKS):
            pause = started + index / LATENCY_RATE - time.perf_counter()
            if pause > 0:
                await asyncio.sleep(pause)
            pending.add(asyncio.create_task(one()))
        await asyncio.gather(*pending)
        achieved = LATENCY_TASKS / (time.perf_counter() - started)
        done = await wait_for(system, LATENCY_TASKS + 1, workers, LATENCY_TIMEOUT)
    finally:
        workers.stop()
    samples = sorted(float(line) for line in record.read_text().split()) if record.exists() else []
    if len(samples) < 2:
        raise RuntimeError(f"only {len(samples)} latency samples recorded")
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {
        "latency_p50_ms": round(cuts[49] * 1000, 1),
        "latency_p99_ms": round(cuts[98] * 1000, 1),
        "latency_samples": len(samples),
        "latency_rate_per_s": round(achieved),
        "latency_completed": done - 1,
    }


async def measure(system: System, directory: Path) -> dict[str, Any]:
    row: dict[str, Any] = {"system": system.name, "setup": system.setup}
    # Other work on this 2-core machine skews every figure; the load shows whether there was.
    row["load_1m_before"] = round(os.getloadavg()[0], 2)
    try:
        await system.prepare()
        for count in WORKER_COUNTS:
            result = await throughput(system, count, directory)
            row.setdefault("enqueue_per_s", result["enqueue_per_s"])
            row[f"enqueue_per_s_run{count}"] = result["enqueue_per_s"]
            row[f"drain_{count}w_tasks_per_s"] = result["tasks_per_s"]
            if result["timed_out"]:
                system.notes.append(
                    f"{count}-worker drain timed out after {DRAIN_TIMEOUT:.0f} s "
                    f"({result['drained']}/{TASKS} done)"
                )
        row.update(await latency(system, directory))
    except Skip as exc:
        system.notes.append(f"skipped: {exc}")
    except Exception as exc:
        system.notes.append(f"failed: {exc.__class__.__name__}: {str(exc)[:300]}")
    finally:
        try:
            await system.close()
        except Exception as exc:
            system.notes.append(f"cleanup failed: {exc}")
    row["notes"] = "; ".join(system.notes)
    return row


# -- pgbench --------------------------------------------------------------------------------


def _pgbench_binary() -> str | None:
    found = shutil.which("pgbench")
    if found:
        return found
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pgbench"))
    return candidates[-1] if candidates else None


async def _prefill(url: str, rows: int) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute("TRUNCATE task RESTART IDENTITY")
        await connection.execute(
            """
            INSERT INTO task (name, queue, payload, status, priority, run_at, attempts,
                              max_attempts, cancel_requested, created_at, updated_at)
            SELECT 'bench.noop', 'default', '{}', 'queued', 0, now(), 0, 5, false, now(), now()
            FROM generate_series(1, $1::int)
            """,
            rows,
        )
        await connection.execute("VACUUM ANALYZE task")
    finally:
        await connection.close()


async def _succeeded(url: str) -> int:
    connection = await asyncpg.connect(url)
    try:
        return int(
            await connection.fetchval("SELECT count(*) FROM task WHERE status = 'succeeded'")
        )
    finally:
        await connection.close()


async def pgbench(server: Postgres) -> dict[str, Any]:
    """pgbench_claim.sql, 2 clients, for PGBENCH_SECONDS against a backlog it cannot exhaust."""
    script = "pgbench_claim.sql"
    row: dict[str, Any] = {
        "system": "pgbench: claim/complete SQL",
        "setup": f"pgbench -M prepared -c 2 -j 2 -T {PGBENCH_SECONDS} -f bench/{script}",
    }
    binary = _pgbench_binary()
    try:
        if binary is None:
            raise Skip("pgbench not found (apt-get install postgresql-client)")
        await server.check()
        url = await server.fresh_database("conveyor_bench")
        from conveyor import migrations

        await asyncio.to_thread(migrations.upgrade, url)
        await _prefill(url, PGBENCH_ROWS)
        output = await asyncio.to_thread(
            subprocess.run,
            [
                *(binary, "-n", "-M", "prepared", "-f", str(BENCH_DIR / script)),
                *("-c", "2", "-j", "2", "-T", str(PGBENCH_SECONDS), url),
            ],
            capture_output=True,
            text=True,
            timeout=PGBENCH_SECONDS + 120,
            check=True,
        )
        tps = float(re.search(r"tps = ([0-9.]+)", output.stdout).group(1))  # type: ignore[union-attr]
        processed = int(
            re.search(r"transactions actually processed: (\d+)", output.stdout).group(1)  # type: ignore[union-attr]
        )
        succeeded = await _succeeded(url)
        seconds = processed / tps if tps else float(PGBENCH_SECONDS)
        row["drain_2w_tasks_per_s"] = round(succeeded / seconds)
        row["notes"] = (
            f"2 clients; {tps:,.0f} claim+complete pairs/s of {PGBENCH_BATCH} tasks; "
            f"{succeeded:,} of {PGBENCH_ROWS:,} pre-filled rows done in {seconds:.1f} s"
        )
    except Skip as exc:
        row["notes"] = f"skipped: {exc}"
    except subprocess.CalledProcessError as exc:
        row["notes"] = f"failed: {exc.stderr.strip()[-300:]}"
    except Exception as exc:
        row["notes"] = f"failed: {exc.__class__.__name__}: {str(exc)[:300]}"
    if server.fallback_note:
        row["notes"] += f"; {server.fallback_note}"
    return row


# -- the table ------------------------------------------------------------------------------

COLUMNS = (
    ("system", "system"),
    ("enqueue/s", "enqueue_per_s"),
    ("drain 1 worker /s", "drain_1w_tasks_per_s"),
    ("drain 2 workers /s", "drain_2w_tasks_per_s"),
    ("p50 ms", "latency_p50_ms"),
    ("p99 ms", "latency_p99_ms"),
    ("notes", "notes"),
)


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def print_table(rows: list[dict[str, Any]]) -> None:
    table = Table(
        title=(
            f"Task engines: {TASKS:,} no-op tasks, batches of {BATCH}, {CONCURRENCY} per worker "
            f"process; latency at {LATENCY_RATE:.0f}/s ({os.cpu_count()} CPUs)"
        )
    )
    for title, _ in COLUMNS:
        table.add_column(title, justify="left" if title in ("system", "notes") else "right")
    for row in rows:
        table.add_row(*(_cell(row.get(key)) for _, key in COLUMNS))
    Console(width=200).print(table)
    for row in rows:
        if row.get("setup"):
            print(f"  {row['system']}: {row['setup']}")


async def run_all(directory: Path) -> list[dict[str, Any]]:
    server = Postgres(os.environ.get("CONVEYOR_BENCH_DATABASE_URL", DEFAULT_PG))
    redis_url = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS)
    _require_loopback(redis_url)
    systems: list[System] = [
        ConveyorSqlite(directory),
        ConveyorPostgres(server),
        PgQueuerSystem(server),
        ProcrastinateSystem(server),
        SaqSystem(redis_url),
        CelerySystem(redis_url),
    ]
    only = [part.strip().lower() for part in os.environ.get("BENCH_ONLY", "").split(",") if part]
    rows = []
    for system in systems:
        if only and not any(part in system.name.lower() for part in only):
            continue
        print(f"-- {system.name}", flush=True)
        rows.append(await measure(system, directory))
    if not only or "pgbench" in only:
        print("-- pgbench", flush=True)
        rows.append(await pgbench(server))
    return rows


def run() -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="conveyor-bench-") as tmp:
        rows = asyncio.run(run_all(Path(tmp)))
    print_table(rows)
    if os.environ.get("BENCH_ONLY"):
        print("BENCH_ONLY set: a partial run, results not written")
    else:
        print(f"written to {write_results('tasks', rows)}")
    return rows


if __name__ == "__main__":
    run()
