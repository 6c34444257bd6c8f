"""Procrastinate: `procrastinate --app bench.peers.procrastinate_app.app worker` (psycopg 3)."""

import os

import procrastinate

from bench.latency import record

DSN_ENV = "BENCH_PROCRASTINATE_DSN"

app = procrastinate.App(
    connector=procrastinate.PsycopgConnector(conninfo=os.environ.get(DSN_ENV, ""))
)


@app.task(name="bench_noop")
async def noop(t: float | None = None) -> None:
    record(t)
