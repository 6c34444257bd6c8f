"""Console sessions: a signed cookie that names a visitor's session and, once they sign in,
the user; and the CSRF token bound to that session.

The cookie holds a JWT (HS256, the service's secret key) with audience `conveyor-console`, so
a session is never accepted as an API bearer token, nor a bearer token as a session. Every
visitor to the sign-in page gets a session first (no user yet), so that the sign-in form has a
CSRF token too; signing in starts a new session (a new id), so a session id planted before
sign-in is worth nothing after it.
"""

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt

from conveyor.auth.tokens import ALGORITHM
from conveyor.kit.clock import utcnow

COOKIE = "conveyor_console"
AUDIENCE = "conveyor-console"
PATH = "/console"
"""The cookie is only ever sent to the console's own pages."""


@dataclass(frozen=True)
class Session:
    id: str
    """Random; names this session (CSRF tokens are derived from it)."""
    user_id: uuid.UUID | None = None
    """The signed-in user; None before sign-in."""


def new(user_id: uuid.UUID | None = None) -> Session:
    return Session(id=secrets.token_urlsafe(24), user_id=user_id)


def encode(session: Session, *, secret: str, lifetime: timedelta) -> str:
    now = utcnow()
    claims: dict[str, Any] = {"sid": session.id, "aud": AUDIENCE, "iat": now, "exp": now + lifetime}
    if session.user_id is not None:
        claims["sub"] = str(session.user_id)
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode(value: str | None, *, secret: str) -> Session | None:
    """The session in a cookie value; None if it is missing, expired, altered or not ours."""
    if not value:
        return None
    try:
        claims: dict[str, Any] = jwt.decode(
            value,
            secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            options={"require": ["exp", "iat", "aud", "sid"]},
        )
        user_id = uuid.UUID(claims["sub"]) if "sub" in claims else None
    except (jwt.PyJWTError, ValueError, TypeError):
        return None
    if not isinstance(claims["sid"], str) or not claims["sid"]:
        return None
    return Session(id=claims["sid"], user_id=user_id)


def csrf_token(session: Session, *, secret: str) -> str:
    """The token every console form carries: an HMAC of the session id under the secret key."""
    key = hashlib.sha256(f"conveyor:console-csrf:{secret}".encode()).digest()
    return hmac.new(key, session.id.encode(), hashlib.sha256).hexdigest()


def csrf_matches(session: Session | None, token: str | None, *, secret: str) -> bool:
    if session is None or not token:
        return False
    return hmac.compare_digest(csrf_token(session, secret=secret), token)
