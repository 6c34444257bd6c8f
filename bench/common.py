"""What the benchmarks share: a served Conveyor, percentiles and the results table."""

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import httpx

RESULTS_DIR = Path(__file__).parent / "results"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def served(
    env: dict[str, str], *, startup_timeout: float = 60.0, options: Sequence[str] = ()
) -> Iterator[str]:
    """`conveyor serve` in a subprocess on a free loopback port; yields its base URL."""
    with served_process(env, startup_timeout=startup_timeout, options=options) as (base_url, _):
        yield base_url


@contextmanager
def served_process(
    env: dict[str, str],
    *,
    startup_timeout: float = 60.0,
    stderr: IO[bytes] | int = subprocess.PIPE,
    options: Sequence[str] = (),
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """As `served`, also yielding the process (for its pid); `stderr` may be a file to keep,
    `options` are more options of `conveyor serve`."""
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    environment.update({"CONVEYOR_LOG_LEVEL": "WARNING", **env})
    process = subprocess.Popen(
        [sys.executable, "-m", "conveyor", "serve", "--port", str(port), *options],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + startup_timeout
    try:
        while True:
            try:
                if httpx.get(f"{base_url}/api/v1/health/live", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("conveyor serve did not start")
            time.sleep(0.1)
        yield base_url, process
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextmanager
def worker_processes(
    env: dict[str, str],
    *,
    count: int = 1,
    concurrency: int,
    stderr: IO[bytes] | int = subprocess.DEVNULL,
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """`count` `conveyor worker` processes with the environment `env` (none of the caller's
    own CONVEYOR_ settings), stopped (SIGTERM) at the end of the block."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")} | env
    command = [sys.executable, "-m", "conveyor", "worker", "--concurrency", str(concurrency)]
    processes = [
        subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=stderr)
        for _ in range(count)
    ]
    try:
        yield processes
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=60)


def write_results(name: str, rows: list[dict[str, Any]]) -> Path:
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    payload = {
        "benchmark": name,
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "rows": rows,
    }
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path
