"""The engine side of synthesis, shared by every connection: one engine call at a time, earliest
deadline first (:class:`DeadlineGate`), each call in a worker thread, and the audio of short
texts already spoken (:class:`AudioCache`). :mod:`.pipeline` turns a reply's text into calls.

A client may *pin* a text's audio to a named slot (``synthesize`` with the context
``{"hearth_cache_pin": "clock"}``): the slot keeps that one text outside the least-recently-used
budget until the next pin to the same slot replaces it. The orchestrator warms the clock's answer so
each minute (:mod:`orchestrator.warm_replies`): 1440 lines a day in the LRU would push the warmed
replies and the users' device replies out within hours; in a slot each evicts only its predecessor.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import threading
import time
from collections import OrderedDict

import numpy as np

from .engine import Engine, Samples

_LOGGER = logging.getLogger(__name__)


class DeadlineGate:
    """A lock whose waiters are served earliest deadline first (ties: in arrival order)."""

    def __init__(self) -> None:
        self._busy = False
        self._waiting: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    @property
    def busy(self) -> bool:
        return self._busy

    @property
    def waiting(self) -> int:
        return sum(1 for _, _, future in self._waiting if not future.done())

    async def acquire(self, deadline: float) -> None:
        if not self._busy:  # (release hands a busy gate straight to a waiter, so none waits here)
            self._busy = True
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (deadline, next(self._order), future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # granted just as we were cancelled: hand it on
            raise

    def release(self) -> None:
        while self._waiting:
            _, _, future = heapq.heappop(self._waiting)
            if not future.done():
                future.set_result(None)  # the gate passes straight to this waiter
                return
        self._busy = False


CacheKey = tuple[str, str | None, str]  # (voice, speaker, text)
PIN_SLOTS = 4  # named slots at most (a pin to a fifth name goes to the LRU like any text)


class AudioCache:
    """The audio of short texts already spoken, least recently used first out, bounded in bytes.

    Home assistants say the same short things again and again ("Turned on the kitchen
    lights.", "Timer set for five minutes."); a hit answers at once instead of running the
    engine. Only texts up to ``max_chars`` are kept; ``max_bytes`` 0 turns the cache off.
    :meth:`pin` keeps one text per named slot (at most ``PIN_SLOTS``) outside the LRU budget.
    """

    def __init__(self, max_bytes: int, max_chars: int = 160) -> None:
        self.max_bytes = max_bytes
        self.max_chars = max_chars
        self._items: OrderedDict[CacheKey, Samples] = OrderedDict()
        self._pinned: dict[str, tuple[CacheKey, Samples]] = {}
        self._bytes = 0
        self.hits = 0
        self.misses = 0

    @property
    def size_bytes(self) -> int:
        return self._bytes

    @property
    def pinned_bytes(self) -> int:
        return sum(audio.nbytes for _, audio in self._pinned.values())

    def pinned(self, slot: str) -> str | None:
        """The text pinned to ``slot`` (None: nothing)."""
        entry = self._pinned.get(slot)
        return entry[0][2] if entry is not None else None

    def __len__(self) -> int:
        return len(self._items)

    def get(self, voice: str, speaker: str | None, text: str) -> Samples | None:
        if self.max_bytes <= 0 or len(text) > self.max_chars:
            return None
        key = (voice, speaker, text)
        for pinned_key, audio in self._pinned.values():
            if pinned_key == key:
                self.hits += 1
                return audio
        found = self._items.get(key)
        if found is None:
            self.misses += 1
            return None
        self._items.move_to_end(key)
        self.hits += 1
        return found

    def put(self, voice: str, speaker: str | None, text: str, audio: Samples) -> None:
        if self.max_bytes <= 0 or len(text) > self.max_chars or audio.nbytes > self.max_bytes:
            return
        key = (voice, speaker, text)
        kept = audio.copy()
        kept.flags.writeable = False  # shared by every reply that hits it
        old = self._items.pop(key, None)
        if old is not None:
            self._bytes -= old.nbytes
        self._items[key] = kept
        self._bytes += kept.nbytes
        while self._bytes > self.max_bytes:
            _, dropped = self._items.popitem(last=False)
            self._bytes -= dropped.nbytes

    def pin(self, slot: str, voice: str, speaker: str | None, text: str, audio: Samples) -> None:
        """Keep ``text``'s audio in ``slot`` (the slot's previous text is dropped), outside the LRU
        budget; a text the LRU holds moves here. A new slot beyond ``PIN_SLOTS``: an ordinary put."""
        if self.max_bytes <= 0 or len(text) > self.max_chars or audio.nbytes > self.max_bytes:
            return
        if slot not in self._pinned and len(self._pinned) >= PIN_SLOTS:
            self.put(voice, speaker, text, audio)
            return
        key = (voice, speaker, text)
        old = self._items.pop(key, None)
        if old is not None:
            self._bytes -= old.nbytes
        kept = audio if not audio.flags.writeable else audio.copy()
        kept.flags.writeable = False
        self._pinned[slot] = (key, kept)


class Synthesizer:
    """An engine, its gate (one call at a time, each in a worker thread) and its audio cache."""

    def __init__(self, engine: Engine, cache: AudioCache | None = None) -> None:
        self.engine = engine
        self.gate = DeadlineGate()
        self.replies = 0  # replies in progress on this engine
        self.cache = cache if cache is not None else AudioCache(0)  # (an empty cache is falsy)

    async def speak(self, text: str, voice: str, speaker: str | None = None, *,
                    deadline: float | None = None, pin: str | None = None) -> Samples:
        """Audio for ``text``; ``deadline`` (``time.monotonic()`` seconds, default now) orders
        this call among the waiting ones. A cached text is answered without waiting. ``pin``:
        the audio is kept in that slot of the cache (:meth:`AudioCache.pin`), not in its LRU."""
        cached = self.cache.get(voice, speaker, text)
        if cached is not None:
            _LOGGER.debug("engine=%s chars=%d cached", self.engine.provider, len(text))
            if pin is not None:
                self.cache.pin(pin, voice, speaker, text, cached)
            return cached
        asked = time.monotonic()
        await self.gate.acquire(asked if deadline is None else deadline)
        began = time.monotonic()
        try:
            stop = threading.Event()
            work = asyncio.ensure_future(asyncio.to_thread(self._run, text, voice, speaker, stop))
            work.add_done_callback(_retrieve)
            try:
                audio = await asyncio.shield(work)
            except asyncio.CancelledError:
                # The reply was cancelled (its client has gone, or barged in). A thread cannot be
                # interrupted, the engine's model run can: it fails at its next step, so the gate
                # (held until the engine is free) passes on at once, not after the whole call.
                stop.set()
                self.engine.interrupt(True)
                await asyncio.wait({work})
                _LOGGER.debug("engine=%s chars=%d interrupted after %.3fs", self.engine.provider, len(text),
                              time.monotonic() - began)
                raise
        finally:
            self.gate.release()
        _LOGGER.debug("engine=%s chars=%d gate_wait=%.3fs run=%.3fs%s", self.engine.provider, len(text),
                      began - asked, time.monotonic() - began, f" pinned={pin}" if pin is not None else "")
        if pin is not None:
            self.cache.pin(pin, voice, speaker, text, audio)
        else:
            self.cache.put(voice, speaker, text, audio)
        return audio

    def _run(self, text: str, voice: str, speaker: str | None, stop: threading.Event) -> Samples:
        self.engine.interrupt(False)  # (an interrupted call before this one left it set)
        if stop.is_set():  # cancelled before it began (checked after the reset: no interrupt is lost)
            return np.zeros(0, dtype=np.float32)
        parts = list(self.engine.synthesize(text, voice, speaker))  # drained in the thread
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


def _retrieve(future: asyncio.Future[Samples]) -> None:
    if not future.cancelled():
        future.exception()
