"""Document 004: trade jobs routed to companies by skill and synced to their point of sale."""

from conveyor.module import Module
from conveyor.routing import demo, tasks
from conveyor.routing.providers import CALLS
from conveyor.routing.router import ROUTING, router


async def _servicetitan_healthy() -> bool:
    return CALLS["servicetitan"].healthy


async def _mock_healthy() -> bool:
    return CALLS["mock"].healthy


module = Module(
    name="routing",
    routers=[router],
    surface=ROUTING,
    health_checks={"servicetitan": _servicetitan_healthy, "mock": _mock_healthy},
    demo=demo.load,
)

__all__ = ["module", "tasks"]
