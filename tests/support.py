"""Helpers shared by test modules (fixtures live in conftest.py)."""

import os
from typing import Any

from conveyor.config import Settings

POSTGRES_URL = os.environ.get("CONVEYOR_TEST_DATABASE_URL") or None
REDIS_URL = os.environ.get("CONVEYOR_TEST_REDIS_URL") or None


def make_settings(database_url: str, **overrides: Any) -> Settings:
    """Settings for tests: explicit values only, nothing read from `.env`."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "redis_url": None,
        "env": "development",
        "log_format": "console",
        "log_level": "WARNING",
        "embedded_worker": False,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]
