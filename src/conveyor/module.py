"""The `Module` object each package exports, and the checks it contributes to health."""

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession

from conveyor.config import Settings
from conveyor.errors import Surface

HealthCheck = Callable[[], Awaitable[bool]]
"""Answers whether an outside system the module depends on is reachable."""

DemoLoader = Callable[[AsyncSession, Settings], Awaitable[Sequence[str]]]
"""Writes a module's demo data through the given session (the caller commits) and returns
lines telling a newcomer what to try with it."""


@dataclass(frozen=True)
class Module:
    """What a package contributes to the service."""

    name: str
    routers: Sequence[APIRouter] = ()
    surface: Surface | None = None
    health_checks: Mapping[str, HealthCheck] = field(default_factory=dict)
    demo: DemoLoader | None = None
    prefix: Callable[[Settings], str] | None = None
    """Where the routers are mounted when a setting decides it (002's `reports_prefix`); the
    surface's `prefixes` are then relative to it."""

    def mount_path(self, settings: Settings) -> str:
        return self.prefix(settings) if self.prefix is not None else ""
