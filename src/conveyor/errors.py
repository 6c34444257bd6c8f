"""Domain errors, and the per-surface envelopes every error is rendered in.

Domain code raises `AppError` subclasses and never builds responses. Each API surface owns
an `ErrorFormat` (the error body its document specifies); its routes carry the surface, so
every error raised under them -- domain errors, request validation, malformed JSON, 404/405,
rate limits, unexpected exceptions -- comes out in that surface's shape. Paths outside any
surface get the platform format.
"""

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, ClassVar, Literal

import structlog
from fastapi import APIRouter, FastAPI
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from conveyor.kit.clock import isoformat_z, utcnow
from conveyor.observability import new_correlation_id


class AppError(Exception):
    """The request could not be completed."""

    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "BAD_REQUEST"
    title: ClassVar[str] = "Bad request"

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        details: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.message = message or (type(self).__doc__ or "Error").strip()
        self.error_code = code or self.code
        self.details = dict(details or {})
        self.headers = dict(headers or {})
        super().__init__(self.message)


class ValidationError(AppError):
    """The request is not valid."""

    status_code = 400
    code = "VALIDATION_ERROR"
    title = "Validation error"


class AuthenticationError(AppError):
    """Authentication is required."""

    status_code = 401
    code = "UNAUTHORIZED"
    title = "Unauthorized"


class PermissionDeniedError(AppError):
    """You are not allowed to do this."""

    status_code = 403
    code = "FORBIDDEN"
    title = "Forbidden"


class NotFoundError(AppError):
    """The requested resource was not found."""

    status_code = 404
    code = "NOT_FOUND"
    title = "Not found"


class ConflictError(AppError):
    """The resource is not in a state that allows this."""

    status_code = 409
    code = "CONFLICT"
    title = "Conflict"


class PayloadTooLargeError(AppError):
    """The request body is too large."""

    status_code = 413
    code = "PAYLOAD_TOO_LARGE"
    title = "Payload too large"


class RateLimitedError(AppError):
    """Too many requests; slow down."""

    status_code = 429
    code = "RATE_LIMIT_EXCEEDED"
    title = "Rate limit exceeded"


class UnavailableError(AppError):
    """The service is temporarily unavailable."""

    status_code = 503
    code = "SERVICE_UNAVAILABLE"
    title = "Service unavailable"


@dataclass(frozen=True)
class FieldError:
    """One problem with one input field, from request validation."""

    field: str
    message: str
    type: str
    location: str
    loc: tuple[str | int, ...]
    context: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True)
class Problem:
    """Everything a surface needs to render one error."""

    status: int
    code: str
    message: str
    title: str
    details: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    field_errors: Sequence[FieldError] = ()
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)
    correlation_id: str | None = None

    @classmethod
    def from_error(cls, error: AppError, *, correlation_id: str | None = None) -> "Problem":
        return cls(
            status=error.status_code,
            code=error.error_code,
            message=error.message,
            title=error.title,
            details=error.details,
            headers=error.headers,
            correlation_id=correlation_id,
        )

    @classmethod
    def from_status(
        cls,
        status: int,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
        correlation_id: str | None = None,
    ) -> "Problem":
        phrase = HTTPStatus(status).phrase
        code = phrase.upper().replace(" ", "_").replace("-", "_")
        return cls(
            status=status,
            code=code,
            message=message,
            title=phrase.capitalize(),
            headers=headers or {},
            correlation_id=correlation_id,
        )

    @classmethod
    def internal(cls, correlation_id: str) -> "Problem":
        return cls(
            status=500,
            code="INTERNAL_ERROR",
            message=(
                f"An unexpected error occurred. Quote reference {correlation_id} when reporting it."
            ),
            title="Internal server error",
            correlation_id=correlation_id,
        )


def _field_name(loc: Sequence[str | int]) -> tuple[str, str]:
    """(`where`, `dotted.path`) from a Pydantic location such as ('body', 'address', 'state')."""
    if not loc:
        return "body", "body"
    where, rest = str(loc[0]), list(loc[1:])
    if where not in {"body", "query", "path", "header", "cookie"}:
        where, rest = "body", list(loc)
    path = ""
    for part in rest:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return where, path or where


