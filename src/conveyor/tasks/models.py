"""The task table (the durable queue) and the periodic schedule table."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Enum, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from conveyor.database import Base
from conveyor.kit.clock import utcnow


class TaskStatus(StrEnum):
    """Where a task is in its life."""

    QUEUED = "queued"
    """Waiting to run at or after `run_at`: new, scheduled for a retry, or released."""
    RUNNING = "running"
    """Claimed by a worker, which holds a lease on it until `locked_until`."""
    SUCCEEDED = "succeeded"
    """The handler finished; kept for the retention window, then pruned."""
    DEAD = "dead"
    """Gave up: attempts exhausted or a permanent failure. The dead-letter queue; replayable."""
    CANCELLED = "cancelled"
    """Cancelled before it ran, or stopped by its handler after a cancel request."""


ACTIVE_STATUSES = (TaskStatus.QUEUED, TaskStatus.RUNNING)
FINISHED_STATUSES = (TaskStatus.SUCCEEDED, TaskStatus.DEAD, TaskStatus.CANCELLED)

_ACTIVE_SQL = "status IN ('queued', 'running')"
KEY_INDEX_WHERE = f"key IS NOT NULL AND {_ACTIVE_SQL}"
"""The dedupe index's predicate. ON CONFLICT repeats it as literal SQL: with bound parameters
PostgreSQL cannot match the partial index once it switches a prepared statement to a generic
plan (after five executions on a connection) and refuses the insert."""

# SQLite's rowid is its fastest key; BIGINT identity on PostgreSQL.
TaskId = BigInteger().with_variant(Integer(), "sqlite")


class Task(Base):
    """One unit of background work, written in the same transaction as the change needing it."""

    __tablename__ = "task"

    id: Mapped[int] = mapped_column(TaskId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    queue: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]]
    status: Mapped[TaskStatus] = mapped_column(
        Enum(
            TaskStatus,
            native_enum=False,
            length=20,
            values_callable=lambda statuses: [status.value for status in statuses],
            validate_strings=True,
        )
    )
    priority: Mapped[int] = mapped_column(default=0)
    """Smaller runs first (as in River and Unix `nice`); 0 by default."""
    run_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int]
    key: Mapped[str | None] = mapped_column(String(255))
    locked_by: Mapped[str | None] = mapped_column(String(200))
    locked_until: Mapped[datetime | None]
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    __table_args__ = (
        # The claim query: due tasks, most urgent (lowest priority number) first, in index
        # order so PostgreSQL reads only the rows it takes. A queue filter is applied on top.
        Index(
            "ix_task_claim",
            "priority",
            "run_at",
            "id",
            sqlite_where=text("status = 'queued'"),
            postgresql_where=text("status = 'queued'"),
        ),
        # The rescuer: running tasks whose lease expired.
        Index(
            "ix_task_lease",
            "locked_until",
            sqlite_where=text("status = 'running'"),
            postgresql_where=text("status = 'running'"),
        ),
        # At most one queued-or-running task per dedupe key.
        Index(
            "uq_task_key",
            "key",
            unique=True,
            sqlite_where=text(KEY_INDEX_WHERE),
            postgresql_where=text(KEY_INDEX_WHERE),
        ),
        # Pruning and the admin listing.
        Index("ix_task_status_finished_at", "status", "finished_at"),
        Index("ix_task_name_status", "name", "status"),
    )


class TaskSchedule(Base):
    """When each periodic task is next due; advanced atomically so each slot runs once."""

    __tablename__ = "task_schedule"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    next_run_at: Mapped[datetime]
