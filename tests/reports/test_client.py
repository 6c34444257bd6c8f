"""`conveyor.reports.client`: the document's polling guidance, and the client against the app."""

import json
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import pytest

from conveyor.reports.client import (
    JobFailed,
    JobNotFound,
    PollingBackoff,
    PollingTimedOut,
    ReportsClient,
    RequestRefused,
)
from conveyor.tasks import Worker
from tests.reports.conftest import SESSION, b64, put_context

WorkerFactory = Callable[..., AbstractAsyncContextManager[Worker]]
JOB_ID = "550e8400-e29b-41d4-a716-446655440000"
PROCESSING = {
    "status": "processing",
    "message": "Job processing",
    "data": {"job_id": JOB_ID, "status": "processing"},
}
READY = {
    "status": "ready",
    "message": "Job completed",
    "data": {
        "job_id": JOB_ID,
        "status": "completed",
        "result": {
            "customer_id": "c",
            "opportunity_id": "o",
            "section_title": "Executive Summary",
            "generated_section_b64": b64("## Executive Summary\n\nDone.\n"),
        },
    },
}


class FakeTime:
    """A clock that moves only when the client sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.naps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.naps.append(seconds)
        self.now += seconds


def _client(
    answers: list[tuple[int, dict[str, Any]]], time: FakeTime, **options: Any
) -> ReportsClient:
    sent: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        status, body = answers[min(len(sent), len(answers)) - 1]
        return httpx.Response(status, json=body, headers={"location": f"/status/{JOB_ID}"})

    http = httpx.AsyncClient(transport=httpx.MockTransport(handle), base_url="http://reports")
    client = ReportsClient(
        "/api/reports",
        api_key="key",
        session_id=SESSION,
        http=http,
        sleep=time.sleep,
        clock=time.clock,
        **options,
    )
    client.sent = sent  # type: ignore[attr-defined]
    return client


def test_the_backoff_is_the_documents() -> None:
    delays = PollingBackoff().delays()
    assert [next(delays) for _ in range(9)] == [1, 1.5, 2.25, 3.375, 5.0625, 7.59375, 10, 10, 10]


async def test_wait_polls_with_the_backoff_until_ready() -> None:
    time = FakeTime()
    client = _client([(200, PROCESSING)] * 6 + [(200, READY)], time)
    section = await client.wait(JOB_ID)
    assert section.markdown == "## Executive Summary\n\nDone.\n"
    assert section.section_title == "Executive Summary"
    assert time.naps == [1, 1.5, 2.25, 3.375, 5.0625, 7.59375, 10]
    sent = client.sent  # type: ignore[attr-defined]
    assert {request.url.path for request in sent} == {f"/api/reports/status/{JOB_ID}"}
    assert all(request.headers["X-API-Key"] == "key" for request in sent)
    assert all("Session-Id" not in request.headers for request in sent)


async def test_wait_gives_up_after_max_wait() -> None:
    time = FakeTime()
    client = _client([(200, PROCESSING)], time, max_wait=30)
    with pytest.raises(PollingTimedOut, match="did not finish within 30 s"):
        await client.wait(JOB_ID)
    assert sum(time.naps) >= 30
    assert sum(time.naps[:-1]) < 30


async def test_a_failed_job_raises_with_its_error() -> None:
    failed = {
        "status": "error",
        "message": "Job failed",
        "data": {
            "job_id": JOB_ID,
            "status": "failed",
            "error": {"error_code": "TIMEOUT", "message": "Too slow"},
        },
    }
    with pytest.raises(JobFailed) as raised:
        await _client([(200, failed)], FakeTime()).wait(JOB_ID)
    assert (raised.value.error_code, raised.value.message) == ("TIMEOUT", "Too slow")


async def test_a_lost_job_is_not_found() -> None:
    lost = {
        "status": "error",
        "message": f"Job {JOB_ID} not found",
        "data": {"error_code": "JOB_NOT_FOUND"},
    }
    with pytest.raises(JobNotFound, match="not found"):
        await _client([(200, PROCESSING), (404, lost)], FakeTime()).wait(JOB_ID)


async def test_a_refused_start_says_why() -> None:
    refused = {
        "status": "error",
        "message": "Session-Id is required",
        "data": {"error_code": "BAD_REQUEST", "path": "/api/reports/generate"},
    }
    client = _client([(400, refused)], FakeTime())
    with pytest.raises(RequestRefused) as raised:
        await client.start_generation(
            type="Technical_scope", customer_id="c", opportunity_id="o", section_title="x"
        )
    assert (raised.value.status_code, raised.value.error_code) == (400, "BAD_REQUEST")
    assert raised.value.message == "Session-Id is required"


async def test_starting_sends_the_headers_and_reports_busy() -> None:
    busy = {
        "status": "busy",
        "message": "Request is busy",
        "data": {"job_id": JOB_ID, "status": "pending", "ready": False, "request_id": JOB_ID},
    }
    client = _client([(202, busy)], FakeTime())
    started = await client.start_refinement(
        type="Technical_scope",
        customer_id="c",
        opportunity_id="o",
        section_title="Executive Summary",
        text="## Café\n",
        prompt="shorter",
    )
    assert (started.job_id, started.busy, started.status_url) == (JOB_ID, True, f"/status/{JOB_ID}")
    (request,) = client.sent  # type: ignore[attr-defined]
    assert request.url.path == "/api/reports/refine"
    assert request.headers["Session-Id"] == SESSION
    assert json.loads(request.content)["original_text"] == b64("## Café\n")


# -- against the service -----------------------------------------------------------------------


async def test_the_client_generates_then_refines_a_section(
    reports: ReportsClient,
    client: httpx.AsyncClient,
    headers: dict[str, str],
    worker: WorkerFactory,
) -> None:
    await put_context(client, headers)
    async with worker():
        generated = await reports.generate(
            type="Feasibility_report",
            customer_id="cust-001",
            opportunity_id="opp-042",
            section_title="Stakeholder Analysis",
        )
        refined = await reports.refine(
            type="Feasibility_report",
            customer_id="cust-001",
            opportunity_id="opp-042",
            section_title="Stakeholder Analysis",
            text=generated.markdown,
            prompt="Rewrite the list as prose",
        )
    assert generated.markdown == (
        "## Stakeholder Analysis\n\n"
        "The stakeholders of Depot scheduling platform:\n\n"
        "- Operations manager\n- Gate supervisors\n- Haulier partners\n\n"
        "What they share is the objectives of the initiative: Cut truck waiting time by half "
        "and Give hauliers self-service booking.\n"
    )
    assert refined.markdown == (
        "## Stakeholder Analysis\n\n"
        "The stakeholders of Depot scheduling platform: Operations manager; Gate supervisors; "
        "Haulier partners.\n\n"
        "What they share is the objectives of the initiative: Cut truck waiting time by half "
        "and Give hauliers self-service booking.\n"
    )


async def test_the_client_raises_what_the_service_says(
    reports: ReportsClient, worker: WorkerFactory
) -> None:
    with pytest.raises(RequestRefused) as raised:
        await reports.start_generation(
            type="Commercial_proposal", customer_id="c", opportunity_id="o", section_title="Pricing"
        )
    assert raised.value.status_code == 422
    assert raised.value.details is not None
    assert raised.value.details[0]["type"] == "section_title_not_allowed"
    async with worker():
        with pytest.raises(JobFailed, match="INSTRUCTION_NOT_UNDERSTOOD"):
            await reports.refine(
                type="Technical_scope",
                customer_id="c",
                opportunity_id="o",
                section_title="Executive Summary",
                text="## Executive Summary\n\nText.",
                prompt="Make it rhyme",
            )
    with pytest.raises(JobNotFound):
        await reports.status(JOB_ID)
