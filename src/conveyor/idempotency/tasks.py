"""Engine handlers of the idempotency package."""

from conveyor.idempotency import service
from conveyor.tasks import TaskContext, task


@task("idempotency.prune", cron="23 * * * *", max_attempts=3)
async def prune_expired(ctx: TaskContext, payload: dict[str, object]) -> None:
    """Forget keys older than a day."""
    async with ctx.complete() as session:
        deleted = await service.prune(session)
    ctx.log.info("idempotency_keys_pruned", deleted=deleted)
