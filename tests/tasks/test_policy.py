"""Backoff maths and task declaration rules: pure, no database."""

import random

import pytest
from pydantic import BaseModel

from conveyor.tasks import Backoff, Registry, TaskContext, UnknownTask, task


def test_backoff_ceiling_doubles_up_to_the_cap() -> None:
    backoff = Backoff(base=2.0, factor=2.0, cap=60.0)
    assert [backoff.ceiling(n) for n in range(1, 8)] == [2, 4, 8, 16, 32, 60, 60]


def test_full_jitter_stays_within_zero_and_the_ceiling() -> None:
    backoff = Backoff(base=1.0, factor=3.0, cap=100.0)
    rng = random.Random(7)
    for attempt in range(1, 10):
        delays = [backoff.delay(attempt, rng) for _ in range(200)]
        assert min(delays) >= 0.0
        assert max(delays) <= backoff.ceiling(attempt)
        # Spread over the whole range, not clustered at the top.
        assert min(delays) < backoff.ceiling(attempt) * 0.2 < max(delays)


def test_without_jitter_the_delay_is_the_ceiling() -> None:
    assert Backoff(base=5.0, jitter=False).delay(3) == 20.0


class Greeting(BaseModel):
    name: str


def test_payload_models_are_validated_at_enqueue_time() -> None:
    registry = Registry()

    @task("demo.greet", into=registry)
    async def greet(ctx: TaskContext, payload: Greeting) -> None:
        return None

    assert greet.payload_model is Greeting
    assert greet.dump_payload({"name": "Ada"}) == {"name": "Ada"}
    assert greet.dump_payload(Greeting(name="Bob")) == {"name": "Bob"}
    with pytest.raises(ValueError, match="name"):
        greet.dump_payload({"nom": "Ada"})
    assert registry.get("demo.greet") is greet
    with pytest.raises(UnknownTask):
        registry.get("demo.missing")


def test_declarations_are_checked() -> None:
    registry = Registry()

    async def handler(ctx: TaskContext, payload: dict[str, str]) -> None:
        return None

    with pytest.raises(ValueError, match=r"<package>\.<verb>"):
        task("nodot", into=registry)(handler)
    with pytest.raises(ValueError, match="max_attempts"):
        task("demo.x", max_attempts=0, into=registry)(handler)
    with pytest.raises(ValueError, match="cron"):
        task("demo.x", cron="every tuesday", into=registry)(handler)

    async def wrong_shape(ctx: TaskContext) -> None:
        return None

    with pytest.raises(TypeError, match="ctx, payload"):
        task("demo.y", into=registry)(wrong_shape)  # type: ignore[arg-type]
    task("demo.z", into=registry)(handler)

    async def other(ctx: TaskContext, payload: dict[str, str]) -> None:
        return None

    with pytest.raises(ValueError, match="already registered"):
        task("demo.z", into=registry)(other)
