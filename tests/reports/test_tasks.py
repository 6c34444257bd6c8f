"""Section jobs on the engine: written with their context, retried, timed out, failed, expired."""

import asyncio
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from conveyor.config import Settings
from conveyor.database import Database
from conveyor.kit.clock import utcnow
from conveyor.reports import service
from conveyor.reports.models import ReportJob
from conveyor.reports.providers import SectionBrief, WriterError
from conveyor.tasks import Task, TaskStatus, Worker, enqueue, registry
from tests.reports.conftest import PREFIX, generate_body, put_context, refine_body, unb64
from tests.support import make_settings
from tests.tasks.conftest import wait_for

WorkerFactory = Callable[..., AbstractAsyncContextManager[Worker]]


async def _post(client: httpx.AsyncClient, headers: dict[str, str], path: str, body: object) -> str:
    response = await client.post(PREFIX + path, json=body, headers=headers)
    assert response.status_code == 202, response.text
    return str(response.json()["data"]["job_id"])


async def _answer(client: httpx.AsyncClient, headers: dict[str, str], job_id: str) -> Any:
    return (await client.get(f"{PREFIX}/status/{job_id}", headers=headers)).json()


async def _job(database: Database, job_id: str) -> ReportJob:
    async with database.read() as session:
        job = await session.get(ReportJob, uuid.UUID(job_id))
    assert job is not None
    return job


async def _write(
    database: Database,
    settings: Settings,
    job_id: str,
    writer: object,
    *,
    attempt: int = 1,
    final: bool = True,
) -> None:
    await service.write_section(
        database,
        settings,
        uuid.UUID(job_id),
        attempt=attempt,
        final=final,
        idempotency_key=f"test-{job_id}",
        commit=database.transaction,
        writer=writer,  # type: ignore[arg-type]
    )


class Stalled:
    """A writer that never answers."""

    name = "stalled"
    calls = 0

    async def write(self, brief: SectionBrief, *, idempotency_key: str, attempt: int = 1) -> str:
        self.calls += 1
        await asyncio.Event().wait()
        raise AssertionError("never")


class Broken:
    """A writer with a bug."""

    name = "broken"

    async def write(self, brief: SectionBrief, *, idempotency_key: str, attempt: int = 1) -> str:
        raise RuntimeError("a bug in the writer")


# -- writing ----------------------------------------------------------------------------------


async def test_a_feasibility_appendix_lists_the_context_facts(
    client: httpx.AsyncClient, headers: dict[str, str], worker: WorkerFactory
) -> None:
    await put_context(client, headers)
    body = generate_body(type="Feasibility_report", section_title="Appendix")
    job_id = await _post(client, headers, "/generate", body)
    async with worker():
        await wait_for(lambda: _is(client, headers, job_id, "ready"))
    result = (await _answer(client, headers, job_id))["data"]["result"]
    assert unb64(result["generated_section_b64"]) == (
        "## Appendix\n\n"
        "Reference information for this feasibility report.\n\n"
        "Customer: Harbour Freight Ltd (cust-001).\n\n"
        "Opportunity: Depot scheduling platform (opp-042).\n\n"
        "Recorded facts:\n\n"
        "| Fact | Value |\n"
        "|---|---|\n"
        "| Account manager | Mere Tane |\n"
        "| Procurement route | Direct award |\n"
    )


async def test_without_context_a_section_says_what_is_missing(
    client: httpx.AsyncClient, headers: dict[str, str], worker: WorkerFactory
) -> None:
    body = generate_body(type="Feasibility_report", section_title="Risk Assessment")
    job_id = await _post(client, headers, "/generate", body)
    async with worker():
        await wait_for(lambda: _is(client, headers, job_id, "ready"))
    markdown = unb64(
        (await _answer(client, headers, job_id))["data"]["result"]["generated_section_b64"]
    )
    assert markdown.startswith("## Risk Assessment\n\nThe main risks to opp-042 are listed below")
    assert "No specific risks have been recorded yet." in markdown
    assert "{" not in markdown


async def test_expanding_draws_on_the_context_store(
    client: httpx.AsyncClient, headers: dict[str, str], worker: WorkerFactory
) -> None:
    await put_context(client, headers)
    text = "## Risks & Mitigations\n\nHauliers keep phoning in."
    job_id = await _post(client, headers, "/refine", refine_body(text, prompt="Expand on this"))
    async with worker():
        await wait_for(lambda: _is(client, headers, job_id, "ready"))
    markdown = unb64(
        (await _answer(client, headers, job_id))["data"]["result"]["refined_section_b64"]
    )
    assert markdown.startswith(text + "\n\n### Further detail\n\n- Customer: Harbour Freight Ltd\n")
    assert "- Risks: Integration with the port's system slips\n" in markdown  # the other is there
    assert "- Budget: NZD 400,000\n" in markdown


