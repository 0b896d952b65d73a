"""The Wyoming speech-to-text protocol: which events in, which out, in what order.

In: ``transcribe`` (optional ``name``, ``language``, ``vad_sensitivity``, ``context``),
``audio-start``, ``audio-chunk``*, ``audio-stop``. Out, per utterance: ``transcript-start``,
``transcript-chunk``* (append-only partial text, sent while audio still arrives),
``transcript`` (the whole final text, always sent), ``transcript-stop``. With server-side
endpointing (``--endpoint-silence``) also ``voice-started``/``voice-stopped``, and the
transcript follows ``voice-stopped`` without waiting for ``audio-stop``.

Per request, ``transcribe`` may turn server-side endpointing on with ``vad_sensitivity``: the
speech plus 0.1 s of the silence after it is decoded speculatively and that text decides
(:mod:`.endpoint`: a finished request ends after 0.2/0.25/0.7 s, an unfinished one after the
cap unless the user goes on). ``context`` may ask for silence alone (``endpoint``), no partials
(``partial_transcripts``), ``transcript-speculative`` events (``speculative_transcripts``,
:mod:`voice_runtime.speculative`), no end inside a re-sent first part (``endpoint_after``) or
another ``initial_prompt`` (:mod:`.policy`; all listed in the package README). They apply to the
utterances that follow on that connection; without ``vad_sensitivity`` (and without
``--endpoint-silence``) the client's ``audio-stop`` ends the utterance.

Audio in any rate/width/channels is converted to 16 kHz mono 16-bit as it arrives. Chunks may
be cut at any byte, and a WAV file's header at the start of the audio is skipped (its format
wins over ``audio-start``'s): Home Assistant's STT upload forwards a WAV byte stream as the HTTP
body arrives. Decodes run in worker threads, one model call at a time, finals first and batched across connections
(:mod:`.scheduler`); each connection has at most one background decode in flight (see
:mod:`.stream` for what is decoded when).

Errors (``error`` with a code; the connection stays usable and the next ``audio-start``
begins afresh; the rest of a refused stream is dropped quietly):
``audio-not-started`` (``audio-chunk``/``audio-stop`` without ``audio-start``),
``unsupported-format``, ``format-changed`` (a chunk's format differs from its
``audio-start``), ``audio-too-long`` (over
``--max-seconds``), ``unsupported-language``, ``transcription-failed``; malformed event
fields give ``bad-event`` and garbage frames ``bad-json``/``bad-frame`` (shared runtime). Events of
another protocol (a text-to-speech stream) get one ``unknown-event`` per stream (shared runtime).
``audio-stop`` with no audio gets an empty ``transcript`` (an ``empty-audio`` error until session 30:
Home Assistant waits for a transcript and ignores errors).
"""

from __future__ import annotations

import asyncio
import logging
import time

from wyoming.asr import Transcribe, Transcript, TranscriptChunk, TranscriptStart, TranscriptStop
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event
from wyoming.vad import VoiceStarted, VoiceStopped

from voice_runtime.audio import PCM16_MONO_16K, AudioConverter, AudioFormat
from voice_runtime.handler import ServiceHandler
from voice_runtime.limits import Limits
from voice_runtime.pcm import PcmAligner, WavHeaderError
from voice_runtime.speculative import SpeculativeTranscript
from voice_runtime.tasks import race

from .engine import SAMPLE_RATE, Decoded
from .policy import request_policy, request_prompt
from .service import AudioStream, WhisperService
from .stream import Job, Utterance

_LOGGER = logging.getLogger(__name__)

class _NewerAudio(Exception):
    """Audio that came after the speech being judged waits to be handled (see _speculative_text)."""


