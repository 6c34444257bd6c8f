"""The worker: claims due tasks in batches, runs their handlers, and records the outcome.

One fetch loop claims as many tasks as there are free slots; each handler runs in its own
asyncio task; successes are completed in batches by one completion loop; a heartbeat loop
extends the leases of everything this worker holds; a maintenance loop rescues tasks whose
worker died and enqueues periodic tasks. Stopping (SIGTERM/SIGINT) stops claiming, lets
running handlers finish within the grace period, then cancels the rest and releases them.
"""

import asyncio
import contextlib
import itertools
import os
import random
import socket
import time
import traceback
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import structlog
from cronsim import CronSim
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection

from conveyor.config import Settings
from conveyor.database import Database
from conveyor.kit.clock import utcnow
from conveyor.tasks import notify, repository, service
from conveyor.tasks.context import TaskContext, WorkerConfig
from conveyor.tasks.exceptions import Cancelled, LeaseLost, PermanentFailure, Retry, UnknownTask
from conveyor.tasks.metrics import run_time, start_latency, task_runs
from conveyor.tasks.models import TaskStatus
from conveyor.tasks.registry import Registry, registry
from conveyor.tasks.repository import Attempt, ClaimedTask

log = structlog.get_logger("conveyor.worker")

MAX_ERROR_LENGTH = 8000


def _describe(exc: BaseException) -> str:
    text = "".join(traceback.format_exception(exc))
    return text[-MAX_ERROR_LENGTH:]


def next_slot(cron: str, after: datetime) -> datetime:
    """The first cron slot strictly after `after` (UTC)."""
    return next(CronSim(cron, after.replace(second=0, microsecond=0)))


