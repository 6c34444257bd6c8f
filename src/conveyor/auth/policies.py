"""Who may call a route: one declarative policy per route, chosen by environment.

    router = SURFACE.router("/api/things", dependencies=[Depends(SERVICE)])

    @router.get("/{id}")
    async def read(principal: Annotated[Principal, Depends(SERVICE)]) -> ...

Every request's credentials are identified once (`identify`, cached by FastAPI for the request),
whatever the route; a policy then decides. `create_app` refuses a route without exactly one
policy, and a test walks every route with missing, bad and under-privileged credentials.

The console's pages accept its session cookie (`auth.sessions`, which browsers send only under
/console); no API route does, so a browser's cookie never authorises a cross-site API call.

Credentials are checked with a read session. An API key's last use is written in a separate
short transaction at most once a minute, so polling clients never take the write lock per request.
"""

import uuid
from dataclasses import dataclass, field
from typing import Annotated, Any

import structlog
from fastapi import Depends, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer

from conveyor.auth import service, sessions
from conveyor.auth.models import Role
from conveyor.config import Settings
from conveyor.database import Database
from conveyor.errors import AuthenticationError, PermissionDeniedError

log = structlog.get_logger(__name__)

API_KEY_HEADER = "X-API-Key"
TOKEN_URL = "/api/v1/auth/token"  # noqa: S105 - a path, not a secret

_api_key_header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, scheme_name="ApiKey")
_bearer = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False, scheme_name="Bearer")


@dataclass(frozen=True)
class Principal:
    """Who is calling: an API key, a signed-in user, or nobody in particular."""

    client: str
    """The client's address (the rate-limit key of anonymous callers)."""
    api_key_id: str | None = None
    scopes: frozenset[str] = frozenset()
    user_id: uuid.UUID | None = None
    roles: frozenset[str] = frozenset()
    signup_completed: bool = False
    name: str | None = None
    """The user's display name (users only)."""

    @property
    def subject(self) -> str:
        """A stable name for the caller: API key, else user, else client address."""
        if self.api_key_id is not None:
            return f"key:{self.api_key_id}"
        if self.user_id is not None:
            return f"user:{self.user_id}"
        return f"ip:{self.client}"

    @property
    def is_anonymous(self) -> bool:
        return self.api_key_id is None and self.user_id is None


@dataclass(frozen=True)
class Identity:
    """The credentials a request presented, and what each turned out to be."""

    client: str
    key_presented: bool = False
    key: Principal | None = None
    bearer_presented: bool = False
    user: Principal | None = None
    session_user: Principal | None = None
    """The user the console session names, if it is valid and signed in."""

    @property
    def principal(self) -> Principal:
        return self.key or self.user or self.session_user or Principal(client=self.client)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def _identify_key(database: Database, plaintext: str, client: str) -> Principal | None:
    async with database.read() as session:
        try:
            api_key = await service.authenticate_api_key(session, plaintext)
        except AuthenticationError:
            return None
    if service.needs_use_recorded(api_key):
        async with database.transaction() as session:
            await service.record_api_key_use(session, api_key.id)
    return Principal(client=client, api_key_id=api_key.id, scopes=frozenset(api_key.scopes))


async def _active_user(database: Database, user_id: uuid.UUID, client: str) -> Principal | None:
    """The caller named by a token or a console session, while their account is active."""
    try:
        async with database.read() as session:
            user = await service.get_active(session, user_id)
    except AuthenticationError:
        return None
    return Principal(
        client=client,
        user_id=user.id,
        roles=frozenset(user.roles),
        signup_completed=user.signup_completed,
        name=user.name,
    )


async def _identify_user(
    database: Database, settings: Settings, token: str, client: str
) -> Principal | None:
    try:
        user_id = service.user_id_from_token(token, secret=settings.secret_key.get_secret_value())
    except AuthenticationError:
        return None
    return await _active_user(database, user_id, client)


async def _identify_session(
    database: Database, settings: Settings, cookie: str, client: str
) -> Principal | None:
    session = sessions.decode(cookie, secret=settings.secret_key.get_secret_value())
    if session is None or session.user_id is None:
        return None
    return await _active_user(database, session.user_id, client)


