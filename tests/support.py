"""Helpers shared by test modules (fixtures live in conftest.py)."""

import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import uvicorn
from fastapi import FastAPI

from conveyor.auth import service as auth_service
from conveyor.auth.models import Role
from conveyor.config import Settings
from conveyor.database import Database
from tests.workers import free_port

POSTGRES_URL = os.environ.get("CONVEYOR_TEST_DATABASE_URL") or None
REDIS_URL = os.environ.get("CONVEYOR_TEST_REDIS_URL") or None

PASSWORD = "correct horse battery"
"""The password of every user the helpers create."""


def make_settings(database_url: str, **overrides: Any) -> Settings:
    """Settings for tests: explicit values only, nothing read from `.env`."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "redis_url": None,
        "env": "development",
        "log_format": "console",
        "log_level": "WARNING",
        "embedded_worker": False,
        "simulator_latency_ms": 0,
        # Tests share one Redis: each app counts in its own namespace unless told otherwise.
        "rate_limit_key_prefix": f"conveyor-test-{uuid.uuid4().hex}",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


async def api_key_headers(
    database: Database, *scopes: str, name: str = "test key"
) -> dict[str, str]:
    """`X-API-Key` headers for a new key with these scopes."""
    async with database.transaction() as session:
        _, plaintext = await auth_service.create_api_key(session, name=name, scopes=scopes)
    return {"X-API-Key": plaintext}


async def bearer_headers(
    database: Database,
    settings: Settings,
    *roles: Role,
    email: str | None = None,
    signup_completed: bool = True,
) -> dict[str, str]:
    """`Authorization` headers of a new user with these roles (a plain user with none)."""
    async with database.transaction() as session:
        user = await auth_service.create_user(
            session,
            email=email or f"{uuid.uuid4().hex[:12]}@example.com",
            password=PASSWORD,
            name="Test User",
            roles=roles or (Role.USER,),
            signup_completed=signup_completed,
        )
    token = auth_service.issue_token(
        user, secret=settings.secret_key.get_secret_value(), lifetime=timedelta(minutes=5)
    )
    return {"Authorization": f"Bearer {token}"}


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """`app` on a real port in a background thread (lifespan and embedded worker included)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive(), "the server stopped while starting"
        assert time.monotonic() < deadline, "the server did not start within 30 s"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
