"""Signing in and out, the session cookie, CSRF on every POST, role refusal, and error pages."""

import uuid
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from conveyor.auth import service as auth_service
from conveyor.auth import sessions
from conveyor.auth.models import Role
from conveyor.auth.policies import route_access
from conveyor.config import Settings
from conveyor.database import Database
from conveyor.main import create_app
from tests.console.conftest import Console, SignIn, create_user, sign_in
from tests.console.html import csrf, element, field_error, text
from tests.support import PASSWORD, make_settings

PRODUCTION_SECRET = "a-production-secret-of-at-least-32-characters"


async def test_an_operator_signs_in_and_lands_where_they_were_going(
    client: httpx.AsyncClient, database: Database
) -> None:
    away = await client.get("/console/routing/companies")
    assert away.status_code == 303
    assert away.headers["location"] == "/console/sign-in?next=%2Fconsole%2Frouting%2Fcompanies"

    form = await client.get(away.headers["location"])
    assert "Sign in" in text(form.text)
    cookie = form.headers["set-cookie"]
    assert cookie.startswith(f"{sessions.COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "samesite=lax" in cookie.lower()
    assert "Path=/console" in cookie
    assert "Secure" not in cookie  # development is served over plain HTTP

    email = await create_user(database, Role.OPERATOR, name="Olive Operator")
    signed = await client.post(
        "/console/sign-in",
        data={
            "csrf_token": csrf(form.text),
            "email": email,
            "password": PASSWORD,
            "next": "/console/routing/companies",
        },
    )
    assert signed.status_code == 303
    assert signed.headers["location"] == "/console/routing/companies"
    page = await client.get("/console/routing/companies")
    assert page.status_code == 200
    shown = text(page.text)
    assert "Olive Operator · operator" in shown
    assert "Companies" in shown
    assert "Reviews" not in shown  # admins only
    assert "Tasks" not in shown


async def test_wrong_or_missing_credentials_are_shown_next_to_the_form(
    client: httpx.AsyncClient, database: Database
) -> None:
    email = await create_user(database, Role.OPERATOR)
    form = await client.get("/console/sign-in")
    token = csrf(form.text)

    blank = await client.post("/console/sign-in", data={"csrf_token": token})
    assert blank.status_code == 400
    assert field_error(blank.text, "email") == "Enter your email address."
    assert field_error(blank.text, "password") == "Enter your password."

    wrong = await client.post(
        "/console/sign-in",
        data={"csrf_token": token, "email": email, "password": PASSWORD + "!"},
    )
    assert wrong.status_code == 400
    assert "Incorrect email or password." in text(wrong.text)
    assert f'value="{email}"' in wrong.text  # the email is kept, the password never echoed
    assert (await client.get("/console/batches")).status_code == 303


async def test_users_without_the_operator_or_admin_role_cannot_sign_in(
    client: httpx.AsyncClient, database: Database
) -> None:
    owner = await create_user(database)  # a restaurant owner (003)
    refused = await sign_in(client, owner)
    assert refused.status_code == 400
    assert "it needs the operator or admin role" in text(refused.text)
    assert (await client.get("/console/batches")).status_code == 303


async def test_every_post_needs_the_sessions_csrf_token(
    operator: Console, client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as stranger:
        # A valid token, of someone else's session: what a forging site could obtain.
        others = csrf((await stranger.get("/console/sign-in")).text)
        for token in (None, "0" * 64, others):
            data = {"name": "Sneaky batch", "restaurant_ids": str(uuid.uuid4())}
            if token is not None:
                data["csrf_token"] = token
            refused = await client.post("/console/batches", data=data)
            assert refused.status_code == 403, token
            assert refused.headers["content-type"].startswith("text/html")
            assert "This form has expired or did not come from the console" in text(refused.text)
        assert "Sneaky batch" not in (await operator.get("/console/batches")).text

        # The sign-in form has a token too: a sign-in forged from another site is refused.
        email = await create_user(database, Role.OPERATOR)
        forged = await stranger.post(
            "/console/sign-in", data={"email": email, "password": PASSWORD}
        )
        assert forged.status_code == 403
        assert (await stranger.get("/console/batches")).status_code == 303


async def test_signing_out_ends_the_session(operator: Console, client: httpx.AsyncClient) -> None:
    out = await operator.post("/console/sign-out")
    assert out.status_code == 303
    assert out.headers["location"] == "/console/sign-in"
    assert (
        f'{sessions.COOKIE}=""' in out.headers["set-cookie"]
        or "Max-Age=0" in out.headers["set-cookie"]
    )
    shown = await client.get("/console/sign-in")
    assert "You have signed out." in text(shown.text)
    assert (await client.get("/console/batches")).status_code == 303


async def test_operators_get_a_403_page_on_admin_pages_and_admins_see_them(
    signed_in: SignIn,
) -> None:
    operator = await signed_in(Role.OPERATOR)
    for path in ("/console/tasks", "/console/reviews"):
        refused = await operator.get(path)
        assert refused.status_code == 403
        shown = text(refused.text)
        assert "Forbidden" in shown
        assert "This page needs the admin role" in shown
        assert "Olive Operator" in shown  # still the console, with its navigation
    admin = await signed_in(Role.ADMIN, name="Ada Admin")
    page = await admin.get("/console/tasks")
    assert page.status_code == 200
    assert "Background tasks" in (element(page.text, "main") or "")
    assert "Reviews" in text(page.text)


async def test_errors_under_the_console_are_pages_not_json(operator: Console) -> None:
    missing = await operator.get("/console/nowhere")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert "Not found" in text(missing.text)
    bad_id = await operator.get("/console/batches/not-a-batch")
    assert bad_id.status_code == 404
    assert "There is nothing at this address." in text(bad_id.text)
    unknown = await operator.get("/console/batches/00000000-0000-0000-0000-000000000000")
    assert unknown.status_code == 404
    assert "Registration batch not found" in text(unknown.text)


async def test_pages_are_never_cached_framed_or_given_inline_script(operator: Console) -> None:
    page = await operator.get("/console/batches")
    assert page.headers["cache-control"] == "no-store"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert "<script>" not in page.text
    assert "style=" not in page.text
    script = await operator.get("/console/static/console.js")
    assert script.status_code == 200
    assert "EventSource" in script.text
    style = await operator.get("/console/static/console.css")
    assert style.headers["content-type"].startswith("text/css")


async def test_a_session_is_not_a_bearer_token_and_a_bearer_token_is_not_a_session(
    settings: Settings, client: httpx.AsyncClient, database: Database
) -> None:
    email = await create_user(database, Role.ADMIN)
    await sign_in(client, email)
    cookie = client.cookies.get(sessions.COOKIE, path="/console")
    assert cookie
    as_bearer = await client.get(
        "/api/v1/admin/tasks/stats", headers={"Authorization": f"Bearer {cookie}"}
    )
    assert as_bearer.status_code == 401

    async with database.read() as session:
        users = await auth_service.list_users(session, limit=10)
    (user,) = [user for user in users if user.email == email]
    secret = settings.secret_key.get_secret_value()
    not_sessions = [
        auth_service.issue_token(user, secret=secret, lifetime=timedelta(minutes=5)),
        sessions.encode(sessions.new(user.id), secret="x" * 40, lifetime=timedelta(minutes=5)),
        sessions.encode(sessions.new(user.id), secret=secret, lifetime=timedelta(seconds=-1)),
    ]
    for value in not_sessions:
        client.cookies.clear()
        client.cookies.set(sessions.COOKIE, value, path="/console")
        assert (await client.get("/console/batches")).status_code == 303
    client.cookies.set(
        sessions.COOKIE,
        sessions.encode(sessions.new(user.id), secret=secret, lifetime=timedelta(minutes=5)),
        path="/console",
    )
    assert (await client.get("/console/batches")).status_code == 200


async def test_production_cookies_are_secure_and_sign_in_is_rate_limited(
    database_url: str, database: Database
) -> None:
    settings = make_settings(database_url, env="production", secret_key=PRODUCTION_SECRET)
    app = create_app(settings)
    email = await create_user(database, Role.OPERATOR)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://test") as http,
    ):
        form = await http.get("/console/sign-in")
        assert "Secure" in form.headers["set-cookie"]
        token = csrf(form.text)
        for _ in range(10):  # without a password: no hashing, the same count
            wrong = await http.post("/console/sign-in", data={"csrf_token": token, "email": email})
            assert wrong.status_code == 400
        limited = await http.post(
            "/console/sign-in", data={"csrf_token": token, "email": email, "password": PASSWORD}
        )
        assert limited.status_code == 429
        assert "Too many requests" in text(limited.text)


@pytest.mark.parametrize("enabled", [True, False])
def test_the_console_can_be_turned_off(database_url: str, enabled: bool) -> None:
    app = create_app(make_settings(database_url, console_enabled=enabled))
    paths = {route.path for route in route_access(app)}
    assert ("/console/batches" in paths) is enabled
    assert "/api/registration-batches" in paths
