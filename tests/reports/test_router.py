"""Document 002's requests and answers, as a frontend sees them: every example and error case."""

import asyncio
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from conveyor.config import Settings
from conveyor.database import Database
from conveyor.main import create_app
from conveyor.reports import service
from conveyor.tasks import Worker
from tests.reports.conftest import (
    PREFIX,
    SESSION,
    b64,
    generate_body,
    put_context,
    refine_body,
    unb64,
)
from tests.support import REDIS_URL, make_settings
from tests.tasks.conftest import wait_for

WorkerFactory = Callable[..., AbstractAsyncContextManager[Worker]]


async def _status(client: httpx.AsyncClient, headers: dict[str, str], job_id: str) -> Any:
    return (await client.get(f"{PREFIX}/status/{job_id}", headers=headers)).json()


def _finished(client: httpx.AsyncClient, headers: dict[str, str], job_id: str) -> Any:
    async def check() -> bool:
        return (await _status(client, headers, job_id))["status"] in ("ready", "error")

    return check


async def _run_to_the_end(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    worker: WorkerFactory,
    action: str,
    body: dict[str, Any],
) -> str:
    """Start a job (`generate` or `refine`) and let a worker finish it; the job's id."""
    started = await client.post(f"{PREFIX}/{action}", json=body, headers=headers)
    job_id: str = started.json()["data"]["job_id"]
    async with worker():
        await wait_for(_finished(client, headers, job_id))
    return job_id


# -- starting a job ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body"), [("/generate", generate_body()), ("/refine", refine_body())]
)
async def test_a_post_answers_202_job_queued_with_where_and_when_to_poll(
    client: httpx.AsyncClient, headers: dict[str, str], path: str, body: dict[str, Any]
) -> None:
    response = await client.post(PREFIX + path, json=body, headers=headers)
    assert response.status_code == 202, response.text
    answer = response.json()
    job_id = answer["data"]["job_id"]
    assert answer == {
        "status": "processing",
        "message": "Job queued",
        "data": {"job_id": job_id, "status": "pending"},
    }
    assert uuid.UUID(job_id).version == 4
    assert response.headers["location"] == f"{PREFIX}/status/{job_id}"
    assert response.headers["retry-after"] == "1"


async def test_status_of_a_queued_then_running_job_is_processing(
    client: httpx.AsyncClient, headers: dict[str, str], database: Database, settings: Settings
) -> None:
    job_id = (
        await client.post(f"{PREFIX}/generate", json=generate_body(), headers=headers)
    ).json()["data"]["job_id"]
    queued = await client.get(
        f"{PREFIX}/status/{job_id}", headers={"X-API-Key": headers["X-API-Key"]}
    )
    assert queued.status_code == 200
    assert queued.json() == {
        "status": "processing",
        "message": "Job queued",
        "data": {"job_id": job_id, "status": "pending"},
    }
    assert queued.headers["retry-after"] == "1"
    assert queued.headers["cache-control"] == "no-store"

    await service.take_job(database, settings, uuid.UUID(job_id))  # what a worker does first
    running = await client.get(f"{PREFIX}/status/{job_id}", headers=headers)
    assert running.json() == {
        "status": "processing",
        "message": "Job processing",
        "data": {"job_id": job_id, "status": "processing"},
    }
    assert running.headers["retry-after"] == "1"


async def test_a_generated_section_is_ready_with_its_result(
    client: httpx.AsyncClient, headers: dict[str, str], worker: WorkerFactory
) -> None:
    await put_context(client, headers)
    job_id = await _run_to_the_end(client, headers, worker, "generate", generate_body())
    response = await client.get(f"{PREFIX}/status/{job_id}", headers=headers)
    assert response.status_code == 200
    assert "retry-after" not in response.headers
    answer = response.json()
    section = answer["data"]["result"].pop("generated_section_b64")
    assert answer == {
        "status": "ready",
        "message": "Job completed",
        "data": {
            "job_id": job_id,
            "status": "completed",
            "result": {
                "customer_id": "cust-001",
                "opportunity_id": "opp-042",
                "section_title": "Executive Summary",
            },
        },
    }
    markdown = unb64(section)
    assert markdown.startswith("## Executive Summary\n\n")
    assert "defines what will be built for Harbour Freight Ltd" in markdown
    assert "Depot scheduling platform" in markdown
    assert "- Port community system API" in markdown
    assert "The target timeline is live before the 2027 peak season." in markdown


