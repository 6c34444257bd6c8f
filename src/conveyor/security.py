"""Request and response hardening every surface shares: a body size limit, no NUL characters,
`no-store` caching and the CORS allow-list (OWASP API Security Top 10: resource consumption,
misconfiguration)."""

import re

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from conveyor.config import Settings
from conveyor.errors import FieldError, Problem, SurfaceResolver

_NUL_IN_JSON = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
"""`\u0000` escaped in JSON, not preceded by an escaped backslash (`\\u0000` is harmless)."""


def _nul_in(scope: Scope, body: bytes) -> str | None:
    """Where a NUL character hides in the request, if anywhere: no text column of PostgreSQL
    can store one, and no field of any surface has a use for it."""
    if "\x00" in scope["path"]:
        return "path"
    if b"%00" in scope.get("query_string", b""):
        return "query"
    content_type = dict(scope["headers"]).get(b"content-type", b"")
    if b"\x00" in body or _NUL_IN_JSON.search(body):
        return "body"
    if content_type.startswith(b"application/x-www-form-urlencoded") and b"%00" in body:
        return "body"
    return None


class InputGuardMiddleware:
    """Reads the request body before any handler (or the idempotency middleware) does, and
    refuses in the owning surface's format: a body over `max_bytes` (413, at once when
    `Content-Length` says so, else as soon as the streamed body passes it), and a NUL
    character in the path, the query or the body (the surface's validation error). Nothing of
    such a request reaches a handler."""

    def __init__(self, app: ASGIApp, *, resolver: SurfaceResolver, max_bytes: int) -> None:
        self.app = app
        self.resolver = resolver
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client left
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        where = _nul_in(scope, body)
        if where is not None:
            await self._refuse(scope, receive, send, self._nul_problem(scope, receive, where))
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: the disconnect, when it comes

        await self.app(scope, replay, send)

    def _nul_problem(self, scope: Scope, receive: Receive, where: str) -> Problem:
        request = Request(scope, receive)
        errors = self.resolver.resolve(request).errors
        return errors.validation_problem(
            [
                FieldError(
                    field=where,
                    message="must not contain NUL characters (\\u0000)",
                    type="string_nul",
                    location=where,
                    loc=(where,),
                )
            ],
            correlation_id=scope.get("state", {}).get("correlation_id"),
        )

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        problem = Problem.from_status(
            413,
            f"The request body is larger than the limit of {self.max_bytes} bytes",
            correlation_id=scope.get("state", {}).get("correlation_id"),
        )
        await self._refuse(scope, receive, send, problem)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, problem: Problem) -> None:
        request = Request(scope, receive)
        response = self.resolver.resolve(request).errors.render(problem, request)
        await response(scope, receive, send)


class NoStoreMiddleware:
    """`Cache-Control: no-store` on every answer that does not choose its own caching: API
    answers name people, phone numbers and accounts, and no shared cache may keep them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"cache-control" for name, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_no_store)


def install(app: FastAPI, settings: Settings, resolver: SurfaceResolver) -> None:
    """Add the hardening middleware (call between the idempotency and error-boundary ones:
    the body limit must see a body before anything reads it)."""
    app.add_middleware(InputGuardMiddleware, resolver=resolver, max_bytes=settings.max_body_bytes)
    app.add_middleware(NoStoreMiddleware)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "X-API-Key",
                "Session-Id",
                "Idempotency-Key",
                "X-Request-ID",
            ],
            expose_headers=[
                "Location",
                "Retry-After",
                "X-Request-ID",
                "X-RateLimit-Limit",
                "X-RateLimit-Remaining",
                "X-RateLimit-Reset",
            ],
        )
