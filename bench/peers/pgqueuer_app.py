"""PgQueuer (asyncpg driver, PostgreSQL): `python -m bench.peers.pgqueuer_app [batch_size]`.

Runs the worker through `pgqueuer.run`, the function behind `pgq run`, on the event loop
`pgq run` picks (uvloop). `pgq run` itself cannot start here: in pgqueuer 1.6.0 with typer
0.29 its `--log-level` option reaches `setup_fancy_logger` as a str and the command dies
with "AttributeError: 'str' object has no attribute 'name'" before the worker starts.
"""

import logging
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import pgqueuer
from pgqueuer import PgQueuer
from pgqueuer.adapters.cli.cli import asyncio_run
from pgqueuer.db import AsyncpgDriver
from pgqueuer.models import Job

from bench.latency import record

DSN_ENV = "BENCH_PGQUEUER_DSN"
ENTRYPOINT = "bench_noop"


@asynccontextmanager
async def create() -> AsyncIterator[PgQueuer]:
    """The factory `pgq run` calls (an async context manager since PgQueuer 1.x)."""
    connection = await asyncpg.connect(os.environ[DSN_ENV])
    try:
        pgq = PgQueuer(AsyncpgDriver(connection))

        @pgq.entrypoint(ENTRYPOINT)
        async def noop(job: Job) -> None:
            record(float(job.payload) if job.payload else None)

        yield pgq
    finally:
        await connection.close()


def main(batch_size: int) -> None:
    logging.basicConfig(level=logging.WARNING)
    asyncio_run(pgqueuer.run(create, batch_size=batch_size))  # SIGTERM stops it


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
