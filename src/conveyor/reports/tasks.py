"""Engine handlers of the reports package: write a section, and forget expired jobs."""

from datetime import timedelta

from conveyor.reports import service
from conveyor.reports.service import SectionTask
from conveyor.tasks import Backoff, TaskContext, task

WRITE_ATTEMPTS = 3
WRITE_BACKOFF = Backoff(base=2.0, factor=3.0, cap=30.0)
"""Three tries within about half a minute, each after the writer's own retries: a model
service that is down for longer fails the job, which the frontend can submit again."""
HANDLER_TIMEOUT = timedelta(hours=1, minutes=2)
"""Above the longest job time limit the settings allow (1 hour), which the handler enforces
itself, so that a job out of time is recorded as `TIMEOUT` rather than retried."""


@task(
    service.WRITE_SECTION,
    queue="reports",
    max_attempts=WRITE_ATTEMPTS,
    backoff=WRITE_BACKOFF,
    timeout=HANDLER_TIMEOUT,
)
async def write_section(ctx: TaskContext, payload: SectionTask) -> None:
    await service.write_section(
        ctx.database,
        ctx.app_settings,
        payload.job_id,
        attempt=ctx.attempt,
        final=ctx.is_last_attempt,
        idempotency_key=ctx.idempotency_key,
        commit=ctx.complete,
    )


@task("reports.expire", cron="*/10 * * * *", max_attempts=3)
async def expire(ctx: TaskContext, payload: dict[str, object]) -> None:
    """Delete jobs whose expiry passed (status answers 404 for them already)."""
    deleted = await service.delete_expired(ctx.database)
    if deleted:
        ctx.log.info("report_jobs_expired", deleted=deleted)
