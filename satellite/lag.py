"""How far the satellite is behind its microphone stream (a stall), measured per frame.

Pure and synchronous. The satellite is clocked by its mic: one speaker frame is written per
mic frame read. When the process stalls (no CPU, a slow step in the loop), the mic frames
queue up in the mic's pipe and are read late, in a burst; the speaker frames written for
them are late too. If the stall outlasts what the speaker still had buffered, the speaker
plays silence in between (an underrun) and from then on every frame plays later than before:
the echo delay has moved. The echo canceller must then not be trusted on its old path.

:class:`MicLag` compares each frame's arrival (the monotonic clock) with its position in the
mic stream: ``lag = arrival - mic_time - base``, ``base`` the earliest arrival seen (it may
rise by ``drift_ppm`` to follow a sound card whose clock runs a little slow). A frame read at
once from a backlog has a large lag.
"""

from __future__ import annotations

import math


class MicLag:
    def __init__(self, frame_seconds: float, *, drift_ppm: float = 500.0) -> None:
        self.frame_seconds = frame_seconds
        self._drift = drift_ppm * 1e-6 * frame_seconds  # how far the base may rise per frame
        self._frames = 0
        self._base = math.inf
        self.lag = 0.0  # seconds behind the mic stream at the last frame
        self.peak = 0.0  # the largest lag since the last take_peak()

    def update(self, now: float) -> float:
        """A frame has just been read at ``now``; returns how late (s) it was read."""
        self._frames += 1
        arrival = now - self._frames * self.frame_seconds
        self._base = min(self._base + self._drift, arrival)
        self.lag = arrival - self._base
        self.peak = max(self.peak, self.lag)
        return self.lag

    def take_peak(self) -> float:
        peak, self.peak = self.peak, 0.0
        return peak
