"""Access policies: every route declares one, and each protected route refuses the wrong caller."""

import re
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from fastapi import Depends, FastAPI

from conveyor.auth import service as auth_service
from conveyor.auth import sessions
from conveyor.auth.models import ApiKey, Role
from conveyor.auth.policies import (
    ADMIN,
    OPERATIONS,
    SIGNUP_COMPLETED,
    Identity,
    Policy,
    Principal,
    Rule,
    route_access,
)
from conveyor.config import Settings
from conveyor.database import Database
from conveyor.errors import PLATFORM, AuthenticationError, PermissionDeniedError
from conveyor.main import create_app
from conveyor.module import Module
from tests.support import api_key_headers, bearer_headers, make_settings

PRODUCTION_SECRET = "a-production-secret-of-at-least-32-characters"
BAD_KEY = {"X-API-Key": "cvk_0123456789abcdef_" + "A" * 43}
BAD_TOKEN = {"Authorization": "Bearer not-a-token"}


def _stray_module(*policies: Policy) -> Module:
    router = PLATFORM.router("/api/stray", dependencies=[Depends(p) for p in policies])

    @router.get("/thing")
    async def thing() -> dict[str, str]:
        return {}

    return Module(name="stray", routers=[router])


def test_every_route_of_the_app_declares_exactly_one_policy(settings: Settings) -> None:
    routes = route_access(create_app(settings))
    assert len(routes) > 10
    assert [route for route in routes if len(route.policies) != 1] == []
    assert ("GET", "/api/v1/admin/tasks") in {(m, r.path) for r in routes for m in r.methods}


@pytest.mark.parametrize("policies", [(), (ADMIN, OPERATIONS)], ids=["none", "two"])
def test_the_app_refuses_to_start_with_a_route_without_one_policy(
    settings: Settings, policies: tuple[Policy, ...]
) -> None:
    with pytest.raises(RuntimeError, match=r"GET /api/stray/thing"):
        create_app(settings, extra_modules=[_stray_module(*policies)])


def _protected(app: FastAPI, settings: Settings) -> list[tuple[str, str, Rule]]:
    """(method, path with every parameter filled in, rule) of each route that is not open."""
    found = []
    for route in route_access(app):
        (policy,) = route.policies
        rule = policy.rule(settings)
        path = re.sub(r"\{[^}]+\}", "1", route.path)
        if not rule.open:
            found += [(method, path, rule) for method in sorted(route.methods)]
    return found


@pytest.fixture(params=["development", "production"])
def any_env_settings(request: pytest.FixtureRequest, database_url: str) -> Settings:
    return make_settings(database_url, env=request.param, secret_key=PRODUCTION_SECRET)