class WhisperHandler(ServiceHandler):
    takes = "a speech-to-text server (it takes transcribe, audio-start, audio-chunk, audio-stop)"

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        service: WhisperService,
        limits: Limits | None = None,
    ) -> None:
        super().__init__(reader, writer, info=service.info, limits=limits)
        self.service = service
        self._language: str | None = None
        self._prompt: str | None = None
        self._policy = service.policy  # the service's, or as the last transcribe asked
        self._stream: AudioStream | None = None
        self._refusing = False  # the current stream was refused; drop its audio quietly
        self._chunks_waiting = 0  # read, not handled yet: no end of turn before they are (_speculative_text)
        self._chunk_arrived = asyncio.Event()

    async def preempt(self, event: Event) -> None:
        if AudioChunk.is_type(event.type):
            self._chunks_waiting += 1
            self._chunk_arrived.set()

    async def disconnect(self) -> None:
        if self._stream is not None:
            running = len(self._stream.tasks)
            _LOGGER.info("client=%s disconnected mid-utterance; cancelling decodes=%d", self.client, running)
        await self._drop_stream()

    async def handle_event(self, event: Event) -> bool:
        if Transcribe.is_type(event.type):
            request = Transcribe.from_event(event)
            if request.language is not None and not isinstance(request.language, str):
                raise TypeError("'language' must be a string")  # answered as bad-event by the runtime
            self._policy = request_policy(self.service.policy, request)
            self._prompt = request_prompt(request)
            try:
                self._language = self.service.engine.resolve_language(request.language)
            except ValueError as err:
                await self.send_error("unsupported-language", str(err))
            return True
        if AudioStart.is_type(event.type):
            await self._start(AudioStart.from_event(event))
            return True
        if AudioChunk.is_type(event.type):
            await self._chunk(AudioChunk.from_event(event))
            return True
        if AudioStop.is_type(event.type):
            await self._stop()
            return True
        return await super().handle_event(event)

    # -- events ---------------------------------------------------------------------------
    async def _start(self, start: AudioStart) -> None:
        await self._drop_stream()
        self._refusing = False
        try:
            fmt = AudioFormat(int(start.rate), int(start.width), int(start.channels))
        except (ValueError, TypeError) as err:
            await self._refuse("unsupported-format", str(err))
            return
        language = self._language or self.service.engine.resolve_language(None)
        utterance = Utterance(self.service.vad.stream(), self._policy)
        self._stream = AudioStream(fmt, AudioConverter(fmt, PCM16_MONO_16K), utterance, language,
                               PcmAligner(fmt.bytes_per_frame), self._prompt)

    async def _chunk(self, chunk: AudioChunk) -> None:
        self._chunks_waiting = max(0, self._chunks_waiting - 1)
        stream = self._stream
        if stream is None:
            if not self._refusing:
                await self._refuse("audio-not-started", "audio-chunk before audio-start")
            return
        if stream.done:
            return
        if (chunk.rate, chunk.width, chunk.channels) != (stream.start_fmt.rate, stream.start_fmt.width,
                                                         stream.start_fmt.channels):
            await self._refuse(
                "format-changed",
                f"audio-chunk format {chunk.rate}/{chunk.width}/{chunk.channels} differs from audio-start "
                f"{stream.start_fmt.rate}/{stream.start_fmt.width}/{stream.start_fmt.channels}",
            )
            return
        added = stream.fmt.seconds(len(chunk.audio))
        if stream.utterance.seconds + added > self.service.max_seconds:
            await self._refuse("audio-too-long", f"audio longer than the {self.service.max_seconds:g} s limit")
            return
        try:
            await asyncio.to_thread(stream.ingest, chunk.audio)
        except WavHeaderError as err:
            await self._refuse("unsupported-format", f"bad WAV header at the start of the audio: {err}")
            return
        await self._after_audio(stream)

    async def _stop(self) -> None:
        stream = self._stream
        if stream is None:
            if not self._refusing:
                await self.send_error("audio-not-started", "audio-stop before audio-start")
            self._refusing = False
            return
        if not stream.done:
            await asyncio.to_thread(stream.flush)
            if stream.utterance.samples == 0:  # nothing was said: an empty transcript, as wyoming-faster-whisper
                # gives; Home Assistant 2026.2.3 reads until a transcript, an error it ignores (session 30: its
                # pipeline hung until the satellite's next run-pipeline cancelled it)
                language = stream.language or None
                await self._drop_stream()
                _LOGGER.info("client=%s audio-stop without any audio: empty transcript", self.client)
                await self.write_event(Transcript(text="", language=language).event())
                return
            await self._complete(stream)
        await self._drop_stream()

    # -- work -----------------------------------------------------------------------------
    async def _after_audio(self, stream: AudioStream) -> None:
        utterance = stream.utterance
        endpointing = utterance.policy.endpoint_windows is not None
        events = utterance.voice_events() if endpointing else []
        for kind, millis in events:
            if kind == "started":
                await self.write_event(VoiceStarted(timestamp=millis).event())
        if not any(kind == "stopped" for kind, _ in events):
            self._spawn_decode(stream)
            if (adopted := utterance.adopted) is not None:  # the early decode stands for the whole region
                utterance.adopted = None
                _LOGGER.info("client=%s speculative final: the early decode, the pad added no word (%s)", self.client,
                             adopted)
                if adopted == "done":  # done before the pad came: its text goes out now
                    await self._speculative(stream, utterance.speculated)
            if not endpointing:
                return
            region = utterance.verdict_due()
            if region is None:
                return
            try:
                text = await self._speculative_text(stream, region)
            except _NewerAudio:
                return  # judged at a later chunk, with that audio in
            verdict = utterance.judge(region, text)
            _LOGGER.info("client=%s end of turn? finished=%s (%s) text=%r", self.client, verdict.finished,
                         verdict.reason, text)
            events = utterance.voice_events()
        for kind, millis in events:
            if kind == "stopped":
                # mono: CLOCK_MONOTONIC, for benchmarks that put this on another process's timeline
                _LOGGER.info("client=%s end of turn: speech ended at %.2fs, audio received %.2fs mono=%.4f",
                             self.client, millis / 1000, utterance.seconds, time.monotonic())
                await self.write_event(VoiceStopped(timestamp=millis).event())
                await self._complete(stream)
                return

    def _spawn_decode(self, stream: AudioStream) -> None:
        utterance = stream.utterance
        running = stream.last is not None and not stream.last.done()
        job = utterance.next_job(model_busy=running or self.service.scheduler.busy)
        if job is None:
            return
        # A final decode may be queued behind the running one; it starts when that ends.
        task = stream.tasks.spawn(self._background(stream, job, stream.last if running else None),
                                  name=f"{job.kind} decode {self.client}")
        stream.last = task
        if job.kind == "final":
            stream.final = (job, task)

    async def _speculative_text(self, stream: AudioStream, region: tuple[int, int]) -> str | None:
        """The text of the speculative final decode of ``region`` (waiting for it: it started ~0.1 s
        into the silence), or None when there is none. Raises :class:`_NewerAudio` rather than wait
        while newer audio waits to be handled, or when some arrives: the user may have gone on
        ("Lock the front door ... please"); a slow decode must not end the turn on older audio."""
        if stream.final is not None and stream.utterance.decoded_for(stream.final[0].region) == region:
            decode = stream.final[1]
            while not decode.done():
                if self._chunks_waiting:
                    raise _NewerAudio
                self._chunk_arrived.clear()
                await race(decode, self._chunk_arrived.wait())
        speculated = stream.utterance.speculated
        return speculated[1].text if speculated is not None and speculated[0] == region else None

    async def _background(self, stream: AudioStream, job: Job, after: asyncio.Task[None] | None) -> None:
        if after is not None:
            await asyncio.wait({after})
        if job.kind == "final":  # bench/room_latency.py: the decode time the end of turn waits for
            _LOGGER.info("client=%s speculative final decode starts mono=%.4f", self.client, time.monotonic())
        try:
            decoded = await self.service.decode(job, stream.language, stream.prompt)
        except Exception:
            _LOGGER.exception("client=%s background %s decode failed", self.client, job.kind)
            return
        text = decoded.text
        utterance = stream.utterance
        region = utterance.decoded_for(job.region)  # an adopted early decode: the whole region's (.early)
        if job.kind == "final":
            utterance.speculated = (region, decoded)
            _LOGGER.info("client=%s speculative final decoded mono=%.4f avg_logprob=%s", self.client, time.monotonic(),
                         None if decoded.avg_logprob is None else round(decoded.avg_logprob, 3))
        if stream is not self._stream or utterance.finishing:
            return  # stale: the utterance ended or was replaced while decoding
        if job.kind == "final" and not await self._speculative(stream, (region, decoded)):
            return
        _LOGGER.debug("client=%s %s hypothesis=%r", self.client, job.kind, text)
        delta = utterance.hypothesis(text)
        if delta:
            try:
                await self._begin(stream)
                await self.write_event(TranscriptChunk(text=delta).event())
            except ConnectionResetError:
                return

    async def _speculative(self, stream: AudioStream, decoded: tuple[tuple[int, int], Decoded] | None) -> bool:
        """Send ``decoded`` (a speculative final: its region and decode) as ``transcript-speculative``
        when it reads so (:meth:`Utterance.speculative_text`); False when the client is gone."""
        if decoded is None:
            return True
        speculative = stream.utterance.speculative_text(decoded[0], decoded[1].text)
        if speculative is None:
            return True
        try:
            await self.write_event(SpeculativeTranscript(text=speculative[0], weak=speculative[1]).event())
        except ConnectionResetError:
            return False
        return True

    async def _complete(self, stream: AudioStream) -> None:
        try:
            await self._finish(stream)
        except ConnectionResetError:
            raise
        except Exception as err:
            _LOGGER.exception("client=%s final decode failed", self.client)
            stream.done = True
            await self.send_error("transcription-failed", f"transcription failed: {err}")

    async def _finish(self, stream: AudioStream) -> None:
        utterance = stream.utterance
        utterance.finishing = True
        region = utterance.region()
        decoded = Decoded("")
        if region is not None:
            decoded = await self._final_decode(stream, region)
            longer = utterance.loop_retry(region, decoded.text)
            if longer is not None:  # tiny.en looped on the speech cut just after it (see .stream)
                _LOGGER.info("client=%s final text repeats a phrase: decoding %.2fs more audio; was %r", self.client,
                             (longer[1] - region[1]) / SAMPLE_RATE, decoded.text)
                region = longer
                decoded = await self.service.decode(utterance.job("final", longer), stream.language, stream.prompt)
        else:
            await stream.tasks.close()
        text = decoded.text
        _LOGGER.info("client=%s audio=%.2fs speech=%s transcript=%r mono=%.4f", self.client, utterance.seconds,
                     None if region is None else f"{(region[1] - region[0]) / SAMPLE_RATE:.2f}s", text,
                     time.monotonic())
        await self._begin(stream)
        delta = utterance.final_delta(text)
        if delta:
            await self.write_event(TranscriptChunk(text=delta).event())
        sure = decoded.confidence() or None  # this decode's own scores: for the orchestrator's device actions
        await self.write_event(Transcript(text=text, language=stream.language or None, context=sure).event())
        await self.write_event(TranscriptStop().event())
        stream.done = True

    async def _final_decode(self, stream: AudioStream, region: tuple[int, int]) -> Decoded:
        """The final decode of ``region``: reused from a speculative decode when possible."""
        utterance = stream.utterance
        if stream.final is not None and utterance.decoded_for(stream.final[0].region) == region:
            await asyncio.wait({stream.final[1]})  # the speculative decode of this very audio
        await stream.tasks.close()  # anything else is stale: its thread ends, then ours runs
        if utterance.speculated is not None and utterance.speculated[0] == region:
            _LOGGER.debug("client=%s final transcript from the speculative decode", self.client)
            return utterance.speculated[1]
        return await self.service.decode(utterance.job("final", region), stream.language, stream.prompt)

    async def _begin(self, stream: AudioStream) -> None:
        if not stream.started:
            stream.started = True
            await self.write_event(TranscriptStart(language=stream.language or None).event())

    async def _refuse(self, code: str, text: str) -> None:
        await self._drop_stream()
        self._refusing = True
        await self.send_error(code, text)

    async def _drop_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            await stream.tasks.close()

