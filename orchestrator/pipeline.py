"""One turn: audio in → transcript → intent or LLM → streaming TTS → audio out.

The turn wires one object per stage: :class:`~.asr_session.AsrSession` (the utterance to
text, with its end-of-speech race and failover from buffered audio),
:class:`~.llm_stream.LlmStream` (the conversation service's reply as it streams) and
:class:`~.tts_forwarder.TtsForwarder` (streaming TTS, audio converted and forwarded chunk by
chunk while later sentences are still being synthesised). A turn is an asyncio task:
cancelling it (barge-in) cancels every stage at once and closes their LLM and TTS
connections, which is how the servers learn to stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from functools import partial

from wyoming.asr import Transcript
from wyoming.audio import AudioChunk
from wyoming.error import Error
from wyoming.intent import Intent, NotRecognized, Recognize
from wyoming.tts import Synthesize

from voice_runtime.error_codes import NO_SPEECH
from voice_runtime.latency import LatencyMonitor, TurnTimer
from voice_runtime.retry import retry_async
from voice_runtime.tasks import run_together

from .asr_session import AsrSession
from .command_end import RecognizedOnce, complete_command
from .continuation import may_act
from .home.confidence import Hearing
from .honesty import ClaimGuard
from .intents import NO_HOME_REPLY, REMOTE, IntentMatch, IntentRecognizer, Recognized
from .llm_stream import LlmStream
from .preemptive import HeldOverflow, Preemptor, PreparedReply
from .readiness import Readiness
from .services import ServicePool, ServiceUnavailable
from .streams import TurnError
from .tts_forwarder import TtsCapability, TtsForwarder
from .turn import SERVICES_UNAVAILABLE, GuardedOutput, OutputLost, PipelineConfig, TurnOutput, TurnResult

__all__ = [
    "APOLOGY",
    "SERVICES_UNAVAILABLE",
    "OutputLost",
    "Pipeline",
    "PipelineConfig",
    "TurnError",
    "TurnOutput",
    "TurnResult",
    "TurnTimer",
]

_LOGGER = logging.getLogger(__name__)
APOLOGY = "Sorry, something went wrong. Please try again."


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
        self.tts_capability = TtsCapability(tts)  # learnt from the TTS service's info

    # -- the stages of one turn --------------------------------------------------------------
    def asr_session(
        self,
        out: TurnOutput,
        timer: TurnTimer,
        endpoint_after: float = 0.0,
        on_speculative: Callable[[str], None] | None = None,
        recognize: RecognizedOnce | None = None,
    ) -> AsrSession:
        intents = self.intents if self.config.end_on_command and self.intent_service is None else None
        complete = partial(complete_command, intents, recognize=recognize) if intents is not None else None
        return AsrSession(self.asr, self.config, out, timer, endpoint_after=endpoint_after,
                          on_speculative=on_speculative, complete=complete)

    def llm_stream(self, timer: TurnTimer, result: TurnResult) -> LlmStream:
        guard = ClaimGuard(self.intents.honest_line if self.intents else NO_HOME_REPLY)
        return LlmStream(self.handle, self.config, timer, result, guard)

    def tts_forwarder(self, out: TurnOutput, timer: TurnTimer, result: TurnResult) -> TtsForwarder:
        return TtsForwarder(self.tts, self.config, out, timer, result, capability=self.tts_capability)

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
        out = GuardedOutput(out)
        readiness = Readiness([self.handle, self.tts] if speak else [self.handle])
        token = readiness.enter()
        broken = False
        recognized: dict[str, list[Recognized]] = {}  # the speculative transcripts' commands, by text
        once = RecognizedOnce(self.intents, recognized) if self.intents is not None else None
        preemptor = self._preemptor(conversation_id, once) if speak else None
        try:
            on_speculative = preemptor.speculative if preemptor is not None else None
            asr = self.asr_session(out, timer, endpoint_after, on_speculative, recognize=once)
            result.transcript = await asr.run(audio)
            await out.event(Transcript(text=result.transcript, language=self.config.language).event())
            result.marks = timer.marks
            if not result.transcript.strip():
                raise TurnError(NO_SPEECH, "no speech was recognised")
            if end_stage == "asr":
                return result
            prepared = await preemptor.final(result.transcript) if preemptor is not None else None
            if prepared is not None and await self._use_prepared(prepared, result, out, timer):
                return result

            def acting() -> None:  # from here on a continuation must not repeat what is being done
                result.acting = True

            hearing = Hearing.from_context(asr.context)  # unsure: a device action is asked about, not done
            match = (
                await self.intents.answer(
                    result.transcript, conversation_id, acting, hearing, recognized.get(result.transcript)
                )
                if self.intents
                else None
            )
            if match is None and self.intent_service:
                acting()  # a remote intent service may act while it recognises
                match = await self._recognize_remote(result.transcript)
            result.acting = match is not None and may_act(
                match.name, match.response, no_home_reply=self.intents.no_home_reply if self.intents else NO_HOME_REPLY
            )
            if match is not None:
                result.intent = match
                timer.mark("intent")
                result.reply = match.response
                if speak and match.response:  # "never mind" says nothing
                    await self.tts_forwarder(out, timer, result).speak_text(match.response)
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
        except Exception:
            broken = True  # a bug: the caller ends the turn (the satellite hears turn-failed)
            raise
        finally:
            if preemptor is not None:
                await preemptor.close()
            readiness.exit(token)
            await readiness.close()
            result.marks = dict(timer.marks)
            if not result.cancelled and result.error is None and not broken:
                self.monitor.finish_turn(timer)
            stages = " ".join(f"{k}={v * 1000:.0f}ms" for k, v in result.marks.items())
            outcome = ("cancelled" if result.cancelled else result.error.code if result.error
                       else "failed" if broken else "ok")
            _LOGGER.info("turn %s conversation=%s %s %s", outcome, conversation_id, result.what_done, stages)
        return result

    # -- preemptive replies (preemptive.py) ---------------------------------------------------
    def _preemptor(self, conversation_id: str, once: RecognizedOnce | None) -> Preemptor[PreparedReply] | None:
        """Replies prepared while the end-of-turn silence runs, where they can be: the speech-to-text
        service ends the turn itself (it sends speculative transcripts only then), and no external
        intent service decides (it cannot be asked without the risk of acting). What the intent
        recogniser found in each speculative transcript goes into the turn's recognitions (``once``:
        at most a few, the newest kept; the command end reads them too), so the final transcript,
        when it is the same text, is not recognised again."""
        config = self.config
        if not (config.preemptive and config.vad_sensitivity and self.intent_service is None):
            return None

        async def recognize(text: str) -> Sequence[object]:
            if once is None:
                return []
            found = await asyncio.to_thread(once, text)  # kept in the turn's recognitions (RecognizedOnce)
            # a device named with its command word misheard is the intents' to answer (a question), not the LLM's
            return found or ([text] if self.intents is not None and self.intents.unheard(text) else [])

        def prepare(text: str) -> PreparedReply:
            timer = self.monitor.start_turn()
            result = TurnResult(transcript=text)
            return PreparedReply(
                text,
                conversation_id,
                llm=self.llm_stream(timer, result),
                tts=lambda held: self.tts_forwarder(held, timer, result),
                timer=timer,
                result=result,
            )

        return Preemptor(recognize, prepare)

    async def _use_prepared(
        self, prepared: PreparedReply, result: TurnResult, out: TurnOutput, timer: TurnTimer
    ) -> bool:
        """A hit: the reply prepared during the silence is the answer (an LLM reply: nothing was
        done). False when it failed before any of it was heard: the turn asks the LLM again."""
        result.acting = False
        timer.mark("preemptive")
        _LOGGER.info("prepared reply used: %d event(s) were ready", prepared.held.held)
        try:
            await prepared.use(out, lambda: timer.mark("first_audio_sent"))
        except (TurnError, ServiceUnavailable, HeldOverflow, OSError, TimeoutError) as err:
            if "first_audio_sent" not in timer.marks:
                _LOGGER.warning("the prepared reply failed before it was heard (%s); asking again", err)
                return False
            result.audio_bytes, result.reply = prepared.result.audio_bytes, prepared.result.reply
            if isinstance(err, TurnError):
                raise
            raise TurnError("llm-failed", f"conversation failed: {err}") from err
        finally:
            await prepared.drop()  # if this turn was cancelled meanwhile
            for stage, at in prepared.timer.marks.items():  # on this turn's clock: < 0 before the end of speech
                timer.marks.setdefault(stage, prepared.timer.start + at - timer.start)
        result.audio_bytes, result.reply = prepared.result.audio_bytes, prepared.result.reply
        return True

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
                        return IntentMatch(intent.name, slots, intent.text or "Done.", REMOTE)
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
        out = GuardedOutput(out)
        try:
            await self.tts_forwarder(out, timer, result).speak_text(text)
        except OutputLost as err:
            _LOGGER.warning("announcement abandoned: the output is gone (%s)", err)
            result.error = TurnError("output-lost", str(err))
        except TurnError as err:
            result.error = err
            with contextlib.suppress(Exception):
                await out.event(Error(text=err.text, code=err.code).event())
        return result

    def apology(self, err: TurnError) -> str:
        """What the user is told when a turn fails with ``err`` ("": nothing): the error's own words
        or the general apology; nothing for ``no-speech`` or ``services-unavailable`` (the satellite
        goes to its cloud fallback), or with apologies off."""
        if not self.config.apologize or err.code in (NO_SPEECH, SERVICES_UNAVAILABLE):
            return ""
        return err.spoken or APOLOGY

    async def _fail(self, err: TurnError, out: TurnOutput, timer: TurnTimer, result: TurnResult) -> None:
        """Apologise out loud if nothing was said yet (a whole reply, audio-stop included), then
        send the ``error``: a satellite ends the turn on ``error``, so the apology goes first.

        ``services-unavailable`` is sent at once and not apologised for: the satellite answers it
        by sending the same utterance to its cloud fallback.
        """
        _LOGGER.warning("turn failed code=%s text=%s", err.code, err.text)
        apology = self.apology(err)
        if apology and result.audio_bytes == 0:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self.config.tts_timeout):
                    await self.tts_forwarder(out, timer, result).speak_text(apology, retry=False)
        with contextlib.suppress(Exception):
            await out.event(Error(text=err.text, code=err.code).event())

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
                attempt,
                self.config.llm_retry,
                may_retry=lambda: result.audio_bytes == 0,
                clock=self.config.retry_clock,
                what="conversation",
            )
        except (OSError, TimeoutError) as err:
            raise TurnError("llm-failed", f"conversation failed: {err}") from err

    async def _converse_once(
        self, result: TurnResult, out: TurnOutput, timer: TurnTimer, conversation_id: str, speak: bool
    ) -> None:
        """One try: the LLM's reply streamed into the TTS as it comes (both cancelled at once)."""
        tts = self.tts_forwarder(out, timer, result)
        async with self.llm_stream(timer, result) as llm:
            await llm.ask(result.transcript, conversation_id)
            if speak:
                await run_together(llm.read(), tts.speak_stream(llm.deltas))
            else:
                await llm.read()
        if result.reply:
            await out.event(Synthesize(text=result.reply, voice=tts.voice()).event())
