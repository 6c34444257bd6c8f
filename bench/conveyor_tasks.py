"""The Conveyor side of bench/tasks.py: a no-op handler, loaded by `conveyor worker --import`."""

from typing import Any

from bench.latency import record
from conveyor.tasks import TaskContext, task

NAME = "bench.noop"


@task(NAME)
async def noop(ctx: TaskContext, payload: dict[str, Any]) -> None:
    record(payload.get("t"))
