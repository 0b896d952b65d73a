"""Test speech: sentences spoken by Piper (a real TTS model from a package) at test time."""

from __future__ import annotations

import functools
import io
import wave
from pathlib import Path

from voice_runtime.audio import PCM16_MONO_16K, AudioFormat, convert, write_wav
from voice_runtime.models import resolve_piper


@functools.cache
def _voice():  # type: ignore[no-untyped-def]
    from piper import PiperVoice

    return PiperVoice.load(str(resolve_piper()))


@functools.cache
def speak(text: str) -> bytes:
    """``text`` spoken as 16 kHz mono 16-bit PCM, with 0.3 s of silence either side.

    Noise is off, so the same text is always the same audio (and the same transcript).
    """
    from piper.config import SynthesisConfig

    buf = io.BytesIO()
    with wave.open(buf, "wb") as wav:
        _voice().synthesize_wav(text, wav, syn_config=SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0))
    buf.seek(0)
    with wave.open(buf, "rb") as wav:
        fmt = AudioFormat(wav.getframerate(), wav.getsampwidth(), wav.getnchannels())
        pcm = wav.readframes(wav.getnframes())
    silence = b"\x00\x00" * int(0.3 * 16000)
    return silence + convert(pcm, fmt, PCM16_MONO_16K) + silence


def speak_to_wav(text: str, path: Path) -> Path:
    write_wav(str(path), speak(text), PCM16_MONO_16K)
    return path


@functools.cache
def _whisper():  # type: ignore[no-untyped-def]
    from faster_whisper import WhisperModel

    from voice_runtime.models import resolve_whisper

    return WhisperModel(str(resolve_whisper("tiny.en")), device="cpu", compute_type="int8")


def transcribe(pcm: bytes, fmt: AudioFormat = PCM16_MONO_16K) -> str:
    """What Whisper tiny.en hears in ``pcm`` (to check spoken replies)."""
    import numpy as np

    from voice_runtime.audio import to_float

    audio = to_float(convert(pcm, fmt, PCM16_MONO_16K), 2, 1)[:, 0].astype(np.float32)
    segments, _ = _whisper().transcribe(audio, language="en", beam_size=1)
    return " ".join(s.text.strip() for s in segments)


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word error rate of ``hypothesis`` against ``reference`` (lower-case words, digits kept,
    punctuation dropped): (substitutions + deletions + insertions) / reference words."""
    import re

    ref = re.findall(r"[a-z0-9']+", reference.lower())
    hyp = re.findall(r"[a-z0-9']+", hypothesis.lower())
    previous = list(range(len(hyp) + 1))
    for i, word in enumerate(ref, start=1):
        current = [i] + [0] * len(hyp)
        for j, other in enumerate(hyp, start=1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (word != other))
        previous = current
    return previous[-1] / max(1, len(ref))
