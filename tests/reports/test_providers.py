"""The writers: the offline one repeats itself; the OpenAI-compatible client against a local
fake chat-completions server (request, retries, refusals, timeouts, the key kept secret)."""

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from conveyor.database import Database
from conveyor.reports.models import ReportAction, ReportType
from conveyor.reports.providers import (
    ChatCompletionsWriter,
    OfflineWriter,
    SectionBrief,
    WriterError,
    writer_for,
)
from conveyor.reports.schemas import CustomerFacts, OpportunityFacts
from conveyor.tasks import Worker
from tests.reports.conftest import (
    CUSTOMER,
    OPPORTUNITY,
    PREFIX,
    generate_body,
    put_context,
    refine_body,
    unb64,
)
from tests.support import make_settings
from tests.tasks.conftest import wait_for

MODEL_KEY = "sk-test-0123456789abcdefghij"
SECTION = "## Executive Summary\n\nHarbour Freight needs a booking platform."


@dataclass
class Sent:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeModel:
    """A chat-completions endpoint: answers from `replies` in turn (then the last one again),
    records what it was sent, and can be slow."""

    url: str = ""
    replies: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)
    delay: float = 0.0

    def reply(self, status: int = 200, body: object = None, **headers: str) -> None:
        if body is None:
            body = completion(SECTION)
        raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.replies.append((status, {"content-type": "application/json", **headers}, raw))


def completion(content: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "gpt-test",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
    }


@pytest.fixture
def fake() -> Iterator[FakeModel]:
    state = FakeModel()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length", 0)))
            state.sent.append(Sent(self.path, dict(self.headers), json.loads(raw)))
            time.sleep(state.delay)
            index = min(len(state.sent), len(state.replies)) - 1
            status, headers, body = state.replies[index] if state.replies else (404, {}, b"{}")
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: object, client_address: object) -> None:
            pass  # the timeout test hangs up on a slow answer

    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


class Naps:
    """Stands in for asyncio.sleep: records the waits instead of waiting."""

    def __init__(self) -> None:
        self.taken: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.taken.append(seconds)


def _writer(fake: FakeModel, naps: Naps, **options: Any) -> ChatCompletionsWriter:
    values: dict[str, Any] = {
        "base_url": fake.url + "/",
        "model": "gpt-test",
        "api_key": MODEL_KEY,
        "timeout": 2.0,
        "max_retries": 3,
        "sleep": naps,
    }
    return ChatCompletionsWriter(**(values | options))


def _brief(action: ReportAction = ReportAction.GENERATE, **overrides: Any) -> SectionBrief:
    values: dict[str, Any] = {
        "job_id": "6f1c4d0e-0000-4000-8000-000000000001",
        "action": action,
        "report_type": ReportType.TECHNICAL_SCOPE,
        "section_title": "Executive Summary",
        "customer_id": "cust-001",
        "opportunity_id": "opp-042",
        "customer": CustomerFacts.model_validate(CUSTOMER),
        "opportunity": OpportunityFacts.model_validate(OPPORTUNITY),
    }
    return SectionBrief(**(values | overrides))


# -- offline -----------------------------------------------------------------------------------


async def test_the_offline_writer_repeats_itself_and_fails_by_the_dice() -> None:
    writer = OfflineWriter()
    first = await writer.write(_brief(), idempotency_key="k")
    assert first == await writer.write(_brief(), idempotency_key="other key")
    assert first.startswith("## Executive Summary\n\nThis technical scope defines what will be")
    half = OfflineWriter(failure_rate=0.5)

    async def outcomes() -> list[str]:
        found = []
        for attempt in range(1, 21):
            try:
                await half.write(_brief(), idempotency_key="k", attempt=attempt)
                found.append("written")
            except WriterError as exc:
                found.append(f"{exc.code} retryable={exc.retryable}")
        return found

    first_run = await outcomes()
    assert set(first_run) == {"written", "WRITER_UNAVAILABLE retryable=True"}
    assert await outcomes() == first_run, "the same job and attempt always land the same way"


