"""A small Python client of document 002: start a section job, then poll it as the document's
polling guidance says (first poll after 1 s, each wait 1.5 times the last, at most 10 s; give
up after 10 minutes; a 404 means the job expired or was lost).

    async with ReportsClient("http://127.0.0.1:8000/api/reports", api_key=KEY,
                             session_id="session_123") as reports:
        section = await reports.generate(type="Technical_scope", customer_id="c-1",
                                         opportunity_id="o-7", section_title="Executive Summary")
        print(section.markdown)

It needs only httpx; it does not import the server.
"""

import asyncio
import base64
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import httpx


@dataclass(frozen=True)
class PollingBackoff:
    """The document's polling waits: `initial`, then times `factor`, capped at `cap` seconds."""

    initial: float = 1.0
    factor: float = 1.5
    cap: float = 10.0

    def delays(self) -> Iterator[float]:
        delay = self.initial
        while True:
            yield delay
            delay = min(delay * self.factor, self.cap)


class ReportsError(Exception):
    """Something the reports API said no to, or did not answer in time."""


class RequestRefused(ReportsError):
    """The API answered a request with an error (401, 400, 422, 429, ...)."""

    def __init__(self, status_code: int, body: dict[str, Any]) -> None:
        data = body.get("data") if isinstance(body.get("data"), dict) else {}
        self.status_code = status_code
        self.error_code = str(data.get("error_code", "")) if data else ""
        self.details = data.get("details") if data else None
        self.message = str(body.get("message", f"HTTP {status_code}"))
        super().__init__(f"{self.error_code or status_code}: {self.message}")


class JobFailed(ReportsError):
    """The job finished without a section."""

    def __init__(self, job_id: str, error_code: str, message: str) -> None:
        self.job_id = job_id
        self.error_code = error_code
        self.message = message
        super().__init__(f"{error_code}: {message}")


class JobNotFound(ReportsError):
    """The job expired or was lost: submit the request again."""


class PollingTimedOut(ReportsError):
    """The job did not finish within `max_wait`: treat it as failed (the document's advice)."""


@dataclass(frozen=True)
class StartedJob:
    job_id: str
    busy: bool
    """An identical request of this session was already under way; this is that job."""
    status_url: str | None


@dataclass(frozen=True)
class Section:
    job_id: str
    customer_id: str
    opportunity_id: str
    section_title: str
    markdown: str
    """The section, decoded from `generated_section_b64` or `refined_section_b64`."""


class ReportsClient:
    """Talks to one deployment of the reports API with one API key and one frontend session."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str,
        session_id: str,
        http: httpx.AsyncClient | None = None,
        backoff: PollingBackoff | None = None,
        max_wait: float = 600.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`base_url` is where the API is mounted (`http://host/api/reports`); with `http`,
        it may be a path relative to that client's own base URL."""
        self.base_url = base_url.rstrip("/")
        self._headers = {"X-API-Key": api_key, "Session-Id": session_id}
        self._owns_http = http is None
        self.http = http or httpx.AsyncClient(timeout=30.0)
        self.backoff = backoff or PollingBackoff()
        self.max_wait = max_wait
        self.sleep = sleep
        self.clock = clock

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_http:
            await self.http.aclose()

    # -- starting ---------------------------------------------------------------------------

    async def start_generation(
        self, *, type: str, customer_id: str, opportunity_id: str, section_title: str
    ) -> StartedJob:
        body = {
            "type": type,
            "customer_id": customer_id,
            "opportunity_id": opportunity_id,
            "section_title": section_title,
        }
        return await self._start("/generate", body)

    async def start_refinement(
        self,
        *,
        type: str,
        customer_id: str,
        opportunity_id: str,
        section_title: str,
        text: str,
        prompt: str,
    ) -> StartedJob:
        """`text` is the Markdown itself; the client encodes it."""
        body = {
            "type": type,
            "customer_id": customer_id,
            "opportunity_id": opportunity_id,
            "section_title": section_title,
            "original_text": base64.b64encode(text.encode("utf-8")).decode("ascii"),
            "prompt": prompt,
        }
        return await self._start("/refine", body)

    async def _start(self, path: str, body: dict[str, str]) -> StartedJob:
        response = await self.http.post(f"{self.base_url}{path}", json=body, headers=self._headers)
        answer = _json(response)
        if response.status_code != 202:
            raise RequestRefused(response.status_code, answer)
        return StartedJob(
            job_id=str(answer["data"]["job_id"]),
            busy=answer.get("status") == "busy",
            status_url=response.headers.get("location"),
        )

    # -- polling ----------------------------------------------------------------------------

    async def status(self, job_id: str) -> dict[str, Any]:
        """The status answer as sent (`{status, message, data}`); raises `JobNotFound`."""
        response = await self.http.get(
            f"{self.base_url}/status/{job_id}", headers={"X-API-Key": self._headers["X-API-Key"]}
        )
        answer = _json(response)
        if response.status_code == 404:
            raise JobNotFound(str(answer.get("message", f"Job {job_id} not found")))
        if response.status_code != 200:
            raise RequestRefused(response.status_code, answer)
        return answer

    async def wait(self, job_id: str) -> Section:
        """Poll until the job is ready (its section) or failed (`JobFailed`)."""
        started = self.clock()
        for delay in self.backoff.delays():
            if self.clock() - started >= self.max_wait:
                break
            await self.sleep(delay)
            answer = await self.status(job_id)
            data = answer.get("data") or {}
            if answer.get("status") == "ready":
                return _section(job_id, data["result"])
            if answer.get("status") == "error" and data.get("status") == "failed":
                error = data.get("error") or {}
                raise JobFailed(
                    job_id, str(error.get("error_code", "")), str(error.get("message", ""))
                )
        raise PollingTimedOut(f"job {job_id} did not finish within {self.max_wait:g} s")

    async def generate(
        self, *, type: str, customer_id: str, opportunity_id: str, section_title: str
    ) -> Section:
        started = await self.start_generation(
            type=type,
            customer_id=customer_id,
            opportunity_id=opportunity_id,
            section_title=section_title,
        )
        return await self.wait(started.job_id)

    async def refine(
        self,
        *,
        type: str,
        customer_id: str,
        opportunity_id: str,
        section_title: str,
        text: str,
        prompt: str,
    ) -> Section:
        started = await self.start_refinement(
            type=type,
            customer_id=customer_id,
            opportunity_id=opportunity_id,
            section_title=section_title,
            text=text,
            prompt=prompt,
        )
        return await self.wait(started.job_id)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ReportsError(f"HTTP {response.status_code} without a JSON envelope")
    return body


def _section(job_id: str, result: dict[str, Any]) -> Section:
    encoded = result.get("generated_section_b64") or result.get("refined_section_b64") or ""
    return Section(
        job_id=job_id,
        customer_id=str(result["customer_id"]),
        opportunity_id=str(result["opportunity_id"]),
        section_title=str(result["section_title"]),
        markdown=base64.b64decode(encoded).decode("utf-8"),
    )
