"""`conveyor worker` and `conveyor serve` subprocesses on a test's database, to kill, stop and
restart for real."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
LEASE_SECONDS = 2.0
"""Short, so that a killed worker's tasks are rescued within a few seconds."""


class Workers:
    """Starts and signals `conveyor worker` subprocesses on one database."""

    def __init__(self, database_url: str, log_dir: Path) -> None:
        self.database_url = database_url
        self.log_dir = log_dir
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(
        self,
        *,
        concurrency: int = 8,
        grace: float = 5.0,
        lease: float = LEASE_SECONDS,
        services: str = "",
        **settings: str,
    ) -> subprocess.Popen[bytes]:
        """A worker with the test's handlers, plus those of `services`; `settings` are more
        `CONVEYOR_*` variables by lower-case name."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
        env.update(
            {
                "CONVEYOR_DATABASE_URL": self.database_url,
                "CONVEYOR_SERVICES": services,
                "CONVEYOR_LOG_LEVEL": "WARNING",
                "CONVEYOR_WORKER_LEASE_SECONDS": str(lease),
                "CONVEYOR_WORKER_POLL_INTERVAL": "0.1",
                "CONVEYOR_WORKER_GRACE_SECONDS": str(grace),
                **{f"CONVEYOR_{name.upper()}": value for name, value in settings.items()},
            }
        )
        log_path = self.log_dir / f"worker-{len(self.processes)}.log"
        with log_path.open("wb") as log:  # the child keeps its own descriptor
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "conveyor",
                    "worker",
                    "--concurrency",
                    str(concurrency),
                    "--import",
                    "tests.tasks.handlers",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGCONT)
                process.kill()
            process.wait(timeout=30)

    def logs(self) -> str:
        return "\n".join(path.read_text() for path in sorted(self.log_dir.glob("worker-*.log")))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """`conveyor serve` on one database and port, to stop and start again."""

    def __init__(self, database_url: str, log_dir: Path) -> None:
        self.database_url = database_url
        self.log_dir = log_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, **settings: str) -> str:
        """Serve until `stop()`; returns once the API answers. `settings` are more
        `CONVEYOR_*` variables by lower-case name."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
        env.update(
            {
                "CONVEYOR_DATABASE_URL": self.database_url,
                "CONVEYOR_LOG_LEVEL": "WARNING",
                "CONVEYOR_WORKER_POLL_INTERVAL": "0.1",
                **{f"CONVEYOR_{name.upper()}": value for name, value in settings.items()},
            }
        )
        self.starts += 1
        with (self.log_dir / f"server-{self.starts}.log").open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "conveyor", "serve", "--port", str(self.port)],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/api/v1/health/ready", timeout=1).status_code == 200:
                    return self.url
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"conveyor serve did not start:\n{self.logs()}")
            time.sleep(0.1)

    def stop(self) -> None:
        """Ctrl-C, as an operator stops it, and wait until it has exited."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            self.process.wait(timeout=30)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)

    def logs(self) -> str:
        return "\n".join(path.read_text() for path in sorted(self.log_dir.glob("server-*.log")))
