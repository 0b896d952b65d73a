"""The text-to-speech stage of one turn: text in (streamed deltas, or one whole text), the TTS
service's audio converted to the satellite's format and forwarded chunk by chunk, one
``audio-start``/``audio-stop`` around each reply."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeVoice

from voice_runtime.audio import AudioConverter, AudioFormat
from voice_runtime.client import describe
from voice_runtime.latency import TurnTimer
from voice_runtime.retry import RetryPolicy, retry_async
from voice_runtime.tasks import run_together

from .readiness import acquire_ready
from .services import Connection, ServicePool, ServiceUnavailable
from .streams import TurnError, next_event
from .turn import SERVICES_UNAVAILABLE, PipelineConfig, TurnOutput, TurnResult


class TtsCapability:
    """Whether the TTS service takes streamed text (``synthesize-start``/``-chunk``/``-stop``),
    learnt once from its ``info`` (the pool's probe, else one ``describe``)."""

    def __init__(self, pool: ServicePool) -> None:
        self.pool = pool
        self.streaming: bool | None = None

    async def streams(self) -> bool:
        if self.streaming is None:
            info = self.pool.info
            if info is None:
                with contextlib.suppress(Exception):
                    info = await describe(self.pool.uris[0], self.pool.probe_timeout)
                    self.pool.info = info
            programs = info.tts if info is not None else []
            self.streaming = any(getattr(p, "supports_synthesize_streaming", False) for p in programs or [])
        return self.streaming


class TtsForwarder:
    """Speaks one turn's reply (or an intent's answer, an apology, an announcement) to ``out``,
    counting the audio sent in ``result.audio_bytes``.

    Audio goes out as it comes (:meth:`emit`); a benchmark's Home-Assistant-style chain holds it
    until synthesis has ended instead (``bench/nonstreaming.py`` overrides :meth:`emit` and
    :meth:`synthesis_done`)."""

    def __init__(self, pool: ServicePool, config: PipelineConfig, out: TurnOutput, timer: TurnTimer,
                 result: TurnResult, *, capability: TtsCapability) -> None:
        self.pool = pool
        self.config = config
        self.out = out
        self.timer = timer
        self.result = result
        self.capability = capability

    def voice(self) -> SynthesizeVoice | None:
        return SynthesizeVoice(name=self.config.voice) if self.config.voice else None

    async def speak_stream(self, deltas: asyncio.Queue[str | None]) -> None:
        """Speak text read from ``deltas`` until ``None``, synthesised as it comes (one-shot
        synthesis of the whole text when the service does not stream)."""
        try:
            tts = await acquire_ready(self.pool)  # its probe tells the pool the service's info
        except ServiceUnavailable as err:
            raise TurnError(SERVICES_UNAVAILABLE, str(err)) from err
        if not await self.capability.streams():
            await tts.close()
            parts: list[str] = []
            while (delta := await deltas.get()) is not None:
                parts.append(delta)
            await self.speak_text("".join(parts))
            return
        try:
            await tts.send(SynthesizeStart(voice=self.voice()).event())

            feeding = True

            async def feed() -> None:
                nonlocal feeding
                parts: list[str] = []
                while (delta := await deltas.get()) is not None:
                    parts.append(delta)
                    await tts.send(SynthesizeChunk(text=delta).event())
                await tts.send(Synthesize(text="".join(parts), voice=self.voice()).event())
                await tts.send(SynthesizeStop().event())
                feeding = False

            # While the LLM still streams text, a quiet TTS is waiting for it (the LLM has its own
            # inactivity timeout); the TTS's starts counting once all the text has been sent.
            await run_together(feed(), self.forward(tts, "synthesize-stopped", waiting_for_input=lambda: feeding))
        except (OSError, TimeoutError) as err:
            self.pool.mark_failed(tts.uri)
            raise TurnError("tts-failed", f"text-to-speech failed: {err}") from err
        finally:
            await tts.close()

    async def speak_text(self, text: str, *, retry: bool = True) -> None:
        """One-shot synthesis of ``text`` (intent answers, apologies, non-streaming TTS)."""
        if not text.strip():
            return

        async def attempt() -> None:
            try:
                tts = await acquire_ready(self.pool)
            except ServiceUnavailable as err:
                raise TurnError(SERVICES_UNAVAILABLE, str(err)) from err
            try:
                await tts.send(Synthesize(text=text, voice=self.voice()).event())
                await self.forward(tts, "audio-stop")
            except (OSError, TimeoutError):
                self.pool.mark_failed(tts.uri)
                raise
            finally:
                await tts.close()

        await self.out.event(Synthesize(text=text, voice=self.voice()).event())
        policy = self.config.tts_retry if retry else RetryPolicy(delays=())
        try:
            await retry_async(attempt, policy, may_retry=lambda: self.result.audio_bytes == 0,
                              clock=self.config.retry_clock, what="tts")
        except (OSError, TimeoutError) as err:
            raise TurnError("tts-failed", f"text-to-speech failed: {err}") from err

    async def emit(self, event: Event) -> None:
        """Send reply audio (``audio-start``, ``audio-chunk``) to the output as it comes."""
        await self.out.event(event)
        if AudioChunk.is_type(event.type):
            self.timer.mark("first_audio_sent")

    async def synthesis_done(self) -> None:
        """The TTS service has sent all its audio (before the reply's ``audio-stop``)."""

    async def forward(self, tts: Connection, end_type: str, *,
                      waiting_for_input: Callable[[], bool] | None = None) -> None:
        """Convert TTS audio to the output format and forward it; one audio-start/-stop per reply."""
        converter: AudioConverter | None = None
        fmt = self.config.output_format
        timer, result = self.timer, self.result
        send = self.emit
        started = False
        while True:
            event = await next_event(tts, self.config.tts_timeout, waiting_for_input)
            if AudioChunk.is_type(event.type):
                chunk = AudioChunk.from_event(event)
                src = AudioFormat(chunk.rate, chunk.width, chunk.channels)
                if converter is None or converter.src != src:
                    converter = AudioConverter(src, fmt)
                pcm = converter.feed(chunk.audio)
                if not pcm:
                    continue
                timer.mark("first_tts_audio")
                if not started:
                    started = True
                    await send(AudioStart(fmt.rate, fmt.width, fmt.channels).event())
                await send(AudioChunk(fmt.rate, fmt.width, fmt.channels, pcm).event())
                result.audio_bytes += len(pcm)
                # Buffered input and an undrained socket never suspend this loop; yield so a
                # barge-in read by the satellite link can cancel us before the next chunk.
                await asyncio.sleep(0)
            elif event.type == end_type:
                break
            elif Error.is_type(event.type):
                err = Error.from_event(event)
                raise TurnError(err.code or "tts-failed", f"text-to-speech: {err.text}")
        if converter is not None:
            tail = converter.flush()
            if tail and started:
                await send(AudioChunk(fmt.rate, fmt.width, fmt.channels, tail).event())
                result.audio_bytes += len(tail)
        await self.synthesis_done()
        if started:
            await self.out.event(AudioStop().event())
            timer.mark("audio_done")
