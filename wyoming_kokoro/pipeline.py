"""One spoken reply: text pieces in, audio out, the next piece synthesised while one is sent.

A :class:`Reply` owns two tasks: a *synthesiser* that takes pieces of text (sentences or
clauses from :class:`~wyoming_kokoro.text.SentenceSplitter`) and runs the engine in a
worker thread, and a *sender* that frames and writes the audio. A queue of one finished
piece between them is the prefetch: while a sentence is being sent (and, behind TCP
back-pressure, played), the next is already being synthesised.

Scheduling: an engine runs one call at a time, shared by every connection. Waiting calls go
earliest deadline first (:class:`~.synthesizer.DeadlineGate`): a reply's first piece is due at
once (at the time its text arrived), a later piece when the audio already made for that reply
would have played out. So one listener's third sentence does not hold up another listener's
first words, and neither reply runs dry as long as the engine keeps up overall. A call cannot
be interrupted, so while other replies share the engine a reply joins at most ``merge_first``
characters into one call (alone it may join up to ``merge_max``): a new reply's first words
then wait for one short call, not for seconds of someone else's answer.

Timeline: with ``--debug`` every step of a reply is logged with its time since the request
(``t=``): text received, each engine call's start and end (with the gate wait and engine time
from :class:`~.synthesizer.Synthesizer`), the first audio-chunk, the end of the text and audio-stop.

Framing: one ``audio-start`` before the first audio, one ``audio-stop`` at the end, and for
a stream a final ``synthesize-stopped``. Engine failures are retried (2x, 0.5 s) only while
no audio has gone out; after that the reply ends with an ``error``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event
from wyoming.tts import SynthesizeStopped

from voice_runtime.audio import from_float
from voice_runtime.clock import Clock
from voice_runtime.retry import TTS_RETRY, RetryPolicy, retry_async
from voice_runtime.tasks import cancel_and_wait, put_unless_done

from .engine import EngineError, Samples, Voice, trim_leading_silence
from .synthesizer import Synthesizer
from .text import SentenceSplitter, clean_text, has_speech

_LOGGER = logging.getLogger(__name__)
WIDTH = 2
CHANNELS = 1
ENGINE_RETRY = RetryPolicy(delays=TTS_RETRY.delays, retry_on=(EngineError, OSError, MemoryError))
# Pieces of text waiting for the synthesiser; when full the feeder waits (back-pressure
# reaches the client through the connection's bounded event queue).
TEXT_QUEUE = 32
# A cancelled reply waits for the engine call in flight to stop (interrupted at its next model step).
CANCEL_TIMEOUT = 60.0
# A pinned reply (a warm-up, :mod:`.synthesizer`'s slots) waits at the engine's gate behind any reply
# asked up to this long after it: a listener's words go first.
PIN_DEFER = 60.0

Write = Callable[[Event], Awaitable[None]]
SendError = Callable[[str, str], Awaitable[None]]


@dataclass(frozen=True)
class ReplyOptions:
    samples_per_chunk: int = 1024
    policy: RetryPolicy = ENGINE_RETRY
    # Pieces already waiting are joined into one engine call, up to this many characters
    # for call k: the first call is one piece alone (first audio fast), then the budget
    # doubles up to merge_max (fewer calls: Kokoro pays ~1 s per call on 2 busy cores).
    merge_first: int = 100
    merge_max: int = 300
    # A first piece that starts with a noun phrase may end before its verb once it has this many
    # words (0: never; :class:`~.text.SentenceSplitter`).
    first_subject_words: int = 4
    # ... and before an approximate figure ("Mars is, | approximately 141 million miles") once it
    # has this many words (0: never).
    first_figure_words: int = 2
    # The piece after that ends after the figure and its unit once this many more words of the
    # sentence have come (0: it is the rest of the sentence), and is an engine call of its own.
    figure_tail_words: int = 2
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
        pin: str | None = None,
    ) -> None:
        self.voice = voice
        self.pin = pin  # the cache slot its audio is kept in (a warm-up), not the LRU
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
        self._splitter = SentenceSplitter(first_subject_words=options.first_subject_words,
                                          first_figure_words=options.first_figure_words,
                                          figure_tail_words=options.figure_tail_words)
        # (a piece, and whether it is an engine call of its own: the figure piece)
        self._text: asyncio.Queue[tuple[str, bool] | None] = asyncio.Queue(maxsize=TEXT_QUEUE)
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

    def mark(self, what: str, *args: object) -> None:
        """A step of this reply in the debug log, with its time since the request."""
        if _LOGGER.isEnabledFor(logging.DEBUG):
            _LOGGER.debug("client=%s t=%.3fs " + what, self._client, time.monotonic() - self._t0, *args)

    # -- input -------------------------------------------------------------------------
    async def feed(self, text: str) -> None:
        pieces = self._splitter.feed(text)
        self.mark("text +%d chars: %d piece(s) ready", len(text), len(pieces))
        for piece in pieces:
            await self._offer(piece)

    async def finish(self) -> None:
        if not self.accepting:
            return
        self.accepting = False
        pieces = self._splitter.finish()
        self.mark("text ended: %d piece(s) ready", len(pieces))
        for piece in pieces:
            await self._offer(piece)
        await self._offer(None)

    async def _offer(self, piece: str | None) -> None:
        if self.task.done():
            return
        item = None
        if piece is not None:
            item = (piece, self._received == self._splitter.figure_piece)
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
        carry: tuple[str, bool] | None = None
        ended = False
        while not ended:
            item = carry if carry is not None else await self._text.get()
            carry = None
            if item is None:
                break
            piece, alone = item
            parts = [clean_text(piece)]
            # Join what is already waiting, within this call's budget (a piece that is a call of its
            # own, the figure piece, is joined to nothing).
            budget = 0 if alone else self._options.merge_budget(calls, shared=self._synth.replies > 1)
            while len(parts[0]) < budget and not self._text.empty():
                following = self._text.get_nowait()
                if following is None:
                    ended = True
                    break
                cleaned = clean_text(following[0])
                if following[1] or sum(len(p) + 1 for p in parts) + len(cleaned) > budget:
                    carry = following
                    break
                parts.append(cleaned)
            text = " ".join(p for p in parts if has_speech(p))
            if not text:
                continue
            calls += 1
            self._calls = calls
            self._pieces += len(parts)
            self.mark("call %d: %d piece(s), %d chars", calls, len(parts), len(text))
            try:
                audio = await retry_async(
                    partial(self._synth.speak, text, self.voice.name, self.speaker, deadline=self._deadline(),
                            pin=self.pin),
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
            self.mark("call %d done: %.2fs of audio", calls, len(audio) / self._rate)
            if self._first_made is None:
                self._first_made = time.monotonic()
            await self._audio.put(audio)
        await self._audio.put(None)

    def _deadline(self) -> float:
        """When this reply needs its next audio: at once (its request time) for the first piece,
        else when the audio made so far would have played out from its first sample. A pinned
        reply (a warm-up) is due ``PIN_DEFER`` later."""
        if self.pin is not None:
            return self._t0 + PIN_DEFER + self._made_seconds
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
                self.mark("first audio-chunk sent")

    async def _close_framing(self) -> None:
        if self._started and not self._audio_stopped:
            self._audio_stopped = True
            await self._write(AudioStop().event())
            self.mark("audio-stop sent")
        if self.streaming and not self._stream_stopped:
            self._stream_stopped = True
            await self._write(SynthesizeStopped().event())
