"""One spoken reply: text pieces in, audio out, the next piece synthesised while one is sent.

A :class:`Reply` owns two tasks: a *synthesiser* that takes pieces of text (sentences or
clauses from :class:`~wyoming_kokoro.text.SentenceSplitter`) and runs the engine in a
worker thread, and a *sender* that frames and writes the audio. A queue of one finished
piece between them is the prefetch: while a sentence is being sent (and, behind TCP
back-pressure, played), the next is already being synthesised.

Scheduling: an engine runs one call at a time, shared by every connection. Waiting calls go
earliest deadline first (:class:`DeadlineGate`): a reply's first piece is due at once (at
the time its text arrived), a later piece when the audio already made for that reply would
have played out. So one listener's third sentence does not hold up another listener's first
words, and neither reply runs dry as long as the engine keeps up overall. A call cannot be
interrupted, so while other replies share the engine a reply joins at most ``merge_first``
characters into one call (alone it may join up to ``merge_max``): a new reply's first words
then wait for one short call, not for seconds of someone else's answer.

Framing: one ``audio-start`` before the first audio, one ``audio-stop`` at the end, and for
a stream a final ``synthesize-stopped``. Engine failures are retried (2x, 0.5 s) only while
no audio has gone out; after that the reply ends with an ``error``.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event
from wyoming.tts import SynthesizeStopped

from voice_runtime.audio import from_float
from voice_runtime.clock import Clock
from voice_runtime.retry import TTS_RETRY, RetryPolicy, retry_async
from voice_runtime.tasks import cancel_and_wait, put_unless_done

from .engine import Engine, EngineError, Samples, Voice, trim_leading_silence
from .text import SentenceSplitter, clean_text, has_speech

_LOGGER = logging.getLogger(__name__)
WIDTH = 2
CHANNELS = 1
ENGINE_RETRY = RetryPolicy(delays=TTS_RETRY.delays, retry_on=(EngineError, OSError, MemoryError))
# Pieces of text waiting for the synthesiser; when full the feeder waits (back-pressure
# reaches the client through the connection's bounded event queue).
TEXT_QUEUE = 32
# A cancelled reply may have to wait for the engine call in flight (one piece of text).
CANCEL_TIMEOUT = 60.0

Write = Callable[[Event], Awaitable[None]]
SendError = Callable[[str, str], Awaitable[None]]


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


class AudioCache:
    """The audio of short texts already spoken, least recently used first out, bounded in bytes.

    Home assistants say the same short things again and again ("Turned on the kitchen
    lights.", "Timer set for five minutes."); a hit answers at once instead of running the
    engine. Only texts up to ``max_chars`` are kept; ``max_bytes`` 0 turns the cache off.
    """

    def __init__(self, max_bytes: int, max_chars: int = 160) -> None:
        self.max_bytes = max_bytes
        self.max_chars = max_chars
        self._items: OrderedDict[tuple[str, str | None, str], Samples] = OrderedDict()
        self._bytes = 0
        self.hits = 0
        self.misses = 0

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)

    def get(self, voice: str, speaker: str | None, text: str) -> Samples | None:
        if self.max_bytes <= 0 or len(text) > self.max_chars:
            return None
        key = (voice, speaker, text)
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


class Synthesizer:
    """An engine, its gate (one call at a time, each in a worker thread) and its audio cache."""

    def __init__(self, engine: Engine, cache: AudioCache | None = None) -> None:
        self.engine = engine
        self.gate = DeadlineGate()
        self.replies = 0  # replies in progress on this engine
        self.cache = cache if cache is not None else AudioCache(0)  # (an empty cache is falsy)

    async def speak(self, text: str, voice: str, speaker: str | None = None, *,
                    deadline: float | None = None) -> Samples:
        """Audio for ``text``; ``deadline`` (``time.monotonic()`` seconds, default now) orders
        this call among the waiting ones. A cached text is answered without waiting."""
        cached = self.cache.get(voice, speaker, text)
        if cached is not None:
            return cached
        await self.gate.acquire(time.monotonic() if deadline is None else deadline)
        try:
            work = asyncio.ensure_future(asyncio.to_thread(self._run, text, voice, speaker))
            work.add_done_callback(_retrieve)
            try:
                audio = await asyncio.shield(work)
            except asyncio.CancelledError:
                # A thread cannot be interrupted: hold the gate until the engine is free.
                await asyncio.wait({work})
                raise
        finally:
            self.gate.release()
        self.cache.put(voice, speaker, text, audio)
        return audio

    def _run(self, text: str, voice: str, speaker: str | None) -> Samples:
        parts = list(self.engine.synthesize(text, voice, speaker))  # drained in the thread
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


def _retrieve(future: asyncio.Future[Samples]) -> None:
    if not future.cancelled():
        future.exception()


@dataclass(frozen=True)
class ReplyOptions:
    samples_per_chunk: int = 1024
    policy: RetryPolicy = ENGINE_RETRY
    # Pieces already waiting are joined into one engine call, up to this many characters
    # for call k: the first call is one piece alone (first audio fast), then the budget
    # doubles up to merge_max (fewer calls: Kokoro pays ~1 s per call on 2 busy cores).
    merge_first: int = 100
    merge_max: int = 300
    clock: Clock | None = None  # the retry delays' clock (tests inject a ManualClock)

    def merge_budget(self, call: int, *, shared: bool = False) -> int:
        """Characters call ``call`` may join; ``shared``: other replies use the engine too."""
        if call == 0:
            return 0
        return self.merge_first if shared else min(self.merge_max, self.merge_first * 2 ** (call - 1))


class Reply:
    """Audio for one ``synthesize`` (``streaming=False``) or one synthesize-start..stop stream."""

    def __init__(
        self,
        synthesizer: Synthesizer,
        voice: Voice,
        speaker: str | None,
        *,
        streaming: bool,
        write: Write,
        send_error: SendError,
        options: ReplyOptions,
        client: str = "",
    ) -> None:
        self.voice = voice
        self.speaker = speaker
        self.streaming = streaming
        self.accepting = True  # more text may come
        self.cancelled = False
        self._synth = synthesizer
        self._write = write
        self._send_error = send_error
        self._options = options
        self._client = client
        self._rate = synthesizer.engine.sample_rate
        self._splitter = SentenceSplitter()
        self._text: asyncio.Queue[str | None] = asyncio.Queue(maxsize=TEXT_QUEUE)
        self._audio: asyncio.Queue[Samples | BaseException | None] = asyncio.Queue(maxsize=1)
        self._started = False
        self._audio_stopped = False
        self._stream_stopped = False
        self._audio_sent = False
        self._pieces = 0  # pieces handed to the engine
        self._calls = 0  # engine calls (waiting pieces are joined)
        self._received = 0  # pieces of text received
        self._t0 = time.monotonic()
        self._first_audio: float | None = None
        self._first_made: float | None = None  # when the first audio was synthesised
        self._made_seconds = 0.0  # seconds of audio synthesised so far
        synthesizer.replies += 1
        self.task = asyncio.create_task(self._send_all(), name=f"tts reply {client}")
        self.task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._synth.replies -= 1
        if task.cancelled():
            return
        error = task.exception()  # retrieved here, so a dead client leaves no warning behind
        if error is not None and not isinstance(error, ConnectionError):
            _LOGGER.error("client=%s reply failed", self._client, exc_info=error)

    # -- input -------------------------------------------------------------------------
    async def feed(self, text: str) -> None:
        for piece in self._splitter.feed(text):
            await self._offer(piece)

    async def finish(self) -> None:
        if not self.accepting:
            return
        self.accepting = False
        for piece in self._splitter.finish():
            await self._offer(piece)
        await self._offer(None)

    async def _offer(self, item: str | None) -> None:
        if self.task.done():
            return
        if item is not None:
            self._received += 1
        await put_unless_done(self._text, item, self.task)

    # -- ending --------------------------------------------------------------------------
    def cancel(self) -> None:
        """Stop at once (from the reader: must not block); :meth:`abort` finishes the job."""
        self.cancelled = True
        self.accepting = False
        self.task.cancel()

    async def abort(self, *, close_framing: bool) -> None:
        """Cancel and wait; then, if asked, close what was opened (audio-stop, synthesize-stopped)."""
        running = not self.task.done()
        self.cancel()
        await cancel_and_wait(self.task, timeout=CANCEL_TIMEOUT)
        if running:
            _LOGGER.info(
                "client=%s reply cancelled voice=%s synthesized=%d of received=%d pieces",
                self._client, self.voice.name, self._pieces, self._received,
            )
        if close_framing:
            await self._close_framing()

    async def wait(self) -> None:
        await asyncio.wait({self.task})

    # -- output --------------------------------------------------------------------------
    async def _send_all(self) -> None:
        producer = asyncio.create_task(self._synthesize_all(), name=f"tts synth {self._client}")
        failed = False
        try:
            while (item := await self._audio.get()) is not None:
                if isinstance(item, BaseException):
                    failed = True
                    await self._send_error("synthesis-failed", f"text-to-speech failed: {item}")
                    break
                await self._send_audio(item)
            if not self._started and not failed:
                await self._start()  # empty text: empty audio, still framed
            await self._close_framing()
            first = f"{self._first_audio:.2f}s" if self._first_audio is not None else "none"
            _LOGGER.info(
                "client=%s voice=%s pieces=%d calls=%d first_audio=%s total=%.2fs", self._client,
                self.voice.name, self._pieces, self._calls, first, time.monotonic() - self._t0,
            )
        finally:
            await cancel_and_wait(producer, timeout=CANCEL_TIMEOUT)

    async def _synthesize_all(self) -> None:
        calls = 0
        carry: str | None = None
        ended = False
        while not ended:
            piece = carry if carry is not None else await self._text.get()
            carry = None
            if piece is None:
                break
            parts = [clean_text(piece)]
            # Join what is already waiting, within this call's budget.
            budget = self._options.merge_budget(calls, shared=self._synth.replies > 1)
            while len(parts[0]) < budget and not self._text.empty():
                following = self._text.get_nowait()
                if following is None:
                    ended = True
                    break
                cleaned = clean_text(following)
                if sum(len(p) + 1 for p in parts) + len(cleaned) > budget:
                    carry = following
                    break
                parts.append(cleaned)
            text = " ".join(p for p in parts if has_speech(p))
            if not text:
                continue
            calls += 1
            self._calls = calls
            self._pieces += len(parts)
            try:
                audio = await retry_async(
                    partial(self._synth.speak, text, self.voice.name, self.speaker, deadline=self._deadline()),
                    self._options.policy,
                    may_retry=lambda: not self._audio_sent,
                    clock=self._options.clock,
                    what=f"{self.voice.provider} synthesis",
                )
            except Exception as err:
                _LOGGER.warning("client=%s synthesis failed: %s", self._client, err)
                await self._audio.put(err)
                return
            self._made_seconds += len(audio) / self._rate
            if self._first_made is None:
                self._first_made = time.monotonic()
            await self._audio.put(audio)
        await self._audio.put(None)

    def _deadline(self) -> float:
        """When this reply needs its next audio: at once (its request time) for the first piece,
        else when the audio made so far would have played out from its first sample."""
        if self._first_made is None:
            return self._t0
        return self._first_made + self._made_seconds

    async def _start(self) -> None:
        self._started = True
        await self._write(AudioStart(rate=self._rate, width=WIDTH, channels=CHANNELS).event())

    async def _send_audio(self, samples: Samples) -> None:
        if not self._started:
            await self._start()
            samples = trim_leading_silence(samples, self._rate)  # the reply's first sound: no silence before it
        pcm = from_float(samples, WIDTH)
        step = self._options.samples_per_chunk * WIDTH * CHANNELS
        for offset in range(0, len(pcm), step):
            await self._write(
                AudioChunk(rate=self._rate, width=WIDTH, channels=CHANNELS, audio=pcm[offset : offset + step]).event()
            )
            if not self._audio_sent:
                self._audio_sent = True
                self._first_audio = time.monotonic() - self._t0

    async def _close_framing(self) -> None:
        if self._started and not self._audio_stopped:
            self._audio_stopped = True
            await self._write(AudioStop().event())
        if self.streaming and not self._stream_stopped:
            self._stream_stopped = True
            await self._write(SynthesizeStopped().event())
