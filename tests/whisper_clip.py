"""What the whisper VAD tests share: a recorded clip read as 16 kHz mono s16le, Silero's scores of
it, and the transcript our handler (tiny.en, real Silero, the server's endpoint cap) gives it."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
from handler_pair import tiny_whisper, transcribe_stream
from wyoming.asr import Transcript

from voice_runtime.models import silero_vad
from wyoming_whisper.engine import SAMPLE_RATE
from wyoming_whisper.stream import StreamPolicy
from wyoming_whisper.vad import WINDOW, SileroVad

AUDIO = Path(__file__).parent / "audio"
# the server's default endpoint cap (--endpoint-max-silence 1.5)
POLICY = StreamPolicy(endpoint_max_windows=round(1.5 * SAMPLE_RATE / WINDOW))


def clip_pcm(path: Path) -> bytes:
    with wave.open(str(path)) as wav:
        assert (wav.getframerate(), wav.getsampwidth(), wav.getnchannels()) == (SAMPLE_RATE, 2, 1)
        pcm: bytes = wav.readframes(wav.getnframes())
    return pcm


def clip_float(path: Path) -> np.ndarray:
    return np.frombuffer(clip_pcm(path), "<i2").astype(np.float32) / 32768


def scores(samples: np.ndarray) -> tuple[list[float], list[float] | None, list[float]]:
    """Silero's speech probabilities of ``samples`` (float) on both window grids, and the
    windows' levels (dBFS)."""
    stream = SileroVad(silero_vad()).stream()
    stream.feed(samples.astype(np.float32))
    stream.finish()
    return stream.probs, stream.half_probs, stream.levels


async def transcript(pcm: bytes, policy: StreamPolicy = POLICY) -> str:
    """``pcm`` as one request to our handler (no partial transcripts): the transcript's text."""
    async with tiny_whisper(SileroVad(silero_vad()), policy) as (whisper, client):
        got = await transcribe_stream(whisper, client, pcm, {"partial_transcripts": False})
    return next(Transcript.from_event(e).text for e in got if Transcript.is_type(e.type))
