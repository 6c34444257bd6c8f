"""Wake-ups: an enqueue wakes idle workers instead of making them wait for the next poll.

In-process, a committed transaction that enqueued tasks calls the local subscribers (the
embedded worker). Across processes on PostgreSQL, the enqueuing transaction runs
`pg_notify`, which PostgreSQL delivers only if it commits; each worker LISTENs on one
connection and wakes its single fetch loop once per notification.
"""

from collections.abc import Callable
from typing import Any

import structlog
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.orm import Session

CHANNEL = "conveyor_tasks"
_PENDING = "conveyor.tasks.enqueued_queues"
_NOTIFIED = "conveyor.tasks.notified_queues"

Subscriber = Callable[[frozenset[str]], None]
_subscribers: list[Subscriber] = []
log = structlog.get_logger(__name__)


def subscribe(callback: Subscriber) -> None:
    _subscribers.append(callback)


def unsubscribe(callback: Subscriber) -> None:
    if callback in _subscribers:
        _subscribers.remove(callback)


def record(session: AsyncSession, queue: str) -> bool:
    """Record that this transaction enqueued work on `queue`; True when the caller must now
    send the PostgreSQL notification (the first time per queue per transaction)."""
    session.info.setdefault(_PENDING, set()).add(queue)
    notified: set[str] = session.info.setdefault(_NOTIFIED, set())
    if queue in notified or session.get_bind().dialect.name != "postgresql":
        return False
    notified.add(queue)
    return True


async def announce(session: AsyncSession, queue: str) -> None:
    """Record that this transaction enqueued work on `queue` (once per queue per transaction)."""
    if record(session, queue):
        await session.execute(
            text("SELECT pg_notify(:channel, :queue)"), {"channel": CHANNEL, "queue": queue}
        )


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    queues = session.info.pop(_PENDING, None)
    session.info.pop(_NOTIFIED, None)
    if queues:
        frozen = frozenset(queues)
        for callback in list(_subscribers):
            callback(frozen)


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, _previous: Any) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_NOTIFIED, None)


class PostgresListener:
    """Holds one connection that LISTENs for enqueue notifications."""

    def __init__(self, engine: AsyncEngine, callback: Subscriber) -> None:
        self._engine = engine
        self._callback = callback
        self._connection: AsyncConnection | None = None
        self._raw: Any = None

    def _on_notify(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        self._callback(frozenset({payload}))

    async def start(self) -> None:
        self._connection = await self._engine.connect()
        raw = await self._connection.get_raw_connection()
        self._raw = raw.driver_connection
        await self._raw.add_listener(CHANNEL, self._on_notify)

    async def stop(self) -> None:
        if self._raw is not None:
            try:
                await self._raw.remove_listener(CHANNEL, self._on_notify)
            except Exception as exc:  # the connection may already be gone
                log.debug("listener_remove_failed", error=str(exc))
        if self._connection is not None:
            await self._connection.close()
        self._connection = self._raw = None
