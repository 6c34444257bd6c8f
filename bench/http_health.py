"""HTTP baseline: requests/s and latency of the health endpoints of one `conveyor serve`.

The floor every surface's endpoints stand on: middleware, logging, metrics, error handling
and (for /ready) one database round trip, on SQLite. Load comes from `wrk` (Debian package
`wrk`), a C load generator, so the client is not what gets measured.
"""

import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.common import served, write_results

DURATION_SECONDS = 10
CONNECTIONS = 16
ENDPOINTS = ("/api/v1/health", "/api/v1/health/live", "/api/v1/health/ready")
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _milliseconds(value: str) -> float:
    number, unit = re.fullmatch(r"([0-9.]+)(us|ms|s)", value).groups()  # type: ignore[union-attr]
    return round(float(number) * _UNITS[unit], 2)


def wrk(url: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """Requests/s, p50/p99 and non-2xx answers of `url` under CONNECTIONS connections."""
    options = [f"--header={name}: {value}" for name, value in (headers or {}).items()]
    output = subprocess.run(
        ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{DURATION_SECONDS}s", "--latency", *options, url],
        capture_output=True,
        text=True,
        check=True,
        timeout=DURATION_SECONDS + 30,
    ).stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", output, re.MULTILINE))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "requests_per_second": float(re.search(r"Requests/sec:\s+([0-9.]+)", output).group(1)),  # type: ignore[union-attr]
        "p50_ms": _milliseconds(latency["50"]),
        "p99_ms": _milliseconds(latency["99"]),
        "errors": int(non_2xx.group(1)) if non_2xx else 0,
    }


def run() -> list[dict[str, Any]]:
    if shutil.which("wrk") is None:
        raise SystemExit("http_health needs wrk: apt-get install wrk")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        env = {"CONVEYOR_DATABASE_URL": f"sqlite:///{Path(tmp) / 'bench.db'}"}
        with served(env) as base_url:
            for path in ENDPOINTS:
                rows.append({"endpoint": path, "connections": CONNECTIONS, **wrk(base_url + path)})
    table = Table(title="HTTP health endpoints (1 uvicorn process, SQLite, wrk)")
    for column in rows[0]:
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(value) for value in row.values()))
    Console(width=120).print(table)
    print(f"written to {write_results('http_health', rows)}")
    return rows


if __name__ == "__main__":
    run()