class Worker:
    """Runs tasks from the database until `stop()` is called."""

    def __init__(
        self,
        database: Database,
        config: WorkerConfig | None = None,
        *,
        tasks: Registry = registry,
        worker_id: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.database = database
        self.settings = settings
        self.config = config or WorkerConfig()
        self.tasks = tasks
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.clock = clock
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self._running: dict[int, tuple[asyncio.Task[None], TaskContext]] = {}
        self._to_complete: dict[int, tuple[Attempt, str]] = {}
        self._completing: dict[int, tuple[Attempt, str]] = {}
        self._completions_ready = asyncio.Event()
        self._slot_free = asyncio.Event()
        self._wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        self._closed = asyncio.Event()
        self._log = log.bind(worker_id=self.worker_id)
        self._hot_connection: AsyncConnection | None = None

    # -- control -------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop claiming; running handlers get the grace period to finish."""
        self._stopping.set()
        self._wakeup.set()

    def wake(self, queues: frozenset[str] | None = None) -> None:
        """New work may be due: claim now instead of at the next poll."""
        wanted = self.config.queues
        if queues is None or wanted is None or queues & set(wanted):
            self._wakeup.set()

    @property
    def running_count(self) -> int:
        return len(self._running)

    async def run(self) -> None:
        """Work until stopped, then drain and release; returns when nothing is held."""
        notify.subscribe(self.wake)
        listener = None
        if self.config.listen and self.database.dialect == "postgresql":
            listener = notify.PostgresListener(self.database.writer, self.wake)
            try:
                await listener.start()
            except Exception as exc:
                self._log.warning("listen_failed_polling_only", error=str(exc))
                listener = None
        self._log.info(
            "worker_started",
            concurrency=self.config.concurrency,
            queues=list(self.config.queues or ["*"]),
        )
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._completion_loop())
                group.create_task(self._heartbeat_loop())
                group.create_task(self._maintenance_loop())
                try:
                    await self._fetch_loop()
                finally:
                    await self._drain()
                    await self._close_hot_connection()
                    self._closed.set()
                    self._completions_ready.set()
        finally:
            notify.unsubscribe(self.wake)
            if listener is not None:
                await listener.stop()
            self._log.info("worker_stopped")

    # -- claiming --------------------------------------------------------------------------

    async def _fetch_loop(self) -> None:
        batch = self.config.claim_batch or self.config.concurrency
        while not self._stopping.is_set():
            free = self.config.concurrency - len(self._running)
            if free <= 0:
                self._slot_free.clear()
                await self._wait(self._slot_free)
                # Let the other handlers that finished in this turn report in too, so the
                # next claim fills several slots at once rather than one.
                await asyncio.sleep(0)
                continue
            wanted = min(free, batch)
            self._wakeup.clear()
            try:
                claimed = await self._complete_and_claim(wanted)
            except Exception as exc:
                self._log.warning("claim_failed", error=str(exc))
                await self._wait(self._stopping, at_most=self.config.poll_interval)
                continue
            for task in claimed:
                self._start(task)
            if len(claimed) < wanted:
                await self._wait(self._wakeup, at_most=self.config.poll_interval)

    async def _wait(self, event: asyncio.Event, at_most: float | None = None) -> None:
        waiters = {
            asyncio.ensure_future(event.wait()),
            asyncio.ensure_future(self._stopping.wait()),
        }
        try:
            await asyncio.wait(waiters, timeout=at_most, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def _complete_and_claim(self, limit: int) -> list[ClaimedTask]:
        """Record the successes waiting to be completed and claim `limit` more, atomically."""
        batch = self._take_completions()
        attempts = [attempt for attempt, _ in batch.values()]
        options: dict[str, Any] = {
            "queues": self.config.queues,
            "limit": limit,
            "worker_id": self.worker_id,
            "now": self.clock(),
            "lease": self.config.lease,
        }
        try:
            if self.database.dialect == "postgresql":
                applied, claimed = await self._complete_and_claim_postgres(attempts, options)
            else:
                async with self.database.writer.begin() as connection:
                    applied, claimed = await repository.complete_and_claim(
                        connection, attempts, **options
                    )
        except BaseException:
            self._to_complete.update(batch)
            raise
        finally:
            self._release_completions(batch)
        self._count_completions(batch, applied)
        return claimed

    async def _complete_and_claim_postgres(
        self, attempts: list[Attempt], options: dict[str, Any]
    ) -> tuple[set[int], list[ClaimedTask]]:
        # The worker keeps one autocommit connection for its hot path: no pool checkout, no
        # BEGIN/COMMIT, one round trip per batch. A failure drops it; the next call reconnects.
        if self._hot_connection is None:
            connection = await self.database.writer.connect()
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            self._hot_connection = connection
        try:
            raw = await self._hot_connection.get_raw_connection()
            return await repository.complete_and_claim_postgres(
                raw.driver_connection, attempts, **options
            )
        except BaseException:
            await self._close_hot_connection(invalidate=True)
            raise

    async def _close_hot_connection(self, *, invalidate: bool = False) -> None:
        connection, self._hot_connection = self._hot_connection, None
        if connection is None:
            return
        with contextlib.suppress(Exception):
            if invalidate:
                await connection.invalidate()
            await connection.close()

    def _start(self, claimed: ClaimedTask) -> None:
        context = TaskContext(
            task_id=claimed.id,
            name=claimed.name,
            queue=claimed.queue,
            attempt=claimed.attempt,
            max_attempts=claimed.max_attempts,
            worker_id=self.worker_id,
            database=self.database,
            config=self.config,
            settings=self.settings,
        )
        execution = asyncio.create_task(self._execute(claimed, context), name=f"task-{claimed.id}")
        self._running[claimed.id] = (execution, context)
        execution.add_done_callback(lambda _: self._finished(claimed.id))

    def _finished(self, task_id: int) -> None:
        self._running.pop(task_id, None)
        self._slot_free.set()

    # -- running ----------------------------------------------------------------------------

    async def _execute(self, claimed: ClaimedTask, ctx: TaskContext) -> None:
        started = self.clock()
        due = max(claimed.run_at, claimed.created_at)
        start_latency(claimed.queue).observe(max(0.0, (started - due).total_seconds()))
        clock_start = time.perf_counter()
        try:
            definition = self.tasks.get(claimed.name)
            payload = definition.load_payload(claimed.payload)
            timeout = definition.timeout.total_seconds() if definition.timeout else None
            async with asyncio.timeout(timeout):
                await definition.handler(ctx, payload)
        except asyncio.CancelledError:
            raise  # shutting down: the drain releases this task
        except (UnknownTask, ValidationError) as exc:
            await self._settle(claimed, ctx, TaskStatus.DEAD, f"cannot run: {exc!r}", "dead")
        except Retry as retry:
            run_at = self.clock() + timedelta(seconds=retry.after)
            await self._settle(
                claimed, ctx, TaskStatus.QUEUED, str(retry), "snoozed", run_at=run_at, refund=True
            )
        except PermanentFailure as exc:
            await self._settle(claimed, ctx, TaskStatus.DEAD, _describe(exc), "dead")
        except Cancelled as exc:
            await self._settle(claimed, ctx, TaskStatus.CANCELLED, str(exc), "cancelled")
        except LeaseLost:
            task_runs(claimed.name, "lease_lost").inc()
            ctx.log.warning("task_lease_lost")
        except Exception as exc:
            await self._failed(claimed, ctx, exc)
        else:
            if ctx.completed:
                task_runs(claimed.name, "succeeded").inc()
            else:
                self._to_complete[claimed.id] = (Attempt(claimed.id, claimed.attempt), claimed.name)
                self._completions_ready.set()
        finally:
            run_time(claimed.name).observe(time.perf_counter() - clock_start)

    async def _failed(self, claimed: ClaimedTask, ctx: TaskContext, exc: BaseException) -> None:
        if ctx.completed:
            ctx.log.warning("task_failed_after_completing", error=repr(exc))
            return
        if ctx.cancel_requested:
            await self._settle(claimed, ctx, TaskStatus.CANCELLED, _describe(exc), "cancelled")
            return
        if isinstance(exc, TimeoutError):
            exc = TimeoutError(f"handler ran longer than its timeout ({exc!r})")
        definition = self.tasks.get(claimed.name)
        if claimed.attempt >= claimed.max_attempts:
            ctx.log.error("task_dead", error=repr(exc), exc_info=exc)
            await self._settle(claimed, ctx, TaskStatus.DEAD, _describe(exc), "dead")
            return
        delay = definition.backoff.delay(claimed.attempt, self.rng)
        ctx.log.warning("task_retry_scheduled", error=repr(exc), retry_in_seconds=round(delay, 3))
        run_at = self.clock() + timedelta(seconds=delay)
        await self._settle(
            claimed, ctx, TaskStatus.QUEUED, _describe(exc), "retried", run_at=run_at
        )

    async def _settle(
        self,
        claimed: ClaimedTask,
        ctx: TaskContext,
        status: TaskStatus,
        error: str,
        outcome: str,
        *,
        run_at: datetime | None = None,
        refund: bool = False,
    ) -> None:
        try:
            async with self.database.writer.begin() as connection:
                applied = await repository.finish(
                    connection,
                    Attempt(claimed.id, claimed.attempt),
                    worker_id=self.worker_id,
                    now=self.clock(),
                    status=status,
                    error=error,
                    run_at=run_at,
                    refund_attempt=refund,
                )
        except Exception as exc:
            # The lease will expire and the rescuer will requeue the task.
            ctx.log.error("task_settle_failed", error=str(exc))
            return
        task_runs(claimed.name, outcome if applied else "lease_lost").inc()

    # -- completing -------------------------------------------------------------------------

    async def _completion_loop(self) -> None:
        """Completes successes the fetch loop has not taken along with its next claim."""
        while True:
            await self._completions_ready.wait()
            self._completions_ready.clear()
            if not self._closed.is_set():
                # A busy fetch loop completes these with its next claim; give it the chance.
                await asyncio.sleep(self.config.completion_linger)
            await self._flush_completions()
            if self._closed.is_set() and not self._to_complete:
                return

    def _take_completions(self) -> dict[int, tuple[Attempt, str]]:
        # Taken out first, so two flushes never complete the same attempts; they stay held
        # (in `_completing`) for the heartbeats until the transaction ends.
        batch = dict(itertools.islice(self._to_complete.items(), self.config.completion_batch))
        for task_id in batch:
            del self._to_complete[task_id]
        self._completing.update(batch)
        return batch

    def _release_completions(self, batch: dict[int, tuple[Attempt, str]]) -> None:
        for task_id in batch:
            self._completing.pop(task_id, None)

    def _count_completions(self, batch: dict[int, tuple[Attempt, str]], applied: set[int]) -> None:
        for task_id, (_, name) in batch.items():
            task_runs(name, "succeeded" if task_id in applied else "lease_lost").inc()

    async def _flush_completions(self) -> None:
        while self._to_complete:
            batch = self._take_completions()
            try:
                async with self.database.writer.begin() as connection:
                    applied = await repository.complete(
                        connection,
                        [attempt for attempt, _ in batch.values()],
                        worker_id=self.worker_id,
                        now=self.clock(),
                    )
            except Exception as exc:
                self._log.warning("complete_failed", error=str(exc), batch=len(batch))
                self._to_complete.update(batch)
                await asyncio.sleep(min(self.config.poll_interval, 1.0))
                continue
            finally:
                self._release_completions(batch)
            self._count_completions(batch, applied)

    # -- leases, rescue, schedules -----------------------------------------------------------

    async def _heartbeat_loop(self) -> None:
        while not self._closed.is_set():
            await self._sleep_unless_closed(self.config.heartbeat_interval)
            held = [*self._running, *self._to_complete, *self._completing]
            if not held:
                continue
            try:
                async with self.database.writer.begin() as connection:
                    alive = await repository.heartbeat(
                        connection,
                        held,
                        worker_id=self.worker_id,
                        now=self.clock(),
                        lease=self.config.lease,
                    )
            except Exception as exc:
                self._log.warning("heartbeat_failed", error=str(exc))
                continue
            for task_id, (_, ctx) in list(self._running.items()):
                if task_id not in alive:
                    ctx.lease_lost = True
                elif alive[task_id]:
                    ctx.cancel_requested = True

    async def _maintenance_loop(self) -> None:
        while not self._closed.is_set():
            try:
                await self.rescue()
                await self.schedule_periodic()
            except Exception as exc:
                self._log.warning("maintenance_failed", error=str(exc))
            await self._sleep_unless_closed(self.config.rescue_interval)

    async def _sleep_unless_closed(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closed.wait(), timeout=seconds)

    async def rescue(self) -> tuple[int, int]:
        """Requeue (or bury) tasks whose worker stopped heartbeating."""
        async with self.database.writer.begin() as connection:
            requeued, dead = await repository.rescue_expired(connection, now=self.clock())
        if requeued or dead:
            self._log.warning("tasks_rescued", requeued=requeued, dead=dead)
            self._wakeup.set()
        return requeued, dead

    async def schedule_periodic(self) -> list[str]:
        """Enqueue each periodic task whose slot is due; exactly one worker wins each slot."""
        periodic = self.tasks.periodic()
        if not periodic:
            return []
        now = self.clock()
        enqueued = []
        async with self.database.transaction() as session:
            known = await repository.schedules(session)
            for definition in periodic:
                assert definition.cron is not None
                due = known.get(definition.name)
                if due is None:
                    await repository.add_schedule(
                        session, definition.name, next_slot(definition.cron, now)
                    )
                elif due <= now and await repository.schedule_slot(
                    session, definition.name, due=due, following=next_slot(definition.cron, now)
                ):
                    await service.enqueue(
                        session, definition, key=f"periodic:{definition.name}", tasks=self.tasks
                    )
                    enqueued.append(definition.name)
        return enqueued

    # -- stopping --------------------------------------------------------------------------

    async def _drain(self) -> None:
        executions = {task_id: execution for task_id, (execution, _) in self._running.items()}
        if executions:
            self._log.info("worker_draining", running=len(executions))
            _, pending = await asyncio.wait(executions.values(), timeout=self.config.grace_period)
            for execution in pending:
                execution.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self._flush_completions()
        unfinished = [task_id for task_id, execution in executions.items() if execution.cancelled()]
        if unfinished:
            try:
                async with self.database.writer.begin() as connection:
                    released = await repository.release(
                        connection, unfinished, worker_id=self.worker_id, now=self.clock()
                    )
                self._log.info("tasks_released", released=released)
            except Exception as exc:
                self._log.error("release_failed", error=str(exc), tasks=unfinished)
