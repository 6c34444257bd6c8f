"""What every console page shares: the console's surface (errors as HTML pages), templates,
the signed-in viewer, the CSRF check on every POST, flash messages and form errors."""

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Annotated, Any
from urllib.parse import quote, unquote, urlencode

import jinja2
from fastapi import Depends, Request
from pydantic import ValidationError as PydanticValidationError
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from conveyor.auth import sessions
from conveyor.auth.models import Role
from conveyor.auth.policies import CurrentIdentity, Principal
from conveyor.config import Settings
from conveyor.errors import (
    AuthenticationError,
    ErrorFormat,
    FieldError,
    PermissionDeniedError,
    Problem,
    Surface,
)

PREFIX = sessions.PATH
SIGN_IN_PATH = f"{PREFIX}/sign-in"
HOME_PATH = f"{PREFIX}/batches"
FLASH_COOKIE = "conveyor_console_flash"
MAX_FORM_FIELDS = 50_000
"""A step-5 form carries a dozen fields per restaurant; batches hold up to 10,000."""

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
"""Every page: never cached (they show customers' details), no inline script or style, never
framed."""


# --- templates ---------------------------------------------------------------------------


def _when(moment: datetime | str | None) -> str:
    if moment is None:
        return "—"
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _label(value: object) -> str:
    """`in_progress` -> `In progress`, `PENDING` -> `Pending`."""
    text = str(value).replace("_", " ").strip()
    return text[:1].upper() + text[1:].lower() if text else ""


_environment = jinja2.Environment(
    loader=jinja2.PackageLoader("conveyor.console", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_environment.filters["when"] = _when
_environment.filters["label"] = _label
templates = Jinja2Templates(env=_environment)


@dataclass(frozen=True)
class Asset:
    content: bytes
    media_type: str
    version: str


def _asset(name: str, media_type: str) -> Asset:
    content = resources.files("conveyor.console").joinpath("static", name).read_bytes()
    return Asset(content, media_type, hashlib.sha256(content).hexdigest()[:12])


ASSETS = {
    "console.css": _asset("console.css", "text/css; charset=utf-8"),
    "console.js": _asset("console.js", "text/javascript; charset=utf-8"),
}
"""The console's only static files, read once; pages link them with their hash (cache busting)."""

_environment.globals["asset_version"] = {name: asset.version for name, asset in ASSETS.items()}


# --- who is looking ----------------------------------------------------------------------


@dataclass(frozen=True)
class Viewer:
    """The signed-in operator or admin, as pages need them."""

    user_id: uuid.UUID
    name: str
    is_admin: bool
    csrf_token: str

    @property
    def subject(self) -> str:
        return f"user:{self.user_id}"


def _secret(request: Request) -> str:
    settings: Settings = request.app.state.settings
    return settings.secret_key.get_secret_value()


def session_of(request: Request) -> sessions.Session | None:
    return sessions.decode(request.cookies.get(sessions.COOKIE), secret=_secret(request))


def _viewer_of(request: Request, user: Principal | None) -> Viewer | None:
    session = session_of(request)
    if user is None or user.user_id is None or session is None:
        return None
    return Viewer(
        user_id=user.user_id,
        name=user.name or "",
        is_admin=Role.ADMIN.value in user.roles,
        csrf_token=sessions.csrf_token(session, secret=_secret(request)),
    )


async def _viewer(request: Request, identity: CurrentIdentity) -> Viewer:
    viewer = _viewer_of(request, identity.session_user)
    if viewer is None:  # every page's policy admits signed-in users only
        raise AuthenticationError("Sign in to use the console")
    return viewer


CurrentViewer = Annotated[Viewer, Depends(_viewer)]


class CsrfRefused(PermissionDeniedError):
    """This form has expired or did not come from the console: reload the page and try again."""

    code = "CSRF_FAILED"


def check_csrf(request: Request, form: FormData) -> None:
    token = form.get("csrf_token")
    if not sessions.csrf_matches(
        session_of(request), token if isinstance(token, str) else None, secret=_secret(request)
    ):
        raise CsrfRefused()


async def read_form(request: Request) -> FormData:
    return await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)


async def _checked_form(request: Request) -> FormData:
    """The POSTed form, once its CSRF token has been checked against the session."""
    form = await read_form(request)
    check_csrf(request, form)
    return form


CheckedForm = Annotated[FormData, Depends(_checked_form)]
"""Every POST handler takes its form through this, so no POST skips the CSRF check."""


# --- forms -------------------------------------------------------------------------------

FieldErrors = dict[str, str]
"""Field name -> what is wrong with it; `""` is the form as a whole."""


def text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def raw(form: FormData, name: str) -> str:
    """A field as typed (passwords keep their spaces)."""
    value = form.get(name)
    return value if isinstance(value, str) else ""


def values(form: FormData, name: str) -> list[str]:
    return [value for value in form.getlist(name) if isinstance(value, str)]


def _sentence(message: str) -> str:
    message = message.removeprefix("Value error, ")
    return message[:1].upper() + message[1:] if message else message


def field_errors(
    error: PydanticValidationError, fields: Mapping[str, str], *, default: str = ""
) -> FieldErrors:
    """Pydantic's errors by form field: `fields` maps a dotted location to the field's name;
    errors elsewhere go to `default` (the form as a whole unless told)."""
    found: FieldErrors = {}
    for item in error.errors():
        location = ".".join(str(part) for part in item["loc"])
        name = fields.get(location, default)
        found.setdefault(name, _sentence(str(item["msg"])))
    return found


def page_number(value: str | None) -> int:
    """A `page` query parameter, forgiving: anything but a positive number is page 1."""
    try:
        return max(1, int(value or 1))
    except ValueError:
        return 1


def query(**params: object) -> str:
    """`?a=1&b=x` from the parameters that have a value."""
    given = {name: value for name, value in params.items() if value not in (None, "")}
    return f"?{urlencode(given)}" if given else ""


# --- responses ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Flash:
    kind: str
    """`notice` or `error`."""
    message: str


def _secure(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _read_flash(request: Request) -> Flash | None:
    value = request.cookies.get(FLASH_COOKIE)
    if not value:
        return None
    kind, _, message = unquote(value).partition(":")
    return Flash(kind if kind in ("notice", "error") else "notice", message)


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any],
    *,
    viewer: Viewer | None,
    status_code: int = 200,
) -> Response:
    """A page; shows (and clears) the flash message a redirect left."""
    flash = _read_flash(request)
    response = templates.TemplateResponse(
        request,
        template,
        {"viewer": viewer, "flash": flash, "errors": {}, "path": request.url.path, **context},
        status_code=status_code,
    )
    if flash is not None:
        response.delete_cookie(FLASH_COOKIE, path=PREFIX)
    return _secure(response)


