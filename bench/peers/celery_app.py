"""Celery with the Redis broker: `celery -A bench.peers.celery_app worker --pool threads`.

Celery keeps no record of finished tasks without a result backend, and a backend would add
a write per task that the other systems do not make; instead each worker process counts
successes (the `task_success` signal) and adds them to one Redis key every 50 ms.
"""

import os
import threading
import time
from typing import Any

import redis
from celery import Celery
from celery.signals import task_success

from bench.latency import record

BROKER_ENV = "BENCH_CELERY_BROKER_URL"
BROKER_URL = os.environ.get(BROKER_ENV, "redis://127.0.0.1:6379/13")
DONE_KEY = "bench:celery:done"
TASK_NAME = "bench_noop"

app = Celery("bench_celery", broker=BROKER_URL)
app.conf.update(
    task_ignore_result=True,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)


@app.task(name=TASK_NAME)
def noop(t: float | None = None) -> None:
    record(t)


_lock = threading.Lock()
_pending = 0
_flusher: threading.Thread | None = None


def _flush_forever() -> None:
    global _pending
    client = redis.Redis.from_url(BROKER_URL)
    while True:
        time.sleep(0.05)
        with _lock:
            count, _pending = _pending, 0
        if count:
            client.incrby(DONE_KEY, count)


@task_success.connect
def _count_success(sender: Any = None, **_: Any) -> None:
    global _pending, _flusher
    with _lock:
        _pending += 1
        if _flusher is None:
            _flusher = threading.Thread(target=_flush_forever, name="bench-done", daemon=True)
            _flusher.start()
