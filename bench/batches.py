"""Document 000 at scale, on SQLite: one registration batch of 10,000 restaurants taken through
all six steps, the simulated outside systems answering at once
(`CONVEYOR_SIMULATOR_LATENCY_MS=0`), twice: by one `conveyor serve` with its embedded worker
(the out-of-the-box setup), then by `conveyor serve --no-worker` beside one `conveyor worker`
process on the same database file.

* steps 1-2: wall time from `POST /api/registration-batches` (auto_start) until every job waits
  at step 3 (20,000 automatic tasks) - the target is 60 s;
* step 4: from `POST .../steps/3/complete` (every job given its first candidate) until every
  job waits at step 5 (10,000 tasks); step 6: from `POST .../steps/5/complete`
  (`apply_defaults_to_remaining`) until the batch is `completed` (10,000 tasks); the total, the
  automatic tasks/s of each phase and how long each operator request itself took;
* `GET .../progress` latency (p50/p99), polled at POLL_RATE/s by a separate client while
  steps 1-2 run - the target is p99 under 20 ms - and, as a control, with the worker idle;
* the server's peak resident memory (VmHWM from /proc).

Restaurants are inserted straight into the database before the server starts (10,000 HTTP
creates would be a benchmark of their own). `python -m bench batches` (or `make bench`);
`BENCH_BATCH_SIZE` shrinks the batch for a quick run (results then not written), and
`BENCH_BATCH_CONCURRENCY` overrides the worker concurrency (50). The run takes about ten
minutes.
"""

import os
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, insert

from bench.common import served_process, worker_processes, write_results
from conveyor import migrations
from conveyor.restaurants.models import Restaurant

FULL_SIZE = 10_000
BATCH_SIZE = int(os.environ.get("BENCH_BATCH_SIZE", str(FULL_SIZE)))
# Steps finishing together are recorded together, so more slots mean bigger, cheaper batches:
# on 2,000 jobs 50 reach step 3 in 8.6 s against 13.4 s with 20 (`conveyor serve`'s own
# default is 10, `CONVEYOR_WORKER_CONCURRENCY`).
WORKER_CONCURRENCY = int(os.environ.get("BENCH_BATCH_CONCURRENCY", "50"))
SELECTION_CHUNK = 10_000  # selections per `steps/3/complete` call (the API's maximum)
POLL_RATE = 20.0  # progress requests per second from the latency poller
IDLE_SAMPLES = 200  # progress requests, one at a time, with the batch waiting at step 3
WAIT_POLL_SECONDS = 0.1  # how often the driver checks whether a phase is over
PHASE_TIMEOUT = 900.0
TARGET_STEPS_1_2_SECONDS = 60.0
TARGET_PROGRESS_P99_MS = 20.0
API = "/api/registration-batches"

CUISINES = ("Pizza", "Burger", "Taco", "Sushi", "Curry", "Cafe", "Noodle", "Kebab", "Dumpling")
ADJECTIVES = ("Palace", "House", "Town", "Corner", "Express", "Garden", "Kitchen", "Bar")


class BatchFailed(Exception):
    """A job failed, the batch ended wrongly or a phase did not finish in time."""


def seed(url: str, count: int) -> list[str]:
    """`count` restaurants inserted directly (the schema comes from the migrations)."""
    migrations.upgrade(url)
    engine = create_engine(url.replace("sqlite+aiosqlite", "sqlite"))
    now = datetime.now(UTC)
    rows = []
    for n in range(count):
        name = (
            f"{CUISINES[n % len(CUISINES)]} {ADJECTIVES[n // len(CUISINES) % len(ADJECTIVES)]} {n}"
        )
        rows.append(
            {
                "id": uuid.uuid4(),
                "name": name,
                "name_key": name.lower(),
                "street": f"{n + 1} Queen Street",
                "city": "Auckland",
                "email": f"owner{n}@example.co.nz",
                "source": "api",
                "created_at": now,
                "updated_at": now,
            }
        )
    with engine.begin() as connection:
        connection.execute(insert(Restaurant.__table__), rows)  # type: ignore[arg-type]
    engine.dispose()
    return [str(row["id"]) for row in rows]


