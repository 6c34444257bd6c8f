"""Document 004 (job routing and point-of-sale sync), example by example: create a job, read
it, list jobs, its routings, a manual sync, the four health checks, the error format, the
rate-limit headers, the metrics, the log lines, the outbox event, and the closing curl
examples. The
document's base URL `http://localhost:8000/api/v1` is where the service mounts it.

The document's examples name companies and technicians that must exist; they are made
through the service's company endpoints (docs/spec-decisions.md, 004 "Companies and
technicians have no endpoints in the document").
"""

import json
import re
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from conveyor import __version__
from conveyor.config import Settings
from conveyor.database import Database
from conveyor.observability import configure_logging
from conveyor.routing import service
from conveyor.routing.providers import MockPointOfSale
from conveyor.tasks import Task, Worker
from tests.contract.conftest import TEXT, Like, assert_like, exactly, fill
from tests.routing.factories import create_company, create_technician
from tests.support import REDIS_URL, make_settings
from tests.tasks.conftest import FAST, running, wait_for

URL = "/api/v1"

# The document's examples, as printed there.
CREATE_JOB: dict[str, Any] = {
    "summary": "Kitchen faucet replacement needed urgently",
    "address": {"street": "123 Main Street", "city": "Anytown", "state": "CA", "zip_code": "90210"},
    "homeowner": {"name": "John Doe", "phone": "(555) 123-4567", "email": "john.doe@email.com"},
    "created_by_company_id": "uuid-of-requesting-company",
    "created_by_technician_id": "uuid-of-identifying-technician",
    "required_skills": ["plumbing", "electrical"],
    "skill_levels": {"plumbing": "expert", "electrical": "intermediate"},
    "category": "plumbing",
}
JOB: dict[str, Any] = {
    "id": "job-uuid-here",
    "summary": "Kitchen faucet replacement needed urgently",
    "address": {"street": "123 Main Street", "city": "Anytown", "state": "CA", "zip_code": "90210"},
    "homeowner": {"name": "John Doe", "phone": "(555) 123-4567", "email": "john.doe@email.com"},
    "created_by_company_id": "uuid-of-requesting-company",
    "created_by_technician_id": "uuid-of-identifying-technician",
    "status": "pending",
    "revenue": None,
    "completed_at": None,
    "created_at": "2025-08-27T16:00:00Z",
    "updated_at": "2025-08-27T16:00:00Z",
}
# The list example abbreviates `address` and `homeowner` as `{...}`; they are filled in from
# the jobs the setup made.
JOB_LIST: list[dict[str, Any]] = [
    {
        "id": "job-uuid-1",
        "summary": "Kitchen faucet replacement needed urgently",
        "address": ...,
        "homeowner": ...,
        "created_by_company_id": "uuid-1",
        "created_by_technician_id": "uuid-1",
        "status": "pending",
        "revenue": None,
        "completed_at": None,
        "created_at": "2025-08-27T16:00:00Z",
        "updated_at": "2025-08-27T16:00:00Z",
    },
    {
        "id": "job-uuid-2",
        "summary": "HVAC system maintenance and inspection",
        "address": ...,
        "homeowner": ...,
        "created_by_company_id": "uuid-2",
        "created_by_technician_id": "uuid-2",
        "status": "completed",
        "revenue": 450.00,
        "completed_at": "2025-08-27T18:00:00Z",
        "created_at": "2025-08-27T16:00:00Z",
        "updated_at": "2025-08-27T18:00:00Z",
    },
]
ROUTINGS: list[dict[str, Any]] = [
    {
        "id": "routing-uuid-1",
        "job_id": "job-uuid-here",
        "company_id_received": "company-uuid-1",
        "external_id": "st-12345",
        "sync_status": "synced",
        "retry_count": 0,
        "last_sync_attempt": "2025-08-27T16:01:00Z",
        "last_synced_at": "2025-08-27T16:01:00Z",
        "error_message": None,
        "created_at": "2025-08-27T16:00:00Z",
        "updated_at": "2025-08-27T16:01:00Z",
    },
    {
        "id": "routing-uuid-2",
        "job_id": "job-uuid-here",
        "company_id_received": "company-uuid-2",
        "external_id": None,
        "sync_status": "pending",
        "retry_count": 0,
        "last_sync_attempt": None,
        "last_synced_at": None,
        "error_message": None,
        "created_at": "2025-08-27T16:00:00Z",
        "updated_at": "2025-08-27T16:00:00Z",
    },
]
SYNC = {"company_id": "company-uuid-here"}
SYNCED: dict[str, Any] = {
    "id": "routing-uuid-here",
    "job_id": "job-uuid-here",
    "company_id_received": "company-uuid-here",
    "external_id": "st-12345",
    "sync_status": "synced",
    "retry_count": 0,
    "last_sync_attempt": "2025-08-27T16:01:00Z",
    "last_synced_at": "2025-08-27T16:01:00Z",
    "error_message": None,
    "created_at": "2025-08-27T16:00:00Z",
    "updated_at": "2025-08-27T16:01:00Z",
}
HEALTH = {"status": "healthy", "timestamp": "2025-08-27T16:00:00Z", "version": "1.0.0"}
DETAILED: dict[str, Any] = {
    "status": "healthy",
    "timestamp": "2025-08-27T16:00:00Z",
    "version": "1.0.0",
    "components": {
        "database": {"status": "healthy", "response_time": "15ms"},
        "redis": {"status": "healthy", "response_time": "2ms"},
        "external_apis": {
            "status": "healthy",
            "providers": {"servicetitan": "healthy", "mock": "healthy"},
        },
    },
}
READY = {"status": "ready", "timestamp": "2025-08-27T16:00:00Z"}
LIVE = {"status": "alive", "timestamp": "2025-08-27T16:00:00Z"}
ERROR = {
    "detail": "Error message description",
    "error_code": "ERROR_CODE",
    "timestamp": "2025-08-27T16:00:00Z",
}
RATE_LIMIT_HEADERS = {
    "X-RateLimit-Limit": "100",
    "X-RateLimit-Remaining": "95",
    "X-RateLimit-Reset": "1640995200",
}
METRICS = [
    "job_creation_total",
    "job_routing_total",
    "sync_success_total",
    "sync_failure_total",
    "api_request_duration_seconds",
    "queue_depth",
]
LOG_LINE: dict[str, Any] = {
    "level": "INFO",
    "message": "Job created successfully",
    "method": "POST",
    "path": "/api/v1/jobs/",
    "status_code": 201,
    "response_time_ms": 245,
    "job_id": "uuid-here",
    "matching_score": 4.5,
    "correlation_id": "req-123",
}
OUTBOX_EVENT: dict[str, Any] = {
    "event_type": "job_sync",
    "aggregate_id": "routing-uuid",
    "event_data": {
        "routing_id": "routing-uuid",
        "job_id": "job-uuid",
        "company_id": "company-uuid",
        "matching_score": 4.5,
        "matched_skills": ["plumbing"],
        "provider_type": "servicetitan",
    },
}
# "Complete Job Creation Flow", step 1's body.
CURL_CREATE: dict[str, Any] = {
    "summary": "Fix leaky kitchen faucet",
    "address": {
        "street": "456 Oak Avenue",
        "city": "Springfield",
        "state": "IL",
        "zip_code": "62701",
    },
    "homeowner": {"name": "Jane Smith", "phone": "(555) 987-6543", "email": "jane.smith@email.com"},
    "created_by_company_id": "company-uuid-here",
    "created_by_technician_id": "technician-uuid-here",
    "required_skills": ["plumbing"],
    "skill_levels": {"plumbing": "expert"},
    "category": "plumbing",
}