def test_settings_choose_the_writer() -> None:
    offline = writer_for(make_settings("sqlite://", simulator_latency_ms=250))
    assert isinstance(offline, OfflineWriter)
    assert offline.latency == 0.25
    model = writer_for(
        make_settings(
            "sqlite://",
            reports_writer="openai",
            reports_openai_base_url="http://model.internal/v1",
            reports_openai_api_key=MODEL_KEY,
            reports_openai_model="gpt-test",
        )
    )
    assert isinstance(model, ChatCompletionsWriter)
    assert model.url == "http://model.internal/v1/chat/completions"
    assert model.model == "gpt-test"


# -- the chat-completions client ---------------------------------------------------------------


async def test_a_section_is_asked_for_with_the_context_and_the_key(fake: FakeModel) -> None:
    fake.reply()
    written = await _writer(fake, Naps()).write(_brief(), idempotency_key="conveyor-task-7")
    assert written == SECTION + "\n"
    (sent,) = fake.sent
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["Authorization"] == f"Bearer {MODEL_KEY}"
    assert sent.headers["Idempotency-Key"] == "conveyor-task-7"
    assert sent.body["model"] == "gpt-test"
    system, user = sent.body["messages"]
    assert system["role"] == "system"
    assert "one section of a technical scope" in system["content"]
    assert "'## Executive Summary'" in system["content"]
    assert user["role"] == "user"
    assert "Customer: Harbour Freight Ltd" in user["content"]
    assert "Objectives:\n- Cut truck waiting time by half" in user["content"]
    assert "Account manager: Mere Tane" in user["content"]
    assert user["content"].endswith("Write the section.")


async def test_a_refinement_sends_the_text_and_the_instruction(fake: FakeModel) -> None:
    fake.reply(body=completion("## Risks\n\n- Shorter."))
    brief = _brief(
        ReportAction.REFINE,
        section_title="Risks & Mitigations",
        original_text="## Risks\n\nA long text.",
        prompt="Make it a list",
    )
    assert (
        await _writer(fake, Naps()).write(brief, idempotency_key="k") == "## Risks\n\n- Shorter.\n"
    )
    user = fake.sent[0].body["messages"][1]["content"]
    assert "<<<\n## Risks\n\nA long text.\n>>>" in user
    assert "Rewrite it following this instruction: Make it a list" in user


async def test_an_answer_without_a_heading_gets_the_sections(fake: FakeModel) -> None:
    fake.reply(body=completion("Harbour Freight needs a booking platform."))
    written = await _writer(fake, Naps()).write(_brief(), idempotency_key="k")
    assert written == SECTION + "\n"


async def test_429_and_5xx_are_retried_with_backoff_then_succeed(fake: FakeModel) -> None:
    fake.reply(429, {"error": {"message": "Rate limit reached"}}, **{"retry-after": "7"})
    fake.reply(503, {"error": {"message": "overloaded"}})
    fake.reply(500, "upstream crashed")
    fake.reply()
    naps = Naps()
    assert await _writer(fake, naps).write(_brief(), idempotency_key="k") == SECTION + "\n"
    assert len(fake.sent) == 4
    assert naps.taken[0] == 7.0, "the service's Retry-After is honoured"
    assert 0 <= naps.taken[1] <= 2.0  # full jitter under 1 s x 2^(n-1)
    assert 0 <= naps.taken[2] <= 4.0
    assert {sent.headers["Idempotency-Key"] for sent in fake.sent} == {"k"}


async def test_the_client_gives_up_after_its_retries(fake: FakeModel) -> None:
    fake.reply(502, "bad gateway")
    naps = Naps()
    with pytest.raises(WriterError) as raised:
        await _writer(fake, naps, max_retries=2).write(_brief(), idempotency_key="k")
    assert len(fake.sent) == 3
    assert len(naps.taken) == 2
    assert str(raised.value) == "The model service answered HTTP 502"
    assert (raised.value.code, raised.value.retryable) == ("WRITER_UNAVAILABLE", True)


async def test_a_refused_request_is_not_retried_and_the_key_is_not_repeated(
    fake: FakeModel, caplog: pytest.LogCaptureFixture
) -> None:
    fake.reply(401, {"error": {"message": f"Incorrect API key provided: {MODEL_KEY}"}})
    naps = Naps()
    with caplog.at_level(logging.DEBUG), pytest.raises(WriterError) as raised:
        await _writer(fake, naps).write(_brief(), idempotency_key="k")
    assert len(fake.sent) == 1
    assert naps.taken == []
    assert (raised.value.code, raised.value.retryable) == ("WRITER_REFUSED", False)
    assert str(raised.value).startswith("The model service refused the request: HTTP 401: ")
    assert "Incorrect API key provided: ***" in str(raised.value)
    assert MODEL_KEY not in str(raised.value)
    assert MODEL_KEY not in caplog.text


