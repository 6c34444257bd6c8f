"""Engine handlers of the registrations package: the checks, then the user's creation."""

from collections.abc import Awaitable

from conveyor.registrations import service
from conveyor.registrations.providers import CoreBankingUnavailable
from conveyor.registrations.service import RegistrationTask
from conveyor.tasks import Backoff, TaskContext, task

ATTEMPTS = 5
BACKOFF = Backoff(base=2.0, factor=3.0, cap=60.0)
"""Five tries within about a minute and a half: the document promises 1-2 minutes, and a core
banking system that is down for longer makes the registration FAILED with `can_retry`."""


async def _failing_visibly(
    ctx: TaskContext, payload: RegistrationTask, run: Awaitable[None]
) -> None:
    try:
        await run
    except CoreBankingUnavailable:
        raise
    except Exception:
        # A bug or a database outage: after the last attempt the registration must not stay
        # open for ever, so it fails (retryable) and the traceback stays in the log.
        if ctx.is_last_attempt:
            await service.fail(ctx.database, payload.registration_id)
        raise


@task(service.VERIFY, max_attempts=ATTEMPTS, backoff=BACKOFF, queue="registrations")
async def verify(ctx: TaskContext, payload: RegistrationTask) -> None:
    await _failing_visibly(
        ctx,
        payload,
        service.verify(
            ctx.database,
            ctx.app_settings,
            payload.registration_id,
            attempt=ctx.attempt,
            final=ctx.is_last_attempt,
            complete=ctx.complete,
        ),
    )


@task(service.CREATE_USER, max_attempts=ATTEMPTS, backoff=BACKOFF, queue="registrations")
async def create_user(ctx: TaskContext, payload: RegistrationTask) -> None:
    await _failing_visibly(ctx, payload, service.create_user(ctx.complete, payload.registration_id))
