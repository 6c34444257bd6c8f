"""Rate limits: named, per caller, declared on routes like policies, counted by `limits`.

    router = SURFACE.router("/api/v1", dependencies=[Depends(SERVICE), Depends(DEFAULT_LIMIT)])

    @router.post("/jobs/", dependencies=[Depends(CREATE_JOB_LIMIT)])

A limit's default comes from the documents; `CONVEYOR_RATE_LIMITS` overrides any by name and
`CONVEYOR_RATE_LIMITS_ENABLED=false` switches them all off. Callers are counted by API key, else
user, else client address. Counters live in memory, or in Redis when `CONVEYOR_REDIS_URL` is set,
so that every API process shares one budget. The window moves (each request counts for exactly
one period), so `Retry-After` is exact and a boundary never admits a double burst. If Redis
cannot be reached, requests are let through (and a warning logged): a counter outage must not
take the API down.
"""

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass

import structlog
from fastapi import Request, Response
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio import Redis

from conveyor.auth.policies import CurrentIdentity
from conveyor.config import Settings
from conveyor.errors import RateLimitedError, keep_headers

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_at: float
    """When the window frees up again, seconds since the epoch."""

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(math.ceil(self.reset_at)),
        }


class RateLimiter:
    """The app's counters, and each named limit's effective value."""

    def __init__(self, storage: Storage, overrides: Mapping[str, str] | None = None) -> None:
        self.storage = storage
        self.strategy = MovingWindowRateLimiter(storage)
        self.overrides = {name: parse(value) for name, value in (overrides or {}).items()}

    @classmethod
    def from_settings(cls, settings: Settings, redis: Redis | None) -> "RateLimiter | None":
        """Counters in the app's Redis (sharing its connection pool) if it has one."""
        if not settings.rate_limits_enabled:
            return None
        storage: Storage
        if redis is not None and settings.redis_url:
            storage = RedisStorage(
                f"async+{settings.redis_url}",
                implementation="redispy",
                key_prefix=settings.rate_limit_key_prefix,
                wrap_exceptions=True,
                connection_pool=redis.connection_pool,  # type: ignore[arg-type]
            )
        else:
            storage = MemoryStorage()
        return cls(storage, settings.rate_limits)

    def item(self, limit: "RateLimit") -> RateLimitItem:
        return self.overrides.get(limit.name, limit.default)

    async def hit(self, limit: "RateLimit", subject: str) -> Decision | None:
        """Count one request of `subject`; None when the counters cannot be reached."""
        item = self.item(limit)
        try:
            allowed = await self.strategy.hit(item, limit.name, subject)
            stats = await self.strategy.get_window_stats(item, limit.name, subject)
        except Exception as exc:  # limits wraps storage failures; the request goes on
            log.warning("rate_limit_unavailable", limit=limit.name, error=str(exc))
            return None
        reset_at = stats.reset_time if stats.reset_time > 0 else time.time() + item.get_expiry()
        return Decision(allowed, item.amount, max(0, stats.remaining), reset_at)


class RateLimit:
    """A named limit on a route, e.g. `RateLimit("auth.sign_in", "10/minute")`."""

    def __init__(self, name: str, default: str) -> None:
        self.name = name
        self.default = parse(default)

    async def __call__(
        self, request: Request, response: Response, identity: CurrentIdentity
    ) -> None:
        limiter: RateLimiter | None = request.app.state.rate_limiter
        if limiter is None:
            return
        decision = await limiter.hit(self, identity.principal.subject)
        if decision is None:
            return
        headers = decision.headers()
        if not decision.allowed:
            retry_after = max(1, math.ceil(decision.reset_at - time.time()))
            raise RateLimitedError(
                f"Too many requests; try again in {retry_after} s",
                headers={**headers, "Retry-After": str(retry_after)},
            )
        # With several limits on one route, the one closest to running out is reported.
        shown = response.headers.get("X-RateLimit-Remaining")
        if shown is None or decision.remaining < int(shown):
            response.headers.update(headers)
            keep_headers(request, headers)  # an error answer counts against the limit too

    def __repr__(self) -> str:
        return f"RateLimit({self.name!r})"


SIGN_IN = RateLimit("auth.sign_in", "10/minute")
"""Password guessing: ten tries a minute per client address."""

SIGN_UP = RateLimit("auth.sign_up", "20/hour")
