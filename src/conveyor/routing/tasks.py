"""Engine handlers of the routing package: sync a routing, and notice completed work."""

from conveyor.routing import service
from conveyor.routing.schemas import SyncEvent
from conveyor.tasks import Backoff, TaskContext, task

SYNC_ATTEMPTS = 6
SYNC_BACKOFF = Backoff(base=5.0, factor=2.0, cap=120.0)
"""Retries within about 2.5 minutes in all: inside the document's 5-minute sync promise."""


class SyncFailed(Exception):
    """The provider did not take the job; the engine retries, then the task is dead."""


@task("routing.sync", max_attempts=SYNC_ATTEMPTS, backoff=SYNC_BACKOFF)
async def sync(ctx: TaskContext, payload: SyncEvent) -> None:
    error = await service.sync_routing(
        ctx.database,
        ctx.app_settings,
        payload.routing_id,
        attempt=ctx.attempt,
        final=ctx.is_last_attempt,
        commit=ctx.complete,
    )
    if error is not None:
        raise SyncFailed(error)


@task("routing.check_completions", cron="* * * * *", max_attempts=3)
async def check_completions(ctx: TaskContext, payload: dict[str, object]) -> None:
    """Ask providers whether synced work is done (the mock reports it after a delay)."""
    completed = await service.check_completions(ctx.database, ctx.app_settings)
    if completed:
        ctx.log.info("routings_completed", completed=completed)
