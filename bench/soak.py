"""Soak: the five surfaces at once, at a steady rate, for 10 minutes, on PostgreSQL and Redis in
production mode, with 2 API processes (`conveyor serve --processes 2 --no-worker`) and 2
`conveyor worker` processes, every outside system simulated at its default latency.

The workload, started on schedule whatever the earlier ones are doing (`FLOWS`), each flow
driven to its end the way a client would, polling once a second:

* 000: four restaurants, a batch of them started at once; step 3 answered with each job's first
  candidate and step 5 with the defaults when progress asks for them; done when the batch is;
* 001: a registration of one of the soak bank's customers (`CUSTOMERS` of them, each with a
  usable account, so a customer's second registration is a duplicate); done when its status
  leaves PENDING and APPROVED;
* 002: a section generated (two of three) or refined (one of three); done when ready;
* 003: an owner submits a restaurant, reads their own list; an admin reads it and approves or
  rejects it;
* 004: a trade job matched among `COMPANIES` companies; done when every routing is synced.

Measured: per endpoint the requests, errors (a transport failure, a 5xx, or any answer the flow
did not expect) and p50/p99 latency; per surface the flows started, finished as expected, and
their time to done; each process's memory (RSS) every 15 s; the database's size, the task
table's size and the WAL directory's size every 30 s. Then the polling endpoints against a bare
endpoint of the same stack (`/api/v1/health/live`) with wrk (16 connections, 10 s each): what
the stack can serve on this machine, with the workers idle.

`python -m bench soak` (or `make bench`); `BENCH_SOAK_SECONDS` shortens the steady phase (the
results are then not written).
"""

import asyncio
import base64
import contextlib
import json
import os
import random
import statistics
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, BinaryIO

import asyncpg
import httpx
from rich.console import Console
from rich.table import Table

from bench.common import served_process, worker_processes, write_results
from bench.http_health import wrk
from bench.tasks import DEFAULT_PG, Postgres
from conveyor import migrations
from conveyor.auth import service as auth_service
from conveyor.auth.models import Role
from conveyor.database import Database