async def _is(client: httpx.AsyncClient, headers: dict[str, str], job_id: str, status: str) -> bool:
    return (await _answer(client, headers, job_id))["status"] == status


async def test_the_task_commits_the_section_with_its_own_completion(
    client: httpx.AsyncClient, headers: dict[str, str], database: Database, worker: WorkerFactory
) -> None:
    job_id = await _post(client, headers, "/generate", generate_body())
    async with database.read() as session:
        (task,) = (await session.execute(select(Task))).scalars()
    assert task.name == "reports.write_section"
    assert task.queue == "reports"
    assert task.payload == {"job_id": job_id}
    async with worker():
        await wait_for(lambda: _is(client, headers, job_id, "ready"))
    async with database.read() as session:
        done = await session.get(Task, task.id)
    assert done is not None
    assert done.status == TaskStatus.SUCCEEDED
    job = await _job(database, job_id)
    assert job.status == "completed"
    assert job.started_at is not None
    assert job.finished_at is not None
    assert job.expires_at - job.finished_at == timedelta(hours=24)


async def test_a_finished_job_is_not_written_again(
    client: httpx.AsyncClient, headers: dict[str, str], database: Database, settings: Settings
) -> None:
    job_id = await _post(client, headers, "/generate", generate_body())
    await _write(database, settings, job_id, None)
    first = await _job(database, job_id)
    stalled = Stalled()
    await _write(database, settings, job_id, stalled)  # a rescued duplicate attempt
    assert stalled.calls == 0
    assert (await _job(database, job_id)).section_markdown == first.section_markdown


# -- failures ---------------------------------------------------------------------------------


async def test_a_job_that_exceeds_its_time_limit_fails_with_timeout(
    client: httpx.AsyncClient, headers: dict[str, str], database: Database, database_url: str
) -> None:
    job_id = await _post(client, headers, "/generate", generate_body())
    settings = make_settings(database_url, reports_job_timeout_seconds=0.05)
    await _write(database, settings, job_id, Stalled(), final=False)  # not retried: failed now
    answer = await _answer(client, headers, job_id)
    assert answer["status"] == "error"
    assert answer["data"]["status"] == "failed"
    assert answer["data"]["error"] == {
        "error_code": "TIMEOUT",
        "message": "The section was not written within the time limit (0.05 s)",
    }


async def test_the_time_limit_counts_from_the_first_attempt(
    client: httpx.AsyncClient, headers: dict[str, str], database: Database, settings: Settings
) -> None:
    job_id = await _post(client, headers, "/generate", generate_body())
    async with database.transaction() as session:
        started = utcnow() - timedelta(seconds=settings.reports_job_timeout_seconds + 1)
        await session.execute(update(ReportJob).values(status="running", started_at=started))
    stalled = Stalled()
    await _write(database, settings, job_id, stalled, attempt=2, final=False)
    assert stalled.calls == 0, "a retry after the time ran out does not call the writer"
    assert (await _answer(client, headers, job_id))["data"]["error"]["error_code"] == "TIMEOUT"


async def test_the_engine_records_a_timeout_instead_of_retrying(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    database: Database,
    database_url: str,
    worker: WorkerFactory,
) -> None:
    slow = make_settings(database_url, simulator_latency_ms=60_000, reports_job_timeout_seconds=0.1)
    job_id = await _post(client, headers, "/generate", generate_body())
    async with worker(slow):
        await wait_for(lambda: _is(client, headers, job_id, "error"))
    assert (await _answer(client, headers, job_id))["data"]["error"]["error_code"] == "TIMEOUT"
    async with database.read() as session:
        (task,) = (await session.execute(select(Task))).scalars()
    assert (task.status, task.attempts) == (TaskStatus.SUCCEEDED, 1)


async def test_a_failing_writer_is_retried_then_the_job_fails(
    client: httpx.AsyncClient, headers: dict[str, str], database: Database, database_url: str
) -> None:
    failing = make_settings(database_url, simulator_failure_rate=1.0)
    job_id = await _post(client, headers, "/generate", generate_body())
    for attempt in (1, 2):
        with pytest.raises(WriterError, match=f"simulated, attempt {attempt}"):
            await _write(database, failing, job_id, None, attempt=attempt, final=False)
        answer = await _answer(client, headers, job_id)
        assert answer["data"] == {"job_id": job_id, "status": "processing"}
    await _write(database, failing, job_id, None, attempt=3, final=True)
    answer = await _answer(client, headers, job_id)
    assert answer["message"] == "Job failed"
    assert answer["data"]["error"] == {
        "error_code": "WRITER_UNAVAILABLE",
        "message": "The offline writer failed (simulated, attempt 3)",
    }


