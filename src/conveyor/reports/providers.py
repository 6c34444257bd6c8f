"""Who writes the sections: a deterministic offline writer (the default) and an
OpenAI-compatible chat-completions API.

The offline writer composes a section from the catalogue's template for it and what the
context store knows, and refines a section by the rules in `editing`; it takes
`CONVEYOR_SIMULATOR_LATENCY_MS` per call and fails `CONVEYOR_SIMULATOR_FAILURE_RATE` of calls
(decided by the job and attempt, so a run can be replayed). The chat-completions client is set
with `CONVEYOR_REPORTS_WRITER=openai` and the `CONVEYOR_REPORTS_OPENAI_*` settings.
"""

import asyncio
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import structlog

from conveyor.config import Settings
from conveyor.kit.redact import excerpt
from conveyor.kit.simulation import dice
from conveyor.reports.catalogue import catalogue
from conveyor.reports.editing import CONTEXT_LABELS, InstructionNotUnderstood, apply_prompt
from conveyor.reports.models import ReportAction, ReportType
from conveyor.reports.schemas import CustomerFacts, OpportunityFacts
from conveyor.tasks import Backoff

log = structlog.get_logger(__name__)


class WriterError(Exception):
    """No section: `code` is the job's `error_code`; `retryable` says whether trying again may
    help (an outage may pass; a refused request will be refused again)."""

    def __init__(self, message: str, *, code: str, retryable: bool) -> None:
        super().__init__(message)
        self.code = code
        self.retryable = retryable


@dataclass(frozen=True)
class SectionBrief:
    """Everything a writer needs for one job."""

    job_id: str
    action: ReportAction
    report_type: ReportType
    section_title: str
    customer_id: str
    opportunity_id: str
    customer: CustomerFacts | None = None
    opportunity: OpportunityFacts | None = None
    original_text: str | None = None
    prompt: str | None = None

    def values(self) -> dict[str, str | list[str]]:
        """What is known, by the catalogue's placeholder names (unknown ones left out)."""
        customer, opportunity = self.customer, self.opportunity
        known: dict[str, str | list[str] | None] = {
            "customer": customer.name if customer else self.customer_id,
            "customer_id": self.customer_id,
            "opportunity": opportunity.name if opportunity else self.opportunity_id,
            "opportunity_id": self.opportunity_id,
            "report": catalogue().label(self.report_type),
            "section": self.section_title,
        }
        if customer is not None:
            known |= {
                "customer_name": customer.name,
                "industry": customer.industry,
                "location": customer.location,
                "size": customer.size,
                "customer_description": customer.description,
            }
        if opportunity is not None:
            known |= {
                "opportunity_name": opportunity.name,
                "summary": opportunity.summary,
                "current_state": opportunity.current_state,
                "budget": opportunity.budget,
                "timeline": opportunity.timeline,
                "objectives": opportunity.objectives,
                "requirements": opportunity.requirements,
                "risks": opportunity.risks,
                "stakeholders": opportunity.stakeholders,
                "technologies": opportunity.technologies,
            }
        return {name: value for name, value in known.items() if value}

    def facts(self) -> list[tuple[str, str]]:
        """The free-form facts of the customer, then of the opportunity."""
        return [
            *(self.customer.facts.items() if self.customer else ()),
            *(self.opportunity.facts.items() if self.opportunity else ()),
        ]


class SectionWriter(Protocol):
    name: str

    async def write(self, brief: SectionBrief, *, idempotency_key: str, attempt: int = 1) -> str:
        """The section in Markdown; raises `WriterError`."""
        ...


# -- offline -----------------------------------------------------------------------------------


@dataclass
class OfflineWriter:
    """Writes sections from the catalogue's templates and refines them by rules, offline."""

    latency: float = 0.0
    failure_rate: float = 0.0
    name: str = "offline"

    async def write(self, brief: SectionBrief, *, idempotency_key: str, attempt: int = 1) -> str:
        if self.latency:
            await asyncio.sleep(self.latency)
        if dice("fail", brief.job_id, attempt) < self.failure_rate:
            raise WriterError(
                f"The offline writer failed (simulated, attempt {attempt})",
                code="WRITER_UNAVAILABLE",
                retryable=True,
            )
        values = brief.values()
        if brief.action is ReportAction.GENERATE:
            return catalogue().render(brief.report_type, brief.section_title, values, brief.facts())
        try:
            return apply_prompt(brief.original_text or "", brief.prompt or "", values)
        except InstructionNotUnderstood as exc:
            raise WriterError(
                str(exc), code="INSTRUCTION_NOT_UNDERSTOOD", retryable=False
            ) from None


# -- OpenAI-compatible chat completions --------------------------------------------------------


def describe_context(brief: SectionBrief) -> str:
    """What the context store knows, as lines a model reads."""
    values = brief.values()
    lines = [f"Customer id: {brief.customer_id}", f"Opportunity id: {brief.opportunity_id}"]
    for name, label in CONTEXT_LABELS:
        value = values.get(name)
        if isinstance(value, str):
            lines.append(f"{label}: {value}")
        elif value:
            lines.append(f"{label}:")
            lines.extend(f"- {item}" for item in value)
    lines.extend(f"{label}: {value}" for label, value in brief.facts())
    return "\n".join(lines)