# Job answers also carry the Job Schema's `required_skills`, `skill_levels` and `category`
# (docs/spec-decisions.md, 004 "What do job answers contain beyond the example?").
JOB_EXTRAS = {"required_skills", "skill_levels", "category"}
# The mock point of sale's booking reference: the example's `st-12345` is ServiceTitan's.
MOCK_REFERENCE = Like(
    "a mock booking reference",
    lambda value: isinstance(value, str) and bool(re.fullmatch(r"mock-[0-9a-f]{12}", value)),
)


@pytest.fixture
def settings(database_url: str) -> Settings:
    """The documented limits stay on (this module checks their headers); the few requests of
    each test stay well inside them. The mock point of sale answers at once."""
    return make_settings(database_url, redis_url=REDIS_URL, mock_pos_latency_ms=0)


@pytest.fixture
async def setup(client: httpx.AsyncClient) -> dict[str, str]:
    """What the examples assume: a requesting company and its technician, and two companies
    the example job matches (one for each of its skills)."""
    requester = await create_company(client, name="Finder Co", skills={"general": "basic"})
    technician = await create_technician(client, requester["id"])
    plumbers = await create_company(
        client,
        name="Pipe Pros",
        skills={"plumbing": "expert", "electrical": "intermediate"},
        primary_skill="plumbing",
        categories=["plumbing"],
    )
    electricians = await create_company(client, name="Sparky", skills={"electrical": "expert"})
    return {
        "uuid-of-requesting-company": requester["id"],
        "uuid-of-identifying-technician": technician["id"],
        "company-uuid-1": plumbers["id"],
        "company-uuid-2": electricians["id"],
    }