async def test_a_refined_section_is_ready_as_refined_section_b64(
    client: httpx.AsyncClient, headers: dict[str, str], worker: WorkerFactory
) -> None:
    body = refine_body("## Risks & Mitigations\n\nWe can't promise the date. It's tight!")
    job_id = await _run_to_the_end(client, headers, worker, "refine", body)
    result = (await _status(client, headers, job_id))["data"]["result"]
    assert set(result) == {"customer_id", "opportunity_id", "section_title", "refined_section_b64"}
    assert result["section_title"] == "Risks & Mitigations"
    assert unb64(result["refined_section_b64"]) == (
        "## Risks & Mitigations\n\nWe cannot promise the date. It is tight.\n"
    )


async def test_a_failed_job_answers_200_error_with_its_error(
    client: httpx.AsyncClient, headers: dict[str, str], worker: WorkerFactory
) -> None:
    body = refine_body(prompt="Translate it into French")
    job_id = await _run_to_the_end(client, headers, worker, "refine", body)
    response = await client.get(f"{PREFIX}/status/{job_id}", headers=headers)
    assert response.status_code == 200
    assert "retry-after" not in response.headers
    answer = response.json()
    assert answer["status"] == "error"
    assert answer["message"] == "Job failed"
    assert answer["data"]["job_id"] == job_id
    assert answer["data"]["status"] == "failed"
    error = answer["data"]["error"]
    assert error["error_code"] == "INSTRUCTION_NOT_UNDERSTOOD"
    assert error["message"].startswith("The offline writer cannot follow this instruction.")
    assert "bullet points" in error["message"]


async def test_an_unknown_job_is_404_job_not_found(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    job_id = "550e8400-e29b-41d4-a716-446655440000"
    response = await client.get(f"{PREFIX}/status/{job_id}", headers=headers)
    assert response.status_code == 404
    assert response.json() == {
        "status": "error",
        "message": f"Job {job_id} not found",
        "data": {"error_code": "JOB_NOT_FOUND", "path": f"{PREFIX}/status/{job_id}"},
    }
    malformed = await client.get(f"{PREFIX}/status/req_001", headers=headers)
    assert malformed.status_code == 404
    assert malformed.json()["data"]["error_code"] == "JOB_NOT_FOUND"


# -- headers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/generate", generate_body()),
        ("POST", "/refine", refine_body()),
        ("GET", f"/status/{uuid.uuid4()}", None),
        ("PUT", "/context/customers/cust-001", {"name": "Harbour Freight Ltd"}),
    ],
)
async def test_every_call_needs_a_valid_api_key(
    client: httpx.AsyncClient, method: str, path: str, body: dict[str, Any] | None
) -> None:
    missing = await client.request(
        method, PREFIX + path, json=body, headers={"Session-Id": SESSION}
    )
    assert missing.status_code == 401
    assert missing.json() == {
        "status": "error",
        "message": "This endpoint needs an API key (X-API-Key)",
        "data": {"error_code": "AUTH_INVALID_API_KEY", "path": PREFIX + path},
    }
    wrong = await client.request(
        method,
        PREFIX + path,
        json=body,
        headers={"Session-Id": SESSION, "X-API-Key": "cvk_0123456789abcdef_" + "A" * 43},
    )
    assert wrong.status_code == 401
    assert wrong.json()["data"]["error_code"] == "AUTH_INVALID_API_KEY"
    assert wrong.json()["message"] == "The API key is missing, malformed, revoked or unknown"