def chat_messages(brief: SectionBrief) -> list[dict[str, str]]:
    """The conversation that asks a model for this job's section."""
    report = catalogue().label(brief.report_type)
    system = (
        f"You write one section of a {report} prepared for a customer. Answer in Markdown with "
        f"the section only, starting with the heading '## {brief.section_title}'. Use only the "
        "facts you are given; where one that the section needs is missing, say what has to be "
        "confirmed instead of inventing it."
    )
    context = f"Report type: {brief.report_type.value}\nSection: {brief.section_title}\n\n"
    context += f"What is known:\n{describe_context(brief)}"
    if brief.action is ReportAction.GENERATE:
        request = f"{context}\n\nWrite the section."
    else:
        request = (
            f"{context}\n\nThis is the section as it stands:\n\n<<<\n{brief.original_text}\n>>>"
            f"\n\nRewrite it following this instruction: {brief.prompt}\n"
            "Answer with the whole rewritten section."
        )
    return [{"role": "system", "content": system}, {"role": "user", "content": request}]


RETRY_BACKOFF = Backoff(base=1.0, factor=2.0, cap=16.0)
"""Between retries of one call (full jitter); a `Retry-After` the service sends wins."""
MAX_RETRY_AFTER_SECONDS = 60.0


class ChatCompletionsWriter:
    """An OpenAI-compatible API (OpenAI, Azure OpenAI's v1 endpoint, vLLM, Ollama, LiteLLM...):
    `POST {base_url}/chat/completions` with a bearer key.

    429, 5xx and unanswered calls are retried `max_retries` times with backoff; other 4xx are
    not (the same request would be refused again). Error messages quote at most the start of
    the service's answer, with the API key hidden; the key is never logged.
    """

    name = "openai"

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None,
        timeout: float = 60.0,
        max_retries: int = 3,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self._api_key = api_key
        self.timeout = timeout
        self.max_retries = max_retries
        self.transport = transport
        self.sleep = sleep

    def _headers(self, idempotency_key: str) -> dict[str, str]:
        headers = {"Accept": "application/json", "Idempotency-Key": idempotency_key}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    async def write(self, brief: SectionBrief, *, idempotency_key: str, attempt: int = 1) -> str:
        body = {"model": self.model, "messages": chat_messages(brief), "temperature": 0.2}
        async with httpx.AsyncClient(timeout=self.timeout, transport=self.transport) as client:
            for retry in range(self.max_retries + 1):
                outcome, wait = await self._call(client, body, idempotency_key)
                if isinstance(outcome, str):
                    return self._with_heading(outcome, brief)
                if retry == self.max_retries:
                    raise outcome
                delay = wait if wait is not None else RETRY_BACKOFF.delay(retry + 1)
                log.warning(
                    "writer_call_retry", writer=self.name, error=str(outcome), retry_in=delay
                )
                await self.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _call(
        self, client: httpx.AsyncClient, body: dict[str, Any], idempotency_key: str
    ) -> tuple[str | WriterError, float | None]:
        """The section, or the retryable failure and how long the service asked us to wait.
        Raises the failures that retrying cannot mend."""
        try:
            response = await client.post(
                self.url, json=body, headers=self._headers(idempotency_key)
            )
        except httpx.TimeoutException:
            return self._unavailable(f"no answer within {self.timeout:g} s"), None
        except httpx.HTTPError as exc:
            return self._unavailable(f"unreachable ({type(exc).__name__})"), None
        status = response.status_code
        if status == 429 or status >= 500:
            return self._unavailable(f"answered HTTP {status}"), _retry_after(response)
        if status >= 400:
            quoted = excerpt(response.text, self._api_key)
            raise WriterError(
                f"The model service refused the request: HTTP {status}: {quoted}",
                code="WRITER_REFUSED",
                retryable=False,
            )
        return _content(response), None

    def _unavailable(self, what: str) -> WriterError:
        return WriterError(f"The model service {what}", code="WRITER_UNAVAILABLE", retryable=True)

    @staticmethod
    def _with_heading(text: str, brief: SectionBrief) -> str:
        text = text.strip()
        if brief.action is ReportAction.GENERATE and not text.startswith("#"):
            text = f"## {brief.section_title}\n\n{text}"
        return text + "\n"


def _retry_after(response: httpx.Response) -> float | None:
    try:
        seconds = float(response.headers.get("retry-after", ""))
    except ValueError:
        return None
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def _content(response: httpx.Response) -> str | WriterError:
    """The first choice's message, or a retryable error for an answer without one."""
    try:
        body = response.json()
        content = body["choices"][0]["message"]["content"]
    except (ValueError, LookupError, TypeError):
        content = None
    if not isinstance(content, str) or not content.strip():
        return WriterError(
            "The model service answered without a section",
            code="WRITER_UNAVAILABLE",
            retryable=True,
        )
    return content


def writer_for(settings: Settings) -> SectionWriter:
    if settings.reports_writer == "openai":
        key = settings.reports_openai_api_key
        return ChatCompletionsWriter(
            base_url=settings.reports_openai_base_url,
            model=settings.reports_openai_model,
            api_key=key.get_secret_value() if key else None,
            timeout=settings.reports_openai_timeout_seconds,
            max_retries=settings.reports_openai_max_retries,
        )
    return OfflineWriter(
        latency=settings.simulator_latency_ms / 1000,
        failure_rate=settings.simulator_failure_rate,
    )