def _percentiles(samples: list[float]) -> tuple[float, float]:
    if len(samples) < 2:
        return (round(samples[0], 1), round(samples[0], 1)) if samples else (0.0, 0.0)
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return round(cuts[49], 1), round(cuts[98], 1)


def _memory_kib(pid: int) -> dict[str, int]:
    """VmHWM (peak) and VmRSS (now) of a process, in KiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            fields[key] = int(value.split()[0])
    return fields


class Poller:
    """`GET /progress` at POLL_RATE/s from its own thread and connection, until stopped."""

    def __init__(self, base_url: str, batch_id: str) -> None:
        self.url = f"{base_url}{API}/{batch_id}/progress"
        self.samples: list[float] = []
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "Poller":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        with httpx.Client(timeout=30) as client:
            start = time.perf_counter()
            n = 0
            while not self._stop.is_set():
                started = time.perf_counter()
                try:
                    ok = client.get(self.url).status_code == 200
                except httpx.HTTPError:
                    ok = False
                self.samples.append((time.perf_counter() - started) * 1000)
                self.errors += not ok
                n += 1
                self._stop.wait(max(0.0, start + n / POLL_RATE - time.perf_counter()))


def _wait(
    client: httpx.Client, batch_id: str, done: Callable[[dict[str, Any]], bool], what: str
) -> dict[str, Any]:
    """Poll progress until `done`; a failed job or the timeout ends the run."""
    deadline = time.monotonic() + PHASE_TIMEOUT
    while True:
        progress = client.get(f"{API}/{batch_id}/progress").raise_for_status().json()
        if done(progress):
            return progress
        summary = progress["restaurants_summary"]
        if summary["failed"] or progress["status"] not in ("pending", "in_progress"):
            raise BatchFailed(f"while waiting for {what}: {progress}")
        if time.monotonic() > deadline:
            raise BatchFailed(f"{what} not reached in {PHASE_TIMEOUT:.0f} s: {progress}")
        time.sleep(WAIT_POLL_SECONDS)


def _waiting_at(number: int, count: int) -> Callable[[dict[str, Any]], bool]:
    def done(progress: dict[str, Any]) -> bool:
        return (
            progress["restaurants_summary"]["action_required"] == count
            and progress["step_requiring_action"] == number
        )

    return done


def _timed_post(client: httpx.Client, path: str, body: dict[str, Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    response = client.post(path, json=body)
    seconds = time.perf_counter() - started
    if response.status_code >= 300:
        raise BatchFailed(f"POST {path}: {response.status_code} {response.text[:2000]}")
    return response.json(), seconds


def _idle_latency(client: httpx.Client, batch_id: str) -> list[float]:
    """Progress latency with nothing running (the control for the poller's figures)."""
    samples = []
    for _ in range(IDLE_SAMPLES):
        started = time.perf_counter()
        client.get(f"{API}/{batch_id}/progress").raise_for_status()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def drive(base_url: str, pid: int, restaurant_ids: list[str]) -> dict[str, Any]:
    """One batch through all six steps; the figures of one row."""
    count = len(restaurant_ids)
    row: dict[str, Any] = {}
    with httpx.Client(base_url=base_url, timeout=600) as client:
        begun = time.perf_counter()
        body = {"name": "Bench batch", "restaurant_ids": restaurant_ids, "auto_start": True}
        created, row["create_post_s"] = _timed_post(client, API, body)
        batch_id = created["batch_job"]["id"]
        with Poller(base_url, batch_id) as poller:
            _wait(client, batch_id, _waiting_at(3, count), "every job at step 3")
        at_step_3 = time.perf_counter()
        row["steps_1_2_s"] = at_step_3 - begun
        row["memory_after_steps_1_2_kib"] = _memory_kib(pid)["VmRSS"]
        idle = _idle_latency(client, batch_id)

        started = time.perf_counter()
        step3 = client.get(f"{API}/{batch_id}/steps/3").raise_for_status().json()
        row["get_step_3_s"] = time.perf_counter() - started
        selections = {
            item["job_id"]: {"company_number": item["candidates"][0]["company_number"]}
            for item in step3["restaurants"]
        }
        chosen = list(selections.items())
        begun = time.perf_counter()
        row["complete_step_3_post_s"] = 0.0
        for offset in range(0, len(chosen), SELECTION_CHUNK):
            part = dict(chosen[offset : offset + SELECTION_CHUNK])
            _, seconds = _timed_post(
                client, f"{API}/{batch_id}/steps/3/complete", {"selections": part}
            )
            row["complete_step_3_post_s"] += seconds
        _wait(client, batch_id, _waiting_at(5, count), "every job at step 5")
        row["step_4_s"] = time.perf_counter() - begun

        begun = time.perf_counter()
        _, row["complete_step_5_post_s"] = _timed_post(
            client,
            f"{API}/{batch_id}/steps/5/complete",
            {"configurations": {}, "apply_defaults_to_remaining": True},
        )
        final = _wait(client, batch_id, lambda p: p["status"] == "completed", "completion")
        row["step_6_s"] = time.perf_counter() - begun
        if final["restaurants_summary"]["completed"] != count:
            raise BatchFailed(f"completed, but not every job: {final}")
    memory = _memory_kib(pid)
    p50, p99 = _percentiles(poller.samples)
    idle_p50, idle_p99 = _percentiles(idle)
    row.update(
        {
            "total_s": row["steps_1_2_s"] + row["step_4_s"] + row["step_6_s"],
            "steps_1_2_tasks_per_s": 2 * count / row["steps_1_2_s"],
            "step_4_tasks_per_s": count / row["step_4_s"],
            "step_6_tasks_per_s": count / row["step_6_s"],
            "progress_p50_ms": p50,
            "progress_p99_ms": p99,
            "progress_samples": len(poller.samples),
            "progress_errors": poller.errors,
            "progress_idle_p50_ms": idle_p50,
            "progress_idle_p99_ms": idle_p99,
            "peak_rss_mib": memory["VmHWM"] / 1024,
            "final_rss_mib": memory["VmRSS"] / 1024,
            "rss_after_steps_1_2_mib": row.pop("memory_after_steps_1_2_kib") / 1024,
        }
    )
    return {
        key: round(value, 2) if isinstance(value, float) else value for key, value in row.items()
    }


def measure(directory: Path, concurrency: int, *, separate_worker: bool) -> dict[str, Any]:
    """One batch on a fresh SQLite file: served by `conveyor serve` with its embedded worker
    (the out-of-the-box setup), or with `--no-worker` beside one `conveyor worker` process."""
    url = f"sqlite+aiosqlite:///{directory}/bench.db"
    seeded = time.perf_counter()
    restaurant_ids = seed(url, BATCH_SIZE)
    print(f"   seeded {BATCH_SIZE:,} restaurants in {time.perf_counter() - seeded:.1f} s")
    env = {
        "CONVEYOR_DATABASE_URL": url,
        "CONVEYOR_SIMULATOR_LATENCY_MS": "0",
        "CONVEYOR_RATE_LIMITS_ENABLED": "false",
        "CONVEYOR_EMBEDDED_WORKER": "false" if separate_worker else "true",
        "CONVEYOR_WORKER_CONCURRENCY": str(concurrency),
        "CONVEYOR_LOG_LEVEL": "WARNING",
    }
    stderr_path = directory / "serve.stderr"
    with stderr_path.open("wb") as stderr:
        try:
            with (
                served_process(env, stderr=stderr) as (base_url, process),
                worker_processes(
                    env, count=1 if separate_worker else 0, concurrency=concurrency, stderr=stderr
                ) as workers,
            ):
                print(f"   serving on {base_url} (pid {process.pid}); running the batch")
                row = drive(base_url, process.pid, restaurant_ids)
                if workers:
                    memory = _memory_kib(workers[0].pid)
                    row["worker_peak_rss_mib"] = round(memory["VmHWM"] / 1024, 2)
        finally:
            log = stderr_path.read_text(errors="replace").strip()
            if log:
                lines = log.splitlines()
                print(f"   server stderr ({len(lines)} lines), last 40:")
                print("\n".join(lines[-40:]))
    return {
        "database": "sqlite",
        "setup": SETUPS[separate_worker],
        "restaurants": BATCH_SIZE,
        "worker_concurrency": concurrency,
        **row,
        "server_stderr_lines": len(log.splitlines()) if log else 0,
    }


SETUPS = {
    False: "one `conveyor serve` with its embedded worker",
    True: "`conveyor serve --no-worker` and one `conveyor worker`",
}


def print_table(row: dict[str, Any]) -> None:
    count = row["restaurants"]
    table = Table(
        title=(
            f"Registration batch (000) of {count:,} restaurants on SQLite, {row['setup']}"
            f" (worker concurrency {row['worker_concurrency']})"
        )
    )
    for column in ("measure", "figure", "target"):
        table.add_column(column)
    table.add_row(
        f"steps 1-2: create (auto_start) -> all at step 3 ({2 * count:,} tasks)",
        f"{row['steps_1_2_s']} s ({row['steps_1_2_tasks_per_s']:.0f} tasks/s)",
        f"{TARGET_STEPS_1_2_SECONDS:.0f} s",
    )
    table.add_row("  of which POST create (auto_start)", f"{row['create_post_s']} s", "")
    table.add_row("GET steps/3 (all restaurants, candidates)", f"{row['get_step_3_s']} s", "")
    table.add_row(
        f"step 4: complete step 3 -> all at step 5 ({count:,} tasks)",
        f"{row['step_4_s']} s ({row['step_4_tasks_per_s']:.0f} tasks/s)",
        "",
    )
    table.add_row("  of which POST steps/3/complete", f"{row['complete_step_3_post_s']} s", "")
    table.add_row(
        f"step 6: complete step 5 (defaults) -> completed ({count:,} tasks)",
        f"{row['step_6_s']} s ({row['step_6_tasks_per_s']:.0f} tasks/s)",
        "",
    )
    table.add_row("  of which POST steps/5/complete", f"{row['complete_step_5_post_s']} s", "")
    table.add_row("total (three phases)", f"{row['total_s']} s", "")
    table.add_row(
        f"GET progress during steps 1-2, p50 / p99 ({row['progress_samples']:,} samples,"
        f" {row['progress_errors']} errors)",
        f"{row['progress_p50_ms']} / {row['progress_p99_ms']} ms",
        f"p99 < {TARGET_PROGRESS_P99_MS:.0f} ms",
    )
    table.add_row(
        f"GET progress, worker idle at step 3, p50 / p99 ({IDLE_SAMPLES} in a row)",
        f"{row['progress_idle_p50_ms']} / {row['progress_idle_p99_ms']} ms",
        "",
    )
    table.add_row(
        "server RSS: peak (VmHWM) / after steps 1-2 / at the end",
        f"{row['peak_rss_mib']:.0f} / {row['rss_after_steps_1_2_mib']:.0f}"
        f" / {row['final_rss_mib']:.0f} MiB",
        "",
    )
    if "worker_peak_rss_mib" in row:
        table.add_row("worker RSS: peak (VmHWM)", f"{row['worker_peak_rss_mib']:.0f} MiB", "")
    Console().print(table)


def run() -> list[dict[str, Any]]:
    rows = []
    for separate_worker in (False, True):
        print(f"== {SETUPS[separate_worker]}")
        with tempfile.TemporaryDirectory(prefix="conveyor-bench-batches-") as tmp:
            rows.append(measure(Path(tmp), WORKER_CONCURRENCY, separate_worker=separate_worker))
    for row in rows:
        print_table(row)
    if BATCH_SIZE != FULL_SIZE:
        print("BENCH_BATCH_SIZE set: a partial run, results not written")
    else:
        print(f"written to {write_results('batches', rows)}")
    return rows


if __name__ == "__main__":
    run()
