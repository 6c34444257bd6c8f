"""Prometheus metrics of the task engine."""

from functools import lru_cache
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

TASK_RUNS = Counter(
    "task_runs_total",
    "Finished task attempts by outcome: succeeded, retried, dead, cancelled, lease_lost.",
    ["name", "outcome"],
)
START_LATENCY = Histogram(
    "task_start_latency_seconds",
    "Time from when a task became due to when a worker started it.",
    ["queue"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
RUN_TIME = Histogram(
    "task_run_seconds",
    "Time a handler ran, whatever its outcome.",
    ["name"],
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 60.0, 300.0),
)
QUEUE_DEPTH = Gauge(
    "queue_depth",
    "Tasks per queue and status (queued, running, dead), read from the database.",
    ["queue", "status"],
    multiprocess_mode="mostrecent",  # one figure, whichever process read it last
)


# `labels()` takes a lock and hashes its arguments; the worker calls these for every task.
@lru_cache(maxsize=4096)
def task_runs(name: str, outcome: str) -> Any:
    return TASK_RUNS.labels(name, outcome)


@lru_cache(maxsize=1024)
def start_latency(queue: str) -> Any:
    return START_LATENCY.labels(queue)


@lru_cache(maxsize=4096)
def run_time(name: str) -> Any:
    return RUN_TIME.labels(name)
