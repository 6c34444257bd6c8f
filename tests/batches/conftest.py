"""Fixtures for the batches tests: rate limits off (tests poll), helpers to drive a batch."""

import pytest

from conveyor.config import Settings
from tests.support import REDIS_URL, make_settings


@pytest.fixture
def settings(database_url: str) -> Settings:
    """The document's limits (30 requests a minute for most routes) would stop the tests'
    polling; the limits themselves are tested in test_router.py with their own app."""
    return make_settings(database_url, redis_url=REDIS_URL, rate_limits_enabled=False)