@pytest.mark.parametrize("path", ["/generate", "/refine"])
@pytest.mark.parametrize("session_id", [None, "", "   "])
async def test_a_post_without_session_id_is_400_bad_request(
    client: httpx.AsyncClient, headers: dict[str, str], path: str, session_id: str | None
) -> None:
    sent = {"X-API-Key": headers["X-API-Key"]}
    if session_id is not None:
        sent["Session-Id"] = session_id
    body = generate_body() if path == "/generate" else refine_body()
    response = await client.post(PREFIX + path, json=body, headers=sent)
    assert response.status_code == 400
    assert response.json() == {
        "status": "error",
        "message": "Session-Id is required",
        "data": {"error_code": "BAD_REQUEST", "path": PREFIX + path},
    }


async def test_the_api_key_is_checked_before_the_session_and_the_session_before_the_body(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    bad_body = {"type": "Annual_report"}
    no_key = await client.post(f"{PREFIX}/generate", json=bad_body)
    assert no_key.status_code == 401
    no_session = await client.post(
        f"{PREFIX}/generate", json=bad_body, headers={"X-API-Key": headers["X-API-Key"]}
    )
    assert no_session.status_code == 400
    assert (
        await client.post(f"{PREFIX}/generate", json=bad_body, headers=headers)
    ).status_code == 422


async def test_a_session_id_longer_than_255_characters_is_refused(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.post(
        f"{PREFIX}/generate", json=generate_body(), headers={**headers, "Session-Id": "s" * 256}
    )
    assert response.status_code == 400
    assert response.json()["message"] == "Session-Id may be at most 255 characters"


# -- validation -------------------------------------------------------------------------------


async def _invalid(
    client: httpx.AsyncClient, headers: dict[str, str], path: str, body: dict[str, Any]
) -> dict[str, Any]:
    response = await client.post(PREFIX + path, json=body, headers=headers)
    assert response.status_code == 422, response.text
    answer: dict[str, Any] = response.json()
    assert answer["status"] == "error"
    assert answer["data"]["error_code"] == "VALIDATION_ERROR"
    assert answer["data"]["path"] == PREFIX + path
    return answer


async def test_type_must_be_one_of_the_three_exact_values(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    answer = await _invalid(
        client, headers, "/generate", generate_body(type="technical_scope", section_title="x")
    )
    (detail,) = answer["data"]["details"]
    assert detail["loc"] == ["body", "type"]
    assert detail["type"] == "enum"
    assert detail["msg"] == (
        "Input should be 'Feasibility_report', 'Technical_scope' or 'Commercial_proposal'"
    )
    assert "input" not in detail


async def test_a_section_of_another_type_is_refused_naming_the_allowed_ones(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    # "Company Background" is a Technical_scope section, not a Feasibility_report one.
    body = generate_body(type="Feasibility_report", section_title="Company Background")
    answer = await _invalid(client, headers, "/generate", body)
    (detail,) = answer["data"]["details"]
    assert detail["loc"] == ["body", "section_title"]
    assert detail["type"] == "section_title_not_allowed"
    assert detail["msg"].startswith("Value is not a section of Feasibility_report; allowed: ")
    assert detail["ctx"]["report_type"] == "Feasibility_report"
    assert detail["ctx"]["allowed"][:3] == [
        "Executive Summary",
        "Project Overview",
        "Business Requirements",
    ]
    assert len(detail["ctx"]["allowed"]) == 12
    assert answer["message"].startswith("Invalid request: section_title: Value is not a section")


@pytest.mark.parametrize("path", ["/generate", "/refine"])
async def test_commercial_proposal_has_no_sections_yet(
    client: httpx.AsyncClient, headers: dict[str, str], path: str
) -> None:
    body = (generate_body if path == "/generate" else refine_body)()
    body |= {"type": "Commercial_proposal", "section_title": "Executive Summary"}
    answer = await _invalid(client, headers, path, body)
    (detail,) = answer["data"]["details"]
    assert detail["loc"] == ["body", "section_title"]
    assert detail["msg"] == (
        "Commercial_proposal has no sections defined yet, so no section_title is allowed"
    )
    assert detail["ctx"] == {"report_type": "Commercial_proposal", "allowed": []}


async def test_titles_match_whatever_their_case_and_spacing_and_come_back_canonical(
    client: httpx.AsyncClient, headers: dict[str, str], worker: WorkerFactory
) -> None:
    body = generate_body(section_title="  security   &  COMPLIANCE ")
    job_id = await _run_to_the_end(client, headers, worker, "generate", body)
    result = (await _status(client, headers, job_id))["data"]["result"]
    assert result["section_title"] == "Security & Compliance"
    assert unb64(result["generated_section_b64"]).startswith("## Security & Compliance\n")


async def test_every_field_is_required_and_unknown_fields_are_refused(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    answer = await _invalid(client, headers, "/refine", {"type": "Technical_scope", "colour": 1})
    problems = {(tuple(d["loc"]), d["type"]) for d in answer["data"]["details"]}
    assert problems == {
        (("body", "customer_id"), "missing"),
        (("body", "opportunity_id"), "missing"),
        (("body", "section_title"), "missing"),
        (("body", "original_text"), "missing"),
        (("body", "prompt"), "missing"),
        (("body", "colour"), "extra_forbidden"),
    }


@pytest.mark.parametrize(
    ("encoded", "error_type"),
    [
        ("not base64!", "base64_invalid"),
        ("QUJD=RA==", "base64_invalid"),  # padding in the middle
        ("QUJDR", "base64_invalid"),  # one character too many: no byte count fits
        ("", "base64_empty"),
        ("   \n ", "base64_empty"),
        (b64("   \n\t"), "base64_empty"),
        ("/w==", "base64_not_utf8"),  # the byte 0xff
        (b64("text\x00with a NUL"), "text_has_nul"),
    ],
)
async def test_original_text_must_be_base64_of_utf8_text(
    client: httpx.AsyncClient, headers: dict[str, str], encoded: str, error_type: str
) -> None:
    answer = await _invalid(client, headers, "/refine", refine_body(original_text=encoded))
    (detail,) = answer["data"]["details"]
    assert detail["loc"] == ["body", "original_text"]
    assert detail["type"] == error_type


TEXT = "## Café — naïve résumé ✓\n\nIt's fine."
ENCODED = b64(TEXT)


@pytest.mark.parametrize(
    "encoded",
    [
        ENCODED,
        f" {ENCODED[:8]} {ENCODED[8:20]}\t{ENCODED[20:]} ",
        ENCODED.rstrip("="),
        ENCODED + "==",
        "\r\n".join(ENCODED[start : start + 16] for start in range(0, len(ENCODED), 16)),
        b64("\ufeff" + TEXT),
    ],
    ids=["plain", "spaces", "unpadded", "overpadded", "line-broken", "byte-order-mark"],
)
async def test_lenient_base64_decodes_to_the_same_text(
    client: httpx.AsyncClient, headers: dict[str, str], worker: WorkerFactory, encoded: str
) -> None:
    body = refine_body(original_text=encoded, prompt="formal")
    job_id = await _run_to_the_end(client, headers, worker, "refine", body)
    result = (await _status(client, headers, job_id))["data"]["result"]
    assert unb64(result["refined_section_b64"]) == "## Café — naïve résumé ✓\n\nIt is fine.\n"


async def test_url_safe_base64_is_read_too(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    text = "?>?>?>"  # encodes to characters that differ between the two alphabets
    url_safe = b64(text).replace("+", "-").replace("/", "_")
    assert url_safe != b64(text)
    response = await client.post(
        f"{PREFIX}/refine", json=refine_body(original_text=url_safe), headers=headers
    )
    assert response.status_code == 202, response.text


async def test_the_text_and_the_prompt_have_size_limits(
    client: httpx.AsyncClient, headers: dict[str, str], database_url: str
) -> None:
    app = create_app(
        make_settings(database_url, reports_max_text_bytes=10, reports_max_prompt_chars=5)
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as small,
    ):
        fits = await small.post(
            f"{PREFIX}/refine", json=refine_body("é" * 5, prompt="short"), headers=headers
        )
        assert fits.status_code == 202, fits.text
        answer = await _invalid(small, headers, "/refine", refine_body("é" * 6, prompt="shorter"))
    problems = {d["loc"][1]: d for d in answer["data"]["details"]}
    assert problems["original_text"]["type"] == "text_too_large"
    assert problems["original_text"]["msg"] == "The decoded text may be at most 10 bytes"
    assert problems["prompt"]["type"] == "string_too_long"
    assert problems["prompt"]["ctx"] == {"max_length": 5}


async def test_an_empty_prompt_is_refused(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    answer = await _invalid(client, headers, "/refine", refine_body(prompt="   "))
    (detail,) = answer["data"]["details"]
    assert (detail["loc"], detail["type"]) == (["body", "prompt"], "string_too_short")


async def test_malformed_json_is_422_in_the_envelope(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.post(
        f"{PREFIX}/generate",
        content=b'{"type": ',
        headers={**headers, "content-type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["data"]["details"][0]["type"] == "json_invalid"


# -- busy and isolation -----------------------------------------------------------------------


async def test_an_identical_request_of_the_same_session_while_active_is_busy(
    client: httpx.AsyncClient, headers: dict[str, str], worker: WorkerFactory
) -> None:
    first = await client.post(f"{PREFIX}/generate", json=generate_body(), headers=headers)
    job_id = first.json()["data"]["job_id"]
    again = await client.post(f"{PREFIX}/generate", json=generate_body(), headers=headers)
    assert again.status_code == 202
    assert again.json() == {
        "status": "busy",
        "message": "Request is busy",
        "data": {"job_id": job_id, "status": "pending", "ready": False, "request_id": job_id},
    }
    assert again.headers["location"] == f"{PREFIX}/status/{job_id}"

    # Anything that differs is another request: another section, another session, refining.
    other_section = generate_body(section_title="Technology Stack")
    other_session = {**headers, "Session-Id": "session_456"}
    for body, sent in ((other_section, headers), (generate_body(), other_session)):
        response = await client.post(f"{PREFIX}/generate", json=body, headers=sent)
        assert response.json()["status"] == "processing"
        assert response.json()["data"]["job_id"] != job_id

    async with worker():
        await wait_for(_finished(client, headers, job_id))
    after = await client.post(f"{PREFIX}/generate", json=generate_body(), headers=headers)
    assert after.json()["status"] == "processing", "a finished job no longer makes the next busy"
    assert after.json()["data"]["job_id"] != job_id


async def test_busy_still_holds_once_postgresql_plans_the_insert_generically(
    settings: Settings, headers: dict[str, str]
) -> None:
    """Twelve POSTs through a pool of one: PostgreSQL plans a prepared statement generically
    after five runs on a connection, and the busy check's insert must still find its partial
    index then (it once answered 500)."""
    app = create_app(settings.model_copy(update={"database_pool_size": 1}))
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        answers = [
            await client.post(
                f"{PREFIX}/generate",
                json=generate_body(opportunity_id=f"opp-{n % 3}"),
                headers=headers,
            )
            for n in range(12)
        ]
    assert [answer.json()["status"] for answer in answers] == ["processing"] * 3 + ["busy"] * 9


async def test_identical_requests_at_the_same_moment_start_one_job(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    answers = await asyncio.gather(
        *(
            client.post(f"{PREFIX}/generate", json=generate_body(), headers=headers)
            for _ in range(5)
        )
    )
    assert {answer.status_code for answer in answers} == {202}
    statuses = sorted(answer.json()["status"] for answer in answers)
    assert statuses == ["busy", "busy", "busy", "busy", "processing"]
    assert len({answer.json()["data"]["job_id"] for answer in answers}) == 1


async def test_busy_compares_the_decoded_text(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    text = "## Risks & Mitigations\n\nWe're going to slip."
    first = await client.post(f"{PREFIX}/refine", json=refine_body(text), headers=headers)
    unpadded = refine_body(original_text=b64(text).rstrip("="))
    again = await client.post(f"{PREFIX}/refine", json=unpadded, headers=headers)
    assert again.json()["status"] == "busy"
    assert again.json()["data"]["job_id"] == first.json()["data"]["job_id"]
    other_prompt = await client.post(
        f"{PREFIX}/refine", json=refine_body(text, prompt="shorter"), headers=headers
    )
    assert other_prompt.json()["status"] == "processing"


async def test_a_running_job_is_busy_as_processing(
    client: httpx.AsyncClient, headers: dict[str, str], database: Database, settings: Settings
) -> None:
    job_id = (
        await client.post(f"{PREFIX}/generate", json=generate_body(), headers=headers)
    ).json()["data"]["job_id"]
    await service.take_job(database, settings, uuid.UUID(job_id))
    again = await client.post(f"{PREFIX}/generate", json=generate_body(), headers=headers)
    assert again.json()["data"] == {
        "job_id": job_id,
        "status": "processing",
        "ready": False,
        "request_id": job_id,
    }


async def test_a_job_is_visible_only_to_the_api_key_that_created_it(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    other_headers: dict[str, str],
    worker: WorkerFactory,
) -> None:
    job_id = await _run_to_the_end(client, headers, worker, "generate", generate_body())
    theirs = await client.get(f"{PREFIX}/status/{job_id}", headers=other_headers)
    assert theirs.status_code == 404
    assert theirs.json() == {
        "status": "error",
        "message": f"Job {job_id} not found",
        "data": {"error_code": "JOB_NOT_FOUND", "path": f"{PREFIX}/status/{job_id}"},
    }
    assert (await _status(client, headers, job_id))["status"] == "ready"
    # The same request from the other key is not busy: it is theirs to start.
    response = await client.post(f"{PREFIX}/generate", json=generate_body(), headers=other_headers)
    assert response.json()["status"] == "processing"


async def test_context_is_private_to_each_api_key_too(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    other_headers: dict[str, str],
    worker: WorkerFactory,
) -> None:
    await put_context(client, headers)
    assert (
        await client.get(f"{PREFIX}/context/customers/cust-001", headers=other_headers)
    ).status_code == 404
    job_id = await _run_to_the_end(client, other_headers, worker, "generate", generate_body())
    result = (await _status(client, other_headers, job_id))["data"]["result"]
    markdown = unb64(result["generated_section_b64"])
    assert "Harbour Freight" not in markdown
    assert "for cust-001 as part of opp-042" in markdown


# -- the context store ------------------------------------------------------------------------


async def test_context_is_put_read_replaced_and_deleted(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    path = f"{PREFIX}/context/opportunities/opp-042"
    created = await client.put(
        path, json={"name": "Depot platform", "budget": "NZD 1m"}, headers=headers
    )
    assert created.status_code == 201
    answer = created.json()
    assert answer["status"] == "ok"
    assert answer["message"] == "Opportunity context saved"
    assert answer["data"]["opportunity_id"] == "opp-042"
    assert answer["data"]["budget"] == "NZD 1m"
    assert answer["data"]["objectives"] == []
    assert answer["data"]["updated_at"].endswith(("Z", "+00:00"))

    replaced = await client.put(path, json={"name": "Depot platform v2"}, headers=headers)
    assert replaced.status_code == 200
    assert replaced.json()["data"]["budget"] is None, "PUT replaces: fields left out are cleared"
    read = await client.get(path, headers=headers)
    assert read.json()["data"]["name"] == "Depot platform v2"

    deleted = await client.delete(path, headers=headers)
    assert deleted.json() == {
        "status": "ok",
        "message": "Opportunity context deleted",
        "data": {"deleted": "opp-042"},
    }
    gone = await client.get(path, headers=headers)
    assert gone.status_code == 404
    assert gone.json()["data"]["error_code"] == "OPPORTUNITY_NOT_FOUND"
    assert (await client.delete(path, headers=headers)).status_code == 404


async def test_customer_context_is_validated_in_the_envelope(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.put(
        f"{PREFIX}/context/customers/cust-001",
        json={"industry": "x" * 101, "facts": {"": "empty label"}, "phone": "1"},
        headers=headers,
    )
    assert response.status_code == 422
    problems = {tuple(d["loc"]) for d in response.json()["data"]["details"]}
    assert ("body", "name") in problems
    assert ("body", "industry") in problems
    assert ("body", "phone") in problems
    assert any(loc[:2] == ("body", "facts") for loc in problems)
    customer = await client.put(
        f"{PREFIX}/context/customers/cust-001", json={"name": "Harbour"}, headers=headers
    )
    assert customer.status_code == 201
    assert customer.json()["data"] == {
        "customer_id": "cust-001",
        "name": "Harbour",
        "industry": None,
        "location": None,
        "size": None,
        "description": None,
        "facts": {},
        "updated_at": customer.json()["data"]["updated_at"],
    }


# -- where the surface is mounted -------------------------------------------------------------


async def test_unknown_paths_and_methods_under_the_prefix_answer_in_the_envelope(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    missing = await client.get(f"{PREFIX}/nothing-here", headers=headers)
    assert missing.status_code == 404
    assert missing.json()["status"] == "error"
    assert missing.json()["data"] == {"error_code": "NOT_FOUND", "path": f"{PREFIX}/nothing-here"}
    wrong_method = await client.get(f"{PREFIX}/generate", headers=headers)
    assert wrong_method.status_code == 405
    assert wrong_method.json()["data"]["error_code"] == "METHOD_NOT_ALLOWED"


@pytest.fixture
async def bare_app(database_url: str) -> FastAPI:
    return create_app(make_settings(database_url, redis_url=REDIS_URL, reports_prefix=""))


async def test_an_empty_prefix_serves_the_documents_bare_paths(
    bare_app: FastAPI, headers: dict[str, str]
) -> None:
    async with (
        bare_app.router.lifespan_context(bare_app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=bare_app), base_url="http://t") as bare,
    ):
        started = await bare.post("/generate", json=generate_body(), headers=headers)
        assert started.status_code == 202
        job_id = started.json()["data"]["job_id"]
        assert started.headers["location"] == f"/status/{job_id}"
        assert (await bare.get(f"/status/{job_id}", headers=headers)).json()[
            "status"
        ] == "processing"

        missing_session = await bare.post(
            "/generate", json=generate_body(), headers={"X-API-Key": headers["X-API-Key"]}
        )
        assert missing_session.json() == {
            "status": "error",
            "message": "Session-Id is required",
            "data": {"error_code": "BAD_REQUEST", "path": "/generate"},
        }
        example = "550e8400-e29b-41d4-a716-446655440000"
        not_found = await bare.get(f"/status/{example}", headers=headers)
        assert not_found.status_code == 404
        assert not_found.json() == {
            "status": "error",
            "message": f"Job {example} not found",
            "data": {"error_code": "JOB_NOT_FOUND", "path": f"/status/{example}"},
        }
        unknown = await bare.get("/status", headers=headers)
        assert unknown.status_code == 404
        assert unknown.json()["data"]["path"] == "/status"
        assert (await bare.get(f"{PREFIX}/status/{job_id}", headers=headers)).status_code == 404
        # Other surfaces keep their own format and paths.
        health = await bare.get("/api/v1/health")
        assert health.status_code == 200