async def test_the_engine_retries_a_failing_writer(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    database: Database,
    database_url: str,
    worker: WorkerFactory,
) -> None:
    failing = make_settings(database_url, simulator_failure_rate=1.0)
    job_id = await _post(client, headers, "/generate", generate_body())

    async def retry_scheduled() -> bool:
        async with database.read() as session:
            (task,) = (await session.execute(select(Task))).scalars()
        return task.status == TaskStatus.QUEUED and task.attempts == 1

    async with worker(failing):
        await wait_for(retry_scheduled)
    assert (await _answer(client, headers, job_id))["status"] == "processing"


async def test_an_unexpected_error_fails_the_job_on_the_last_attempt_only(
    client: httpx.AsyncClient, headers: dict[str, str], database: Database, settings: Settings
) -> None:
    job_id = await _post(client, headers, "/generate", generate_body())
    with pytest.raises(RuntimeError):
        await _write(database, settings, job_id, Broken(), attempt=1, final=False)
    assert (await _answer(client, headers, job_id))["status"] == "processing"
    with pytest.raises(RuntimeError):
        await _write(database, settings, job_id, Broken(), attempt=3, final=True)
    answer = await _answer(client, headers, job_id)
    assert answer == {
        "status": "error",
        "message": "Job failed",
        "data": {
            "job_id": job_id,
            "status": "failed",
            "error": {
                "error_code": "INTERNAL_ERROR",
                "message": "An unexpected error stopped the job; it is in the worker's log",
            },
        },
    }
    assert "a bug" not in str(answer)


async def test_an_instruction_the_offline_writer_cannot_follow_fails_without_retrying(
    client: httpx.AsyncClient, headers: dict[str, str], database: Database, settings: Settings
) -> None:
    job_id = await _post(
        client, headers, "/refine", refine_body(prompt="Make it shorter and longer")
    )
    await _write(database, settings, job_id, None, attempt=1, final=False)
    error = (await _answer(client, headers, job_id))["data"]["error"]
    assert error == {
        "error_code": "INSTRUCTION_NOT_UNDERSTOOD",
        "message": "The instruction asks for both shorten and expand; ask for one of them",
    }


# -- expiry -----------------------------------------------------------------------------------


async def _expire(database: Database, job_id: str) -> None:
    """Move the job's expiry into the past, as 24 hours passing would."""
    async with database.transaction() as session:
        await session.execute(
            update(ReportJob)
            .where(ReportJob.id == uuid.UUID(job_id))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )


async def _count_jobs(database: Database) -> int:
    async with database.read() as session:
        return int(
            (await session.execute(select(func.count()).select_from(ReportJob))).scalar_one()
        )


async def test_an_expired_job_answers_404_and_the_periodic_task_deletes_it(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    database: Database,
    settings: Settings,
    worker: WorkerFactory,
) -> None:
    expired = await _post(client, headers, "/generate", generate_body())
    kept = await _post(
        client, headers, "/generate", generate_body(section_title="Technology Stack")
    )
    await _write(database, settings, expired, None)
    await _expire(database, expired)

    gone = await client.get(f"{PREFIX}/status/{expired}", headers=headers)
    assert gone.status_code == 404
    assert gone.json()["data"]["error_code"] == "JOB_NOT_FOUND"
    assert await _count_jobs(database) == 2, "hidden at once, deleted by the periodic task"

    assert registry.get("reports.expire").cron == "*/10 * * * *"
    async with database.transaction() as session:
        enqueued = await enqueue(session, "reports.expire")
    async with worker():
        await wait_for(lambda: _task_succeeded(database, enqueued.id))
    assert await _count_jobs(database) == 1
    assert (await client.get(f"{PREFIX}/status/{kept}", headers=headers)).status_code == 200


async def _task_succeeded(database: Database, task_id: int) -> bool:
    async with database.read() as session:
        task = await session.get(Task, task_id)
    return task is not None and task.status == TaskStatus.SUCCEEDED


async def test_expiry_is_counted_from_when_a_job_finished(
    client: httpx.AsyncClient, headers: dict[str, str], database: Database, database_url: str
) -> None:
    short = make_settings(database_url, reports_expiry_hours=2)
    job_id = await _post(client, headers, "/generate", generate_body())
    pending = await _job(database, job_id)
    assert pending.expires_at - pending.created_at == timedelta(hours=24)
    await _write(database, short, job_id, None)
    finished = await _job(database, job_id)
    assert finished.finished_at is not None
    assert finished.expires_at - finished.finished_at == timedelta(hours=2)


async def test_deleting_expired_jobs_goes_in_batches(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(service, "EXPIRE_BATCH", 2)
    for number in range(5):
        await _post(client, headers, "/generate", generate_body(customer_id=f"c-{number}"))
    async with database.transaction() as session:
        await session.execute(update(ReportJob).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert await service.delete_expired(database) == 5
    assert await _count_jobs(database) == 0
