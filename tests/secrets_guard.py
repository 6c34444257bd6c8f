"""A pytest plugin: no test may see a credential in a log line, or echoed back in a response.

Every test's captured output (stdout, stderr, log records) is searched for API keys, bearer
tokens, webhook secrets and the suite's password; a hit fails the test that produced it. The
`client` fixture also checks every response: it must never contain a credential its own request
carried (the caller's API key, bearer token or password).
"""

import re
from collections.abc import Awaitable, Callable, Generator

import httpx
import pytest

from tests.support import PASSWORD

SECRET_PATTERNS = {
    "API key": re.compile(r"cvk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}"),
    "bearer token": re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}"),
    "webhook secret": re.compile(r"whsec_[A-Za-z0-9+/]{20,}"),
    "password": re.compile(re.escape(PASSWORD)),
}


def secrets_in(text: str) -> list[str]:
    return [name for name, pattern in SECRET_PATTERNS.items() if pattern.search(text)]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if item.get_closest_marker("shows_secrets"):
        return report
    captured = "\n".join(
        content for title, content in report.sections if title.endswith(f" {report.when}")
    )
    found = secrets_in(captured)
    if found and report.passed:
        report.outcome = "failed"
        report.longrepr = (
            f"{item.nodeid}: captured output ({report.when}) contains a {', '.join(found)}"
        )
    return report


def _credentials(request: httpx.Request) -> list[str]:
    values = [request.headers.get("x-api-key", "")]
    authorization = request.headers.get("authorization", "")
    values.append(authorization.removeprefix("Bearer ").strip())
    body = request.content.decode("utf-8", "replace") if request.content else ""
    if PASSWORD in body:
        values.append(PASSWORD)
    return [value for value in values if len(value) >= 8]


async def check_no_echoed_credentials(response: httpx.Response) -> None:
    """An httpx response hook: fail if the response repeats the request's own credentials."""
    await response.aread()
    echoed = [value for value in _credentials(response.request) if value in response.text]
    assert not echoed, f"{response.request.method} {response.request.url} echoed a credential"


ResponseHook = Callable[[httpx.Response], Awaitable[None]]


@pytest.fixture
def no_echoed_credentials() -> ResponseHook:
    """The response hook, for clients built by fixtures."""
    return check_no_echoed_credentials
