"""Who gets the model next: one Whisper model, many connections (asyncio, no wyoming).

Every decode goes through one :class:`DecodeScheduler`. The model runs one call at a time, in
a worker thread. When it frees up, the next call takes, from everything waiting:

* final decodes before partial ones (a partial only refreshes text on a screen; a final is
  what a user is waiting on), first come first served otherwise;
* every waiting decode of the same kind, language, prompt and batch key (the engine's encoder
  window: all commands share one), up to ``max_batch``, decoded together in one call. When
  four satellites finish speaking at once, the fourth transcript is ready after one batched
  decode instead of after four decodes one after another.

The runner is told whether the call's decodes had to wait for another call: the service then
decodes finals greedily (``--busy-beam-size``), since on a busy box the wait costs more than
beam search gains.

A caller that is cancelled while its decode waits leaves the queue (no CPU spent on it); once
its batch runs, the thread cannot be interrupted, so the model stays busy until it ends and
the text is dropped.

:meth:`DecodeScheduler.close` (the server's shutdown) cancels every waiting caller, cancels and
awaits the running call's task (its thread ends on its own; its text is dropped) and refuses new
decodes (:class:`SchedulerClosed`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from voice_runtime.tasks import TaskSet

from .engine import FloatArray

_LOGGER = logging.getLogger(__name__)

# What one decode gives its caller (the service: the engine's Decoded, text with its scores).
# The scheduler hands each caller the result of its own audio, never another request's.
R = TypeVar("R")
# (kind, audios, language, waited, prompt) -> one result per audio, in order; runs in a worker
# thread. ``waited``: the call's decodes had to wait for another call (the machine is busy with
# several satellites).
BatchRunner = Callable[[str, Sequence[FloatArray], "str | None", bool, "str | None"], list[R]]


class SchedulerClosed(RuntimeError):
    """A decode asked of a scheduler that was closed (the server is shutting down)."""


@dataclass(eq=False)
class _Request(Generic[R]):
    kind: str  # "final" or "partial"
    audio: FloatArray
    language: str | None
    key: Hashable | None  # None: decoded alone
    future: asyncio.Future[R]
    prompt: str | None = None  # the request's words to expect (context.initial_prompt)


class DecodeScheduler(Generic[R]):
    def __init__(self, run: BatchRunner[R], *, batch_key: Callable[[FloatArray], Hashable | None],
                 max_batch: int = 8) -> None:
        self._run = run
        self._batch_key = batch_key
        self.max_batch = max(1, max_batch)
        self._queue: list[_Request[R]] = []
        self._running: asyncio.Task[None] | None = None
        self._tasks = TaskSet()  # owns the running call's task
        self._closed = False
        self.batches = 0  # calls made (for tests and logs)
        self.largest_batch = 0

    @property
    def busy(self) -> bool:
        """A decode is running or waiting."""
        return self._running is not None or bool(self._queue)

    @property
    def waiting(self) -> int:
        return len(self._queue)

    async def decode(self, kind: str, audio: FloatArray, language: str | None, prompt: str | None = None) -> R:
        """The runner's result for ``audio`` (its own, even when batched with others)."""
        if self._closed:
            raise SchedulerClosed("the decode scheduler is closed")
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        request = _Request(kind, audio, language, self._batch_key(audio), future, prompt)
        self._queue.append(request)
        self._next(waited=False)
        try:
            return await request.future
        except asyncio.CancelledError:
            if request in self._queue:
                self._queue.remove(request)
            raise

    async def close(self) -> None:
        """Shut down: waiting callers are cancelled, the running call's task is cancelled and
        awaited, and no decode is started after this."""
        self._closed = True
        waiting, self._queue = self._queue, []
        for request in waiting:
            request.future.cancel()
        await self._tasks.close()
        self._running = None

    def _pick(self) -> list[_Request[R]]:
        head = next((r for r in self._queue if r.kind == "final"), self._queue[0])
        if head.key is None:
            return [head]
        group = [r for r in self._queue
                 if (r.kind, r.language, r.prompt, r.key) == (head.kind, head.language, head.prompt, head.key)]
        return group[: self.max_batch]

    def _next(self, *, waited: bool) -> None:
        if self._running is not None or not self._queue or self._closed:
            return
        group = self._pick()
        for request in group:
            self._queue.remove(request)
        self._running = self._tasks.spawn(self._call(group, waited), name=f"{group[0].kind} decode")

    async def _call(self, group: list[_Request[R]], waited: bool) -> None:
        started = time.monotonic()
        try:
            results = await asyncio.to_thread(self._run, group[0].kind, [r.audio for r in group], group[0].language,
                                            waited, group[0].prompt)
        except asyncio.CancelledError:  # the server is shutting down: nothing more is started
            self._running = None
            for request in group:
                request.future.cancel()
            raise
        except Exception as err:
            for request in group:
                if not request.future.done():
                    request.future.set_exception(err)
        else:
            for request, result in zip(group, results, strict=True):
                if not request.future.done():
                    request.future.set_result(result)
        self.batches += 1
        self.largest_batch = max(self.largest_batch, len(group))
        if len(group) > 1:
            _LOGGER.debug("decoded kind=%s batch=%d in %.3fs waiting=%d", group[0].kind, len(group),
                          time.monotonic() - started, len(self._queue))
        self._running = None
        self._next(waited=True)