async def identify(
    request: Request,
    api_key: Annotated[str | None, Depends(_api_key_header)],
    token: Annotated[str | None, Depends(_bearer)],
) -> Identity:
    """Check whatever credentials the request carries; decide nothing."""
    database: Database = request.app.state.database
    settings: Settings = request.app.state.settings
    client = _client(request)
    cookie = request.cookies.get(sessions.COOKIE)
    identity = Identity(
        client=client,
        key_presented=api_key is not None,
        key=await _identify_key(database, api_key, client) if api_key is not None else None,
        bearer_presented=token is not None,
        user=(
            await _identify_user(database, settings, token, client) if token is not None else None
        ),
        session_user=(
            await _identify_session(database, settings, cookie, client) if cookie else None
        ),
    )
    request.state.principal = identity.principal
    return identity


CurrentIdentity = Annotated[Identity, Depends(identify)]


@dataclass(frozen=True)
class Rule:
    """One environment's answer to "who may call this route"."""

    open: bool = False
    api_key: bool = False
    """Any active API key is accepted (with `api_key_scope`, only keys that carry it)."""
    api_key_scope: str | None = None
    bearer: bool = False
    """A signed-in user is accepted (with `roles`, only one holding one of them)."""
    roles: frozenset[Role] = field(default_factory=frozenset)
    signup_completed: bool = False
    session: bool = False
    """A user signed in to the console (its session cookie) is accepted, with `roles`."""

    def describe(self) -> str:
        if self.open:
            return "anyone"
        accepted = []
        if self.session:
            who = " or ".join(sorted(role.value for role in self.roles)) or "user"
            accepted.append(f"an {who} signed in to the console")
        if self.api_key:
            scope = f" with scope '{self.api_key_scope}'" if self.api_key_scope else ""
            accepted.append(f"an API key ({API_KEY_HEADER}){scope}")
        if self.bearer:
            who = " or ".join(sorted(role.value for role in self.roles)) or "signed-in user"
            accepted.append(f"a bearer token of an {who}" if self.roles else "a bearer token")
        return " or ".join(accepted)

    def admit(self, identity: Identity) -> Principal:
        """The caller, if this rule lets them in; else 401 (who are you?) or 403 (not you)."""
        if self.open:
            return identity.principal
        if self.api_key and identity.key_presented:
            return self._admit_key(identity.key)
        if self.bearer and identity.bearer_presented:
            return self._admit_user(identity.user)
        if self.session and identity.session_user is not None:
            return self._admit_user(identity.session_user, what="page")
        raise AuthenticationError(
            f"This endpoint needs {self.describe()}", headers=self._challenge()
        )

    def _admit_key(self, key: Principal | None) -> Principal:
        if key is None:
            raise AuthenticationError(service.INVALID_API_KEY, headers=self._challenge())
        if self.api_key_scope is not None and self.api_key_scope not in key.scopes:
            raise PermissionDeniedError(
                f"This API key lacks the '{self.api_key_scope}' scope this endpoint needs"
            )
        return key

    def _admit_user(self, user: Principal | None, *, what: str = "endpoint") -> Principal:
        if user is None:
            raise AuthenticationError(
                "The bearer token is invalid or expired", headers=self._challenge()
            )
        if self.roles and not self.roles & {Role(role) for role in user.roles}:
            needed = " or ".join(sorted(role.value for role in self.roles))
            raise PermissionDeniedError(f"This {what} needs the {needed} role")
        if self.signup_completed and not user.signup_completed:
            raise PermissionDeniedError(
                "Complete sign-up first (POST /api/v1/auth/complete-signup)",
                code="SIGNUP_INCOMPLETE",
            )
        return user

    def _challenge(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"} if self.bearer else {}


class Policy:
    """A named access rule for development and one for production; a FastAPI dependency."""

    def __init__(self, name: str, *, development: Rule, production: Rule | None = None) -> None:
        self.name = name
        self.development = development
        self.production = production or development

    def rule(self, settings: Settings) -> Rule:
        return self.production if settings.is_production else self.development

    async def __call__(self, request: Request, identity: CurrentIdentity) -> Principal:
        settings: Settings = request.app.state.settings
        return self.rule(settings).admit(identity)

    def __repr__(self) -> str:
        return f"Policy({self.name!r})"


_OPEN = Rule(open=True)
_ANY_API_KEY = Rule(api_key=True)
_STAFF = frozenset({Role.ADMIN, Role.OPERATOR})

OPEN = Policy("open", development=_OPEN)
"""Anyone: health, sign-in, sign-up."""

SIGNED_IN = Policy("signed-in", development=Rule(bearer=True))
"""Any signed-in user."""

SIGNUP_COMPLETED = Policy("signup-completed", development=Rule(bearer=True, signup_completed=True))
"""A signed-in user who finished sign-up (003: submitting a registration)."""

ADMIN = Policy(
    "admin",
    development=Rule(
        bearer=True, roles=frozenset({Role.ADMIN}), api_key=True, api_key_scope=Role.ADMIN.value
    ),
)
"""Admins: bearer token of an admin, or an API key with the `admin` scope."""

ADMIN_BEARER = Policy("admin-bearer", development=Rule(bearer=True, roles=frozenset({Role.ADMIN})))
"""Admins signed in as themselves (003's review endpoints)."""

OPERATIONS = Policy(
    "operations",
    development=_OPEN,
    production=Rule(api_key=True, bearer=True, roles=_STAFF),
)
"""000, restaurants, leads: open in development; API key or operator/admin in production."""

SERVICE = Policy("service", development=_OPEN, production=_ANY_API_KEY)
"""001 and 004: open in development; an API key in production."""

API_KEY = Policy("api-key", development=_ANY_API_KEY)
"""002: an API key always, as its document requires."""

CONSOLE = Policy("console", development=Rule(session=True, roles=_STAFF))
"""Console pages for operators (and admins): batches, routing, registrations."""

CONSOLE_ADMIN = Policy(
    "console-admin", development=Rule(session=True, roles=frozenset({Role.ADMIN}))
)
"""Console pages for admins only: reviews (003) and tasks."""


@dataclass(frozen=True)
class RouteAccess:
    """One API route as served (router prefixes and dependencies applied) and its policies."""

    methods: frozenset[str]
    path: str
    policies: tuple[Policy, ...]


def _policies(dependant: Dependant) -> tuple[Policy, ...]:
    found: list[Policy] = []

    def walk(node: Dependant) -> None:
        if isinstance(node.call, Policy) and node.call not in found:
            found.append(node.call)
        for sub in node.dependencies:
            walk(sub)

    walk(dependant)
    return tuple(found)


def route_access(app: FastAPI) -> list[RouteAccess]:
    """Every API route of the app with the policies found among its dependencies."""
    return [
        RouteAccess(
            frozenset(context.methods or ()), context.path or "", _policies(context.dependant)
        )
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
    ]


def ensure_every_route_has_a_policy(app: FastAPI) -> None:
    """Refuse to build an app in which some route does not say, once, who may call it."""
    problems = [
        f"{','.join(sorted(route.methods))} {route.path}"
        for route in route_access(app)
        if len(route.policies) != 1
    ]
    if problems:
        raise RuntimeError(
            "every route must declare exactly one access policy; these do not: "
            + "; ".join(problems)
        )


def document_access(app: FastAPI, settings: Settings) -> None:
    """Make each operation's OpenAPI `security` say what its policy asks in this environment:
    none for an open route, else the credentials it accepts. (FastAPI would list both schemes
    on every route, because every route identifies its caller.)"""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        for route in route_access(app):
            rule = route.policies[0].rule(settings)
            requirements: list[dict[str, list[str]]] = []
            if not rule.open:
                requirements += [{_api_key_header.scheme_name: []}] if rule.api_key else []
                requirements += [{_bearer.scheme_name: []}] if rule.bearer else []
            for method in route.methods:
                operation = schema["paths"].get(route.path, {}).get(method.lower())
                if operation is not None:
                    operation["security"] = requirements
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
