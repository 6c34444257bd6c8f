"""Signing in and out of the console, its front door, and its two static files."""

from datetime import timedelta
from typing import Annotated

import structlog
from fastapi import Depends, Query, Request
from starlette.responses import Response

from conveyor.auth import service as auth_service
from conveyor.auth import sessions
from conveyor.auth.models import Role
from conveyor.auth.policies import OPEN, CurrentIdentity
from conveyor.config import CurrentSettings, Settings
from conveyor.console.web import (
    ASSETS,
    CONSOLE,
    HOME_PATH,
    PREFIX,
    SIGN_IN_PATH,
    CheckedForm,
    FieldErrors,
    check_csrf,
    raw,
    read_form,
    redirect,
    render,
    safe_next,
    session_of,
    set_cookie,
    text,
)
from conveyor.database import CurrentDatabase
from conveyor.errors import AuthenticationError, NotFoundError
from conveyor.ratelimit import SIGN_IN

log = structlog.get_logger(__name__)

router = CONSOLE.router(PREFIX, tags=["console"], include_in_schema=False)

STAFF = frozenset({Role.ADMIN.value, Role.OPERATOR.value})
NOT_STAFF = "This account cannot use the console: it needs the operator or admin role."


def _lifetime(settings: Settings) -> timedelta:
    return timedelta(hours=settings.console_session_hours)


def _start_session(
    request: Request, response: Response, settings: Settings, session: sessions.Session
) -> None:
    lifetime = _lifetime(settings)
    value = sessions.encode(
        session, secret=settings.secret_key.get_secret_value(), lifetime=lifetime
    )
    set_cookie(request, response, sessions.COOKIE, value, max_age=int(lifetime.total_seconds()))


def _sign_in_page(
    request: Request,
    settings: Settings,
    *,
    next_page: str,
    email: str = "",
    errors: FieldErrors | None = None,
    status_code: int = 200,
) -> Response:
    """The form, in a session of its own (so that it has a CSRF token) if there is none."""
    session = session_of(request)
    fresh = session is None
    if session is None:
        session = sessions.new()
    response = render(
        request,
        "sign_in.html",
        {
            "next_page": next_page,
            "email": email,
            "errors": errors or {},
            "csrf_token": sessions.csrf_token(
                session, secret=settings.secret_key.get_secret_value()
            ),
        },
        viewer=None,
        status_code=status_code,
    )
    if fresh:
        _start_session(request, response, settings, session)
    return response


@router.get("", dependencies=[Depends(OPEN)])
async def home(request: Request) -> Response:
    return redirect(request, HOME_PATH)


@router.get("/sign-in", dependencies=[Depends(OPEN)])
async def sign_in_form(
    request: Request,
    identity: CurrentIdentity,
    settings: CurrentSettings,
    next_page: Annotated[str | None, Query(alias="next", max_length=2000)] = None,
) -> Response:
    user = identity.session_user
    if user is not None and user.roles & STAFF:
        return redirect(request, safe_next(next_page))
    return _sign_in_page(request, settings, next_page=safe_next(next_page))


@router.post("/sign-in", dependencies=[Depends(OPEN), Depends(SIGN_IN)])
async def sign_in(
    request: Request, form: CheckedForm, settings: CurrentSettings, database: CurrentDatabase
) -> Response:
    email, password = text(form, "email"), raw(form, "password")
    next_page = safe_next(text(form, "next"))
    errors: FieldErrors = {}
    if not email:
        errors["email"] = "Enter your email address."
    if not password:
        errors["password"] = "Enter your password."  # noqa: S105 - a message, not a secret
    if not errors:
        try:
            async with database.transaction() as session:
                user = await auth_service.authenticate(session, email=email, password=password)
        except AuthenticationError:
            errors[""] = auth_service.SIGN_IN_FAILED + "."
        else:
            if not STAFF & set(user.roles):
                errors[""] = NOT_STAFF
    if errors:
        return _sign_in_page(
            request, settings, next_page=next_page, email=email, errors=errors, status_code=400
        )
    log.info("console_signed_in", user_id=str(user.id))
    response = redirect(request, next_page)
    # A new session id: whatever session the browser had before signing in is worth nothing.
    _start_session(request, response, settings, sessions.new(user.id))
    return response


@router.post("/sign-out", dependencies=[Depends(OPEN)])
async def sign_out(request: Request) -> Response:
    form = await read_form(request)
    current = session_of(request)
    if current is not None:
        check_csrf(request, form)
        if current.user_id is not None:
            log.info("console_signed_out", user_id=str(current.user_id))
    response = redirect(request, SIGN_IN_PATH, notice="You have signed out.")
    response.delete_cookie(sessions.COOKIE, path=PREFIX)
    return response


@router.get("/static/{name}", dependencies=[Depends(OPEN)])
async def asset(name: str) -> Response:
    found = ASSETS.get(name)
    if found is None:
        raise NotFoundError(f"No file {name}")
    return Response(
        found.content,
        media_type=found.media_type,
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )
