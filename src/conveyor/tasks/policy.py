"""Retry policies: exponential backoff with full jitter, or a fixed schedule."""

import random
from dataclasses import dataclass
from typing import Protocol


class RetryPolicy(Protocol):
    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retrying after failed attempt `attempt` (1-based)."""
        ...


@dataclass(frozen=True)
class Backoff:
    """Delay before retry `attempt` (1-based): uniform in [0, min(cap, base * factor^(n-1))].

    Full jitter (as in AWS's "Exponential Backoff And Jitter") spreads the retries of many
    tasks that failed together, so a recovering outside system is not hit all at once.
    """

    base: float = 2.0
    factor: float = 2.0
    cap: float = 3600.0
    jitter: bool = True

    def ceiling(self, attempt: int) -> float:
        return min(self.cap, self.base * self.factor ** max(0, attempt - 1))

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        ceiling = self.ceiling(attempt)
        if not self.jitter:
            return ceiling
        return (rng or random).uniform(0.0, ceiling)


@dataclass(frozen=True)
class Schedule:
    """Fixed delays after each failed attempt (the last one repeats), each within +-10 %.

    `Schedule((5, 300, 1800, 7200, 18000, 36000, 36000))` is Standard Webhooks' schedule.
    """

    delays: tuple[float, ...]
    jitter: float = 0.1

    def __post_init__(self) -> None:
        if not self.delays or min(self.delays) < 0:
            raise ValueError("a schedule needs at least one delay, none negative")

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        base = self.delays[min(max(attempt, 1), len(self.delays)) - 1]
        return base * (rng or random).uniform(1 - self.jitter, 1 + self.jitter)
