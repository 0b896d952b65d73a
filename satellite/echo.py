"""Echo guard: keep the assistant's own voice (played by the speaker, heard by the mic)
from looking like the user barging in.

What it is: an adaptive energy gate (a double-talk detector in the Geigel family), not an
echo canceller. The playback signal is the reference. For each mic frame it takes the
loudest reference frame of the last ``window_ms`` (covering the speaker→mic delay and
some reverberation) and the current estimate of the echo coupling (how loud the echo is at
the mic relative to the reference). A mic frame counts as the user's voice only if it is
``margin_db`` louder than the echo expected from that reference.

The coupling is learned while the reply plays: it is a high percentile (90th) of the
mic/reference level ratios of the frames judged to be echo over the last ``learn_ms``.
Frames judged to be the user's voice, and the ``hangover_ms`` after them, are not learned
from (so the user's own speech cannot teach the guard to ignore the user). It starts at
``initial_coupling_db`` (0 dB: echo as loud as the reference, a safe start for a small box
with the mic near the speaker) and has learned the real echo path after about 0.3 s of
reply.

What it handles: the reply's echo at any fixed level up to about the initial coupling plus
the margin, delays up to ``window_ms``, volume changes within the margin (larger jumps
upwards look like the user until playback stops). What it does not: it does not remove the echo
from the audio sent upstream (the utterance streamed after a barge-in may start with a
little of the reply, until playback stops, which is at once), and a user speaking more
quietly than the echo plus the margin is not heard over the reply.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np


def frame_rms(pcm: bytes) -> float:
    """RMS of 16-bit PCM in [0, 1]."""
    if len(pcm) < 2:
        return 0.0
    samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2").astype(np.float32) / 32768.0
    return float(np.sqrt(np.mean(np.square(samples))))


def db_to_ratio(db: float) -> float:
    return float(10.0 ** (db / 20.0))


def ratio_to_db(ratio: float) -> float:
    return 20.0 * math.log10(ratio) if ratio > 0 else float("-inf")


@dataclass(frozen=True)
class EchoConfig:
    enabled: bool = True
    margin_db: float = 6.0
    window_ms: int = 300
    initial_coupling_db: float = 0.0
    learn_ms: int = 3000  # the coupling is a high percentile of the echo levels seen this long
    percentile: float = 90.0
    min_learned_frames: int = 10  # until then, the initial coupling is used
    hangover_ms: int = 500  # no learning this long after the user was heard
    min_reference_dbfs: float = -55.0  # quieter playback than this: no echo expected
    # The residual gate (satellite.echojudge): the echo-cancelled mic against the residual echo.
    residual_margin_db: float = 8.0
    converged_erle_db: float = 12.0  # the canceller is trusted alone from this ERLE on
    erle_window_ms: int = 1000  # ERLE is measured over this much echo
    trust_after_ms: int = 240  # ... and counts once there is this much echo since the path was known
    onset_frames: int = 2  # frames in a row this far above the residual echo hold the reply (0: off)
    onset_margin_db: float = 8.0
    onset_high_band: bool = True  # the onset test also on the high band (satellite.echojudge; see the README)
    onset_confirm_ms: int = 300  # an onset the VAD has not called speech by then lapses (the reply resumes)


class EchoGuard:
    """Call :meth:`process` once per mic frame with that frame's and the playback's RMS."""

    def __init__(self, config: EchoConfig, frame_seconds: float) -> None:
        self.config = config
        self._window_frames = max(1, round(config.window_ms / 1000.0 / frame_seconds))
        self._refs: deque[float] = deque(maxlen=self._window_frames)
        self._levels: deque[float] = deque(maxlen=max(1, round(config.learn_ms / 1000.0 / frame_seconds)))
        self._min_ref = db_to_ratio(config.min_reference_dbfs)
        self._hangover_frames = round(config.hangover_ms / 1000.0 / frame_seconds)
        self._hangover = 0
        self.coupling_db = config.initial_coupling_db
        self.echo_frames = 0  # frames held back as echo (for logs and the bench)

    def set_span(self, frames: int) -> None:
        """Expect echo from the playback of the last ``frames`` frames (at least ``window_ms``)."""
        frames = max(frames, self._window_frames)
        if frames != self._refs.maxlen:
            self._refs = deque(self._refs, maxlen=frames)

    @property
    def recent_reference(self) -> float:
        """The loudest playback frame of the window (0 before any)."""
        return max(self._refs, default=0.0)

    def reset(self) -> None:
        self._refs.clear()
        self._levels.clear()
        self._hangover = 0
        self.coupling_db = self.config.initial_coupling_db

    def process(self, mic_rms: float, reference_rms: float, *, learn: bool = True) -> bool:
        """True if the mic frame may be the user's voice (not just the reply's echo). ``learn``
        False: someone may be speaking (double talk): not learned from as echo."""
        self._refs.append(reference_rms)
        if not self.config.enabled:
            return True
        reference = max(self._refs)
        if reference < self._min_ref:
            return True
        ratio_db = ratio_to_db(max(mic_rms, 1e-9) / reference)
        if ratio_db > self.coupling_db + self.config.margin_db:
            self._hangover = self._hangover_frames
            return True
        self.echo_frames += 1
        if self._hangover > 0:  # the user may still be talking: do not learn from this frame
            self._hangover -= 1
            return False
        if not learn:
            return False
        self._levels.append(ratio_db)
        if len(self._levels) >= self.config.min_learned_frames:
            self.coupling_db = float(np.percentile(np.fromiter(self._levels, float), self.config.percentile))
        return False
