"""Every query of the task engine. Callers pass the session (and so the transaction) and `now`.

Claims, completions and heartbeats are set-based: one statement handles a whole batch. The
worker's own statements also run on a bare connection (`Executor`), skipping the ORM session
on its hot path.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    bindparam,
    case,
    delete,
    func,
    literal,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.selectable import TextualSelect

from conveyor.database import JSONType, UTCDateTime
from conveyor.tasks.models import ACTIVE_STATUSES, KEY_INDEX_WHERE, Task, TaskSchedule, TaskStatus
from conveyor.tasks.notify import CHANNEL

_CLAIMED_COLUMNS = (
    Task.id,
    Task.name,
    Task.queue,
    Task.payload,
    Task.attempts,
    Task.max_attempts,
    Task.run_at,
    Task.created_at,
)


@dataclass(frozen=True)
class ClaimedTask:
    """A task a worker now holds a lease on, for attempt number `attempt`."""

    id: int
    name: str
    queue: str
    payload: dict[str, Any]
    attempt: int
    max_attempts: int
    run_at: datetime
    created_at: datetime


@dataclass(frozen=True)
class Attempt:
    """The fence of a completion: it applies only while this attempt still holds the lease."""

    task_id: int
    attempt: int


Executor = AsyncSession | AsyncConnection
"""An ORM session (enqueueing code) or a Core connection (the worker's hot path)."""


def _is_postgres(executor: Executor) -> bool:
    if isinstance(executor, AsyncConnection):
        return executor.dialect.name == "postgresql"
    return executor.get_bind().dialect.name == "postgresql"


async def insert(
    session: AsyncSession, rows: Sequence[dict[str, Any]], *, notify: str | None = None
) -> list[int]:
    """Insert tasks without dedupe keys; returns their ids in order.

    With `notify` (PostgreSQL only), the same statement sends that payload on the wake-up
    channel: one round trip instead of two. PostgreSQL delivers identical notifications of
    one transaction once, so calling it per row costs nothing more.
    """
    if not rows:
        return []
    postgres = _is_postgres(session)
    dialect_insert = postgresql.insert if postgres else sqlite.insert
    wake = [func.pg_notify(CHANNEL, notify)] if postgres and notify is not None else []
    statement = dialect_insert(Task).returning(Task.id, *wake, sort_by_parameter_order=True)
    result = await session.execute(statement, list(rows))
    return list(result.scalars())


async def insert_unique(session: AsyncSession, row: dict[str, Any]) -> tuple[int, bool]:
    """Insert a task with a dedupe key unless an active task holds that key.

    Returns (id, created). ON CONFLICT against the partial unique index makes this safe under
    concurrency: a second transaction waits for the first and then finds its row.
    """
    dialect_insert = postgresql.insert if _is_postgres(session) else sqlite.insert
    statement = (
        dialect_insert(Task)
        .values(**row)
        .on_conflict_do_nothing(
            index_elements=[Task.key],
            index_where=text(KEY_INDEX_WHERE),
        )
        .returning(Task.id)
    )
    created = (await session.execute(statement)).scalar_one_or_none()
    if created is not None:
        return created, True
    existing = await session.execute(
        select(Task.id).where(Task.key == row["key"], Task.status.in_(ACTIVE_STATUSES))
    )
    return existing.scalar_one(), False


# The worker's hot path is fixed SQL, written once per dialect: SQLAlchemy then neither builds
# nor compiles it per call, asyncpg prepares it once per connection, and the literal statuses
# let both databases use the partial indexes (a bound `status = ?` cannot match
# `WHERE status = 'queued'`).
_CLAIM_SET = (
    "status = 'running', attempts = task.attempts + 1, locked_by = :worker_id, "
    "locked_until = :locked_until, started_at = :now, updated_at = :now"
)
_CLAIM_RETURNING = (
    "task.id, task.name, task.queue, task.payload, task.attempts, task.max_attempts, "
    "task.run_at, task.created_at"
)
_DUE = "status = 'queued' AND run_at <= :now"
_ORDER = "ORDER BY priority, run_at, id LIMIT :limit"
_POSTGRES_CLAIM = (
    # Rows another worker is claiming right now are skipped, not waited for.
    f"WITH chosen AS (SELECT id FROM task WHERE {_DUE} {{queues}} {_ORDER} "
    f"FOR UPDATE SKIP LOCKED) UPDATE task SET {_CLAIM_SET} FROM chosen "
    f"WHERE task.id = chosen.id RETURNING {_CLAIM_RETURNING}"
)
_SQLITE_CLAIM = (
    # The writer's BEGIN IMMEDIATE already serialises claimers. Without statistics SQLite
    # would rather use (status, finished_at) and sort every queued row; name the index.
    f"UPDATE task SET {_CLAIM_SET} WHERE id IN (SELECT id FROM task INDEXED BY ix_task_claim "
    f"WHERE {_DUE} {{queues}} {_ORDER}) RETURNING {_CLAIM_RETURNING}"
)


def _claim_statement(sql: str, *, queues: bool) -> TextualSelect:
    statement = text(sql.format(queues="AND queue IN :queues" if queues else "")).bindparams(
        bindparam("now", type_=UTCDateTime()),
        bindparam("locked_until", type_=UTCDateTime()),
        *([bindparam("queues", expanding=True)] if queues else []),
    )
    return statement.columns(payload=JSONType, run_at=UTCDateTime(), created_at=UTCDateTime())


_CLAIMS = {
    (dialect, queues): _claim_statement(sql, queues=queues)
    for dialect, sql in (("postgresql", _POSTGRES_CLAIM), ("sqlite", _SQLITE_CLAIM))
    for queues in (False, True)
}

_DONE_SET = (
    "status = 'succeeded', finished_at = :now, updated_at = :now, "
    "locked_by = NULL, locked_until = NULL"
)
_OWNED = "locked_by = :worker_id AND status = 'running'"
_COMPLETE = {
    # Completion is fenced: only attempts this worker still holds are completed.
    "postgresql": text(
        f"UPDATE task SET {_DONE_SET} WHERE (id, attempts) IN "
        "(SELECT * FROM unnest(CAST(:ids AS BIGINT[]), CAST(:attempts AS INTEGER[]))) "
        f"AND {_OWNED} RETURNING id"
    ).bindparams(bindparam("now", type_=UTCDateTime())),
    # SQLite: the primary key finds the rows; the id:attempt keys fence them.
    "sqlite": text(
        f"UPDATE task SET {_DONE_SET} WHERE id IN :ids AND {_OWNED} "
        "AND (CAST(id AS TEXT) || ':' || CAST(attempts AS TEXT)) IN :keys RETURNING id"
    ).bindparams(
        bindparam("now", type_=UTCDateTime()),
        bindparam("ids", expanding=True),
        bindparam("keys", expanding=True),
    ),
}


# PostgreSQL's hot path skips SQLAlchemy altogether: one statement on the worker's own
# asyncpg connection, prepared once, autocommitted -- one round trip per batch. It completes
# the finished attempts and claims the next batch; the two updates touch disjoint rows.
_NATIVE_COMPLETE_AND_CLAIM = (
    "WITH done AS (UPDATE task SET status = 'succeeded', finished_at = $3, updated_at = $3, "
    "locked_by = NULL, locked_until = NULL WHERE (id, attempts) IN "
    "(SELECT * FROM unnest($1::bigint[], $2::integer[])) "
    "AND locked_by = $5 AND status = 'running' RETURNING id), "
    "chosen AS (SELECT id FROM task WHERE status = 'queued' AND run_at <= $3 {queues} "
    "ORDER BY priority, run_at, id LIMIT $6 FOR UPDATE SKIP LOCKED), "
    "claimed AS (UPDATE task SET status = 'running', attempts = task.attempts + 1, "
    "locked_by = $5, locked_until = $4, started_at = $3, updated_at = $3 FROM chosen "
    "WHERE task.id = chosen.id RETURNING task.id, task.name, task.queue, task.payload, "
    "task.attempts, task.max_attempts, task.run_at, task.created_at) "
    "SELECT true AS is_claim, claimed.* FROM claimed UNION ALL "
    "SELECT false, done.id, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM done"
)
_NATIVE = {
    False: _NATIVE_COMPLETE_AND_CLAIM.format(queues=""),
    True: _NATIVE_COMPLETE_AND_CLAIM.format(queues="AND queue = ANY($7::text[])"),
}


async def complete_and_claim_postgres(
    connection: Any,
    attempts: Sequence[Attempt],
    *,
    queues: Sequence[str] | None,
    limit: int,
    worker_id: str,
    now: datetime,
    lease: timedelta,
) -> tuple[set[int], list[ClaimedTask]]:
    """Complete `attempts` and claim up to `limit` more, on a raw asyncpg connection.

    Returns the ids whose completion applied (the fence held) and the claimed tasks.
    """
    args: list[Any] = [
        [attempt.task_id for attempt in attempts],
        [attempt.attempt for attempt in attempts],
        now,
        now + lease,
        worker_id,
        limit,
    ]
    if queues:
        args.append(list(queues))
    rows = await connection.fetch(_NATIVE[bool(queues)], *args)
    applied = {row["id"] for row in rows if not row["is_claim"]}
    return applied, _claimed([row for row in rows if row["is_claim"]])


async def complete_and_claim(
    executor: Executor,
    attempts: Sequence[Attempt],
    *,
    queues: Sequence[str] | None,
    limit: int,
    worker_id: str,
    now: datetime,
    lease: timedelta,
) -> tuple[set[int], list[ClaimedTask]]:
    """The same as `complete_and_claim_postgres`, in the caller's (SQLite) transaction."""
    applied = await complete(executor, attempts, worker_id=worker_id, now=now)
    claimed = await claim(
        executor, queues=queues, limit=limit, worker_id=worker_id, now=now, lease=lease
    )
    return applied, claimed


def _dialect(executor: Executor) -> str:
    return "postgresql" if _is_postgres(executor) else "sqlite"


async def claim(
    session: Executor,
    *,
    queues: Sequence[str] | None,
    limit: int,
    worker_id: str,
    now: datetime,
    lease: timedelta,
) -> list[ClaimedTask]:
    """Lease up to `limit` due tasks, lowest priority number first; each attempt count +1."""
    params: dict[str, Any] = {
        "now": now,
        "locked_until": now + lease,
        "worker_id": worker_id,
        "limit": limit,
    }
    if queues:
        params["queues"] = list(queues)
    result = await session.execute(_CLAIMS[(_dialect(session), bool(queues))], params)
    return _claimed(result.mappings().all())


def _claimed(rows: Sequence[Mapping[Any, Any]]) -> list[ClaimedTask]:
    """Claimed tasks, oldest first, from SQLAlchemy row mappings or asyncpg records."""
    claimed = [
        ClaimedTask(
            id=row["id"],
            name=row["name"],
            queue=row["queue"],
            payload=row["payload"],
            attempt=row["attempts"],
            max_attempts=row["max_attempts"],
            run_at=row["run_at"],
            created_at=row["created_at"],
        )
        for row in rows
    ]
    claimed.sort(key=lambda task: task.id)
    return claimed


async def complete(
    session: Executor, attempts: Sequence[Attempt], *, worker_id: str, now: datetime
) -> set[int]:
    """Mark attempts succeeded; returns the ids whose fence held (the others were rescued)."""
    if not attempts:
        return set()
    params: dict[str, Any] = {"now": now, "worker_id": worker_id}
    if _is_postgres(session):
        params["ids"] = [attempt.task_id for attempt in attempts]
        params["attempts"] = [attempt.attempt for attempt in attempts]
    else:
        params["ids"] = [attempt.task_id for attempt in attempts]
        params["keys"] = [f"{attempt.task_id}:{attempt.attempt}" for attempt in attempts]
    result = await session.execute(_COMPLETE[_dialect(session)], params)
    return set(result.scalars())


def _fence(attempts: Sequence[Attempt], worker_id: str) -> ColumnElement[bool]:
    return and_(
        Task.id.in_([a.task_id for a in attempts]),
        tuple_(Task.id, Task.attempts).in_([(a.task_id, a.attempt) for a in attempts]),
        Task.locked_by == worker_id,
        Task.status == TaskStatus.RUNNING,
    )


_RELEASED = {"locked_by": None, "locked_until": None}


async def finish(
    session: Executor,
    attempt: Attempt,
    *,
    worker_id: str,
    now: datetime,
    status: TaskStatus,
    error: str | None = None,
    run_at: datetime | None = None,
    refund_attempt: bool = False,
) -> bool:
    """Move one fenced attempt to `status` (queued again for a retry, dead, cancelled)."""
    values: dict[str, Any] = {"status": status, "updated_at": now, **_RELEASED}
    if error is not None:
        values["last_error"] = error
    if status is TaskStatus.QUEUED:
        values["run_at"] = run_at or now
        if refund_attempt:
            values["attempts"] = Task.attempts - 1
    else:
        values["finished_at"] = now
    result = await session.execute(
        update(Task).where(_fence([attempt], worker_id)).values(**values).returning(Task.id),
        execution_options={"synchronize_session": False},
    )
    return result.scalar_one_or_none() is not None


def _held(task_ids: Sequence[int], worker_id: str) -> ColumnElement[bool]:
    return and_(
        Task.id.in_(task_ids), Task.locked_by == worker_id, Task.status == TaskStatus.RUNNING
    )


async def heartbeat(
    session: Executor,
    task_ids: Sequence[int],
    *,
    worker_id: str,
    now: datetime,
    lease: timedelta,
) -> dict[int, bool]:
    """Extend the leases this worker still holds; returns {id: cancel_requested} for those."""
    if not task_ids:
        return {}
    result = await session.execute(
        update(Task)
        .where(_held(task_ids, worker_id))
        .values(locked_until=now + lease)
        .returning(Task.id, Task.cancel_requested),
        execution_options={"synchronize_session": False},
    )
    return {row.id: row.cancel_requested for row in result}


async def release(
    session: Executor, task_ids: Sequence[int], *, worker_id: str, now: datetime
) -> int:
    """Give back tasks a stopping worker did not finish: queued again, attempt refunded."""
    if not task_ids:
        return 0
    result = await session.execute(
        update(Task)
        .where(_held(task_ids, worker_id))
        .values(
            status=TaskStatus.QUEUED,
            attempts=Task.attempts - 1,
            run_at=now,
            updated_at=now,
            **_RELEASED,
        )
        .returning(Task.id),
        execution_options={"synchronize_session": False},
    )
    return len(result.all())


async def rescue_expired(session: Executor, *, now: datetime) -> tuple[int, int]:
    """Requeue running tasks whose lease expired; bury those with no attempts left.

    Returns (requeued, dead). A task that kills its worker every time ends here, dead after
    exactly `max_attempts` claims.
    """
    exhausted = Task.attempts >= Task.max_attempts
    result = await session.execute(
        update(Task)
        .where(text("status = 'running'"), Task.locked_until < now)
        .values(
            status=case((exhausted, literal(TaskStatus.DEAD.value)), else_=literal("queued")),
            finished_at=case((exhausted, now), else_=None),
            run_at=now,
            updated_at=now,
            last_error=literal("lease expired: worker ")
            + func.coalesce(Task.locked_by, "?")
            + " stopped heartbeating",
            **_RELEASED,
        )
        .returning(Task.status),
        execution_options={"synchronize_session": False},
    )
    statuses = [TaskStatus(str(status)) for status in result.scalars()]
    dead = statuses.count(TaskStatus.DEAD)
    return len(statuses) - dead, dead


async def request_cancel(
    session: AsyncSession,
    *,
    task_id: int | None = None,
    key: str | None = None,
    task_ids: Sequence[int] | None = None,
    now: datetime,
) -> list[tuple[int, TaskStatus]]:
    """Cancel queued tasks outright; flag running ones so their handler can stop."""
    target: ColumnElement[bool]
    if task_ids is not None:
        target = Task.id.in_(task_ids)
    else:
        target = Task.id == task_id if task_id is not None else Task.key == key
    queued = await session.execute(
        update(Task)
        .where(target, Task.status == TaskStatus.QUEUED)
        .values(status=TaskStatus.CANCELLED, finished_at=now, updated_at=now)
        .returning(Task.id),
        execution_options={"synchronize_session": False},
    )
    changed = [(task, TaskStatus.CANCELLED) for task in queued.scalars()]
    running = await session.execute(
        update(Task)
        .where(target, Task.status == TaskStatus.RUNNING)
        .values(cancel_requested=True, updated_at=now)
        .returning(Task.id),
        execution_options={"synchronize_session": False},
    )
    changed += [(task, TaskStatus.RUNNING) for task in running.scalars()]
    return changed


async def is_cancel_requested(session: AsyncSession, task_id: int) -> bool:
    result = await session.execute(select(Task.cancel_requested).where(Task.id == task_id))
    return bool(result.scalar_one_or_none())


async def replay(session: AsyncSession, task_id: int, *, now: datetime) -> bool:
    """Dead (or cancelled) -> queued with a fresh set of attempts."""
    result = await session.execute(
        update(Task)
        .where(
            Task.id == task_id,
            Task.status.in_((TaskStatus.DEAD, TaskStatus.CANCELLED)),
        )
        .values(
            status=TaskStatus.QUEUED,
            attempts=0,
            run_at=now,
            cancel_requested=False,
            finished_at=None,
            updated_at=now,
            **_RELEASED,
        )
        .returning(Task.id),
        execution_options={"synchronize_session": False},
    )
    return result.scalar_one_or_none() is not None


async def get(session: AsyncSession, task_id: int) -> Task | None:
    return await session.get(Task, task_id, populate_existing=True)


async def list_tasks(
    session: AsyncSession,
    *,
    status: TaskStatus | None = None,
    name: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Task], int]:
    filters = []
    if status is not None:
        filters.append(Task.status == status)
    if name is not None:
        filters.append(Task.name == name)
    total = (
        await session.execute(select(func.count()).select_from(Task).where(*filters))
    ).scalar_one()
    rows = await session.execute(
        select(Task).where(*filters).order_by(Task.id.desc()).limit(limit).offset(offset)
    )
    return list(rows.scalars()), int(total)


