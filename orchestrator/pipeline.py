"""One turn: audio in → transcript → intent or LLM → streaming TTS → audio out.

Streaming end to end: the LLM's ``handled-chunk`` text feeds a streaming TTS session
(``synthesize-start``/``-chunk``/``-stop``) as it arrives, and TTS audio is converted to the
satellite format and forwarded chunk by chunk while later sentences are still being
synthesised. A turn is an asyncio task: cancelling it (barge-in) closes its LLM and TTS
connections, which is how the servers learn to stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Protocol

from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.handle import Handled, HandledChunk, NotHandled
from wyoming.intent import Intent, NotRecognized, Recognize
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeVoice
from wyoming.vad import VoiceStarted, VoiceStopped

from voice_runtime.audio import PCM16_MONO_16K, AudioConverter, AudioFormat
from voice_runtime.clock import Clock
from voice_runtime.latency import LatencyMonitor, TurnTimer
from voice_runtime.retry import LLM_RETRY, TTS_RETRY, RetryPolicy, retry_async
from voice_runtime.tasks import cancel_and_wait, run_together

from .continuation import may_act
from .honesty import ClaimGuard
from .intents import NO_HOME_REPLY, IntentMatch, IntentRecognizer
from .readiness import Readiness, acquire_ready
from .services import Connection, ServicePool, ServiceUnavailable
from .streams import TurnError, next_event, until_endpoint

_LOGGER = logging.getLogger(__name__)
APOLOGY = "Sorry, something went wrong. Please try again."
# Error codes sent to satellites (documented in ARCHITECTURE.md).
SERVICES_UNAVAILABLE = "services-unavailable"


class OutputLost(Exception):
    """The turn's output (the satellite) could not be written to: nobody to speak to.

    Not an ``OSError`` on purpose: it must not be taken for a failure of the engine whose
    audio was being forwarded (that replica is healthy), nor retried.
    """


class _GuardedOutput:
    """Turns a write error of the output into :class:`OutputLost`."""

    def __init__(self, out: TurnOutput) -> None:
        self.out = out

    async def event(self, event: Event) -> None:
        try:
            await self.out.event(event)
        except (OSError, RuntimeError) as err:  # RuntimeError: a write to a closed transport
            raise OutputLost(f"{type(err).__name__}: {err}") from err


class TurnOutput(Protocol):
    """Where a turn's progress events and reply audio go (a satellite, a WAV file…)."""

    async def event(self, event: Event) -> None: ...


@dataclass(frozen=True)
class PipelineConfig:
    language: str = "en"
    voice: str | None = None
    output_format: AudioFormat = PCM16_MONO_16K
    # Inactivity timeouts (seconds without an event from the service), not whole-stage
    # deadlines: a long healthy answer is never cut. A dead, black-holed or hung service is
    # found sooner, when its connection is handed out (ServicePool's connect and probe
    # timeouts), so ``services-unavailable`` reaches the satellite within about a second.
    asr_timeout: float = 30.0
    handle_timeout: float = 30.0
    tts_timeout: float = 30.0
    max_turn_audio_seconds: float = 60.0
    llm_retry: RetryPolicy = LLM_RETRY
    tts_retry: RetryPolicy = TTS_RETRY
    retry_clock: Clock | None = None  # the retry delays' clock (tests inject a ManualClock)
    apologize: bool = True
    intent_timeout: float = 2.0
    # False chains the stages the way Home Assistant does without streaming: the whole reply
    # text, then one-shot TTS, and the audio forwarded once synthesis has finished (benchmarks).
    streaming: bool = True
    # Asked of the speech-to-text service in ``transcribe``: end the utterance itself after
    # this much silence (Wyoming's vad_sensitivity: aggressive/default/relaxed; None: wait
    # for the satellite's audio-stop). A service that ignores it changes nothing. The
    # ``serve`` command asks for "aggressive" unless told otherwise.
    vad_sensitivity: str | None = None
    # Partial transcripts are not used here: ask the service not to spend CPU on them.
    partial_transcripts: bool = False


@dataclass
class TurnResult:
    transcript: str = ""
    reply: str = ""
    intent: IntentMatch | None = None
    error: TurnError | None = None
    marks: dict[str, float] = field(default_factory=dict)
    audio_bytes: int = 0
    cancelled: bool = False
    acting: bool = False  # an intent that may change something (timers, home) has started (continuation.py)


