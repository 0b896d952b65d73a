"""Speech start/end detection with WebRTC VAD and a pre-roll buffer.

Pure and synchronous. Frames are 16 kHz, 16-bit mono PCM of 10, 20 or 30 ms. Speech starts
when ``speech_frames_required`` of the last ``speech_window`` frames are voiced, and ends
after ``silence_frames_required`` unvoiced frames in a row. The pre-roll (the frames before
and including the start) is kept so the first syllable is not clipped.

Settling: WebRTC VAD's noise estimate starts empty, so it calls the first 3–4 frames of any
steady noise speech (measured: white noise at −70…−30 dBFS, a −45 dBFS hum). Without a
settled floor the satellite opened a turn on quiet room noise 60–90 ms after it was armed.
The first ``settle_seconds`` of audio are therefore fed to the VAD but never count as voiced.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

RATE = 16000
WIDTH = 2


@dataclass(frozen=True)
class VadConfig:
    aggressiveness: int = 2  # 0 (least aggressive about filtering out non-speech) .. 3
    frame_ms: int = 30
    speech_frames_required: int = 3
    speech_window: int = 5
    silence_frames_required: int = 20
    preroll_seconds: float = 0.6
    settle_seconds: float = 0.3  # the VAD learns the noise floor: no speech start before this

    def __post_init__(self) -> None:
        if self.frame_ms not in (10, 20, 30):
            raise ValueError("VAD frames must be 10, 20 or 30 ms")
        if not 0 <= self.aggressiveness <= 3:
            raise ValueError("VAD aggressiveness must be 0..3")
        if not 1 <= self.speech_frames_required <= self.speech_window:
            raise ValueError("speech_frames_required must be between 1 and speech_window")
        if self.silence_frames_required < 1:
            raise ValueError("silence_frames_required must be at least 1")
        if self.settle_seconds < 0:
            raise ValueError("settle_seconds must not be negative")

    @property
    def frame_samples(self) -> int:
        return RATE * self.frame_ms // 1000

    @property
    def frame_bytes(self) -> int:
        return self.frame_samples * WIDTH

    @property
    def frame_seconds(self) -> float:
        return self.frame_ms / 1000.0


class VadEvent(StrEnum):
    NONE = "none"
    START = "start"
    END = "end"


def webrtc_is_speech(aggressiveness: int) -> Callable[[bytes], bool]:
    import webrtcvad

    vad = webrtcvad.Vad(aggressiveness)

    def is_speech(frame: bytes) -> bool:
        return bool(vad.is_speech(frame, RATE))

    return is_speech


class SpeechDetector:
    """Feed one frame at a time to :meth:`process`; it says when speech starts and ends."""

    def __init__(self, config: VadConfig, is_speech: Callable[[bytes], bool] | None = None) -> None:
        self.config = config
        self._is_speech = is_speech or webrtc_is_speech(config.aggressiveness)
        preroll_frames = max(config.speech_window, round(config.preroll_seconds / config.frame_seconds))
        self._preroll: deque[bytes] = deque(maxlen=preroll_frames)
        self._window: deque[bool] = deque(maxlen=config.speech_window)
        self.in_speech = False
        self.voiced = False  # the last frame's verdict
        self.voiced_frames = 0  # voiced frames in the current utterance
        self._silence = 0
        self._started_preroll = b""
        self._settle_frames = round(config.settle_seconds / config.frame_seconds)
        self._seen = 0  # frames the VAD has seen (it keeps its noise estimate across reset())
        self._end_frames: int | None = None  # this utterance ends after this much silence instead

    def end_after(self, seconds: float | None) -> None:
        """For the current utterance only: end it after ``seconds`` of silence (None: the usual
        ``silence_frames_required``). A controller that finds the end of speech itself (from what
        was said) gets the time to; this is then only the fallback."""
        # Never sooner than the usual silence (a user who set a longer one keeps it).
        self._end_frames = None if seconds is None else max(self.config.silence_frames_required,
                                                             round(seconds / self.config.frame_seconds))

    def restart(self) -> None:
        """The controller ended the current utterance: speech from now on is a new one (the user
        going on at once starts a turn after ``speech_frames_required`` voiced frames, its
        pre-roll from now on; the noise estimate is kept)."""
        self.in_speech = False
        self.voiced_frames = 0
        self._silence = 0
        self._end_frames = None
        self._window.clear()

    def reset(self) -> None:
        self._preroll.clear()
        self._window.clear()
        self.in_speech = False
        self.voiced = False
        self.voiced_frames = 0
        self._silence = 0
        self._end_frames = None

    @property
    def voiced_seconds(self) -> float:
        return self.voiced_frames * self.config.frame_seconds

    def process(self, frame: bytes, allow: bool = True) -> VadEvent:
        """Classify ``frame``; ``allow=False`` (the echo guard's verdict) counts it unvoiced."""
        if len(frame) != self.config.frame_bytes:
            raise ValueError(f"VAD frame must be {self.config.frame_bytes} bytes, got {len(frame)}")
        if self._seen < self._settle_frames:  # still learning the noise floor
            self._seen += 1
            self._is_speech(frame)
            self.voiced = False
        else:
            self.voiced = allow and self._is_speech(frame)
        if not self.in_speech:
            self._preroll.append(frame)
            self._window.append(self.voiced)
            if sum(self._window) >= self.config.speech_frames_required:
                self.in_speech = True
                self.voiced_frames = sum(self._window)
                self._silence = 0
                self._started_preroll = b"".join(self._preroll)
                self._preroll.clear()
                self._window.clear()
                return VadEvent.START
            return VadEvent.NONE
        if self.voiced:
            self.voiced_frames += 1
            self._silence = 0
            return VadEvent.NONE
        self._silence += 1
        if self._silence >= (self._end_frames or self.config.silence_frames_required):
            self.in_speech = False
            self.voiced_frames = 0
            self._silence = 0
            self._end_frames = None
            return VadEvent.END
        return VadEvent.NONE

    def take_preroll(self) -> bytes:
        """The audio captured up to and including the frame that started speech."""
        audio, self._started_preroll = self._started_preroll, b""
        return audio