async def _create(client: httpx.AsyncClient, body: dict[str, Any]) -> httpx.Response:
    response = await client.post(f"{URL}/jobs/", json=body)
    assert response.status_code == 201, response.text
    return response


# --- jobs -----------------------------------------------------------------------------------


async def test_create_job_with_intelligent_matching(
    client: httpx.AsyncClient, setup: dict[str, str]
) -> None:
    response = await _create(client, fill(CREATE_JOB, setup))
    assert_like(response.json(), JOB, ids=setup, extra=JOB_EXTRAS)
    job = response.json()
    assert (job["required_skills"], job["skill_levels"], job["category"]) == (
        ["plumbing", "electrical"],
        {"plumbing": "expert", "electrical": "intermediate"},
        "plumbing",
    )
    # "Automatic Routing: creates routings for matched companies (excluding requesting company)"
    routed = (await client.get(f"{URL}/jobs/{job['id']}/routings")).json()
    assert [r["company_id_received"] for r in routed] == [
        setup["company-uuid-1"],
        setup["company-uuid-2"],
    ]


async def test_get_job_details(client: httpx.AsyncClient, setup: dict[str, str]) -> None:
    created = (await _create(client, fill(CREATE_JOB, setup))).json()
    response = await client.get(f"{URL}/jobs/{created['id']}")
    assert response.status_code == 200
    assert_like(
        response.json(), JOB, ids={**setup, "job-uuid-here": created["id"]}, extra=JOB_EXTRAS
    )
    assert response.json() == created


async def test_list_all_jobs(
    client: httpx.AsyncClient, setup: dict[str, str], database: Database
) -> None:
    # The example's second job: HVAC work from another company, done, for 450.00.
    other = await create_company(client, name="Second Finder", skills={"general": "basic"})
    other_technician = await create_technician(client, other["id"])
    hvac_company = await create_company(client, name="Cool Air", skills={"hvac": "expert"})
    hvac_body = {
        **fill(CREATE_JOB, setup),
        "summary": "HVAC system maintenance and inspection",
        "created_by_company_id": other["id"],
        "created_by_technician_id": other_technician["id"],
        "required_skills": ["hvac"],
        "skill_levels": {"hvac": "expert"},
        "category": "HVAC",
    }
    hvac = (await _create(client, hvac_body)).json()
    synced = await client.post(
        f"{URL}/jobs/{hvac['id']}/sync", json={"company_id": hvac_company["id"]}
    )
    async with database.transaction() as session:  # the point of sale reports the work done
        await service.complete_routing(session, uuid.UUID(synced.json()["id"]), Decimal("450.00"))
    kitchen = (await _create(client, fill(CREATE_JOB, setup))).json()

    response = await client.get(f"{URL}/jobs/", params={"skip": 0, "limit": 100})
    assert response.status_code == 200
    # The example's `uuid-1` names a company and a technician alike: each is its own here.
    expected = [
        {
            **JOB_LIST[0],
            "address": kitchen["address"],
            "homeowner": kitchen["homeowner"],
            "created_by_company_id": exactly(setup["uuid-of-requesting-company"]),
            "created_by_technician_id": exactly(setup["uuid-of-identifying-technician"]),
        },
        {
            **JOB_LIST[1],
            "address": hvac["address"],
            "homeowner": hvac["homeowner"],
            "created_by_company_id": exactly(other["id"]),
            "created_by_technician_id": exactly(other_technician["id"]),
        },
    ]
    answer = response.json()
    # Newest first (docs/spec-decisions.md, 004 "Order of GET /jobs/"), the example's order.
    assert_like(
        answer,
        expected,
        ids={"job-uuid-1": kitchen["id"], "job-uuid-2": hvac["id"]},
        extra={f"[].{field}" for field in JOB_EXTRAS},
    )
    assert answer[1]["category"] == "hvac"  # stored normalised (spec-decisions, 004)
    assert answer == (await client.get(f"{URL}/jobs/")).json()  # skip 0, limit 100: defaults