async def counts(
    session: AsyncSession, statuses: Sequence[TaskStatus] | None = None
) -> list[tuple[str, str, str, int]]:
    """(queue, name, status, count) for the given statuses (all when None)."""
    statement = select(Task.queue, Task.name, Task.status, func.count()).group_by(
        Task.queue, Task.name, Task.status
    )
    if statuses is not None:
        statement = statement.where(Task.status.in_(statuses))
    result = await session.execute(statement)
    return [(row[0], row[1], TaskStatus(row[2]).value, int(row[3])) for row in result]


async def prune(
    session: AsyncSession, *, finished_before: datetime, statuses: Sequence[TaskStatus]
) -> int:
    result = await session.execute(
        delete(Task)
        .where(Task.status.in_(statuses), Task.finished_at < finished_before)
        .returning(Task.id),
        execution_options={"synchronize_session": False},
    )
    return len(result.all())


async def schedule_slot(
    session: AsyncSession, name: str, *, due: datetime, following: datetime
) -> bool:
    """Advance `name` from slot `due` to `following`; True for exactly one caller per slot."""
    result = await session.execute(
        update(TaskSchedule)
        .where(TaskSchedule.name == name, TaskSchedule.next_run_at == due)
        .values(next_run_at=following)
        .returning(TaskSchedule.name),
        execution_options={"synchronize_session": False},
    )
    return result.scalar_one_or_none() is not None


async def schedules(session: AsyncSession) -> dict[str, datetime]:
    result = await session.execute(select(TaskSchedule.name, TaskSchedule.next_run_at))
    return {row.name: row.next_run_at for row in result}


async def add_schedule(session: AsyncSession, name: str, next_run_at: datetime) -> None:
    dialect_insert = postgresql.insert if _is_postgres(session) else sqlite.insert
    await session.execute(
        dialect_insert(TaskSchedule)
        .values(name=name, next_run_at=next_run_at)
        .on_conflict_do_nothing(index_elements=[TaskSchedule.name])
    )
