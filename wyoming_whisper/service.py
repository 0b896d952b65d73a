"""What a whisper server's connections share (:class:`WhisperService`: the engine, its decode
scheduler, the VAD model, the settings) and one audio-start ... audio-stop of a connection
(:class:`AudioStream`). The protocol that drives them is in :mod:`.handler`."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from wyoming.info import Info

from voice_runtime.audio import PCM16_MONO_16K, AudioConverter, AudioFormat
from voice_runtime.pcm import PcmAligner
from voice_runtime.tasks import TaskSet

from .engine import Decoded, FloatArray, WhisperEngine
from .scheduler import DecodeScheduler
from .second import asks_second, prefer
from .stream import Job, StreamPolicy, Utterance
from .vad import SileroVad

_LOGGER = logging.getLogger(__name__)


@dataclass
class WhisperService:
    """What every connection shares: the engine, its scheduler, the VAD model, the settings."""

    engine: WhisperEngine
    vad: SileroVad
    policy: StreamPolicy
    info: Callable[[], Info]
    max_seconds: float = 60.0
    max_batch: int = 8  # decodes batched into one model call (1: one at a time)
    busy_beam_size: int | None = None  # finals that had to wait for another decode (None: the usual beam)
    second: WhisperEngine | None = None  # the second opinion on an unsure final (:mod:`.second`; None: off)
    scheduler: DecodeScheduler[Decoded] = field(init=False)

    def __post_init__(self) -> None:
        self.scheduler = DecodeScheduler(self._run, batch_key=self.engine.batch_key, max_batch=self.max_batch)

    @property
    def endpointing(self) -> bool:
        return self.policy.endpoint_windows is not None

    def _run(self, kind: str, audios: Sequence[FloatArray], language: str | None, waited: bool,
             prompt: str | None) -> list[Decoded]:
        """One model call (worker thread): finals at the configured beam (``busy_beam_size`` for
        finals that waited for another decode) with where their last word ends (the end of turn
        reads it), partials greedy."""
        if kind != "final":
            return self.engine.transcribe_batch(audios, language, beam_size=1, prompt=prompt)
        beam = self.busy_beam_size if waited else None
        decodes = self.engine.transcribe_batch(audios, language, beam_size=beam, prompt=prompt, word_end=True)
        if self.second is None:
            return decodes
        return [self._second_opinion(audio, first, language, beam, prompt) for audio, first in
                zip(audios, decodes, strict=True)]

    def _second_opinion(self, audio: FloatArray, first: Decoded, language: str | None, beam: int | None,
                        prompt: str | None) -> Decoded:
        """``first`` (a final), or the second model's decode of the same audio when ``first`` was
        unsure (:mod:`.second`); worker thread, after the first model's call."""
        second = self.second
        if second is None or not asks_second(first):
            return first
        try:
            second.resolve_language(language)
        except ValueError:
            return first  # a language the second model does not know: the first's text stands
        started = time.monotonic()
        other = second.transcribe(audio, language, beam_size=beam, prompt=prompt, word_end=True)
        chosen = prefer(first, other)
        _LOGGER.info("second opinion in %.3fs (avg_logprob %.3f -> %s): %r -> %r%s", time.monotonic() - started,
                     first.avg_logprob, None if other.avg_logprob is None else round(other.avg_logprob, 3),
                     first.text, other.text, "" if chosen is not first else " (kept the first)")
        return chosen

    async def decode(self, job: Job, language: str | None, prompt: str | None = None) -> Decoded:
        """The text of ``job`` with its own scores, decoded when the scheduler gets to it (maybe
        batched with others)."""
        return await self.scheduler.decode(job.kind, job.audio(), language, prompt)

    async def close(self) -> None:
        """The server is shutting down: no decode waits or starts after this."""
        await self.scheduler.close()


@dataclass
class AudioStream:
    """One audio-start ... audio-stop."""

    fmt: AudioFormat
    converter: AudioConverter
    utterance: Utterance
    language: str | None
    aligner: PcmAligner  # chunks cut anywhere -> whole frames; a WAV header at the start is skipped
    prompt: str | None  # context.initial_prompt of the transcribe: words to expect (names)
    tasks: TaskSet = field(default_factory=TaskSet)  # background decodes, run one after another
    last: asyncio.Task[None] | None = None  # the latest background decode
    final: tuple[Job, asyncio.Task[None]] | None = None  # the latest speculative final decode
    started: bool = False  # transcript-start sent
    done: bool = False  # transcript sent (endpointed); later chunks are dropped
    start_fmt: AudioFormat = field(init=False)  # as audio-start said; ``fmt`` may follow a WAV header

    def __post_init__(self) -> None:
        self.start_fmt = self.fmt

    def ingest(self, data: bytes) -> None:
        """Add the bytes of one chunk (CPU: call from a worker thread). Raises WavHeaderError."""
        pcm = self.aligner.feed(data)
        header = self.aligner.header
        if header is not None and header.fmt is not None and header.fmt != self.fmt:
            # The WAV header says what the bytes are; audio-start only said what to expect.
            _LOGGER.info("WAV header format %s differs from audio-start %s; using the header's", header.fmt,
                         self.fmt)
            self.fmt = header.fmt
            self.converter = AudioConverter(header.fmt, PCM16_MONO_16K)
        if pcm:
            self.utterance.add(self.converter.feed(pcm))

    def flush(self) -> None:
        tail = self.aligner.flush()
        self.utterance.add(self.converter.feed(tail) + self.converter.flush())
        self.utterance.finish_audio()
