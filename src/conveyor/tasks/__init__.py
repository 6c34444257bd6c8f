"""The durable task engine: tasks written in the caller's transaction, run by workers.

    @task("routing.sync", max_attempts=8)
    async def sync(ctx: TaskContext, payload: SyncPayload) -> None: ...

    await enqueue(session, sync, SyncPayload(routing_id=...))   # commits with the caller

Delivery is at least once: a handler may run again after a crash, so outside calls carry
`ctx.idempotency_key` and database effects go through `ctx.complete()`, which applies them
exactly once, together with marking the task succeeded.
"""

from datetime import timedelta

from conveyor.tasks.context import TaskContext, WorkerConfig
from conveyor.tasks.exceptions import (
    Cancelled,
    InvalidTransition,
    LeaseLost,
    PermanentFailure,
    Retry,
    TaskNotFound,
    UnknownTask,
)
from conveyor.tasks.models import ACTIVE_STATUSES, Task, TaskSchedule, TaskStatus
from conveyor.tasks.policy import Backoff, RetryPolicy, Schedule
from conveyor.tasks.registry import Registry, TaskDefinition, registry, task
from conveyor.tasks.service import (
    Enqueued,
    cancel,
    cancel_by_key,
    cancel_many,
    enqueue,
    enqueue_many,
    get,
    list_tasks,
    prune,
    refresh_queue_depth,
    replay,
    stats,
)
from conveyor.tasks.worker import Worker


@task("tasks.prune", cron="17 * * * *", max_attempts=3)
async def prune_finished(ctx: TaskContext, payload: dict[str, object]) -> None:
    """Delete succeeded and cancelled tasks older than the worker's retention window."""
    async with ctx.complete() as session:
        deleted = await prune(session, older_than=ctx.config.retention)
    ctx.log.info(
        "tasks_pruned", deleted=deleted, retention_hours=ctx.config.retention / timedelta(hours=1)
    )


__all__ = [
    "ACTIVE_STATUSES",
    "Backoff",
    "Cancelled",
    "Enqueued",
    "InvalidTransition",
    "LeaseLost",
    "PermanentFailure",
    "Registry",
    "Retry",
    "RetryPolicy",
    "Schedule",
    "Task",
    "TaskContext",
    "TaskDefinition",
    "TaskNotFound",
    "TaskSchedule",
    "TaskStatus",
    "UnknownTask",
    "Worker",
    "WorkerConfig",
    "cancel",
    "cancel_by_key",
    "cancel_many",
    "enqueue",
    "enqueue_many",
    "get",
    "list_tasks",
    "prune",
    "refresh_queue_depth",
    "registry",
    "replay",
    "stats",
    "task",
]
