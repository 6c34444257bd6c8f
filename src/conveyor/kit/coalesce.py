"""Group commit: many concurrent callers' requests served by one call of a batch function.

A caller that arrives while a batch is under way joins the next one, so batches grow with
the load and a lone caller waits for nobody: no timer, no background task. If a batch fails,
its items are run again one at a time, so one bad item fails only its own caller.
"""

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

Owner = TypeVar("Owner")
T = TypeVar("T")
R = TypeVar("R")


class Coalescer(Generic[T, R]):
    """`await coalescer(item)` returns `run(items)[i]` for the batch the item went in.

    `run` receives up to `max_batch` items, oldest first, and returns one result per item in
    the same order. Bound to the event loop of its first use, like the asyncio lock it holds.
    """

    def __init__(
        self, run: Callable[[Sequence[T]], Awaitable[Sequence[R]]], *, max_batch: int = 200
    ) -> None:
        self._run = run
        self._max_batch = max_batch
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._lock = asyncio.Lock()

    async def __call__(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        try:
            async with self._lock:
                # FIFO: the batches before ours (at most `max_batch` each) hold the items
                # that came earlier, so this loop ends with ours.
                while not future.done():
                    batch = self._pending[: self._max_batch]
                    del self._pending[: self._max_batch]
                    await self._settle(batch)
        except asyncio.CancelledError:
            self._pending = [entry for entry in self._pending if entry[1] is not future]
            raise
        return await future

    async def _settle(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            results = await self._run([item for item, _ in batch])
        except BaseException as exc:
            if not isinstance(exc, Exception):
                # The caller running the batch was cancelled: the others must not wait for
                # ever, and cannot know whether the batch took effect.
                interrupted = RuntimeError("the batch this item was in was interrupted")
                for _, future in batch:
                    _resolve(future, exc=interrupted)
                raise
            if len(batch) == 1:
                _resolve(batch[0][1], exc=exc)
                return
            for entry in batch:
                await self._settle([entry])
            return
        for (_, future), result in zip(batch, results, strict=True):
            _resolve(future, result=result)


def _resolve(
    future: "asyncio.Future[R]", *, result: R | None = None, exc: BaseException | None = None
) -> None:
    # A caller cancelled while it waited has a future nobody reads; its item was still run.
    if future.done():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)  # type: ignore[arg-type]


_shared: "weakref.WeakKeyDictionary[Any, dict[Any, Coalescer[Any, Any]]]" = (
    weakref.WeakKeyDictionary()
)


def shared(
    owner: Owner, run: Callable[[Owner, Sequence[T]], Awaitable[Sequence[R]]]
) -> Coalescer[T, R]:
    """The one coalescer of `run` for `owner` (a database, say), made on first use.

    It holds `owner` weakly, so it lives as long as its owner and no longer.
    """
    per_owner = _shared.setdefault(owner, {})
    coalescer = per_owner.get(run)
    if coalescer is None:
        handle = weakref.ref(owner)

        async def bound(items: Sequence[T]) -> Sequence[R]:
            held = handle()
            if held is None:
                raise RuntimeError("the owner of this coalescer is gone")
            return await run(held, items)

        coalescer = per_owner[run] = Coalescer(bound)
    return coalescer
