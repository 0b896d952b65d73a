"""Test speech: sentences spoken by Piper (a real TTS model from a package) at test time."""

from __future__ import annotations

import functools
import io
import wave
from pathlib import Path
from typing import TYPE_CHECKING, Any

from voice_runtime.audio import PCM16_MONO_16K, AudioFormat, convert, write_wav
from voice_runtime.models import resolve_piper

if TYPE_CHECKING:
    from piper import PiperVoice


@functools.cache
def _voice() -> PiperVoice:
    from piper import PiperVoice

    return PiperVoice.load(str(resolve_piper()))


def piper_voice() -> PiperVoice:
    """The session's one Piper voice (loading one took 4.6 s at load 11): every test module's
    ``Speech`` shares it."""
    return _voice()


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
def _whisper() -> Any:  # a faster_whisper.WhisperModel (the package is untyped)
    from faster_whisper import WhisperModel

    from voice_runtime.models import resolve_whisper

    return WhisperModel(str(resolve_whisper("tiny.en")), device="cpu", compute_type="int8")


def whisper_model() -> Any:
    """The session's one in-process Whisper tiny.en (faster-whisper ``WhisperModel``), shared by
    every test that listens to audio itself."""
    return _whisper()


def transcribe(pcm: bytes, fmt: AudioFormat = PCM16_MONO_16K) -> str:
    """What Whisper tiny.en hears in ``pcm`` (to check spoken replies)."""
    import numpy as np

    from voice_runtime.audio import to_float

    audio = to_float(convert(pcm, fmt, PCM16_MONO_16K), 2, 1)[:, 0].astype(np.float32)
    segments, _ = _whisper().transcribe(audio, language="en", beam_size=1)
    return " ".join(s.text.strip() for s in segments)


@functools.cache
def speak_paused(text: str, after_words: int, pause: float) -> bytes:
    """``text`` spoken whole (so the voice does not fall at the pause) with ``pause`` seconds of
    silence inserted after its first ``after_words`` words: at the quietest 10 ms spot near
    Whisper's word boundary (tiny.en's timestamps are often 0.1 s off) after which Whisper
    hears ``after_words`` words before the pause, nothing of the next word."""
    import numpy as np

    pcm = speak(text)
    audio = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768
    segments, _ = _whisper().transcribe(audio, language="en", beam_size=1, word_timestamps=True)
    heard = [w for s in segments for w in (s.words or [])]
    assert len(heard) > after_words, [w.word for w in heard]
    middle = int((heard[after_words - 1].end + heard[after_words].start) / 2 * 16000)
    frame, hop = 160, 80
    starts = list(range(max(0, middle - 4000), min(len(audio) - frame, middle + 2700), hop))
    energy = [float(np.mean(audio[s : s + frame] ** 2)) for s in starts]
    minima = [i for i in range(1, len(energy) - 1) if energy[i] <= min(energy[i - 1], energy[i + 1])]
    gap = bytes(int(pause * 16000) * 2)
    for i in sorted(minima, key=lambda i: energy[i])[:6]:
        cut = (starts[i] + frame // 2) * 2
        if len(transcribe(pcm[:cut] + gap).split()) == after_words:
            return pcm[:cut] + gap + pcm[cut:]
    raise AssertionError(f"no pause point after word {after_words} of {text!r}")


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