# --- job routings ---------------------------------------------------------------------------


async def test_get_job_routings(client: httpx.AsyncClient, setup: dict[str, str]) -> None:
    job = (await _create(client, fill(CREATE_JOB, setup))).json()
    # The example's first routing has been synced; the second is still waiting.
    await client.post(f"{URL}/jobs/{job['id']}/sync", json={"company_id": setup["company-uuid-1"]})
    response = await client.get(f"{URL}/jobs/{job['id']}/routings")
    assert response.status_code == 200
    routings = [{**ROUTINGS[0], "external_id": MOCK_REFERENCE}, ROUTINGS[1]]
    # The examples' fields exactly: not the schema's `claimed_at` (docs/spec-decisions.md, 004
    # "`claimed_at` (in the Job Routing Schema, in no example)").
    assert_like(response.json(), routings, ids={**setup, "job-uuid-here": job["id"]})


async def test_sync_job_to_company(client: httpx.AsyncClient, setup: dict[str, str]) -> None:
    job = (await _create(client, fill(CREATE_JOB, setup))).json()
    ids = {**setup, "job-uuid-here": job["id"], "company-uuid-here": setup["company-uuid-2"]}
    response = await client.post(f"{URL}/jobs/{job['id']}/sync", json=fill(SYNC, ids))
    assert response.status_code == 200
    assert_like(response.json(), {**SYNCED, "external_id": MOCK_REFERENCE}, ids=ids)


# --- health checks --------------------------------------------------------------------------