async def test_retries_are_logged_without_the_key(
    fake: FakeModel, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.reply(500, "boom")
    fake.reply()
    with caplog.at_level(logging.DEBUG):
        await _writer(fake, Naps()).write(_brief(), idempotency_key="k")
    printed = capsys.readouterr()
    logged = caplog.text + printed.out + printed.err  # stdlib logging, or structlog unconfigured
    assert "writer_call_retry" in logged
    assert "answered HTTP 500" in logged
    assert MODEL_KEY not in logged


async def test_a_slow_service_times_out_and_is_retried(fake: FakeModel) -> None:
    fake.reply()
    fake.delay = 0.5
    with pytest.raises(WriterError, match=r"no answer within 0.1 s"):
        await _writer(fake, Naps(), timeout=0.1, max_retries=1).write(_brief(), idempotency_key="k")
    assert len(fake.sent) == 2


async def test_an_unreachable_service_is_retryable() -> None:
    writer = ChatCompletionsWriter(
        base_url="http://127.0.0.1:9", model="m", api_key=None, max_retries=0, sleep=Naps()
    )
    with pytest.raises(WriterError, match=r"unreachable \(ConnectError\)") as raised:
        await writer.write(_brief(), idempotency_key="k")
    assert raised.value.retryable


@pytest.mark.parametrize(
    "body", [{"choices": []}, {"choices": [{"message": {"content": "  "}}]}, "not json"]
)
async def test_an_answer_without_a_section_is_retried(fake: FakeModel, body: object) -> None:
    fake.reply(200, body)
    fake.reply()
    assert await _writer(fake, Naps()).write(_brief(), idempotency_key="k") == SECTION + "\n"
    assert len(fake.sent) == 2


async def test_no_key_configured_sends_no_authorization(fake: FakeModel) -> None:
    fake.reply()
    await _writer(fake, Naps(), api_key=None).write(_brief(), idempotency_key="k")
    assert "Authorization" not in fake.sent[0].headers


# -- end to end --------------------------------------------------------------------------------


async def test_jobs_are_written_by_the_model_service_when_configured(
    fake: FakeModel,
    client: httpx.AsyncClient,
    headers: dict[str, str],
    database: Database,
    database_url: str,
    worker: Callable[..., AbstractAsyncContextManager[Worker]],
) -> None:
    fake.reply()
    await put_context(client, headers)
    settings = make_settings(
        database_url,
        reports_writer="openai",
        reports_openai_base_url=fake.url,
        reports_openai_api_key=MODEL_KEY,
        reports_openai_model="gpt-test",
    )
    generated = await client.post(f"{PREFIX}/generate", json=generate_body(), headers=headers)
    refined = await client.post(
        f"{PREFIX}/refine", json=refine_body(prompt="Translate it into French"), headers=headers
    )
    jobs = [generated.json()["data"]["job_id"], refined.json()["data"]["job_id"]]

    async def all_ready() -> bool:
        for job_id in jobs:
            answer = await client.get(f"{PREFIX}/status/{job_id}", headers=headers)
            if answer.json()["status"] != "ready":
                return False
        return True

    async with worker(settings):
        await wait_for(all_ready)
    for job_id, key in zip(jobs, ("generated_section_b64", "refined_section_b64"), strict=True):
        answer = (await client.get(f"{PREFIX}/status/{job_id}", headers=headers)).json()
        assert unb64(answer["data"]["result"][key]) == SECTION + "\n"
    assert len(fake.sent) == 2
    asked = "\n".join(sent.body["messages"][1]["content"] for sent in fake.sent)
    assert "Harbour Freight Ltd" in asked
    assert "Rewrite it following this instruction: Translate it into French" in asked
    assert {sent.headers["Idempotency-Key"] for sent in fake.sent} == {
        "conveyor-task-1",
        "conveyor-task-2",
    }
