"""Fixtures for the console's route tests: an httpx client signed in through the sign-in
form, as an operator or as an admin."""

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from conveyor.auth import service as auth_service
from conveyor.auth.models import Role
from conveyor.config import Settings
from conveyor.database import Database
from tests.console.html import csrf
from tests.support import PASSWORD, REDIS_URL, make_settings


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Rate limits off: tests poll pages while a worker runs (the sign-in limit is tested with
    its own app)."""
    return make_settings(database_url, redis_url=REDIS_URL, rate_limits_enabled=False)


async def create_user(database: Database, *roles: Role, name: str = "Olive Operator") -> str:
    """A user with these roles (a plain user with none); their email."""
    email = f"{uuid.uuid4().hex[:10]}@conveyor.example"
    async with database.transaction() as session:
        await auth_service.create_user(
            session,
            email=email,
            password=PASSWORD,
            name=name,
            roles=roles or (Role.USER,),
            signup_completed=True,
        )
    return email


@dataclass
class Console:
    """A browser-like client signed in to the console."""

    client: httpx.AsyncClient
    csrf_token: str

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.client.get(path, params=params)

    async def post(self, path: str, data: dict[str, Any] | None = None) -> httpx.Response:
        """A form POST carrying the session's CSRF token, as the console's forms do."""
        return await self.client.post(path, data={"csrf_token": self.csrf_token, **(data or {})})


async def sign_in(client: httpx.AsyncClient, email: str) -> httpx.Response:
    form = await client.get("/console/sign-in")
    assert form.status_code == 200
    return await client.post(
        "/console/sign-in",
        data={"csrf_token": csrf(form.text), "email": email, "password": PASSWORD},
    )


SignIn = Callable[..., Awaitable[Console]]


@pytest.fixture
def signed_in(client: httpx.AsyncClient, database: Database) -> SignIn:
    """Sign `client` in as a new user with the given roles."""

    async def sign(*roles: Role, name: str = "Olive Operator") -> Console:
        email = await create_user(database, *roles, name=name)
        client.cookies.clear()
        response = await sign_in(client, email)
        assert response.status_code == 303, response.text
        home = await client.get("/console/batches")
        assert home.status_code == 200, home.text
        return Console(client, csrf(home.text))

    return sign


@pytest.fixture
async def operator(signed_in: SignIn) -> Console:
    return await signed_in(Role.OPERATOR)


@pytest.fixture
async def admin(signed_in: SignIn) -> Console:
    return await signed_in(Role.ADMIN, name="Ada Admin")
