"""Task helpers: the one way to cancel a task, an owner for background tasks, the one race, the
one bounded put that gives up when the queue's consumer has died, and ``run_together``.

Code in ``orchestrator/`` spawns tasks only through :class:`TaskSet` (or :func:`race` and
:func:`run_together`, which own theirs), so every task has an owner that cancels and awaits it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Coroutine
from types import TracebackType
from typing import Any, TypeVar

_LOGGER = logging.getLogger(__name__)
T = TypeVar("T")


async def cancel_and_wait(task: asyncio.Future[Any] | None, timeout: float = 5.0) -> None:
    """Cancel ``task`` and wait (bounded) until it has finished: the one way to stop a task.

    The task's own exception or cancellation is consumed (logged at debug); a cancellation
    aimed at the *caller* while it waits is re-raised, never swallowed (``await task`` under
    ``suppress(BaseException)`` would swallow it: a barge-in landing during the cleanup
    would leave the caller running).
    """
    if task is None or task.done():
        if task is not None and not task.cancelled():
            task.exception()  # mark retrieved
        return
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=timeout)
    if not done:
        name = task.get_name() if isinstance(task, asyncio.Task) else repr(task)
        _LOGGER.warning("task %s did not finish within %.1fs of cancellation", name, timeout)
        return
    if not task.cancelled():
        exc = task.exception()
        if exc is not None:
            name = task.get_name() if isinstance(task, asyncio.Task) else repr(task)
            _LOGGER.debug("cancelled task %s ended with %r", name, exc)


class TaskSet:
    """Owns background tasks so none is garbage-collected or leaked.

    ``close()`` (or leaving ``async with``) cancels and awaits every task still running. A task
    that fails is logged as an error, unless it was spawned ``awaited=True``: its owner reads
    its outcome itself.
    """

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._awaited: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, T], name: str | None = None, *,
              awaited: bool = False) -> asyncio.Task[T]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        if awaited:
            self._awaited.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        quiet = task in self._awaited
        self._awaited.discard(task)
        if not task.cancelled() and task.exception() is not None and not quiet:
            _LOGGER.error("background task %s failed", task.get_name(), exc_info=task.exception())

    def __len__(self) -> int:
        return len(self._tasks)

    async def close(self, timeout: float = 5.0) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait(tasks, timeout=timeout) if tasks else None

    async def __aenter__(self) -> TaskSet:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()


async def race(*contenders: Awaitable[Any], timeout: float | None = None) -> int | None:
    """Wait until the first of ``contenders`` finishes: its index, or None if ``timeout``
    seconds passed first. The one race of the code base (no hand-written ``FIRST_COMPLETED``).

    Coroutines are run as tasks owned by the race: when it returns, or the caller is
    cancelled, they are cancelled (if still running) and awaited (:func:`cancel_and_wait`);
    their results are dropped (an ``Event.wait()``, a sleep, a ``put``). Tasks and futures are
    only watched: they keep running and stay the caller's, who reads their outcome (a reader
    that must not be cut mid-frame, a worker). When several have finished, the first in the
    argument list wins, so list the one to prefer first. No contender's exception is raised.
    """
    if not contenders:
        raise ValueError("race() needs at least one contender")
    futures: list[asyncio.Future[Any]] = []
    owned: list[asyncio.Future[Any]] = []
    try:
        for contender in contenders:
            if asyncio.isfuture(contender):
                futures.append(contender)
            else:
                owned.append(asyncio.ensure_future(contender))
                futures.append(owned[-1])
        await asyncio.wait(futures, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        return next((index for index, future in enumerate(futures) if future.done()), None)
    finally:
        for task in owned:
            await cancel_and_wait(task)  # a loser is cancelled; a finished one is left as it is


async def put_unless_done(queue: asyncio.Queue[T], item: T, consumer: asyncio.Future[Any]) -> bool:
    """Put ``item`` in ``queue``, waiting for room (back-pressure), unless ``consumer`` (the
    task that empties the queue) has ended or ends first: then nothing would ever take it.
    True if the item went in. A put into a queue with room lets other tasks run once."""
    if consumer.done():
        return False
    if not queue.full():
        queue.put_nowait(item)
        await asyncio.sleep(0)
        return True
    return await race(queue.put(item), consumer) == 0


async def run_together(*coros: Coroutine[Any, Any, Any]) -> None:
    """Run coroutines concurrently; the first failure cancels the rest and is re-raised as is.

    Like ``asyncio.TaskGroup`` but without wrapping the error in an ExceptionGroup, so callers
    can keep ordinary ``except`` clauses. Cancelling the caller cancels every coroutine.
    """
    tasks = [asyncio.create_task(c) for c in coros]
    try:
        pending: set[asyncio.Task[Any]] = set(tasks)
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            await cancel_and_wait(task)
