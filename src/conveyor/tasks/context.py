"""What a handler receives: who it is, and a way to make its final writes count exactly once."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from conveyor.kit.clock import utcnow
from conveyor.tasks import repository
from conveyor.tasks.exceptions import Cancelled, LeaseLost
from conveyor.tasks.repository import Attempt

if TYPE_CHECKING:
    from conveyor.config import Settings
    from conveyor.database import Database


@dataclass(frozen=True)
class WorkerConfig:
    """How a worker runs. The defaults suit the embedded worker of `conveyor serve`."""

    concurrency: int = 10
    queues: tuple[str, ...] | None = None
    poll_interval: float = 1.0
    lease: timedelta = timedelta(seconds=30)
    rescue_interval: float = 5.0
    grace_period: float = 10.0
    retention: timedelta = timedelta(days=7)
    claim_batch: int | None = None
    completion_batch: int = 500
    completion_linger: float = 0.002
    """Seconds a success may wait to ride along with the next claim's transaction."""
    listen: bool = True

    @property
    def heartbeat_interval(self) -> float:
        return self.lease.total_seconds() / 3


@dataclass
class TaskContext:
    """Passed to every handler with its payload."""

    task_id: int
    name: str
    queue: str
    attempt: int
    max_attempts: int
    worker_id: str
    database: "Database" = field(repr=False)
    config: WorkerConfig = field(repr=False)
    settings: "Settings | None" = field(default=None, repr=False)
    """The application's settings, when the worker was given them (always, in Conveyor)."""
    cancel_requested: bool = False
    """Set when someone cancelled this task while it runs (refreshed by heartbeats)."""
    lease_lost: bool = False
    """Set when the lease expired and another worker may be running this task."""
    completed: bool = False

    @cached_property
    def log(self) -> Any:
        """A logger bound to this task and attempt (made on first use: most handlers never log)."""
        return structlog.get_logger("conveyor.tasks").bind(
            task_id=self.task_id, task_name=self.name, attempt=self.attempt
        )

    @property
    def app_settings(self) -> "Settings":
        """The application's settings; handlers that call outside systems need them."""
        if self.settings is None:
            raise RuntimeError(f"task {self.name} needs settings, but its worker has none")
        return self.settings

    @property
    def idempotency_key(self) -> str:
        """Stable across attempts: send it with every call to an outside system."""
        return f"conveyor-task-{self.task_id}"

    @property
    def is_last_attempt(self) -> bool:
        return self.attempt >= self.max_attempts

    async def check_cancelled(self) -> None:
        """Raise `Cancelled` if this task was cancelled (asks the database now)."""
        if not self.cancel_requested:
            async with self.database.read() as session:
                self.cancel_requested = await repository.is_cancel_requested(session, self.task_id)
        if self.cancel_requested:
            raise Cancelled(f"task {self.task_id} was cancelled")

    @asynccontextmanager
    async def complete(self) -> AsyncIterator[AsyncSession]:
        """A transaction for the handler's final writes that also marks the task succeeded.

        Both commit together only while this attempt still holds its lease; otherwise nothing
        is written and `LeaseLost` is raised, so a rescued task's stale attempt changes
        nothing.
        """
        async with self.database.write_sessions() as session:
            try:
                yield session
                fenced = await repository.complete(
                    session,
                    [Attempt(self.task_id, self.attempt)],
                    worker_id=self.worker_id,
                    now=utcnow(),
                )
                if not fenced:
                    raise LeaseLost(f"task {self.task_id} attempt {self.attempt} was rescued")
            except BaseException:
                await session.rollback()
                raise
            await session.commit()
            self.completed = True
