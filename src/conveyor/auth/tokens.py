"""Bearer tokens: JWT signed with HS256 and the service's secret key."""

from datetime import timedelta
from typing import Any

import jwt

from conveyor.kit.clock import utcnow

ALGORITHM = "HS256"


class InvalidToken(Exception):
    """The token is missing, malformed, expired or not signed by us."""


def issue(subject: str, *, secret: str, lifetime: timedelta) -> str:
    now = utcnow()
    claims = {"sub": subject, "iat": now, "exp": now + lifetime}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def subject_of(token: str, *, secret: str) -> str:
    """The `sub` of a valid token; `exp`, `iat` and `sub` are required, only HS256 accepted."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            options={"require": ["exp", "iat", "sub"]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from None
    return str(claims["sub"])
