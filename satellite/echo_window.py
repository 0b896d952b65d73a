"""The playback levels the echo judge's gates compare each mic frame with (:mod:`satellite.echojudge`).

Pure and synchronous. Per mic frame :meth:`PlayedWindow.add` gets the speaker frame written at that tick
(its RMS, and its high band's) and gives the reference the gates see: the playback of ``delay`` frames ago
(the known echo delay less a frame), 0 before there is one.
"""

from __future__ import annotations

import math
from collections import deque

from .echo import frame_rms
from .residual import high_band_rms

MAX_DELAY_S = 0.48  # the longest speaker->mic delay measured (satellite.aec)


class PlayedWindow:
    def __init__(self, frame_seconds: float, window_s: float) -> None:
        self._frame_seconds = frame_seconds
        self._window_s = window_s
        self.delay_frames = 0  # the reference is delayed by this many frames before the gates
        self.span_s = window_s  # the playback the gates expect echo from (satellite.killed_echo's span too)
        self.played: deque[float] = deque(maxlen=math.ceil(MAX_DELAY_S / frame_seconds) + 2)
        self._played_hi: deque[float] = deque(maxlen=self.played.maxlen)

    def add(self, played: bytes, *, high_band: bool) -> tuple[float, float]:
        """The frame just written to the speaker; returns the (broadband, high band) reference for the gates."""
        self.played.append(frame_rms(played))
        self._played_hi.append(high_band_rms(played) if high_band else 0.0)
        if len(self.played) > self.delay_frames:
            return self.played[-1 - self.delay_frames], self._played_hi[-1 - self.delay_frames]
        return 0.0, 0.0

    def set_delay(self, delay_s: float | None, tail_s: float) -> int:
        """The echo comes ``delay_s`` after the playback (None: not known) and lasts ``tail_s``: the gates'
        window, in frames (see :meth:`satellite.echojudge.EchoJudge.set_echo_path`)."""
        window = self._window_s
        if delay_s is None:
            self.delay_frames = 0
            span = max(window, MAX_DELAY_S + tail_s)
        else:
            self.delay_frames = max(0, int(delay_s / self._frame_seconds) - 1)
            span = max(window, delay_s - self.delay_frames * self._frame_seconds + tail_s)
        self.span_s = self.delay_frames * self._frame_seconds + span
        return math.ceil(span / self._frame_seconds) + 1

    def dropped(self) -> None:
        """What was written in the last ``delay`` will never sound (the speaker's buffer was thrown away)."""
        for i in range(min(self.delay_frames, len(self.played))):
            self.played[-1 - i] = self._played_hi[-1 - i] = 0.0