SECONDS = int(os.environ.get("BENCH_SOAK_SECONDS", "600"))
REDIS_URL = os.environ.get("CONVEYOR_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
SECRET_KEY = "soak-secret-key-with-at-least-32-characters"  # noqa: S105 - a throwaway database
API_PROCESSES = 2
WORKERS = 2
WORKER_CONCURRENCY = 10
POLL_SECONDS = 1.0
FLOW_DEADLINE_SECONDS = 300.0
MEMORY_EVERY_SECONDS = 15.0
DATABASE_EVERY_SECONDS = 30.0
CUSTOMERS = 400
COMPANIES = 40
SKILLS = ["plumbing", "hvac", "electrical", "roofing", "carpentry", "painting", "tiling", "gas"]
CATEGORIES = ["residential", "commercial", "emergency"]
RESTAURANTS_PER_BATCH = 4
LOG = Path("test-output/soak-processes.log")
"""What the API and worker processes logged (JSON lines), kept for reading after a run."""
MAX_ERROR_RATE = 0.001
MIN_FLOWS_AS_EXPECTED = 0.99
MAX_MEMORY_GROWTH = 1.25
"""RSS at the end over RSS once warm (a minute in): more is a leak."""


@dataclass
class Recorder:
    """Every request's latency and whether the flow got the answer it expected."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)
    """The first unexpected answer per endpoint, to say what went wrong."""
    flows: dict[str, list[float | None]] = field(default_factory=lambda: defaultdict(list))
    """Per surface, each flow's seconds to done (None: it did not end as expected)."""
    polled: dict[str, str] = field(default_factory=dict)
    """Per polling endpoint, one URL a client polled (for the ceiling measurement)."""

    async def call(
        self,
        client: httpx.AsyncClient,
        method: str,
        url: str,
        label: str,
        *,
        expect: tuple[int, ...] = (200,),
        **kwargs: Any,
    ) -> Any:
        """The answer's JSON body ({} when empty), or None when the request failed or was not
        expected."""
        started = time.perf_counter()
        try:
            response = await client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            problem = f"{exc.__class__.__name__}: {exc}"
        else:
            if response.status_code in expect:
                self.latencies[label].append((time.perf_counter() - started) * 1000)
                return response.json() if response.content else {}
            problem = f"{response.status_code} {response.text[:300]}"
        self.latencies[label].append((time.perf_counter() - started) * 1000)
        self.errors[label] += 1
        self.examples.setdefault(label, problem)
        return None

    async def poll(
        self,
        client: httpx.AsyncClient,
        url: str,
        label: str,
        done: Callable[[Any], bool],
        **kwargs: Any,
    ) -> Any:
        """GET `url` once a second until `done(body)`; None at the flow deadline."""
        self.polled.setdefault(label, str(httpx.URL(url, params=kwargs.get("params"))))
        deadline = time.monotonic() + FLOW_DEADLINE_SECONDS
        while time.monotonic() < deadline:
            body = await self.call(client, "GET", url, label, **kwargs)
            if body is not None and done(body):
                return body
            await asyncio.sleep(POLL_SECONDS)
        return None


@dataclass
class Clients:
    service: httpx.AsyncClient
    """X-API-Key: 000, 001, 002 and 004."""
    owner: httpx.AsyncClient
    """A restaurant owner's bearer token (003 submissions)."""
    admin: httpx.AsyncClient
    """An admin's bearer token (003 reviews)."""


@dataclass
class Soak:
    clients: Clients
    requester: str
    technician: str
    rng: random.Random = field(default_factory=lambda: random.Random(2026))
    recorder: Recorder = field(default_factory=Recorder)

    # -- the five flows; each returns whether it ended as its client expects ---------------

    async def batch(self, n: int) -> bool:
        call, service = self.recorder.call, self.clients.service
        ids = []
        for k in range(RESTAURANTS_PER_BATCH):
            body = {
                "name": f"Soak Kitchen {n}-{k}",
                "address": f"{10 + k} Queen Street",
                "city": "Auckland",
                "email": f"kitchen{n}-{k}@example.com",
            }
            created = await call(
                service,
                "POST",
                "/api/restaurants",
                "POST /api/restaurants",
                expect=(201,),
                json=body,
            )
            if created is None:
                return False
            ids.append(created["restaurant"]["id"])
        batches = "/api/registration-batches"
        body = {"name": f"Soak batch {n}", "restaurant_ids": ids, "auto_start": True}
        created = await call(service, "POST", batches, f"POST {batches}", expect=(201,), json=body)
        if created is None:
            return False
        batch = f"{batches}/{created['batch_job']['id']}"
        deadline = time.monotonic() + FLOW_DEADLINE_SECONDS
        label = f"GET {batches}/{{id}}/progress"
        self.recorder.polled.setdefault(label, f"{batch}/progress")
        while time.monotonic() < deadline:
            progress = await call(service, "GET", f"{batch}/progress", label)
            if progress is not None:
                if progress["status"] in ("completed", "failed", "cancelled"):
                    return bool(progress["status"] == "completed")
                if progress["step_requiring_action"] == 3:
                    await self._select_companies(batch)
                elif progress["step_requiring_action"] == 5:
                    await call(
                        service,
                        "POST",
                        f"{batch}/steps/5/complete",
                        f"POST {batches}/{{id}}/steps/5/complete",
                        json={"configurations": {}, "apply_defaults_to_remaining": True},
                    )
            await asyncio.sleep(POLL_SECONDS)
        return False

    async def _select_companies(self, batch: str) -> None:
        batches = "/api/registration-batches"
        call, service = self.recorder.call, self.clients.service
        step = await call(service, "GET", f"{batch}/steps/3", f"GET {batches}/{{id}}/steps/3")
        if step is None:
            return
        selections = {
            row["job_id"]: {"company_number": row["candidates"][0]["company_number"]}
            if row["candidates"]
            else {"company_number": None, "no_match": True}
            for row in step["restaurants"]
            if row["step_status"] == "action_required"
        }
        if selections:
            await call(
                service,
                "POST",
                f"{batch}/steps/3/complete",
                f"POST {batches}/{{id}}/steps/3/complete",
                json={"selections": selections},
            )

    async def registration(self, n: int) -> bool:
        call, service = self.recorder.call, self.clients.service
        customer = str(1_000_000 + self.rng.randrange(CUSTOMERS))
        phone = f"+26599{self.rng.randrange(10_000_000):07d}"
        body = {"customer_number": customer, "phone_number": phone}
        created = await call(
            service,
            "POST",
            "/api/registrations",
            "POST /api/registrations",
            expect=(200, 202),
            json=body,
        )
        if created is None:
            return False
        settled = await self.recorder.poll(
            service,
            "/api/registrations/status",
            "GET /api/registrations/status",
            lambda answer: answer["data"]["status"] not in ("PENDING", "APPROVED"),
            params=body,
        )
        return settled is not None and settled["data"]["status"] in ("COMPLETED", "DUPLICATE")

    async def report(self, n: int) -> bool:
        call, service = self.recorder.call, self.clients.service
        body: dict[str, Any] = {
            "type": "Technical_scope",
            "customer_id": f"cust-{n % 50:03d}",
            "opportunity_id": f"opp-{n % 200:03d}",
            "section_title": "Executive Summary",
        }
        if n % 3 == 2:
            text = "## Risks\n\nWe might slip a week if the data arrives late."
            body |= {
                "section_title": "Risks & Mitigations",
                "original_text": base64.b64encode(text.encode()).decode(),
                "prompt": "Make it more formal",
            }
        verb = "refine" if "prompt" in body else "generate"
        started = await call(
            service,
            "POST",
            f"/api/reports/{verb}",
            f"POST /api/reports/{verb}",
            expect=(202,),
            json=body,
            headers={"Session-Id": f"soak-{n}"},
        )
        if started is None:
            return False
        answer = await self.recorder.poll(
            service,
            f"/api/reports/status/{started['data']['job_id']}",
            "GET /api/reports/status/{job_id}",
            lambda answer: answer["status"] in ("ready", "error"),
        )
        return answer is not None and answer["status"] == "ready"

    async def submission(self, n: int) -> bool:
        call, owner, admin = self.recorder.call, self.clients.owner, self.clients.admin
        root = "/api/v1/restaurant-registrations"
        body = {
            "name": f"Soak Bistro {n}",
            "description": "Fresh handmade pasta.",
            "cuisineType": "Italian",
            "street": f"{n} Market St",
            "city": "San Francisco",
            "state": "CA",
            "zipCode": "94105",
            "country": "USA",
            "phoneNumber": "+1 (415) 555-2121",
            "email": f"bistro{n}@example.com",
            "businessHours": "09:00-17:30",
        }
        created = await call(owner, "POST", root, f"POST {root}", expect=(201,), json=body)
        if created is None or await call(owner, "GET", f"{root}/mine", f"GET {root}/mine") is None:
            return False
        review = f"{root}/admin/{created['registrationId']}"
        if await call(admin, "GET", review, f"GET {root}/admin/{{id}}") is None:
            return False
        verdict, note = ("approve", {"note": "Licence checked."})
        if n % 2:
            verdict, note = ("reject", {"reason": "Missing required documentation."})
        decided = await call(
            admin,
            "POST",
            f"{review}/{verdict}",
            f"POST {root}/admin/{{id}}/{verdict}",
            expect=(200, 204),
            json=note,
        )
        return decided is not None

    async def trade_job(self, n: int) -> bool:
        call, service = self.recorder.call, self.clients.service
        required = self.rng.sample(SKILLS, self.rng.randint(1, 2))
        body = {
            "summary": f"Soak job {n}",
            "address": {
                "street": "456 Oak Ave",
                "city": "Springfield",
                "state": "IL",
                "zip_code": "62701",
            },
            "homeowner": {"name": "Jane Smith", "phone": "(555) 987-6543"},
            "created_by_company_id": self.requester,
            "created_by_technician_id": self.technician,
            "required_skills": required,
            "skill_levels": dict.fromkeys(required, "basic"),
            "category": self.rng.choice(CATEGORIES),
        }
        created = await call(
            service, "POST", "/api/v1/jobs/", "POST /api/v1/jobs/", expect=(201,), json=body
        )
        if created is None:
            return False
        routings = await self.recorder.poll(
            service,
            f"/api/v1/jobs/{created['id']}/routings",
            "GET /api/v1/jobs/{job_id}/routings",
            lambda rows: all(row["sync_status"] in ("synced", "completed") for row in rows),
        )
        return routings is not None

    async def timed(self, surface: str, flow: Callable[[int], Awaitable[bool]], n: int) -> None:
        started = time.perf_counter()
        try:
            ok = await flow(n)
        except Exception as exc:  # a body without the field the flow reads: counted, not fatal
            self.recorder.examples.setdefault(surface, repr(exc))
            ok = False
        self.recorder.flows[surface].append(time.perf_counter() - started if ok else None)

    async def steady(self, seconds: float) -> None:
        """Every flow at its rate for `seconds`, then every started flow to its end."""
        flows = {
            "000 batches": (1 / 20, self.batch),
            "001 registrations": (1.0, self.registration),
            "002 reports": (1.0, self.report),
            "003 submissions": (0.5, self.submission),
            "004 trade jobs": (2.0, self.trade_job),
        }
        started = time.perf_counter()
        schedule = sorted(
            (n / rate, surface, n)
            for surface, (rate, _) in flows.items()
            for n in range(max(1, int(seconds * rate)))
        )
        running = []
        for at, surface, n in schedule:
            await asyncio.sleep(max(0.0, started + at - time.perf_counter()))
            running.append(asyncio.create_task(self.timed(surface, flows[surface][1], n)))
        await asyncio.gather(*running)


# -- the processes and what they use --------------------------------------------------------


def _customers_file(directory: Path) -> Path:
    """The soak bank: `CUSTOMERS` customers, each with one usable MWK current account."""
    customers = [
        {
            "customer_number": str(1_000_000 + n),
            "name": f"Soak Customer {n}",
            "accounts": [
                {"ACCOUNT.ID": str(2_000_000_000 + n), "CATEGORY": "1001", "CURRENCY": "MWK"}
            ],
        }
        for n in range(CUSTOMERS)
    ]
    path = directory / "customers.json"
    path.write_text(json.dumps({"customers": customers}))
    return path


async def _people(url: str) -> tuple[str, str, str]:
    """An API key (admin scope), an owner's token and an admin's token."""
    database = Database(url)
    try:
        async with database.transaction() as session:
            owner = await auth_service.create_user(
                session,
                email="owner@soak.example",
                password="Soak-owner-1",  # noqa: S106 - a throwaway database
                name="Soak Owner",
                signup_completed=True,
            )
            admin = await auth_service.create_user(
                session,
                email="admin@soak.example",
                password="Soak-admin-1",  # noqa: S106 - a throwaway database
                name="Soak Admin",
                roles=(Role.USER, Role.ADMIN),
                signup_completed=True,
            )
            _, key = await auth_service.create_api_key(session, name="soak", scopes=["admin"])
    finally:
        await database.dispose()
    hours = timedelta(hours=2)
    owner_token = auth_service.issue_token(owner, secret=SECRET_KEY, lifetime=hours)
    admin_token = auth_service.issue_token(admin, secret=SECRET_KEY, lifetime=hours)
    return key, owner_token, admin_token


async def _companies(service: httpx.AsyncClient) -> tuple[str, str]:
    """`COMPANIES` companies with three skills each, and the requesting company's technician."""
    rng = random.Random(7)
    for n in range(COMPANIES):
        skills = rng.sample(SKILLS, 3)
        body = {
            "name": f"Soak Trades {n}",
            "skills": [
                {"name": skill, "level": rng.choice(["basic", "expert"])} for skill in skills
            ],
            "primary_skill": skills[0],
            "categories": rng.sample(CATEGORIES, 2),
            "provider_type": "mock",
        }
        (await service.post("/api/v1/companies", json=body)).raise_for_status()
    requester = await service.post(
        "/api/v1/companies",
        json={"name": "Soak Requester", "skills": [], "categories": [], "provider_type": "mock"},
    )
    requester.raise_for_status()
    company = requester.json()["id"]
    technician = await service.post(
        f"/api/v1/companies/{company}/technicians", json={"name": "Tess"}
    )
    technician.raise_for_status()
    return company, technician.json()["id"]


def _rss_mb(pid: int) -> float:
    """Resident memory of `pid` and its children (uvicorn's processes), in MB."""
    total = 0.0
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    for child in [pid, *map(int, children)]:
        try:
            status = Path(f"/proc/{child}/status").read_text()
        except OSError:
            continue
        kb = next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS"))
        total += int(kb) / 1024
    return round(total, 1)


DATABASE_SIZES = """
SELECT pg_database_size(current_database()) AS database_bytes,
       pg_total_relation_size('task') AS task_table_bytes,
       (SELECT count(*) FROM task) AS tasks,
       (SELECT coalesce(sum(size), 0) FROM pg_ls_waldir()) AS wal_directory_bytes,
       pg_wal_lsn_diff(pg_current_wal_lsn(), $1) AS wal_written_bytes
"""


async def _wal_limit(url: str) -> int:
    """What PostgreSQL may keep in pg_wal: max_wal_size plus wal_keep_size (both in MB)."""
    connection = await asyncpg.connect(url)
    try:
        megabytes = await connection.fetchval(
            "SELECT sum(setting::bigint) FROM pg_settings"
            " WHERE name IN ('max_wal_size', 'wal_keep_size')"
        )
    finally:
        await connection.close()
    return int(megabytes) * 1024 * 1024


async def _sample(
    url: str, pids: dict[str, int], started: float, stop: asyncio.Event
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Memory every 15 s and database sizes every 30 s until `stop`."""
    memory: list[dict[str, Any]] = []
    sizes: list[dict[str, Any]] = []
    connection = await asyncpg.connect(url)
    try:
        first_lsn = await connection.fetchval("SELECT pg_current_wal_lsn()")
        while not stop.is_set():
            second = round(time.perf_counter() - started)
            memory.append({"second": second} | {name: _rss_mb(pid) for name, pid in pids.items()})
            if not sizes or second - sizes[-1]["second"] >= DATABASE_EVERY_SECONDS:
                row = await connection.fetchrow(DATABASE_SIZES, first_lsn)
                sizes.append({"second": second} | {k: int(v) for k, v in row.items()})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), MEMORY_EVERY_SECONDS)
    finally:
        await connection.close()
    return memory, sizes


def _percentile(samples: list[float], cut: int) -> float:
    if len(samples) < 2:
        return round(samples[0], 1) if samples else 0.0
    return round(statistics.quantiles(samples, n=100, method="inclusive")[cut - 1], 1)


def _ceiling(base_url: str, soak: Soak, key: str) -> list[dict[str, Any]]:
    """The polling endpoints against the bare one, each under wrk on the same server."""
    targets = {"GET /api/v1/health/live (bare)": "/api/v1/health/live", **soak.recorder.polled}
    return [
        {"endpoint": label, **wrk(base_url + path, headers={"X-API-Key": key})}
        for label, path in targets.items()
    ]


async def measure(log: BinaryIO) -> dict[str, Any]:
    """The soak, its samples and the ceiling; the processes write their logs to `log`."""
    server = Postgres(os.environ.get("CONVEYOR_BENCH_DATABASE_URL", DEFAULT_PG))
    url = await server.fresh_database("conveyor_bench_soak")
    await asyncio.to_thread(migrations.upgrade, url)
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            "CONVEYOR_ENV": "production",
            "CONVEYOR_SECRET_KEY": SECRET_KEY,
            "CONVEYOR_DATABASE_URL": url,
            "CONVEYOR_REDIS_URL": REDIS_URL,
            "CONVEYOR_RATE_LIMITS_ENABLED": "false",  # one client stands in for many callers
            "CONVEYOR_EMBEDDED_WORKER": "false",
            "CONVEYOR_T24_CUSTOMERS_FILE": str(_customers_file(Path(tmp))),
        }
        key, owner_token, admin_token = await _people(url)
        with (
            served_process(env, stderr=log, options=("--processes", str(API_PROCESSES))) as (
                base_url,
                api,
            ),
            worker_processes(
                env, count=WORKERS, concurrency=WORKER_CONCURRENCY, stderr=log
            ) as workers,
        ):

            def client(headers: dict[str, str]) -> httpx.AsyncClient:
                return httpx.AsyncClient(base_url=base_url, timeout=30, headers=headers)

            async with (
                client({"X-API-Key": key}) as service,
                client({"Authorization": f"Bearer {owner_token}"}) as owner,
                client({"Authorization": f"Bearer {admin_token}"}) as admin,
            ):
                requester, technician = await _companies(service)
                soak = Soak(Clients(service, owner, admin), requester, technician)
                pids = {"api_mb": api.pid} | {
                    f"worker{n + 1}_mb": w.pid for n, w in enumerate(workers)
                }
                started, stop = time.perf_counter(), asyncio.Event()
                sampler = asyncio.create_task(_sample(url, pids, started, stop))
                await soak.steady(SECONDS)
                elapsed = time.perf_counter() - started
                stop.set()
                memory, sizes = await sampler
                wal_limit = await _wal_limit(url)
            ceiling = await asyncio.to_thread(_ceiling, base_url, soak, key)
    recorder = soak.recorder
    return {
        "seconds": SECONDS,
        "elapsed_seconds": round(elapsed),
        "endpoints": [
            {
                "endpoint": label,
                "requests": len(samples),
                "errors": recorder.errors[label],
                "p50_ms": _percentile(samples, 50),
                "p99_ms": _percentile(samples, 99),
            }
            for label, samples in sorted(recorder.latencies.items())
        ],
        "flows": [
            {
                "surface": surface,
                "started": len(outcomes),
                "as_expected": len(done := [s for s in outcomes if s is not None]),
                "done_p50_s": _percentile(done, 50),
                "done_p99_s": _percentile(done, 99),
            }
            for surface, outcomes in sorted(recorder.flows.items())
        ],
        "unexpected": recorder.examples,
        "wal_limit_bytes": wal_limit,
        "memory": memory,
        "database": sizes,
        "ceiling": ceiling,
    }


def _table(title: str, rows: list[dict[str, Any]]) -> Table:
    table = Table(title=title)
    for column in rows[0]:
        table.add_column(column)
    for row in rows:
        table.add_row(*(f"{v:,}" if isinstance(v, int) else str(v) for v in row.values()))
    return table


def memory_summary(memory: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per process: RSS once warm (the first sample after a minute), at the end, and the most."""
    warm = next((row for row in memory if row["second"] >= 60), memory[0])
    return [
        {
            "process": name.removesuffix("_mb"),
            "warm_mb": warm[name],
            "end_mb": memory[-1][name],
            "max_mb": max(row[name] for row in memory),
        }
        for name in memory[0]
        if name != "second"
    ]


def problems(result: dict[str, Any]) -> list[str]:
    """What fails the soak: errors, flows that did not end as expected, memory that grew (on
    runs of two minutes or more: before, start-up is still under way), a WAL directory beyond
    what PostgreSQL is set to keep, errors in the processes' logs."""
    found = []
    requests = sum(row["requests"] for row in result["endpoints"])
    errors = sum(row["errors"] for row in result["endpoints"])
    if errors > requests * MAX_ERROR_RATE:
        found.append(f"{errors} errors in {requests} requests (at most {MAX_ERROR_RATE:.1%})")
    for row in result["flows"]:
        if row["as_expected"] < row["started"] * MIN_FLOWS_AS_EXPECTED:
            ended = f"{row['as_expected']} of {row['started']}"
            found.append(f"{row['surface']}: {ended} flows ended as expected")
    for row in memory_summary(result["memory"]) if result["seconds"] >= 120 else []:
        if row["end_mb"] > row["warm_mb"] * MAX_MEMORY_GROWTH:
            found.append(f"{row['process']} grew from {row['warm_mb']} MB to {row['end_mb']} MB")
    wal = result["database"][-1]["wal_directory_bytes"]
    if wal > result["wal_limit_bytes"]:
        found.append(f"the WAL directory holds {wal:,} bytes, over {result['wal_limit_bytes']:,}")
    if result["logged_errors"]:
        found.append(f"{result['logged_errors']} errors logged by the API and worker processes")
    return found


def run() -> list[dict[str, Any]]:
    LOG.parent.mkdir(exist_ok=True)
    with LOG.open("wb") as log:
        result = asyncio.run(measure(log))
    result["logged_errors"] = LOG.read_text(errors="replace").count('"level": "error"')
    console = Console(width=140)
    minutes = f"{result['elapsed_seconds'] / 60:.1f} min"
    console.print(_table(f"Soak on PostgreSQL + Redis, {minutes}: endpoints", result["endpoints"]))
    console.print(_table("Flows, from the first request to done", result["flows"]))
    console.print(_table("Memory (RSS)", memory_summary(result["memory"])))
    console.print(_table("Database", [result["database"][0], result["database"][-1]]))
    console.print(
        _table("Polling endpoints against a bare one (wrk, 16 connections)", result["ceiling"])
    )
    for label, problem in result["unexpected"].items():
        console.print(f"first unexpected answer of {label}: {problem}")
    console.print(f"errors logged by the API and worker processes: {result['logged_errors']}")
    if os.environ.get("BENCH_SOAK_SECONDS"):
        print("BENCH_SOAK_SECONDS set: a partial run, results not written")
    else:
        print(f"written to {write_results('soak', [result])}")
    if found := problems(result):
        raise SystemExit("soak failed:\n" + "\n".join(f"- {problem}" for problem in found))
    console.print("soak passed: no growth, errors within bounds")
    return [result]


if __name__ == "__main__":
    run()
