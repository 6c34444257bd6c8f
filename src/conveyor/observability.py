"""Structured logs with a correlation id on every line, and Prometheus metrics."""

import logging
import re
import sys
import time
import uuid
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog
from prometheus_client import Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CORRELATION_HEADERS = ("x-request-id", "x-correlation-id")
_VALID_CORRELATION_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")

REQUEST_DURATION = Histogram(
    "api_request_duration_seconds",
    "Time spent answering HTTP requests.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

SENSITIVE_KEY_PARTS = (
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "x-api-key",
    "authorization",
    "cookie",
    "credential",
    "private_key",
)
REDACTED = "[redacted]"


MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
"""Set (by `conveyor serve --processes N`, or by the operator) when several processes serve
the API: each writes its metrics there and `/metrics` answers for all of them."""


def is_sensitive_key(key: object) -> bool:
    lowered = str(key).lower().replace("-", "_")
    return any(part.replace("-", "_") in lowered for part in SENSITIVE_KEY_PARTS)


def _redact(value: Any, depth: int = 0) -> Any:
    if depth > 8:
        return value
    if isinstance(value, Mapping):
        return {
            key: REDACTED if is_sensitive_key(key) else _redact(item, depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(_redact(item, depth + 1) for item in value)
    return value


def redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """A structlog processor that blanks every value whose key names a secret, at any depth."""
    for key in list(event_dict):
        if key == "event":
            continue
        event_dict[key] = REDACTED if is_sensitive_key(key) else _redact(event_dict[key])
    return event_dict


def configure_logging(*, level: str = "INFO", json_format: bool = False) -> None:
    """Route structlog and the standard library (uvicorn, SQLAlchemy) through one pipeline."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_secrets,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json_format
        else structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(),
            # Plain tracebacks: rich's would print local variables, which may hold secrets.
            exception_formatter=structlog.dev.plain_traceback,
        )
    )
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *([structlog.processors.format_exc_info] if json_format else []),
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Conveyor writes one line per request itself; uvicorn's access log would repeat it.
    logging.getLogger("uvicorn.access").handlers[:] = []
    logging.getLogger("uvicorn.access").propagate = False
    # Alembic announces its context every time one is configured (the readiness probe does).
    logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)
    # aiosqlite logs every statement's completion from its thread at DEBUG: noise, not signal.
    logging.getLogger("aiosqlite").setLevel(logging.INFO)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


def new_correlation_id() -> str:
    return uuid.uuid4().hex


def current_correlation_id() -> str | None:
    value = structlog.contextvars.get_contextvars().get("correlation_id")
    return str(value) if value is not None else None


def _incoming_correlation_id(scope: Scope) -> str | None:
    headers: dict[bytes, bytes] = dict(scope.get("headers") or [])
    for name in CORRELATION_HEADERS:
        raw = headers.get(name.encode())
        if raw:
            value = bytes(raw).decode("latin-1").strip()
            if _VALID_CORRELATION_ID.match(value):
                return value
    return None


def route_template(scope: Scope) -> str:
    """The matched route's path template, so metric labels stay bounded."""
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(path) if path else "unmatched"


class RequestContextMiddleware:
    """Binds a correlation id, echoes it back, times the request, logs it and records metrics."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.log = structlog.get_logger("conveyor.request")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        correlation_id = _incoming_correlation_id(scope) or new_correlation_id()
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(correlation_id=correlation_id)
        scope.setdefault("state", {})["correlation_id"] = correlation_id
        started = time.perf_counter()
        status_code = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
                headers = list(message.get("headers", []))
                encoded = correlation_id.encode()
                headers.append((b"x-request-id", encoded))
                headers.append((b"x-correlation-id", encoded))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = route_template(scope)
            if route != "/metrics":
                REQUEST_DURATION.labels(scope["method"], route, str(status_code)).observe(elapsed)
            self.log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                status_code=status_code,
                response_time_ms=round(elapsed * 1000, 2),
            )
            structlog.contextvars.clear_contextvars()