def field_errors_from_pydantic(errors: Sequence[Mapping[str, Any]]) -> list[FieldError]:
    """Turn Pydantic's error list into `FieldError`s, dropping the rejected input values.

    Inputs are not echoed back: they may hold secrets (passwords, keys) or be very large.
    """
    result = []
    for error in errors:
        loc = tuple(error.get("loc", ()))
        where, name = _field_name(loc)
        kind = str(error.get("type", "value_error"))
        message = str(error.get("msg", "Invalid value"))
        context = {k: v for k, v in dict(error.get("ctx") or {}).items() if k != "error"}
        if kind == "json_invalid":
            name = "body"
            reason = (error.get("ctx") or {}).get("error")
            message = f"Request body is not valid JSON ({reason})" if reason else message
        result.append(
            FieldError(
                field=name,
                message=message,
                type=kind,
                location=where,
                loc=loc,
                context=jsonable_encoder(context),
            )
        )
    return result


def validation_message(field_errors: Sequence[FieldError]) -> str:
    """One readable sentence naming every field that is wrong."""
    parts = [
        error.message if error.type == "json_invalid" else f"{error.field}: {error.message}"
        for error in field_errors
    ]
    return "Invalid request: " + "; ".join(parts) if parts else "Invalid request"


KEPT_HEADERS = "kept_headers"


def keep_headers(request: Request, headers: Mapping[str, str]) -> None:
    """Headers every answer to this request carries, an error answer too: FastAPI drops the
    headers a dependency set on its `Response` when the handler (or validation) fails."""
    setattr(request.state, KEPT_HEADERS, {**getattr(request.state, KEPT_HEADERS, {}), **headers})


class ErrorFormat:
    """How one surface renders errors. Subclasses implement `body` and name the model that
    documents it in OpenAPI (`schema`)."""

    validation_status: ClassVar[int] = 400
    media_type: ClassVar[str] = "application/json"
    schema: ClassVar[type[BaseModel] | None] = None
    """The error body as a model, for OpenAPI; None for a surface outside the schema."""

    def openapi_responses(self) -> dict[int | str, dict[str, Any]]:
        """Every 4xx and 5xx of the surface's routes, in its error body (this also replaces
        FastAPI's default 422 schema, which no surface uses)."""
        if self.schema is None:
            return {}
        # The media type is explicit: a route that answers in another one (Server-Sent
        # Events) still sends its errors as JSON.
        ref = {"$ref": f"#/components/schemas/{self.schema.__name__}"}
        documented = {"model": self.schema, "content": {self.media_type: {"schema": ref}}}
        return {
            "4XX": {**documented, "description": "The request cannot be served as it is"},
            "5XX": {**documented, "description": "The service failed; quote the reference"},
        }

    def validation_problem(
        self, field_errors: Sequence[FieldError], *, correlation_id: str | None
    ) -> Problem:
        return Problem(
            status=self.validation_status,
            code="VALIDATION_ERROR",
            message=validation_message(field_errors),
            title="Validation error",
            field_errors=field_errors,
            correlation_id=correlation_id,
        )

    def body(self, problem: Problem, request: Request) -> dict[str, Any]:
        raise NotImplementedError

    def render(self, problem: Problem, request: Request) -> Response:
        return JSONResponse(
            jsonable_encoder(self.body(problem, request)),
            status_code=problem.status,
            headers={**getattr(request.state, KEPT_HEADERS, {}), **problem.headers},
            media_type=self.media_type,
        )


class PlatformErrorBody(BaseModel):
    detail: str
    error_code: str
    timestamp: str


class PlatformErrorFormat(ErrorFormat):
    """`{"detail", "error_code", "timestamp"}`: document 004, health and the platform."""

    validation_status = 422
    schema = PlatformErrorBody

    def body(self, problem: Problem, request: Request) -> dict[str, Any]:
        return {
            "detail": problem.message,
            "error_code": problem.code,
            "timestamp": isoformat_z(utcnow()),
        }


class NestedError(BaseModel):
    code: str
    message: str
    details: dict[str, Any]


class NestedErrorBody(BaseModel):
    success: Literal[False]
    error: NestedError


class NestedErrorFormat(ErrorFormat):
    """`{"success": false, "error": {"code", "message", "details"}}`: document 000."""

    validation_status = 400
    schema = NestedErrorBody

    def body(self, problem: Problem, request: Request) -> dict[str, Any]:
        details = dict(problem.details)
        if problem.field_errors:
            details["fields"] = [
                {"field": error.field, "message": error.message, "type": error.type}
                for error in problem.field_errors
            ]
        if problem.status >= 500 and problem.correlation_id:
            details["correlation_id"] = problem.correlation_id
        return {
            "success": False,
            "error": {"code": problem.code, "message": problem.message, "details": details},
        }