@pytest.fixture
async def any_env_client(any_env_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(any_env_settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http,
    ):
        yield http


async def test_protected_routes_refuse_missing_bad_and_underprivileged_credentials(
    any_env_settings: Settings, any_env_client: httpx.AsyncClient, database: Database
) -> None:
    app = create_app(any_env_settings)
    protected = _protected(app, any_env_settings)
    assert protected, "the admin APIs are protected in every environment"
    plain_user = await bearer_headers(database, any_env_settings)
    unscoped_key = await api_key_headers(database)
    plain_session = await _session_cookie(database, any_env_settings)
    for method, path, rule in protected:
        where = f"{method} {path}"
        if rule.session:
            await _check_console_page(any_env_client, method, path, rule, plain_session)
            continue
        missing = await any_env_client.request(method, path)
        assert missing.status_code == 401, where
        assert "This endpoint needs" in missing.text, where
        for bad, accepted in ((BAD_KEY, rule.api_key), (BAD_TOKEN, rule.bearer)):
            if accepted:
                refused = await any_env_client.request(method, path, headers=bad)
                assert refused.status_code == 401, (where, bad)
        if rule.bearer and rule.roles:
            wrong_role = await any_env_client.request(method, path, headers=plain_user)
            assert wrong_role.status_code == 403, where
        if rule.api_key and rule.api_key_scope:
            wrong_scope = await any_env_client.request(method, path, headers=unscoped_key)
            assert wrong_scope.status_code == 403, where


async def _session_cookie(database: Database, settings: Settings) -> dict[str, str]:
    """A `Cookie` header holding a console session of a plain user."""
    async with database.transaction() as session:
        user = await auth_service.create_user(
            session, email="owner@example.com", password="a password", name="Owner"
        )
    value = sessions.encode(
        sessions.new(user.id),
        secret=settings.secret_key.get_secret_value(),
        lifetime=timedelta(minutes=5),
    )
    return {"Cookie": f"{sessions.COOKIE}={value}"}


async def _check_console_page(
    client: httpx.AsyncClient, method: str, path: str, rule: Rule, plain_session: dict[str, str]
) -> None:
    """Console pages send a visitor without a valid session to sign in, and refuse (403) a
    signed-in user without the role."""
    where = f"{method} {path}"
    for headers in ({}, {"Cookie": f"{sessions.COOKIE}=not-a-session"}):
        missing = await client.request(method, path, headers=headers)
        assert missing.status_code == 303, where
        assert missing.headers["location"].startswith("/console/sign-in"), where
    if rule.roles:
        wrong_role = await client.request(method, path, headers=plain_session)
        assert wrong_role.status_code == 403, where
        assert "This page needs the" in wrong_role.text, where


async def test_admins_pass_the_admin_policy_with_a_token_or_a_scoped_key(
    admin_client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    by_key = await admin_client.get("/api/v1/admin/api-keys")
    assert by_key.status_code == 200
    assert {key["name"] for key in by_key.json()} == {"admin key"}
    admin_token = await bearer_headers(database, settings, Role.ADMIN)
    by_token = await admin_client.get(
        "/api/v1/admin/tasks/stats", headers={**admin_token, "X-API-Key": ""}
    )
    assert by_token.status_code == 200, by_token.text
    operator = await bearer_headers(database, settings, Role.OPERATOR)
    refused = await admin_client.get(
        "/api/v1/admin/tasks/stats", headers={**operator, "X-API-Key": ""}
    )
    assert refused.status_code == 403
    assert refused.json() == {
        "detail": "This endpoint needs the admin role",
        "error_code": "FORBIDDEN",
        "timestamp": refused.json()["timestamp"],
    }


def _identity(**values: object) -> Identity:
    return Identity(client="203.0.113.9", **values)  # type: ignore[arg-type]


def test_rules_answer_401_for_who_and_403_for_what() -> None:
    user = Principal(client="c", user_id=uuid.uuid4(), roles=frozenset({"user"}))
    staff = Principal(client="c", user_id=user.user_id, roles=frozenset({"operator"}))
    key = Principal(client="c", api_key_id="0123456789abcdef")
    production = OPERATIONS.production

    assert OPERATIONS.development.admit(_identity()).is_anonymous
    assert production.admit(_identity(key_presented=True, key=key)) is key
    assert production.admit(_identity(bearer_presented=True, user=staff)) is staff
    with pytest.raises(PermissionDeniedError, match="admin or operator role"):
        production.admit(_identity(bearer_presented=True, user=user))
    with pytest.raises(AuthenticationError, match="invalid or expired"):
        production.admit(_identity(bearer_presented=True))
    with pytest.raises(AuthenticationError, match="needs an API key"):
        production.admit(_identity())

    incomplete = SIGNUP_COMPLETED.development
    with pytest.raises(PermissionDeniedError) as raised:
        incomplete.admit(_identity(bearer_presented=True, user=user))
    assert raised.value.error_code == "SIGNUP_INCOMPLETE"


async def test_the_caller_is_identified_once_and_its_key_use_recorded(
    admin_client: httpx.AsyncClient, database: Database
) -> None:
    assert (await admin_client.get("/api/v1/admin/api-keys")).status_code == 200
    async with database.read() as session:
        (key,) = (await session.execute(ApiKey.__table__.select())).all()
    assert key.last_used_at is not None