class Pipeline:
    def __init__(
        self,
        asr: ServicePool,
        handle: ServicePool,
        tts: ServicePool,
        *,
        intents: IntentRecognizer | None = None,
        intent_service: ServicePool | None = None,
        config: PipelineConfig | None = None,
        monitor: LatencyMonitor | None = None,
    ) -> None:
        self.asr = asr
        self.handle = handle
        self.tts = tts
        self.intents = intents
        self.intent_service = intent_service
        self.config = config or PipelineConfig()
        self.monitor = monitor or LatencyMonitor()
        self.tts_streaming: bool | None = None  # learnt from the TTS service's info

    # -- a whole turn ----------------------------------------------------------------------
    async def run_turn(
        self,
        audio: AsyncIterator[AudioChunk],
        out: TurnOutput,
        *,
        conversation_id: str,
        result: TurnResult | None = None,
        end_stage: str = "tts",
        endpoint_after: float = 0.0,
    ) -> TurnResult:
        """Run one turn. Pass ``result`` to see partial progress if the turn is cancelled.

        ``end_stage`` is the satellite's ``run-pipeline`` end stage: ``asr`` stops after the
        transcript, ``intent``/``handle`` after the reply text, ``tts`` speaks it.
        ``endpoint_after``: the first seconds of ``audio`` are an earlier part of the question
        (a continuation): the speech-to-text service is asked not to end the turn in them.
        """
        result = result if result is not None else TurnResult()
        timer = self.monitor.start_turn()
        speak = end_stage == "tts"
        out = _GuardedOutput(out)
        readiness = Readiness([self.handle, self.tts] if speak else [self.handle])
        token = readiness.enter()
        try:
            result.transcript = await self._transcribe(audio, out, timer, endpoint_after)
            await out.event(Transcript(text=result.transcript, language=self.config.language).event())
            result.marks = timer.marks
            if not result.transcript.strip():
                raise TurnError("no-speech", "no speech was recognised")
            if end_stage == "asr":
                return result
            result.acting = True  # until we know what the intent did: a continuation must not repeat it
            match = await self.intents.answer(result.transcript, conversation_id) if self.intents else None
            if match is None and self.intent_service:
                match = await self._recognize_remote(result.transcript)
            result.acting = match is not None and may_act(
                match.name, match.response, no_home_reply=self.intents.no_home_reply if self.intents else NO_HOME_REPLY)
            if match is not None:
                result.intent = match
                timer.mark("intent")
                result.reply = match.response
                if speak and match.response:  # "never mind" says nothing
                    await self._speak_text(match.response, out, timer, result)
            else:
                await self._converse(result, out, timer, conversation_id, speak=speak)
        except asyncio.CancelledError:
            result.cancelled = True
            raise
        except TurnError as err:
            result.error = err
            await self._fail(err, out, timer, result)
        except OutputLost as err:
            _LOGGER.warning("turn abandoned: the output is gone (%s)", err)
            result.error = TurnError("output-lost", str(err))
        finally:
            readiness.exit(token)
            await readiness.close()
            result.marks = dict(timer.marks)
            if not result.cancelled and result.error is None:
                self.monitor.finish_turn(timer)
            stages = " ".join(f"{k}={v * 1000:.0f}ms" for k, v in result.marks.items())
            outcome = "cancelled" if result.cancelled else (result.error.code if result.error else "ok")
            _LOGGER.info("turn %s conversation=%s intent=%s %s", outcome, conversation_id,
                         result.intent.name if result.intent else "-", stages)
        return result

    async def close(self) -> None:
        """Close the warm connections of every service pool."""
        for pool in (self.asr, self.handle, self.tts, self.intent_service):
            if pool is not None:
                await pool.close()

    async def _recognize_remote(self, text: str) -> IntentMatch | None:
        """Ask the configured Wyoming ``intent`` service; anything but a match goes to the LLM."""
        assert self.intent_service is not None
        try:
            conn = await self.intent_service.acquire()
        except ServiceUnavailable as err:
            _LOGGER.warning("intent service unavailable (%s); asking the LLM", err)
            return None
        try:
            await conn.send(Recognize(text=text).event())
            async with asyncio.timeout(self.config.intent_timeout):
                while True:
                    event = await conn.recv()
                    if Intent.is_type(event.type):
                        intent = Intent.from_event(event)
                        slots = {e.name: e.value for e in intent.entities}
                        return IntentMatch(intent.name, slots, intent.text or "Done.")
                    if NotRecognized.is_type(event.type) or Error.is_type(event.type):
                        return None
        except (OSError, TimeoutError) as err:
            self.intent_service.mark_failed(conn.uri)
            _LOGGER.warning("intent service failed (%s); asking the LLM", err)
            return None
        finally:
            await conn.close()

    async def announce(self, text: str, out: TurnOutput, *, result: TurnResult | None = None) -> TurnResult:
        """Speak ``text`` (a ``run-pipeline`` that starts at the tts stage)."""
        result = result if result is not None else TurnResult()
        timer = self.monitor.start_turn()
        result.reply = text
        out = _GuardedOutput(out)
        try:
            await self._speak_text(text, out, timer, result)
        except OutputLost as err:
            _LOGGER.warning("announcement abandoned: the output is gone (%s)", err)
            result.error = TurnError("output-lost", str(err))
        except TurnError as err:
            result.error = err
            with contextlib.suppress(Exception):
                await out.event(Error(text=err.text, code=err.code).event())
        return result

    async def _fail(self, err: TurnError, out: TurnOutput, timer: TurnTimer, result: TurnResult) -> None:
        """Apologise out loud if nothing was said yet (a whole reply, audio-stop included), then
        send the ``error``: a satellite ends the turn on ``error``, so the apology goes first.

        ``services-unavailable`` is sent at once and not apologised for: the satellite answers it
        by sending the same utterance to its cloud fallback.
        """
        _LOGGER.warning("turn failed code=%s text=%s", err.code, err.text)
        silent = err.code in ("no-speech", SERVICES_UNAVAILABLE)
        if self.config.apologize and not silent and result.audio_bytes == 0:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self.config.tts_timeout):
                    await self._speak_text(APOLOGY, out, timer, result, retry=False)
        with contextlib.suppress(Exception):
            await out.event(Error(text=err.text, code=err.code).event())

    # -- speech to text --------------------------------------------------------------------
    def _transcribe_request(self, endpoint_after: float = 0.0) -> Transcribe:
        context: dict[str, object] = {} if self.config.partial_transcripts else {"partial_transcripts": False}
        if endpoint_after > 0:
            context["endpoint_after"] = round(endpoint_after, 3)  # our whisper: no end inside the first part
        return Transcribe(language=self.config.language, vad_sensitivity=self.config.vad_sensitivity,
                          context=context or None)

    async def _transcribe(self, audio: AsyncIterator[AudioChunk], out: TurnOutput, timer: TurnTimer,
                          endpoint_after: float = 0.0) -> str:
        buffered: list[AudioChunk] = []
        limit_bytes = None
        conn: Connection | None = None
        reader: asyncio.Task[str] | None = None
        first = True
        try:
            try:
                conn = await self.asr.acquire()
                await conn.send(self._transcribe_request(endpoint_after).event())
                reader = asyncio.create_task(self._read_transcript(conn), name="asr reader")
            except ServiceUnavailable as err:
                raise TurnError(SERVICES_UNAVAILABLE, str(err)) from err
            total = 0
            async for chunk in until_endpoint(audio, reader):
                outgoing = [chunk.event()]
                if first:
                    first = False
                    await out.event(VoiceStarted().event())
                    limit_bytes = int(self.config.max_turn_audio_seconds * chunk.rate * chunk.width * chunk.channels)
                    outgoing.insert(0, AudioStart(chunk.rate, chunk.width, chunk.channels).event())
                buffered.append(chunk)
                total += len(chunk.audio)
                if limit_bytes is not None and total > limit_bytes:
                    break
                if conn is not None:
                    try:
                        for event in outgoing:
                            await conn.send(event)
                    except OSError:
                        # Keep buffering; the whole utterance goes to another replica at the end.
                        self.asr.mark_failed(conn.uri)
                        await conn.close()
                        conn = None
            timer.start = timer.clock.now()  # latency is measured from the end of speech
            await out.event(VoiceStopped().event())
            if not buffered:
                raise TurnError("no-speech", "no audio was received")
            try:
                if conn is None or reader is None:
                    raise ConnectionResetError("ASR connection lost while streaming")
                if not reader.done():
                    await conn.send(AudioStop().event())
                else:
                    _LOGGER.debug("the speech-to-text service ended the utterance before audio-stop")
                async with asyncio.timeout(self.config.asr_timeout):  # from audio-stop to transcript
                    text = await reader
            except (OSError, TimeoutError) as err:
                if conn is not None:
                    self.asr.mark_failed(conn.uri)
                _LOGGER.warning("asr failed (%s); trying another replica with the buffered audio", err)
                text = await self._transcribe_buffered(buffered, endpoint_after)
            timer.mark("transcript")
            return text
        finally:
            if reader is not None:
                # Cancel it if still running; either way collect its outcome, so a reader that
                # failed while the turn took another path is not reported as never retrieved.
                await cancel_and_wait(reader)
            if conn is not None:
                await conn.close()

    async def _read_transcript(self, conn: Connection, timeout: float | None = None) -> str:
        while True:
            event = await conn.recv(timeout)
            if Transcript.is_type(event.type):
                return Transcript.from_event(event).text.strip()
            if Error.is_type(event.type):
                err = Error.from_event(event)
                raise TurnError(err.code or "asr-failed", f"speech-to-text: {err.text}")

    async def _transcribe_buffered(self, buffered: list[AudioChunk], endpoint_after: float = 0.0) -> str:
        try:
            conn = await self.asr.acquire()
        except ServiceUnavailable as err:
            raise TurnError(SERVICES_UNAVAILABLE, str(err)) from err
        try:
            first = buffered[0]
            await conn.send(self._transcribe_request(endpoint_after).event())
            await conn.send(AudioStart(first.rate, first.width, first.channels).event())
            for chunk in buffered:
                await conn.send(chunk.event())
            await conn.send(AudioStop().event())
            return await self._read_transcript(conn, self.config.asr_timeout)
        except (OSError, TimeoutError) as err:
            self.asr.mark_failed(conn.uri)
            raise TurnError("asr-failed", f"speech-to-text failed: {err}") from err
        finally:
            await conn.close()

    # -- LLM → TTS, streaming --------------------------------------------------------------
    async def _converse(
        self, result: TurnResult, out: TurnOutput, timer: TurnTimer, conversation_id: str, *, speak: bool = True
    ) -> None:
        async def attempt() -> None:
            try:
                await self._converse_once(result, out, timer, conversation_id, speak)
            except ServiceUnavailable as err:
                # The pool has already tried every replica (connect + probe): waiting 1/2/4 s to
                # try them again would only delay the satellite's cloud fallback. Not retried.
                raise TurnError(SERVICES_UNAVAILABLE, str(err)) from err

        try:
            await retry_async(
                attempt, self.config.llm_retry, may_retry=lambda: result.audio_bytes == 0,
                clock=self.config.retry_clock, what="conversation",
            )
        except (OSError, TimeoutError) as err:
            raise TurnError("llm-failed", f"conversation failed: {err}") from err

    async def _converse_once(
        self, result: TurnResult, out: TurnOutput, timer: TurnTimer, conversation_id: str, speak: bool
    ) -> None:
        deltas: asyncio.Queue[str | None] = asyncio.Queue()
        guard = ClaimGuard(self.intents.honest_line if self.intents else NO_HOME_REPLY)
        llm = await acquire_ready(self.handle)
        try:
            await llm.send(Transcript(text=result.transcript, context={"conversation_id": conversation_id},
                                      language=self.config.language).event())

            async def read_llm() -> None:
                parts: list[str] = []
                try:
                    while True:
                        event = await llm.recv(self.config.handle_timeout)
                        if HandledChunk.is_type(event.type):
                            text = HandledChunk.from_event(event).text
                            if text:
                                timer.mark("first_token")
                                parts.append(text)
                                if checked := guard.feed(text):
                                    await deltas.put(checked)
                        elif Handled.is_type(event.type) or NotHandled.is_type(event.type):
                            final = (Handled.from_event(event) if Handled.is_type(event.type)
                                     else NotHandled.from_event(event)).text or ""
                            timer.mark("first_token")
                            streamed = "".join(parts)
                            rest = final if not streamed else (
                                final[len(streamed):] if final.startswith(streamed) else "")
                            if checked := guard.feed(rest) + guard.flush():
                                await deltas.put(checked)
                            result.reply = guard.text  # as spoken: an action claim is replaced
                            timer.mark("reply_done")
                            return
                        elif Error.is_type(event.type):
                            err = Error.from_event(event)
                            raise TurnError(err.code or "llm-failed", f"conversation: {err.text}")
                finally:
                    await deltas.put(None)

            if speak and self.config.streaming:
                await run_together(read_llm(), self._speak_stream(deltas, out, timer, result))
            else:
                await read_llm()
        except (OSError, TimeoutError):
            self.handle.mark_failed(llm.uri)
            raise
        finally:
            await llm.close()
        if speak and not self.config.streaming:
            await self._speak_text(result.reply, out, timer, result)
        elif result.reply:
            await out.event(Synthesize(text=result.reply, voice=self._voice()).event())

    def _voice(self) -> SynthesizeVoice | None:
        return SynthesizeVoice(name=self.config.voice) if self.config.voice else None

    async def _tts_streams(self) -> bool:
        if self.tts_streaming is None:
            info = self.tts.info
            if info is None:
                from .services import describe

                with contextlib.suppress(Exception):
                    info = await describe(self.tts.uris[0], self.tts.probe_timeout)
                    self.tts.info = info
            programs = info.tts if info is not None else []
            self.tts_streaming = any(getattr(p, "supports_synthesize_streaming", False) for p in programs or [])
        return self.tts_streaming

    async def _speak_stream(
        self, deltas: asyncio.Queue[str | None], out: TurnOutput, timer: TurnTimer, result: TurnResult
    ) -> None:
        try:
            tts = await acquire_ready(self.tts)  # its probe tells the pool the service's info
        except ServiceUnavailable as err:
            raise TurnError(SERVICES_UNAVAILABLE, str(err)) from err
        if not await self._tts_streams():
            await tts.close()
            parts: list[str] = []
            while (delta := await deltas.get()) is not None:
                parts.append(delta)
            await self._speak_text("".join(parts), out, timer, result)
            return
        try:
            await tts.send(SynthesizeStart(voice=self._voice()).event())

            feeding = True

            async def feed() -> None:
                nonlocal feeding
                parts: list[str] = []
                while (delta := await deltas.get()) is not None:
                    parts.append(delta)
                    await tts.send(SynthesizeChunk(text=delta).event())
                await tts.send(Synthesize(text="".join(parts), voice=self._voice()).event())
                await tts.send(SynthesizeStop().event())
                feeding = False

            # While the LLM still streams text, a quiet TTS is waiting for it (the LLM has its own
            # inactivity timeout); the TTS's starts counting once all the text has been sent.
            await run_together(feed(), self._forward_audio(tts, out, timer, result, "synthesize-stopped",
                                                           waiting_for_input=lambda: feeding))
        except (OSError, TimeoutError) as err:
            self.tts.mark_failed(tts.uri)
            raise TurnError("tts-failed", f"text-to-speech failed: {err}") from err
        finally:
            await tts.close()

    async def _speak_text(
        self, text: str, out: TurnOutput, timer: TurnTimer, result: TurnResult, *, retry: bool = True
    ) -> None:
        """One-shot synthesis of ``text`` (intent answers, apologies, non-streaming TTS)."""
        if not text.strip():
            return

        async def attempt() -> None:
            try:
                tts = await acquire_ready(self.tts)
            except ServiceUnavailable as err:
                raise TurnError(SERVICES_UNAVAILABLE, str(err)) from err
            try:
                await tts.send(Synthesize(text=text, voice=self._voice()).event())
                await self._forward_audio(tts, out, timer, result, "audio-stop")
            except (OSError, TimeoutError):
                self.tts.mark_failed(tts.uri)
                raise
            finally:
                await tts.close()

        await out.event(Synthesize(text=text, voice=self._voice()).event())
        policy = self.config.tts_retry if retry else RetryPolicy(delays=())
        try:
            await retry_async(attempt, policy, may_retry=lambda: result.audio_bytes == 0,
                              clock=self.config.retry_clock, what="tts")
        except (OSError, TimeoutError) as err:
            raise TurnError("tts-failed", f"text-to-speech failed: {err}") from err

    async def _forward_audio(
        self, tts: Connection, out: TurnOutput, timer: TurnTimer, result: TurnResult, end_type: str, *,
        waiting_for_input: Callable[[], bool] | None = None,
    ) -> None:
        """Convert TTS audio to the output format and forward it; one audio-start/-stop per reply."""
        converter: AudioConverter | None = None
        fmt = self.config.output_format
        started = False
        held: list[Event] = []  # non-streaming mode: everything is sent after synthesis ends

        async def send(event: Event) -> None:
            if self.config.streaming:
                await out.event(event)
            else:
                held.append(event)

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
                if self.config.streaming:
                    timer.mark("first_audio_sent")
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
        for event in held:
            await out.event(event)
            if AudioChunk.is_type(event.type):
                timer.mark("first_audio_sent")
        if started:
            await out.event(AudioStop().event())
            timer.mark("audio_done")