def fragment(request: Request, template: str, context: Mapping[str, Any]) -> Response:
    """Part of a page, for the few lines of script that refresh it; never shows a flash."""
    response = templates.TemplateResponse(request, template, {"errors": {}, **context})
    return _secure(response)


def set_cookie(
    request: Request, response: Response, name: str, value: str, *, max_age: int
) -> None:
    settings: Settings = request.app.state.settings
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=PREFIX,
        httponly=True,
        samesite="lax",
        secure=settings.is_production,
    )


def redirect(
    request: Request, url: str, *, notice: str | None = None, error: str | None = None
) -> Response:
    """303 to `url` (after a POST the browser GETs it), with a message for the next page."""
    response = RedirectResponse(url, status_code=303)
    if notice is not None or error is not None:
        kind, message = ("error", error) if error is not None else ("notice", notice)
        set_cookie(request, response, FLASH_COOKIE, quote(f"{kind}:{message}"), max_age=60)
    return _secure(response)


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a console path, never another site."""
    if not value or not value.startswith(PREFIX) or value.startswith("//") or "\\" in value:
        return HOME_PATH
    return value


# --- errors ------------------------------------------------------------------------------


class HtmlErrorFormat(ErrorFormat):
    """Errors under /console are pages: a 401 sends the browser to sign in, anything else is
    a page saying what went wrong (never a stack trace)."""

    validation_status = 400
    media_type = "text/html"

    def validation_problem(
        self, field_errors: Sequence[FieldError], *, correlation_id: str | None
    ) -> Problem:
        if any(error.location == "path" for error in field_errors):
            return Problem.from_status(
                404, "There is nothing at this address.", correlation_id=correlation_id
            )
        return super().validation_problem(field_errors, correlation_id=correlation_id)

    def render(self, problem: Problem, request: Request) -> Response:
        if problem.status == 401:
            target = request.url.path
            if request.method == "GET" and request.url.query:
                target += f"?{request.url.query}"
            next_page = target if request.method == "GET" else HOME_PATH
            return _secure(RedirectResponse(f"{SIGN_IN_PATH}{query(next=next_page)}", 303))
        principal = getattr(request.state, "principal", None)
        viewer = _viewer_of(request, principal if isinstance(principal, Principal) else None)
        headers = {
            name: value
            for name, value in problem.headers.items()
            if name.lower() != "www-authenticate"
        }
        response = templates.TemplateResponse(
            request,
            "error.html",
            {
                "viewer": viewer,
                "flash": None,
                "errors": {},
                "path": request.url.path,
                "status": problem.status,
                "title": problem.title,
                "message": problem.message,
            },
            status_code=problem.status,
            headers=headers,
        )
        return _secure(response)


CONSOLE = Surface("console", HtmlErrorFormat(), prefixes=(PREFIX,))
