"""Group commit: concurrent callers share batches, and a failure stays with its own caller."""

import asyncio
from collections.abc import Sequence

import pytest

from conveyor.kit.coalesce import Coalescer


class Recorder:
    """A batch function that remembers its batches and fails on the items it is told to."""

    def __init__(self, *, fail_on: frozenset[int] = frozenset(), pause: float = 0.01) -> None:
        self.batches: list[list[int]] = []
        self.fail_on = fail_on
        self.pause = pause

    async def __call__(self, items: Sequence[int]) -> list[int]:
        self.batches.append(list(items))
        await asyncio.sleep(self.pause)  # the "transaction": callers arriving now wait
        if self.fail_on & set(items):
            raise ValueError(f"bad item in {sorted(self.fail_on & set(items))}")
        return [item * 10 for item in items]


async def test_callers_arriving_during_a_batch_share_the_next_one() -> None:
    recorder = Recorder()
    coalescer = Coalescer(recorder)
    results = await asyncio.gather(*(coalescer(n) for n in range(50)))
    assert results == [n * 10 for n in range(50)]
    # The first caller runs alone; the 49 that queued behind it go together.
    assert recorder.batches == [[0], list(range(1, 50))]


async def test_a_lone_caller_waits_for_nobody() -> None:
    recorder = Recorder()
    coalescer = Coalescer(recorder)
    assert await coalescer(7) == 70
    assert await coalescer(8) == 80
    assert recorder.batches == [[7], [8]]


async def test_batches_hold_at_most_max_batch_items_and_every_caller_is_answered() -> None:
    recorder = Recorder()
    coalescer = Coalescer(recorder, max_batch=4)
    results = await asyncio.gather(*(coalescer(n) for n in range(11)))
    assert results == [n * 10 for n in range(11)]
    assert recorder.batches == [[0], [1, 2, 3, 4], [5, 6, 7, 8], [9, 10]]


async def test_a_failing_item_fails_its_own_caller_only() -> None:
    recorder = Recorder(fail_on=frozenset({3}))
    coalescer = Coalescer(recorder)
    results = await asyncio.gather(*(coalescer(n) for n in range(6)), return_exceptions=True)
    assert results[:3] == [0, 10, 20]
    assert isinstance(results[3], ValueError)
    assert str(results[3]) == "bad item in [3]"
    assert results[4:] == [40, 50]
    # The failed batch [1..5] was run again item by item.
    assert recorder.batches == [[0], [1, 2, 3, 4, 5], [1], [2], [3], [4], [5]]


async def test_a_caller_cancelled_while_queued_leaves_its_item_unrun() -> None:
    recorder = Recorder(pause=0.05)
    coalescer = Coalescer(recorder)
    first = asyncio.create_task(coalescer(1))
    await asyncio.sleep(0.01)  # the first batch is under way
    queued = asyncio.create_task(coalescer(2))
    await asyncio.sleep(0)
    queued.cancel()
    assert await first == 10
    with pytest.raises(asyncio.CancelledError):
        await queued
    assert await coalescer(3) == 30
    assert recorder.batches == [[1], [3]]


async def test_when_the_caller_running_a_batch_is_cancelled_the_others_hear_of_it() -> None:
    recorder = Recorder(pause=0.05)
    coalescer = Coalescer(recorder)
    first = asyncio.create_task(coalescer(1))
    await asyncio.sleep(0.01)
    second, third = asyncio.create_task(coalescer(2)), asyncio.create_task(coalescer(3))
    await asyncio.sleep(0.06)  # the first batch is done; the second caller runs [2, 3]
    assert recorder.batches == [[1], [2, 3]]
    second.cancel()
    with pytest.raises(asyncio.CancelledError):
        await second
    with pytest.raises(RuntimeError, match="interrupted"):
        await third
    assert await first == 10
