"""Engine handlers of the batches package: one task per automatic step of one job."""

from conveyor.batches import service
from conveyor.batches.service import StepFailed, StepTask
from conveyor.tasks import Backoff, TaskContext, task

STEP_ATTEMPTS = 4
STEP_BACKOFF = Backoff(base=2.0, factor=3.0, cap=60.0)
"""Four tries within about half a minute: long enough to ride out a provider's hiccup, short
enough that an operator sees a failed job while still looking at the batch."""


@task(service.RUN_STEP, max_attempts=STEP_ATTEMPTS, backoff=STEP_BACKOFF, queue="batches")
async def run_step(ctx: TaskContext, payload: StepTask) -> None:
    # The step's own status fences its writes (see `service.run_step`), so the handler does
    # not need `ctx.complete()`: its task is marked succeeded in the engine's batched
    # completions, one statement fewer per step on the path a batch's speed rests on.
    try:
        await service.run_step(
            ctx.database,
            ctx.app_settings,
            payload.job_id,
            payload.step,
            attempt=ctx.attempt,
            final=ctx.is_last_attempt,
        )
    except StepFailed:
        raise
    except Exception:
        # A bug or a database outage: after the last attempt the job must not stay "in
        # progress" for ever, so the step fails visibly (the traceback is in the log).
        if ctx.is_last_attempt:
            await service.fail_step(
                ctx.database,
                payload.job_id,
                payload.step,
                f"unexpected error (task {ctx.task_id}); see the worker's log",
            )
        raise
