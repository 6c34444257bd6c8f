"""Retry policy: exponential backoff with full jitter."""

import random
from dataclasses import dataclass


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
