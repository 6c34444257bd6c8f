"""`Idempotency-Key` on POSTs that create something (IETF draft, as Stripe does it).

    @router.post("/jobs/", status_code=201, dependencies=[Depends(IDEMPOTENT)])

The first request with a key claims it inside the request's own transaction, so the claim
commits with the change it made, or vanishes with it. Its response is stored before it is sent
(`IdempotencyMiddleware`), so once a client has an answer, a retry replays that answer. For each
client (API key, else user, else address) and key, for 24 hours:

- the same request again: the stored response, with `Idempotent-Replayed: true`;
- another request (method, path or body differ): 422;
- while the first is still being processed: 409, and the client retries later.
"""

import hashlib
from dataclasses import dataclass
from datetime import timedelta

import structlog
from fastapi import Request
from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from conveyor.auth.policies import CurrentIdentity
from conveyor.database import Database, WriteSession
from conveyor.errors import AppError, ConflictError, ValidationError
from conveyor.idempotency.models import IdempotencyRecord
from conveyor.kit.clock import utcnow

log = structlog.get_logger(__name__)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
LIFETIME = timedelta(hours=24)
MAX_KEY_LENGTH = 255
_STATE = "idempotency_claim"

# Headers worth replaying; per-response ones (date, request id, rate limits) are made afresh.
_KEPT_HEADERS = ("content-type", "location", "retry-after", "cache-control")


class IdempotencyKeyReusedError(AppError):
    """The same Idempotency-Key was sent with a different request."""

    status_code = 422
    code = "IDEMPOTENCY_KEY_REUSED"
    title = "Idempotency key reused"


class Replay(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


@dataclass(frozen=True)
class Claim:
    subject: str
    key: str


def _fingerprint(method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256(f"{method} {path}\n".encode())
    digest.update(body)
    return digest.hexdigest()


def _replay(record: IdempotencyRecord) -> Response:
    assert record.status_code is not None
    headers = {**(record.response_headers or {}), REPLAYED_HEADER: "true"}
    return Response(record.response_body or b"", status_code=record.status_code, headers=headers)


async def _claim(
    session: AsyncSession, claim: Claim, *, method: str, path: str, fingerprint: str
) -> None:
    now = utcnow()
    record = await session.get(IdempotencyRecord, (claim.subject, claim.key))
    if record is not None and record.expires_at <= now:
        await session.delete(record)
        await session.flush()
        record = None
    if record is None:
        session.add(
            IdempotencyRecord(
                subject=claim.subject,
                key=claim.key,
                method=method,
                path=path,
                fingerprint=fingerprint,
                created_at=now,
                expires_at=now + LIFETIME,
            )
        )
        try:
            await session.flush()
        except IntegrityError:  # a concurrent first request committed the same key
            raise ConflictError(
                "A request with this Idempotency-Key is being processed; retry later",
                code="IDEMPOTENCY_KEY_IN_USE",
            ) from None
        return
    if record.fingerprint != fingerprint:
        raise IdempotencyKeyReusedError(
            f"This Idempotency-Key was used for another request ({record.method} {record.path}"
            " with a different body); use a new key for a new request"
        )
    if record.status_code is None:
        raise ConflictError(
            "A request with this Idempotency-Key is being processed; retry later",
            code="IDEMPOTENCY_KEY_IN_USE",
            headers={"Retry-After": "1"},
        )
    raise Replay(_replay(record))


async def idempotent(request: Request, identity: CurrentIdentity, session: WriteSession) -> None:
    """Claim the request's `Idempotency-Key` in its transaction, or answer from the claim."""
    key = request.headers.get(HEADER)
    if key is None:
        return
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise ValidationError(
            f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters",
            details={"header": HEADER},
        )
    claim = Claim(identity.principal.subject, key)
    path = request.url.path
    fingerprint = _fingerprint(request.method, path, await request.body())
    await _claim(session, claim, method=request.method, path=path, fingerprint=fingerprint)
    setattr(request.state, _STATE, claim)


IDEMPOTENT = idempotent
"""The dependency to put on a creating POST: `dependencies=[Depends(IDEMPOTENT)]`."""


async def replay_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Replay)
    return exc.response


async def store_response(
    database: Database, claim: Claim, status_code: int, headers: dict[str, str], body: bytes
) -> None:
    """Keep the answer to a claimed key; nothing happens if the claim rolled back."""
    async with database.transaction() as session:
        await session.execute(
            update(IdempotencyRecord)
            .where(
                IdempotencyRecord.subject == claim.subject,
                IdempotencyRecord.key == claim.key,
                IdempotencyRecord.status_code.is_(None),
            )
            .values(status_code=status_code, response_headers=headers, response_body=body)
        )


async def prune(session: AsyncSession) -> int:
    """Forget expired keys."""
    result = await session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= utcnow())
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


class IdempotencyMiddleware:
    """Stores the response of a request that claimed a key, before the client receives it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        held: list[Message] = []
        body = bytearray()

        async def holding_send(message: Message) -> None:
            claim: Claim | None = scope.get("state", {}).get(_STATE)
            if claim is None:
                await send(message)
                return
            held.append(message)
            if message["type"] == "http.response.body":
                body.extend(message.get("body", b""))
                if message.get("more_body", False):
                    return
                await self._store(scope, claim, held[0], bytes(body))
                for kept in held:
                    await send(kept)

        await self.app(scope, receive, holding_send)

    async def _store(self, scope: Scope, claim: Claim, start: Message, body: bytes) -> None:
        headers = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in start.get("headers", [])
            if name.decode("latin-1").lower() in _KEPT_HEADERS
        }
        database: Database = scope["app"].state.database
        try:
            await store_response(database, claim, start["status"], headers, body)
        except Exception:  # the client still gets its answer; a retry will get 409 until expiry
            log.exception("idempotent_response_not_stored", status=start["status"])
