"""Enqueueing, cancelling, replaying and inspecting tasks, inside the caller's transaction."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from conveyor.kit.clock import utcnow
from conveyor.tasks import notify, repository
from conveyor.tasks.exceptions import InvalidTransition, TaskNotFound
from conveyor.tasks.metrics import QUEUE_DEPTH
from conveyor.tasks.models import Task, TaskStatus
from conveyor.tasks.registry import Registry, TaskDefinition, registry

Payload = BaseModel | dict[str, Any] | None


@dataclass(frozen=True)
class Enqueued:
    """The task that will do the work: new, or the active one already holding the key."""

    id: int
    created: bool


def _row(
    definition: TaskDefinition,
    payload: Payload,
    *,
    now: datetime,
    run_at: datetime | None,
    delay: float | timedelta | None,
    key: str | None,
    priority: int | None,
) -> dict[str, Any]:
    if run_at is not None and delay is not None:
        raise ValueError("give run_at or delay, not both")
    if delay is not None:
        seconds = delay.total_seconds() if isinstance(delay, timedelta) else float(delay)
        run_at = now + timedelta(seconds=seconds)
    return {
        "name": definition.name,
        "queue": definition.queue,
        "payload": definition.dump_payload(payload),
        "status": TaskStatus.QUEUED,
        "priority": definition.priority if priority is None else priority,
        "run_at": run_at or now,
        "attempts": 0,
        "max_attempts": definition.max_attempts,
        "key": key,
        "cancel_requested": False,
        "created_at": now,
        "updated_at": now,
    }


async def enqueue(
    session: AsyncSession,
    handler_or_name: TaskDefinition | str,
    payload: Payload = None,
    *,
    run_at: datetime | None = None,
    delay: float | timedelta | None = None,
    key: str | None = None,
    priority: int | None = None,
    tasks: Registry = registry,
) -> Enqueued:
    """Write a task through the caller's session: it exists if and only if they commit.

    With `key`, while a task with that key is queued or running, that task is returned
    instead of a new one.
    """
    definition = tasks.resolve(handler_or_name)
    now = utcnow()
    row = _row(definition, payload, now=now, run_at=run_at, delay=delay, key=key, priority=priority)
    if key is None:
        wake = notify.record(session, definition.queue)
        (task_id,) = await repository.insert(
            session, [row], notify=definition.queue if wake else None
        )
        return Enqueued(task_id, True)
    task_id, created = await repository.insert_unique(session, row)
    if created:
        await notify.announce(session, definition.queue)
    return Enqueued(task_id, created)


async def enqueue_many(
    session: AsyncSession,
    handler_or_name: TaskDefinition | str,
    payloads: Sequence[Payload],
    *,
    run_at: datetime | None = None,
    priority: int | None = None,
    tasks: Registry = registry,
) -> list[int]:
    """Enqueue one task per payload in a single statement (no dedupe keys)."""
    definition = tasks.resolve(handler_or_name)
    now = utcnow()
    rows = [
        _row(definition, payload, now=now, run_at=run_at, delay=None, key=None, priority=priority)
        for payload in payloads
    ]
    if not rows:
        return []
    wake = notify.record(session, definition.queue)
    return await repository.insert(session, rows, notify=definition.queue if wake else None)


async def get(session: AsyncSession, task_id: int) -> Task:
    task = await repository.get(session, task_id)
    if task is None:
        raise TaskNotFound(task_id)
    return task


async def cancel(session: AsyncSession, task_id: int) -> TaskStatus:
    """Cancel a queued task, or ask a running one to stop. Returns its status afterwards."""
    changed = await repository.request_cancel(session, task_id=task_id, now=utcnow())
    if changed:
        return changed[0][1]
    task = await get(session, task_id)
    raise InvalidTransition(f"task {task_id} is {task.status.value}; only active tasks cancel")


async def cancel_by_key(session: AsyncSession, key: str) -> int:
    """Cancel (or ask to stop) the active task holding `key`; returns how many were found."""
    return len(await repository.request_cancel(session, key=key, now=utcnow()))


async def cancel_many(session: AsyncSession, task_ids: Sequence[int]) -> int:
    """Cancel (or ask to stop) those of these tasks that are still active; returns how many."""
    cancelled = 0
    for start in range(0, len(task_ids), 1000):  # bound the statement's parameter count
        chunk = task_ids[start : start + 1000]
        cancelled += len(await repository.request_cancel(session, task_ids=chunk, now=utcnow()))
    return cancelled


async def replay(session: AsyncSession, task_id: int) -> Task:
    """Put a dead (or cancelled) task back in its queue with a fresh set of attempts."""
    if not await repository.replay(session, task_id, now=utcnow()):
        task = await get(session, task_id)
        raise InvalidTransition(
            f"task {task_id} is {task.status.value}; only dead or cancelled tasks can be replayed"
        )
    task = await get(session, task_id)
    await notify.announce(session, task.queue)
    return task


list_tasks = repository.list_tasks
"""Tasks newest first, filtered by status and name, with the total count."""


async def stats(session: AsyncSession) -> list[tuple[str, str, str, int]]:
    """(queue, name, status, count) over every task still in the table."""
    return await repository.counts(session)


async def refresh_queue_depth(session: AsyncSession) -> None:
    """Set the `queue_depth` gauge from the database (any process can serve it)."""
    observed = (TaskStatus.QUEUED, TaskStatus.RUNNING, TaskStatus.DEAD)
    totals: dict[tuple[str, str], int] = {}
    for queue, _name, status, count in await repository.counts(session, observed):
        totals[(queue, status)] = totals.get((queue, status), 0) + count
    QUEUE_DEPTH.clear()
    for queue in {queue for queue, _ in totals}:
        for status in observed:
            QUEUE_DEPTH.labels(queue, status.value).set(totals.get((queue, status.value), 0))


async def prune(session: AsyncSession, *, older_than: timedelta) -> int:
    """Delete succeeded and cancelled tasks that finished before `older_than` ago."""
    return await repository.prune(
        session,
        finished_before=utcnow() - older_than,
        statuses=(TaskStatus.SUCCEEDED, TaskStatus.CANCELLED),
    )
