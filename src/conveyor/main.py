"""The application factory: settings in, a FastAPI app with every enabled module out."""

import asyncio
import importlib
import os
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import structlog
from fastapi import FastAPI
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from redis.asyncio import Redis
from starlette.requests import Request
from starlette.responses import Response

from conveyor import __version__, idempotency, security, tasks
from conveyor.auth.policies import document_access, ensure_every_route_has_a_policy
from conveyor.config import Settings
from conveyor.database import Database
from conveyor.errors import (
    PLATFORM,
    ErrorBoundaryMiddleware,
    Surface,
    SurfaceResolver,
    install_error_handlers,
)
from conveyor.module import HealthCheck, Module
from conveyor.observability import MULTIPROCESS_DIR, RequestContextMiddleware, configure_logging
from conveyor.ratelimit import RateLimiter

PLATFORM_MODULES = (
    "conveyor.health",
    "conveyor.auth",
    "conveyor.admin",
    "conveyor.idempotency",
    "conveyor.webhooks",
)
"""Packages that are always mounted."""

ENGINE_PACKAGES = ("conveyor.tasks",)
"""Packages with tables but no HTTP surface of their own."""

log = structlog.get_logger(__name__)

SURFACE_MODULES: dict[str, tuple[str, ...]] = {
    "batches": ("conveyor.restaurants", "conveyor.batches"),
    "registrations": ("conveyor.registrations",),
    "reports": ("conveyor.reports",),
    "restaurant_registrations": ("conveyor.restaurants", "conveyor.restaurant_registrations"),
    "routing": ("conveyor.routing",),
}
"""Surface name (as in `CONVEYOR_SERVICES`) -> the packages that implement it."""

CONSOLE_MODULE = "conveyor.console"
"""The operator console: mounted unless `CONVEYOR_CONSOLE_ENABLED=false`."""


def load_modules(settings: Settings) -> list[Module]:
    """The platform modules, the surfaces enabled in `settings.services`, and the console."""
    paths = [*PLATFORM_MODULES]
    for name in settings.services:
        paths += [path for path in SURFACE_MODULES.get(name, ()) if path not in paths]
    if settings.console_enabled:
        paths.append(CONSOLE_MODULE)
    return [importlib.import_module(path).module for path in paths]


def worker_config(settings: Settings, **overrides: Any) -> tasks.WorkerConfig:
    """The task worker's configuration from settings (CLI options may override)."""
    values: dict[str, Any] = {
        "concurrency": settings.worker_concurrency,
        "poll_interval": settings.worker_poll_interval,
        "lease": timedelta(seconds=settings.worker_lease_seconds),
        # Rescue well within a lease, so a dead worker's tasks wait at most ~1.5 leases.
        "rescue_interval": min(5.0, settings.worker_lease_seconds / 2),
        "grace_period": settings.worker_grace_seconds,
        "retention": timedelta(hours=settings.task_retention_hours),
    }
    values.update({key: value for key, value in overrides.items() if value is not None})
    return tasks.WorkerConfig(**values)


def import_all_models() -> None:
    """Import every package so that `Base.metadata` knows every table (for Alembic)."""
    surfaces = [path for paths in SURFACE_MODULES.values() for path in paths]
    for path in (*ENGINE_PACKAGES, *PLATFORM_MODULES, *surfaces):
        importlib.import_module(path)


async def metrics_endpoint(request: Request) -> Response:
    database: Database = request.app.state.database
    try:
        async with database.read() as session:
            await tasks.refresh_queue_depth(session)
    except Exception as exc:  # metrics still answer while the database is down
        log.warning("queue_depth_unavailable", error=str(exc))
    if MULTIPROCESS_DIR in os.environ:  # `serve --processes N`: every process's figures
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def create_app(
    settings: Settings | None = None, *, extra_modules: Sequence[Module] = ()
) -> FastAPI:
    """Build the service. Engines are created in the lifespan, never at import time."""
    settings = settings or Settings()
    configure_logging(level=settings.log_level, json_format=settings.effective_log_format == "json")
    modules = [*load_modules(settings), *extra_modules]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from conveyor.migrations import head_revisions

        database = Database(
            settings.database_url,
            echo=settings.database_echo,
            busy_timeout_ms=settings.sqlite_busy_timeout_ms,
            pool_size=settings.database_pool_size,
        )
        redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
        app.state.database = database
        app.state.redis = redis
        app.state.rate_limiter = RateLimiter.from_settings(settings, redis)
        app.state.migration_heads = head_revisions()
        worker = (
            tasks.Worker(database, worker_config(settings), settings=settings)
            if settings.runs_embedded_worker
            else None
        )
        running = asyncio.create_task(worker.run(), name="embedded-worker") if worker else None
        try:
            yield
        finally:
            if worker is not None and running is not None:
                worker.stop()
                await running
            if redis is not None:
                await redis.aclose()
            await database.dispose()

    app = FastAPI(
        title="Conveyor",
        version=__version__,
        summary="Asynchronous registration and job workflows on one durable task engine.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    health_checks: dict[str, HealthCheck] = {}
    surfaces = [PLATFORM]
    mounts: dict[Surface, str] = {}
    for module in modules:
        mount_path = module.mount_path(settings)
        for router in module.routers:
            app.include_router(router, prefix=mount_path)
        health_checks.update(module.health_checks)
        if module.surface is not None and module.surface not in surfaces:
            surfaces.append(module.surface)
            if mount_path:
                mounts[module.surface] = mount_path
    app.state.health_checks = health_checks
    app.state.modules = modules
    app.add_route("/metrics", metrics_endpoint, include_in_schema=False)
    ensure_every_route_has_a_policy(app)
    document_access(app, settings)

    resolver = SurfaceResolver(surfaces, mounts=mounts)
    install_error_handlers(app, resolver)
    app.add_exception_handler(idempotency.Replay, idempotency.replay_handler)
    app.add_middleware(idempotency.IdempotencyMiddleware)
    security.install(app, settings, resolver)
    app.add_middleware(ErrorBoundaryMiddleware, resolver=resolver)
    app.add_middleware(RequestContextMiddleware)
    return app
