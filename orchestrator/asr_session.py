"""The speech-to-text stage of one turn: the satellite's audio streamed to an ASR replica as it
arrives, raced against the service's own end of speech, and re-sent whole from the buffer to
another replica when the first one fails.

With ``complete`` (the intent templates' :func:`~orchestrator.command_end.complete_command`) the
session also asks our whisper for its weak speculative transcripts (a finished-reading text it
would wait its weak cap for: no final period) and ends the turn itself, at once, when one is a
whole command: the audio stops and ``audio-stop`` goes to the service, whose final transcript is
then the speculative decode it already has. A SURE speculative text (finished, decoded sure) that
is a whole command ends the turn at once too (session 22): the server would end it at its base
silence (0.256 s with ``default``), its decode is in at ~0.19 s of silence (0.1 s pad + ~0.09 s
decode), so an intent turn ends ~0.06 s sooner. Offline (``bench/eot_sure_probe.py``, the corpus's
room-like streams, decodes replayed at 0.09 s): whole commands' end of turn p50 0.229 -> 0.169 s
(tune), 0.233 -> 0.173 s (held), pauses cut unchanged (48/185, 16/139; bench/results/s22_eot.md).
A weak text of two words or more is offered to the preemptive reply too (:func:`offered_for_reply`),
so its reply is ready when the weak wait ends."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.vad import VoiceStarted, VoiceStopped

from voice_runtime.error_codes import NO_SPEECH
from voice_runtime.latency import TurnTimer
from voice_runtime.speculative import SpeculativeTranscript
from voice_runtime.tasks import TaskSet, cancel_and_wait, race

from .services import Connection, ServicePool, ServiceUnavailable
from .streams import TurnError
from .turn import SERVICES_UNAVAILABLE, PipelineConfig, TurnOutput

_LOGGER = logging.getLogger(__name__)


def offered_for_reply(text: str, weak: bool) -> bool:
    """Whether a speculative transcript goes to the preemptive reply (:mod:`.preemptive`): a
    finished one, and a weak one (the whisper server waits its weak cap, 1.2 s, on it) of two words
    or more, or ending in . ? ! (decoded unsure). A weak whole question ("What is the capital of
    Australia", no "?") is then answered the moment the wait ends, its first audio ready, instead
    of asking the LLM only then; a weak first half the user goes on from is dropped unheard (a
    miss). One word ("Tari" for a cough at a pause) is too little to go on."""
    return not weak or text.endswith((".", "?", "!")) or len(text.split()) >= 2


class AsrSession:
    """One utterance to text. ``endpoint_after``: the first seconds of the audio are an earlier
    part of the question (a continuation): the service is asked not to end the turn in them.
    ``on_speculative``: called with each speculative transcript (the final text-to-be, our
    whisper's ``transcript-speculative``), which the service is then asked for. ``complete``: whether
    a weak speculative text is a whole command (pure; run in a thread): then the turn ends at once."""

    def __init__(
        self,
        pool: ServicePool,
        config: PipelineConfig,
        out: TurnOutput,
        timer: TurnTimer,
        *,
        endpoint_after: float = 0.0,
        on_speculative: Callable[[str], None] | None = None,
        complete: Callable[[str], bool] | None = None,
    ) -> None:
        self.pool = pool
        self.config = config
        self.out = out
        self.timer = timer
        self.endpoint_after = endpoint_after
        self.on_speculative = on_speculative
        self.complete = complete if config.vad_sensitivity else None  # only where the service ends turns
        self.buffered: list[AudioChunk] = []  # the whole utterance, for another replica
        self.context: dict[str, Any] | None = None  # the transcript's context (how sure: .home.confidence)
        self.ended_by: str | None = None  # the speculative text this session ended the turn on (a whole command)
        self._tasks = TaskSet()
        self._end_now = asyncio.Event()
        self._speculatives = 0  # speculative transcripts read so far (a check is for the newest only)

    def request(self) -> Transcribe:
        context: dict[str, object] = {} if self.config.partial_transcripts else {"partial_transcripts": False}
        if self.endpoint_after > 0:
            context["endpoint_after"] = round(self.endpoint_after, 3)  # our whisper: no end inside the first part
        if self.on_speculative is not None or self.complete is not None:
            context["speculative_transcripts"] = True
        if self.complete is not None:
            context["speculative_weak"] = True
        return Transcribe(
            language=self.config.language, vad_sensitivity=self.config.vad_sensitivity, context=context or None
        )

    async def run(self, audio: AsyncIterator[AudioChunk]) -> str:
        """The transcript of ``audio``; ``voice-started``/``voice-stopped`` go to the output."""
        buffered = self.buffered
        limit_bytes = None
        conn: Connection | None = None
        reader: asyncio.Task[str] | None = None
        first = True
        try:
            try:
                conn = await self.pool.acquire()
                await conn.send(self.request().event())
                reader = self._tasks.spawn(self._read_transcript(conn), name="asr reader", awaited=True)
            except ServiceUnavailable as err:
                raise TurnError(SERVICES_UNAVAILABLE, str(err)) from err
            total = 0
            async for chunk in self._until_endpoint(audio, reader):
                outgoing = [chunk.event()]
                if first:
                    first = False
                    await self.out.event(VoiceStarted().event())
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
                        self.pool.mark_failed(conn.uri)
                        await conn.close()
                        conn = None
            self.timer.start = self.timer.clock.now()  # latency is measured from the end of speech
            await self.out.event(VoiceStopped().event())
            if not buffered:
                raise TurnError(NO_SPEECH, "no audio was received")
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
                    self.pool.mark_failed(conn.uri)
                _LOGGER.warning("asr failed (%s); trying another replica with the buffered audio", err)
                text = await self._transcribe_buffered()
            self.timer.mark("transcript")
            return text
        finally:
            if reader is not None:
                # Cancel it if still running; either way collect its outcome, so a reader that
                # failed while the turn took another path is not reported as never retrieved.
                await cancel_and_wait(reader)
            if conn is not None:
                await conn.close()
            await self._tasks.close()

    async def _until_endpoint(
        self, audio: AsyncIterator[AudioChunk], reader: asyncio.Task[str]
    ) -> AsyncIterator[AudioChunk]:
        """``audio`` until it ends or the speech-to-text service has answered (it found the end
        of speech itself). A reader that failed (connection lost) stops the race: the audio is
        still wanted, for another replica. The next chunk is awaited in a task of its own, so
        that losing the race to a failed reader does not close the audio stream."""
        source = aiter(audio)

        async def next_chunk() -> AudioChunk:
            return await anext(source)

        racing = True
        while True:
            step = self._tasks.spawn(next_chunk(), name="asr audio", awaited=True)
            try:
                won = await race(step, reader, self._end_now.wait()) if racing else 0
                if won == 2:
                    return  # a weak speculative text was a whole command (_check_complete)
                if won == 1:
                    if reader.cancelled() or reader.exception() is None or isinstance(reader.exception(), TurnError):
                        return
                    racing = False
                chunk = await step
            except StopAsyncIteration:
                return
            finally:
                await cancel_and_wait(step)
            yield chunk

    async def _read_transcript(self, conn: Connection, timeout: float | None = None) -> str:
        while True:
            event = await conn.recv(timeout)
            if Transcript.is_type(event.type):
                transcript = Transcript.from_event(event)
                self.context = transcript.context
                return transcript.text.strip()
            if SpeculativeTranscript.is_type(event.type):
                try:
                    speculative = SpeculativeTranscript.from_event(event)
                except TypeError as bad:  # a hint only: a malformed one is ignored
                    _LOGGER.warning("ignored a malformed transcript-speculative: %s", bad)
                    continue
                self._speculative(speculative.text.strip(), speculative.weak)
            if Error.is_type(event.type):
                err = Error.from_event(event)
                raise TurnError(err.code or "asr-failed", f"speech-to-text: {err.text}")

    def _speculative(self, text: str, weak: bool) -> None:
        self._speculatives += 1
        if self.on_speculative is not None and offered_for_reply(text, weak):
            self.on_speculative(text)
        if self.complete is not None and text:
            self._tasks.spawn(self._check_complete(text, weak, self._speculatives), name="asr command end")

    async def _check_complete(self, text: str, weak: bool, index: int) -> None:
        assert self.complete is not None
        if await asyncio.to_thread(self.complete, text) and index == self._speculatives:
            self.ended_by = text
            kind = "weak" if weak else "sure"
            _LOGGER.info("end of turn from the words: %r is a whole command (%s speculative transcript)", text, kind)
            self._end_now.set()

    async def _transcribe_buffered(self) -> str:
        """Failover: the whole buffered utterance to another replica, at once."""
        try:
            conn = await self.pool.acquire()
        except ServiceUnavailable as err:
            raise TurnError(SERVICES_UNAVAILABLE, str(err)) from err
        try:
            first = self.buffered[0]
            await conn.send(self.request().event())
            await conn.send(AudioStart(first.rate, first.width, first.channels).event())
            for chunk in self.buffered:
                await conn.send(chunk.event())
            await conn.send(AudioStop().event())
            return await self._read_transcript(conn, self.config.asr_timeout)
        except (OSError, TimeoutError) as err:
            self.pool.mark_failed(conn.uri)
            raise TurnError("asr-failed", f"speech-to-text failed: {err}") from err
        finally:
            await conn.close()
