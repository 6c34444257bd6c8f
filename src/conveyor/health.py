"""Health endpoints exactly as document 004 shows them, for every deployment."""

import asyncio
import time
from typing import Any, Literal

import structlog
from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from redis.asyncio import Redis

from conveyor import __version__
from conveyor.auth.policies import OPEN
from conveyor.database import Database
from conveyor.errors import PLATFORM
from conveyor.kit.clock import isoformat_z, utcnow
from conveyor.migrations import current_revisions
from conveyor.module import HealthCheck, Module

log = structlog.get_logger(__name__)

CHECK_TIMEOUT_SECONDS = 3.0

router = PLATFORM.router(prefix="/api/v1/health", tags=["health"], dependencies=[Depends(OPEN)])


class HealthRead(BaseModel):
    status: Literal["healthy"]
    timestamp: str
    version: str


class ComponentRead(BaseModel):
    status: str
    response_time: str | None = None
    providers: dict[str, str] | None = None


class DetailedHealthRead(BaseModel):
    status: Literal["healthy", "degraded", "unhealthy"]
    timestamp: str
    version: str
    components: dict[str, ComponentRead]


class ProbeRead(BaseModel):
    status: str
    timestamp: str
    reason: str | None = None


def _now() -> str:
    return isoformat_z(utcnow())


async def _timed(check: Any) -> tuple[bool, str]:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(check(), timeout=CHECK_TIMEOUT_SECONDS)
        ok = True
    except Exception as exc:  # a failed check is reported, never raised
        log.warning("health_check_failed", error=type(exc).__name__)
        ok = False
    return ok, f"{round((time.perf_counter() - started) * 1000)}ms"


async def _provider_status(check: HealthCheck) -> str:
    try:
        healthy = await asyncio.wait_for(check(), timeout=CHECK_TIMEOUT_SECONDS)
    except Exception as exc:
        log.warning("provider_health_check_failed", error=type(exc).__name__)
        healthy = False
    return "healthy" if healthy else "unhealthy"


@router.get("", response_model=HealthRead, summary="Basic health check")
async def health() -> HealthRead:
    return HealthRead(status="healthy", timestamp=_now(), version=__version__)


@router.get(
    "/detailed",
    response_model=DetailedHealthRead,
    summary="Detailed health of the database, Redis and outside systems",
    responses={503: {"model": DetailedHealthRead, "description": "The database is unreachable"}},
)
async def detailed(request: Request) -> JSONResponse:
    database: Database = request.app.state.database
    redis: Redis | None = request.app.state.redis
    checks: dict[str, HealthCheck] = request.app.state.health_checks

    db_ok, db_time = await _timed(database.ping)
    components: dict[str, ComponentRead] = {
        "database": ComponentRead(status="healthy" if db_ok else "unhealthy", response_time=db_time)
    }
    if redis is None:
        components["redis"] = ComponentRead(status="not_configured")
        redis_ok = True
    else:
        redis_ok, redis_time = await _timed(redis.ping)
        components["redis"] = ComponentRead(
            status="healthy" if redis_ok else "unhealthy", response_time=redis_time
        )
    names = sorted(checks)
    statuses = await asyncio.gather(*(_provider_status(checks[name]) for name in names))
    providers = dict(zip(names, statuses, strict=True))
    apis_ok = all(status == "healthy" for status in providers.values())
    components["external_apis"] = ComponentRead(
        status="healthy" if apis_ok else "degraded", providers=providers
    )

    overall: Literal["healthy", "degraded", "unhealthy"]
    overall = "unhealthy" if not db_ok else ("healthy" if redis_ok and apis_ok else "degraded")
    body = DetailedHealthRead(
        status=overall, timestamp=_now(), version=__version__, components=components
    )
    return JSONResponse(
        body.model_dump(exclude_none=True), status_code=503 if overall == "unhealthy" else 200
    )


@router.get(
    "/ready",
    response_model=ProbeRead,
    response_model_exclude_none=True,
    summary="Readiness probe: the database answers and its schema is current",
    responses={503: {"model": ProbeRead, "description": "Not ready to serve traffic"}},
)
async def ready(request: Request) -> JSONResponse:
    database: Database = request.app.state.database
    expected: frozenset[str] = request.app.state.migration_heads
    reason = None
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS), database.reader.connect() as conn:
            current = await current_revisions(conn)
        if current != expected:
            reason = "database migrations are pending (run `conveyor db upgrade`)"
    except Exception as exc:
        log.warning("readiness_database_unreachable", error=type(exc).__name__)
        reason = "database is unreachable"
    if reason:
        probe = ProbeRead(status="not_ready", timestamp=_now(), reason=reason)
        return JSONResponse(probe.model_dump(exclude_none=True), status_code=503)
    return JSONResponse(ProbeRead(status="ready", timestamp=_now()).model_dump(exclude_none=True))


@router.get("/live", response_model=ProbeRead, response_model_exclude_none=True)
async def live() -> ProbeRead:
    """Liveness probe: the process is up and serving."""
    return ProbeRead(status="alive", timestamp=_now())


module = Module(name="health", routers=[router], surface=PLATFORM)
