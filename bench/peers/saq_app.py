"""SAQ: `saq bench.peers.saq_app.settings` (Redis, asyncio)."""

import os
from typing import Any

from saq import Queue

from bench.latency import record

REDIS_ENV = "BENCH_SAQ_REDIS_URL"
QUEUE_NAME = "bench"
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "10"))

queue = Queue.from_url(os.environ.get(REDIS_ENV, "redis://127.0.0.1:6379/12"), name=QUEUE_NAME)


async def noop(ctx: dict[str, Any], *, t: float | None = None) -> None:
    record(t)


settings = {"queue": queue, "functions": [noop], "concurrency": CONCURRENCY}
