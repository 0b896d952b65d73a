"""Home Assistant's end of a voice command, as HA 2026.2.3 decides it on the audio a satellite sends.

HA runs ``pymicro_vad.MicroVad`` (pinned 1.0.1 by its ``assist_pipeline``) on every 10 ms of the
stream it receives (``audio_enhancer.MicroVadSpeexEnhancer``; no gain or noise suppression by
default) and feeds each probability to ``assist_pipeline/vad.py``'s ``VoiceCommandSegmenter``:

* before the command: 0.3 s of windows over 0.2 starts it (1.0 s under 0.2 starts that count over);
* in the command a window over 0.5 is speech, else silence. Silence counts down the command's
  silence (0.7 s by default: the satellite's "finished speaking detection") and sets the reset
  count back to 1.0 s; speech counts the reset down, and only 1.0 s of speech with no silence
  window in it gives the silence count back. The command ends when the silence count is spent
  (and the command has lasted 1.0 s).

So a pause is not the only silence HA counts: every window MicroVad scores 0.5 or under inside
the words counts too, and a single one of them starts the 1.0 s of speech the count needs to come
back all over again. :class:`HaSegmenter` follows that logic window by window (a mirror, written
from HA's code, not imported: HA is not installed here); :class:`HaVad` adds MicroVad.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

WINDOW_BYTES = 320  # 10 ms of 16 kHz 16-bit mono: HA's BYTES_PER_CHUNK
WINDOW_SECONDS = 0.01


@dataclass
class HaSegmenter:
    """``VoiceCommandSegmenter`` of HA 2026.2.3 (timeout left out: 15 s, longer than any turn here)."""

    silence_seconds: float = 0.7
    speech_seconds: float = 0.3
    command_seconds: float = 1.0
    reset_seconds: float = 1.0
    before_threshold: float = 0.2
    in_threshold: float = 0.5

    def __post_init__(self) -> None:
        self.in_command = False
        self.ended = False
        self.speech_left = self.speech_seconds
        self.command_left = self.command_seconds - self.speech_seconds
        self.silence_left = self.silence_seconds
        self.reset_left = self.reset_seconds

    def process(self, seconds: float, probability: float) -> bool:
        """One window's speech probability; False once the command has ended (then it stays ended)."""
        if self.ended:
            return False
        if not self.in_command:
            if probability > self.before_threshold:
                self.reset_left = self.reset_seconds
                self.speech_left -= seconds
                if self.speech_left <= 0:
                    self.in_command = True
                    self.command_left = self.command_seconds - self.speech_seconds
                    self.silence_left = self.silence_seconds
            else:
                self.reset_left -= seconds
                if self.reset_left <= 0:
                    self.speech_left = self.speech_seconds
                    self.reset_left = self.reset_seconds
            return True
        self.command_left -= seconds
        if probability > self.in_threshold:
            self.reset_left -= seconds
            if self.reset_left <= 0:
                self.silence_left = self.silence_seconds
                self.reset_left = self.reset_seconds
            return True
        self.reset_left = self.reset_seconds
        self.silence_left -= seconds
        if self.silence_left <= 0 and self.command_left <= 0:
            self.ended = True
            return False
        return True


class _Vad(Protocol):
    def Process10ms(self, audio: bytes) -> float: ...


class HaVad:
    """MicroVad + :class:`HaSegmenter` over a stream of 16 kHz 16-bit mono bytes of any chunk size,
    as HA cuts it into 10 ms windows. ``probabilities``: every window's score, in order."""

    def __init__(self, silence_seconds: float = 0.7, vad: _Vad | None = None) -> None:
        if vad is None:
            from pymicro_vad import MicroVad

            vad = MicroVad()
        self.vad = vad
        self.segmenter = HaSegmenter(silence_seconds)
        self.pending = b""
        self.windows = 0
        self.ended_at: int | None = None  # the window that ended the command
        self.probabilities: list[float] = []

    def feed(self, audio: bytes) -> bool:
        """Audio HA receives; False once HA has ended the command (at this chunk or before)."""
        data = self.pending + audio
        whole = len(data) - len(data) % WINDOW_BYTES
        self.pending = data[whole:]
        for at in range(0, whole, WINDOW_BYTES):
            probability = self.vad.Process10ms(data[at : at + WINDOW_BYTES])
            self.probabilities.append(probability)
            self.windows += 1
            if not self.segmenter.process(WINDOW_SECONDS, probability) and self.ended_at is None:
                self.ended_at = self.windows - 1
        return self.ended_at is None
