"""Enqueue→start latency, recorded by the no-op handler of every system the same way.

The producer puts `time.time()` into the payload; the handler, first thing, appends
`time.time() - enqueued_at` to the file named by BENCH_LATENCY_FILE (one short line per
write with O_APPEND, so worker processes never interleave). Wall clock, since the producer
and the worker are different processes.
"""

import os
import time

LATENCY_FILE_ENV = "BENCH_LATENCY_FILE"


def record(enqueued_at: float | None) -> None:
    """Called at the top of a handler; does nothing for throughput tasks (no timestamp)."""
    if enqueued_at is None:
        return
    latency = time.time() - float(enqueued_at)
    path = os.environ.get(LATENCY_FILE_ENV)
    if path:
        with open(path, "a") as out:
            out.write(f"{latency:.6f}\n")
