"""What the simulated outside systems share: dice fixed by their inputs, latency and failures.

A simulator decides everything (names, numbers, which call fails) from hashes of its inputs,
so the same request always gets the same answer and a failing run replays exactly.
"""

import asyncio
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Self

if TYPE_CHECKING:
    from conveyor.config import Settings


def dice(*parts: object) -> float:
    """A number in [0, 1) fixed by `parts`: the same on every run and in every process."""
    digest = hashlib.sha256("|".join(str(part) for part in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def digits(count: int, *parts: object) -> str:
    """`count` decimal digits fixed by `parts`."""
    return str(int(dice(*parts) * 10**count)).zfill(count)


@dataclass
class Simulation:
    """Latency and failures of one simulated system (`CONVEYOR_SIMULATOR_LATENCY_MS` and
    `CONVEYOR_SIMULATOR_FAILURE_RATE`): each call sleeps `latency` seconds and fails when the
    dice for (operation, subject, attempt) land under `failure_rate`."""

    latency: float = 0.0
    failure_rate: float = 0.0

    failure: ClassVar[type[Exception]] = ConnectionError
    """What a simulated failure raises: the owning package's "outside system failed" error."""

    @classmethod
    def from_settings(cls, settings: "Settings") -> Self:
        return cls(
            latency=settings.simulator_latency_ms / 1000,
            failure_rate=settings.simulator_failure_rate,
        )

    async def _call(self, operation: str, subject: str, attempt: int) -> None:
        if self.latency:
            await asyncio.sleep(self.latency)
        if dice("fail", operation, subject, attempt) < self.failure_rate:
            raise self.failure(f"simulated {operation} failure (attempt {attempt})")
