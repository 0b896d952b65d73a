"""Feedback sounds, generated in code: 880 Hz when listening starts, 440 Hz when processing starts,
a rising two-note chime before an announcement, a falling two-note error tone when a turn fails
with nothing said, and a beeping timer alarm.

Any of them can be replaced by a WAV file (:func:`wav_sound`)."""

from __future__ import annotations

import wave
from dataclasses import dataclass

import numpy as np

from voice_runtime.audio import AudioFormat, convert

LISTEN_HZ = 880.0
PROCESS_HZ = 440.0
ERROR_HZ = (520.0, 330.0)  # falling: unlike the rising chime and the single listen/process tones


@dataclass(frozen=True)
class ToneConfig:
    enabled: bool = True
    seconds: float = 0.15
    level: float = 0.3  # peak amplitude, 0..1
    fade_seconds: float = 0.01


def tone(freq: float, rate: int, config: ToneConfig) -> bytes:
    """A sine tone as 16-bit mono PCM, with short fades so it does not click."""
    count = int(config.seconds * rate)
    t = np.arange(count, dtype=np.float64) / rate
    wave = np.sin(2.0 * np.pi * freq * t) * config.level
    fade = min(count // 2, int(config.fade_seconds * rate))
    if fade > 0:
        ramp = np.linspace(0.0, 1.0, fade)
        wave[:fade] *= ramp
        wave[count - fade:] *= ramp[::-1]
    return np.round(wave * 32767.0).astype("<i2").tobytes()


def tone_power(pcm: bytes, rate: int, freq: float) -> float:
    """Fraction of the energy of ``pcm`` (16-bit mono) within ±30 Hz of ``freq`` (0..1)."""
    samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2").astype(np.float64)
    if samples.size == 0:
        return 0.0
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size))) ** 2
    freqs = np.fft.rfftfreq(samples.size, 1.0 / rate)
    total = float(spectrum.sum())
    if total <= 0:
        return 0.0
    band = (freqs > freq - 30.0) & (freqs < freq + 30.0)
    return float(spectrum[band].sum()) / total


def chime(rate: int, config: ToneConfig) -> bytes:
    """The pre-announcement chime: two rising notes (660 Hz, 880 Hz)."""
    note = ToneConfig(enabled=True, seconds=0.12, level=config.level, fade_seconds=config.fade_seconds)
    return tone(660.0, rate, note) + tone(880.0, rate, note)


def error_tone(rate: int, config: ToneConfig) -> bytes:
    """The failed-turn tone: two falling notes (520 Hz, 330 Hz), 0.4 s."""
    note = ToneConfig(enabled=True, seconds=0.2, level=config.level, fade_seconds=config.fade_seconds)
    return tone(ERROR_HZ[0], rate, note) + tone(ERROR_HZ[1], rate, note)


def alarm(rate: int, config: ToneConfig, gap_seconds: float = 1.0) -> bytes:
    """One period of the timer alarm: three 1 kHz beeps, then ``gap_seconds`` of silence."""
    beep = tone(1000.0, rate, ToneConfig(enabled=True, seconds=0.1, level=config.level, fade_seconds=0.005))
    pause = bytes(int(0.08 * rate) * 2)
    return (beep + pause) * 3 + bytes(int(gap_seconds * rate) * 2)


def wav_sound(path: str, rate: int) -> bytes:
    """A WAV file as 16-bit mono PCM at ``rate`` (for --awake-wav, --done-wav, --error-wav, --timer-finished-wav)."""
    with wave.open(path, "rb") as wav:
        fmt = AudioFormat(wav.getframerate(), wav.getsampwidth(), wav.getnchannels())
        pcm = wav.readframes(wav.getnframes())
    return convert(pcm, fmt, AudioFormat(rate, 2, 1))
