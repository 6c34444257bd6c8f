"""Signing up, signing in and bearer tokens under /api/v1/auth."""

import json
from datetime import timedelta

import httpx
import jwt
import pytest
from fastapi import FastAPI

from conveyor.auth import service
from conveyor.auth.models import Role
from conveyor.config import Settings
from conveyor.database import Database
from conveyor.kit.clock import utcnow
from conveyor.observability import configure_logging
from tests.support import PASSWORD


async def _sign_in(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/api/v1/auth/token", data={"username": email, "password": password})


async def _bearer(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    response = await _sign_in(client, email, PASSWORD)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def test_signup_sign_in_me_and_complete_signup(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/api/v1/auth/signup",
        json={"email": "Owner@Example.com", "password": PASSWORD, "name": "Ola Owner"},
    )
    assert created.status_code == 201
    body = created.json()
    # The domain is normalised (it is case-insensitive); the local part is kept as typed.
    assert (body["email"], body["name"], body["roles"]) == (
        "Owner@example.com",
        "Ola Owner",
        ["user"],
    )
    assert body["signup_completed"] is False
    assert "password" not in created.text
    assert "password_hash" not in body

    token = await _sign_in(client, "owner@example.COM", PASSWORD)  # case does not matter
    assert token.status_code == 200
    assert token.json()["token_type"] == "bearer"
    assert token.json()["expires_in"] == 3600
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}

    me = await client.get("/api/v1/auth/me", headers=headers)
    assert me.json()["email"] == "Owner@example.com"

    refused = await client.post(
        "/api/v1/auth/complete-signup",
        json={"phone": "+265 991 234 567", "accepted_terms": False},
        headers=headers,
    )
    assert refused.status_code == 400
    assert "accepted_terms" in refused.json()["detail"]
    completed = await client.post(
        "/api/v1/auth/complete-signup",
        json={"phone": "+265 991 234 567", "accepted_terms": True},
        headers=headers,
    )
    assert completed.status_code == 200
    assert completed.json()["signup_completed"] is True
    assert completed.json()["phone"] == "+265 991 234 567"


async def test_an_email_is_taken_whatever_its_case(client: httpx.AsyncClient) -> None:
    first = {"email": "dup@example.com", "password": PASSWORD, "name": "A"}
    assert (await client.post("/api/v1/auth/signup", json=first)).status_code == 201
    again = await client.post(
        "/api/v1/auth/signup", json={**first, "email": "DUP@example.com", "name": "B"}
    )
    assert again.status_code == 409
    assert again.json()["error_code"] == "EMAIL_TAKEN"


async def test_signup_validation_names_the_fields(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/signup",
        json={"email": "not-an-email", "password": "short", "name": "", "role": "admin"},
    )
    assert response.status_code == 422
    for field in ("email", "password", "name", "role"):
        assert field in response.json()["detail"]
    assert "short" not in response.text


async def test_wrong_password_and_unknown_email_look_the_same(
    client: httpx.AsyncClient, database: Database
) -> None:
    async with database.transaction() as session:
        await service.create_user(session, email="known@example.com", password=PASSWORD, name="K")
    wrong = await _sign_in(client, "known@example.com", "not the password")
    unknown = await _sign_in(client, "nobody@example.com", PASSWORD)
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"] == "Incorrect email or password"
    assert wrong.headers["www-authenticate"] == "Bearer"


async def test_disabled_users_cannot_sign_in(client: httpx.AsyncClient, database: Database) -> None:
    async with database.transaction() as session:
        user = await service.create_user(
            session, email="gone@example.com", password=PASSWORD, name="G"
        )
    headers = await _bearer(client, "gone@example.com")
    async with database.transaction() as session:
        stored = await service.get_active(session, user.id)
        stored.active = False
    assert (await _sign_in(client, "gone@example.com", PASSWORD)).status_code == 401
    assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 401


def _forge(settings: Settings, **claims: object) -> str:
    return jwt.encode(claims, settings.secret_key.get_secret_value(), algorithm="HS256")


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda s, sub: "", id="empty"),
        pytest.param(lambda s, sub: "not.a.jwt", id="garbage"),
        pytest.param(
            lambda s, sub: jwt.encode({"sub": sub}, key=None, algorithm="none"), id="alg-none"
        ),
        pytest.param(
            lambda s, sub: jwt.encode(
                {"sub": sub, "iat": utcnow(), "exp": utcnow() + timedelta(hours=1)},
                "another-secret-that-is-long-enough-for-hs256",
                algorithm="HS256",
            ),
            id="wrong-key",
        ),
        pytest.param(
            lambda s, sub: jwt.encode(
                {"sub": sub, "iat": utcnow(), "exp": utcnow() + timedelta(hours=1)},
                s.secret_key.get_secret_value(),
                algorithm="HS512",
            ),
            id="wrong-algorithm",
            # Signing with HS512 here warns that the key is short for SHA-512; that is the point.
            marks=pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning"),
        ),
        pytest.param(
            lambda s, sub: _forge(
                s, sub=sub, iat=utcnow() - timedelta(hours=2), exp=utcnow() - timedelta(hours=1)
            ),
            id="expired",
        ),
        pytest.param(lambda s, sub: _forge(s, sub=sub, iat=utcnow()), id="no-exp"),
        pytest.param(
            lambda s, sub: _forge(s, sub=sub, exp=utcnow() + timedelta(hours=1)), id="no-iat"
        ),
    ],
)
async def test_bad_tokens_are_401(
    client: httpx.AsyncClient, database: Database, settings: Settings, make_token: object
) -> None:
    async with database.transaction() as session:
        user = await service.create_user(
            session, email="t@example.com", password=PASSWORD, name="T", roles=[Role.ADMIN]
        )
    token = make_token(settings, str(user.id))  # type: ignore[operator]
    response = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json()["error_code"] == "UNAUTHORIZED"
    missing = await client.get("/api/v1/auth/me")
    assert missing.status_code == 401
    assert missing.json()["detail"] == "This endpoint needs a bearer token"


async def test_no_password_or_token_reaches_the_log(
    app: FastAPI, client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(level="DEBUG", json_format=True)
    await client.post(
        "/api/v1/auth/signup", json={"email": "log@example.com", "password": PASSWORD, "name": "L"}
    )
    token = (await _sign_in(client, "log@example.com", PASSWORD)).json()["access_token"]
    await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    output = capsys.readouterr().err
    assert output.strip()
    assert all(json.loads(line) for line in output.splitlines() if line.startswith("{"))
    assert PASSWORD not in output
    assert token not in output
