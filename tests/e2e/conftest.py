"""End-to-end fixtures: the service on a real port (embedded worker, simulators without
latency) and Debian's Chromium driven by Playwright, headless.

Playwright's own browser downloads are never used: the tests point it at the system's
Chromium (`apt-get install chromium`). Without it they skip, saying so, unless
`CONVEYOR_E2E_REQUIRED=1` (CI) turns the skip into a failure.
"""

import asyncio
import os
import shutil
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from conveyor.config import Settings
from conveyor.main import create_app
from tests.support import REDIS_URL, make_settings, serving

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = os.environ.get("CONVEYOR_E2E_CHROMIUM", "/usr/bin/chromium")
REQUIRED = os.environ.get("CONVEYOR_E2E_REQUIRED") == "1"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
SIZES = ((1280, 800), (390, 844))
"""A laptop and a phone: every main page is photographed at both."""

T = TypeVar("T")


def _missing() -> str | None:
    """Why the end-to-end tests cannot run here, if they cannot."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (it is a dev dependency: make install)"
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        found = shutil.which("chromium")
        hint = f" (one is at {found}: set CONVEYOR_E2E_CHROMIUM)" if found else ""
        return f"no Chromium at {CHROMIUM}{hint}; install it with `apt-get install chromium`"
    return None


@pytest.fixture
def browser() -> Iterator["Browser"]:
    """Chromium, for one test. Not shared between tests: Playwright's synchronous API keeps an
    event loop in this thread while it runs, and the next test's database fixture (on
    PostgreSQL) needs the thread free; so `page` asks for the server (and its database) first.
    """
    reason = _missing()
    if reason is not None:
        if REQUIRED:
            pytest.fail(f"CONVEYOR_E2E_REQUIRED=1 but {reason}", pytrace=False)
        pytest.skip(f"end-to-end tests skipped: {reason}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield launched
        finally:
            launched.close()


@dataclass(frozen=True)
class Server:
    url: str
    settings: Settings


@pytest.fixture
def server(database_url: str) -> Iterator[Server]:
    """The whole service, as `conveyor serve` runs it, on a free port."""
    settings = make_settings(
        database_url,
        redis_url=REDIS_URL,
        embedded_worker=True,
        worker_poll_interval=0.05,
        rate_limits_enabled=False,
        simulator_latency_ms=0,
    )
    with serving(create_app(settings)) as url:
        yield Server(url, settings)


@pytest.fixture
def page(server: Server, browser: "Browser") -> Iterator["Page"]:
    """A fresh browser tab (its own cookies), closed before the server stops."""
    context = browser.new_context(
        base_url=server.url, viewport={"width": SIZES[0][0], "height": SIZES[0][1]}
    )
    context.set_default_timeout(15_000)
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run async set-up code (services, the database) from a test that drives a browser: in
    a thread of its own, away from Playwright's event loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def shoot(page: "Page", name: str) -> None:
    """Screenshots of the page as it is, at each size; and at each, no sideways scrolling."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=SCREENSHOTS / f"{name}-{width}x{height}.png", full_page=True)
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        assert scroll_width <= width, f"{name} is {scroll_width}px wide at {width}px"
    page.set_viewport_size({"width": SIZES[0][0], "height": SIZES[0][1]})