async def test_basic_health_check(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{URL}/health")
    assert response.status_code == 200
    # `version` is the running release's (the example's 1.0.0 is a sample).
    assert_like(response.json(), {**HEALTH, "version": exactly(__version__)})


async def test_detailed_health_check(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{URL}/health/detailed")
    assert response.status_code == 200
    expected = {**DETAILED, "version": exactly(__version__)}
    milliseconds = Like("a time in ms", lambda v: bool(re.fullmatch(r"\d+ms", v)))
    components = expected["components"] = {**DETAILED["components"]}
    components["database"] = {"status": "healthy", "response_time": milliseconds}
    if REDIS_URL:
        components["redis"] = {"status": "healthy", "response_time": milliseconds}
    else:  # docs/spec-decisions.md, 004 "... about Redis when none is configured?"
        components["redis"] = {"status": "not_configured"}
    assert_like(response.json(), expected)


async def test_readiness_probe(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{URL}/health/ready")
    assert response.status_code == 200
    assert_like(response.json(), READY)


async def test_liveness_probe(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{URL}/health/live")
    assert response.status_code == 200
    assert_like(response.json(), LIVE)


# --- error handling -------------------------------------------------------------------------


def _error(code: str) -> dict[str, Any]:
    return {**ERROR, "detail": TEXT, "error_code": code}


async def test_error_response_format_and_codes(
    client: httpx.AsyncClient, setup: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    job = (await _create(client, fill(CREATE_JOB, setup))).json()

    invalid = fill(CREATE_JOB, setup)
    invalid["address"] = {**invalid["address"], "state": "California"}
    refused = await client.post(f"{URL}/jobs/", json=invalid)
    assert refused.status_code == 422  # "422 Unprocessable Entity: Validation error"
    assert_like(refused.json(), _error("VALIDATION_ERROR"))
    assert "address.state" in refused.json()["detail"]

    # "400 Bad Request: Invalid input": a job is never synced back to its requester
    # (docs/spec-decisions.md, 004 "POST /jobs/{job_id}/sync for the requesting company ...").
    back = await client.post(
        f"{URL}/jobs/{job['id']}/sync", json={"company_id": setup["uuid-of-requesting-company"]}
    )
    assert back.status_code == 400
    assert_like(back.json(), _error("VALIDATION_ERROR"))

    missing = await client.get(f"{URL}/jobs/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert_like(missing.json(), _error("NOT_FOUND"))

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the database fell over")

    monkeypatch.setattr(service, "get_job", broken)
    failed = await client.get(f"{URL}/jobs/{job['id']}")
    assert failed.status_code == 500
    # docs/spec-decisions.md, 004 "Error body for a 500?": a reference, never the cause.
    assert_like(failed.json(), _error("INTERNAL_ERROR"))
    assert "fell over" not in failed.text


async def test_a_refused_sync_is_sync_error(
    client: httpx.AsyncClient, setup: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    job = (await _create(client, fill(CREATE_JOB, setup))).json()
    monkeypatch.setattr(service, "MockPointOfSale", _RefusingPointOfSale)
    refused = await client.post(
        f"{URL}/jobs/{job['id']}/sync", json={"company_id": setup["company-uuid-2"]}
    )
    routings = (await client.get(f"{URL}/jobs/{job['id']}/routings")).json()
    assert routings[1]["error_message"] == "mock point of sale refused the booking (attempt 1)"
    # 502: the provider, not the request or the service, failed (docs/spec-decisions.md).
    assert refused.status_code == 502
    assert_like(refused.json(), _error("SYNC_ERROR"))


async def test_a_refused_sync_to_a_new_company_is_retried(
    client: httpx.AsyncClient,
    setup: dict[str, str],
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job = (await _create(client, fill(CREATE_JOB, setup))).json()
    newcomer = await create_company(client, name="Late Plumbing", skills={"roofing": "basic"})
    monkeypatch.setattr(service, "MockPointOfSale", _RefusingPointOfSale)
    refused = await client.post(f"{URL}/jobs/{job['id']}/sync", json={"company_id": newcomer["id"]})
    assert refused.json()["error_code"] == "SYNC_ERROR"
    routings = (await client.get(f"{URL}/jobs/{job['id']}/routings")).json()
    (routing,) = [r for r in routings if r["company_id_received"] == newcomer["id"]]
    assert routing["error_message"] == "mock point of sale refused the booking (attempt 1)"
    async with database.read() as session:
        queued = (
            (await session.execute(select(Task).where(Task.name == "routing.sync"))).scalars().all()
        )
    # "Retry Logic: Automatic retry with exponential backoff"
    assert routing["id"] in {task.payload["routing_id"] for task in queued}


class _RefusingPointOfSale(MockPointOfSale):
    """The mock point of sale, refusing every booking."""

    def __init__(self, **settings: Any) -> None:
        super().__init__(**{**settings, "failure_rate": 1.0})


# --- rate limiting, metrics, outbox events --------------------------------------------------


async def test_rate_limit_headers(client: httpx.AsyncClient, setup: dict[str, str]) -> None:
    created = await _create(client, fill(CREATE_JOB, setup))
    shown = await client.get(f"{URL}/jobs/{created.json()['id']}")
    missing = await client.get(f"{URL}/jobs/{uuid.uuid4()}")  # errors are responses too
    assert missing.status_code == 404
    for response, limit in ((shown, 100), (missing, 100), (created, 10)):
        headers = {name: response.headers.get(name) for name in RATE_LIMIT_HEADERS}
        # Setup: the limit of the route (default; job creation), what is left of it, and when
        # the current minute's window ends.
        expected = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": _digits("the requests left", lambda n, limit=limit: n < limit),
            "X-RateLimit-Reset": _digits("a Unix time ahead", lambda n: n >= time.time()),
        }
        assert_like(headers, expected)
        assert set(expected) == set(RATE_LIMIT_HEADERS)
    health = await client.get(f"{URL}/health")  # "Health Checks: No rate limiting"
    assert "X-RateLimit-Limit" not in health.headers


def _digits(what: str, check: Callable[[int], bool]) -> Like:
    return Like(
        what, lambda value: isinstance(value, str) and value.isdigit() and check(int(value))
    )


async def test_prometheus_metrics(client: httpx.AsyncClient, setup: dict[str, str]) -> None:
    await _create(client, fill(CREATE_JOB, setup))
    response = await client.get("/metrics")
    assert response.status_code == 200
    described = set(re.findall(r"^# HELP (\S+) ", response.text, flags=re.MULTILINE))
    assert set(METRICS) <= described


async def test_outbox_event(
    client: httpx.AsyncClient, setup: dict[str, str], database: Database
) -> None:
    job = (await _create(client, fill(CURL_CREATE, {**setup, **_curl_ids(setup)}))).json()
    (routing,) = (await client.get(f"{URL}/jobs/{job['id']}/routings")).json()
    async with database.read() as session:
        (task,) = (
            (await session.execute(select(Task).where(Task.name == "routing.sync"))).scalars().all()
        )
    # The outbox event is a `routing.sync` task: its payload is the event's `event_data`, the
    # routing is its aggregate (docs/spec-decisions.md, 004 "The outbox event `job_sync`").
    event = {"event_type": "job_sync", "aggregate_id": routing["id"], "event_data": task.payload}
    assert task.name == "routing.sync"
    assert_like(
        event,
        {
            **OUTBOX_EVENT,
            "event_data": {
                **OUTBOX_EVENT["event_data"],
                # Pipe Pros' score by the matching rules: plumbing at the level asked (3),
                # its primary skill (+1.5), the job's category (+0.5), a configured point of
                # sale (+0.3); it uses the mock one.
                "matching_score": 5.3,
                "provider_type": "mock",
            },
        },
        ids={
            "routing-uuid": routing["id"],
            "job-uuid": job["id"],
            "company-uuid": setup["company-uuid-1"],
        },
    )


# --- "Examples" -----------------------------------------------------------------------------


def _curl_ids(setup: dict[str, str]) -> dict[str, str]:
    return {
        "company-uuid-here": setup["uuid-of-requesting-company"],
        "technician-uuid-here": setup["uuid-of-identifying-technician"],
    }


async def test_complete_job_creation_flow(
    client: httpx.AsyncClient, setup: dict[str, str], database: Database, settings: Settings
) -> None:
    ids = {**setup, **_curl_ids(setup)}
    # 1. Create a job with plumbing skills
    created = await client.post(f"{URL}/jobs/", json=fill(CURL_CREATE, ids))
    assert created.status_code == 201
    job = created.json()
    answer = {key: CURL_CREATE[key] for key in ("summary", "address", "homeowner")}
    assert_like(
        job,
        {
            **JOB,
            **answer,
            "created_by_company_id": "company-uuid-here",
            "created_by_technician_id": "technician-uuid-here",
        },
        ids=ids,
        extra=JOB_EXTRAS,
    )
    # 2. Check job routings: Pipe Pros plumbs; Sparky does not, so it is not a candidate.
    ids["job-uuid-here"] = job["id"]
    routings = await client.get(f"{URL}/jobs/{job['id']}/routings")
    assert_like(
        routings.json(), [ROUTINGS[1]], ids={**ids, "company-uuid-2": setup["company-uuid-1"]}
    )
    # 3. Monitor sync status: a worker syncs the routing.
    async with running(Worker(database, FAST, settings=settings)):
        await wait_for(lambda: _synced(client, job["id"]))
    synced = await client.get(f"{URL}/jobs/{job['id']}/routings")
    assert_like(synced.json(), [{**ROUTINGS[0], "external_id": MOCK_REFERENCE}], ids=ids)


async def _synced(client: httpx.AsyncClient, job_id: str) -> bool:
    routings = (await client.get(f"{URL}/jobs/{job_id}/routings")).json()
    return all(routing["sync_status"] == "synced" for routing in routings)


async def test_health_monitoring(client: httpx.AsyncClient) -> None:
    for path, example in (
        ("/health", HEALTH),
        ("/health/detailed", DETAILED),
        ("/health/ready", READY),
        ("/health/live", LIVE),
    ):
        response = await client.get(URL + path)
        assert response.status_code == 200, path
        assert response.json()["status"] == example["status"]


async def test_structured_logging(
    client: httpx.AsyncClient, setup: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(level="INFO", json_format=True)
    headers = {"X-Request-ID": "req-123"}
    await client.post(f"{URL}/jobs/", json=fill(CREATE_JOB, setup), headers=headers)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.strip()]
    # The example's one line is two, joined by the correlation id: the job's event and the
    # request's; the text is under `event`, the level lower-case (docs/spec-decisions.md, 004
    # "The structured logging example ...").
    events = {line["event"]: line for line in lines if line.get("correlation_id") == "req-123"}
    example = LOG_LINE
    common = {
        "level": "info",
        "correlation_id": exactly("req-123"),
        "logger": TEXT,
        "timestamp": "2025-08-27T16:00:00Z",
    }
    assert_like(
        events["Job created successfully"],
        {
            **common,
            "event": example["message"],
            "job_id": example["job_id"],
            # Setup: the best match's score (Pipe Pros' for this job and these companies).
            "matching_score": Like("a score", lambda value: isinstance(value, float)),
            "routings": 2,
        },
    )
    assert_like(
        events["request"],
        {
            **common,
            "event": "request",
            **{key: example[key] for key in ("method", "path", "status_code")},
            "response_time_ms": Like("a duration", lambda value: value >= 0),
        },
    )
