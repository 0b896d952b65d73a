"""Task helpers: one way to cancel a task, and a small owner for background tasks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

_LOGGER = logging.getLogger(__name__)
T = TypeVar("T")


async def cancel_and_wait(task: asyncio.Task[Any] | None, timeout: float = 5.0) -> None:
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
        _LOGGER.warning("task %s did not finish within %.1fs of cancellation", task.get_name(), timeout)
        return
    if not task.cancelled():
        exc = task.exception()
        if exc is not None:
            _LOGGER.debug("cancelled task %s ended with %r", task.get_name(), exc)


class TaskSet:
    """Owns background tasks so none is garbage-collected or leaked.

    ``close()`` cancels and awaits every task still running.
    """

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, T], name: str | None = None) -> asyncio.Task[T]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            _LOGGER.error("background task %s failed", task.get_name(), exc_info=task.exception())

    def __len__(self) -> int:
        return len(self._tasks)

    async def close(self, timeout: float = 5.0) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait(tasks, timeout=timeout) if tasks else None


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