class FlatErrorBody(BaseModel):
    success: Literal[False]
    error: str
    message: str


class FlatErrorFormat(ErrorFormat):
    """`{"success": false, "error": "<type>", "message"}`: document 001."""

    validation_status = 400
    schema = FlatErrorBody

    def body(self, problem: Problem, request: Request) -> dict[str, Any]:
        # The document's error types are the HTTP reason phrases ("Bad Request", "Not Found").
        error = HTTPStatus(problem.status).phrase
        return {"success": False, "error": error, "message": problem.message}


class StatusEnvelopeErrorData(BaseModel):
    model_config = ConfigDict(extra="allow")

    error_code: str
    path: str
    details: list[dict[str, Any]] | None = None


class StatusEnvelopeErrorBody(BaseModel):
    status: Literal["error"]
    message: str
    data: StatusEnvelopeErrorData


class StatusEnvelopeFormat(ErrorFormat):
    """`{"status": "error", "message", "data": {"error_code", "path"}}`: document 002.

    `codes` renames platform codes to the document's own (`UNAUTHORIZED` is 002's
    `AUTH_INVALID_API_KEY`).
    """

    validation_status = 422
    schema = StatusEnvelopeErrorBody

    def __init__(self, codes: Mapping[str, str] | None = None) -> None:
        self.codes = dict(codes or {})

    def body(self, problem: Problem, request: Request) -> dict[str, Any]:
        code = self.codes.get(problem.code, problem.code)
        data: dict[str, Any] = {"error_code": code, "path": request.url.path}
        data.update(problem.details)
        if problem.field_errors:
            data["details"] = [
                {
                    "type": error.type,
                    "loc": list(error.loc),
                    "msg": error.message,
                    **({"ctx": dict(error.context)} if error.context else {}),
                }
                for error in problem.field_errors
            ]
        if problem.status >= 500 and problem.correlation_id:
            data["correlation_id"] = problem.correlation_id
        return {"status": "error", "message": problem.message, "data": data}


class ProblemDetails(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    instance: str
    errors: dict[str, list[str]] | None = None
    code: str
    traceId: str | None = None


class ProblemDetailsFormat(ErrorFormat):
    """RFC 9457 `application/problem+json`, ASP.NET style: document 003."""

    validation_status = 400
    media_type = "application/problem+json"
    schema = ProblemDetails

    _SECTIONS: ClassVar[dict[int, str]] = {
        400: "15.5.1",
        401: "15.5.2",
        403: "15.5.4",
        404: "15.5.5",
        405: "15.5.6",
        409: "15.5.10",
        413: "15.5.14",
        415: "15.5.16",
        422: "15.5.21",
        429: "6585#section-4",
        500: "15.6.1",
        503: "15.6.4",
    }

    def _type(self, status: int) -> str:
        section = self._SECTIONS.get(status)
        if section is None:
            return "about:blank"
        if "#" in section:
            return f"https://tools.ietf.org/html/rfc{section}"
        return f"https://tools.ietf.org/html/rfc9110#section-{section}"

    def body(self, problem: Problem, request: Request) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self._type(problem.status),
            "title": problem.title,
            "status": problem.status,
            "detail": problem.message,
            "instance": request.url.path,
        }
        if problem.field_errors:
            body["title"] = "One or more validation errors occurred."
            errors: dict[str, list[str]] = {}
            for error in problem.field_errors:
                errors.setdefault(error.field, []).append(error.message)
            body["errors"] = errors
        body["code"] = problem.code
        if problem.correlation_id:
            body["traceId"] = problem.correlation_id
        return body


class SurfaceRoute(APIRoute):
    """A route that knows which surface it belongs to; `Surface` makes one subclass each."""

    surface: ClassVar["Surface | None"] = None


class Surface:
    """One API surface: its name, the paths it owns and the error format it speaks."""

    def __init__(self, name: str, errors: ErrorFormat, *, prefixes: Sequence[str] = ()) -> None:
        self.name = name
        self.errors = errors
        self.prefixes = tuple(prefixes)
        self.route_class: type[SurfaceRoute] = type(
            f"{name.title().replace('_', '')}Route", (SurfaceRoute,), {"surface": self}
        )

    def router(self, prefix: str = "", **kwargs: Any) -> APIRouter:
        """An `APIRouter` whose routes render errors in this surface's format, and document
        them so in OpenAPI."""
        responses = {**self.errors.openapi_responses(), **kwargs.pop("responses", {})}
        return APIRouter(prefix=prefix, route_class=self.route_class, responses=responses, **kwargs)

    def __repr__(self) -> str:
        return f"Surface({self.name!r})"


PLATFORM = Surface("platform", PlatformErrorFormat())
"""Health, metrics, admin APIs, and any path outside every surface."""


class SurfaceResolver:
    """Finds the surface that owns a request: its matched route, else the longest prefix."""

    def __init__(
        self,
        surfaces: Sequence[Surface],
        *,
        default: Surface = PLATFORM,
        mounts: Mapping[Surface, str] | None = None,
    ) -> None:
        """`mounts` gives the path a surface's routers were mounted under, when a setting
        decides it: the surface owns that path, and its prefixes are relative to it."""
        self.default = default
        mounted = mounts or {}
        owned = [
            ((mounted.get(surface, "") + prefix).rstrip("/"), surface)
            for surface in surfaces
            for prefix in (*surface.prefixes, *([""] if mounted.get(surface) else []))
        ]
        self._prefixes = sorted(owned, key=lambda item: len(item[0]), reverse=True)

    def resolve(self, request: Request) -> Surface:
        route = request.scope.get("route")
        surface = getattr(route, "surface", None)
        if isinstance(surface, Surface):
            return surface
        path = request.url.path
        for prefix, candidate in self._prefixes:
            if path == prefix or path.startswith(prefix + "/"):
                return candidate
        return self.default


def _correlation_id(request: Request) -> str | None:
    value = getattr(request.state, "correlation_id", None)
    return str(value) if value else None


def _allowed_methods(request: Request) -> str:
    """Every method some route serves at this path (Starlette's 405 names only the first
    route that matched the path)."""
    path = request.url.path
    methods = {
        method
        for context in iter_route_contexts(request.app.routes)
        if context.path_regex is not None and context.path_regex.match(path)
        for method in context.methods or ()
    }
    return ", ".join(sorted(methods))


def install_error_handlers(app: FastAPI, resolver: SurfaceResolver) -> None:
    """Render every error under a surface's routes in that surface's format."""

    async def app_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, AppError)
        surface = resolver.resolve(request)
        problem = Problem.from_error(exc, correlation_id=_correlation_id(request))
        return surface.errors.render(problem, request)

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = resolver.resolve(request).errors
        problem = errors.validation_problem(
            field_errors_from_pydantic(exc.errors()), correlation_id=_correlation_id(request)
        )
        return errors.render(problem, request)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404 and exc.detail == "Not Found":
            message = f"No resource at {request.url.path}"
        elif exc.status_code == 405:
            allowed = _allowed_methods(request) or (exc.headers or {}).get("Allow", "")
            exc.headers = {**(exc.headers or {}), "Allow": allowed}
            message = f"Method {request.method} is not allowed on {request.url.path}"
            message += f"; allowed: {allowed}" if allowed else ""
        else:
            message = str(exc.detail)
        problem = Problem.from_status(
            exc.status_code,
            message,
            headers=exc.headers,
            correlation_id=_correlation_id(request),
        )
        return resolver.resolve(request).errors.render(problem, request)

    app.add_exception_handler(AppError, app_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)


class ErrorBoundaryMiddleware:
    """Turns an unexpected exception into a 500 in the owning surface's format.

    The traceback goes to the log with the correlation id; the client sees only the id.
    """

    def __init__(self, app: ASGIApp, *, resolver: SurfaceResolver) -> None:
        self.app = app
        self.resolver = resolver
        self.log = structlog.get_logger("conveyor.errors")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        response_started = False

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            correlation_id = scope.get("state", {}).get("correlation_id") or new_correlation_id()
            self.log.exception("unhandled_error", method=scope["method"], path=scope["path"])
            if response_started:
                return
            request = Request(scope, receive)
            surface = self.resolver.resolve(request)
            response = surface.errors.render(Problem.internal(correlation_id), request)
            await response(scope, receive, send)
