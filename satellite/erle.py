"""The echo canceller's measured ERLE, as the echo judge (:mod:`satellite.echojudge`) keeps it.

Pure and synchronous. Per echo frame (the judge's call: the raw gate and the residual gate hear echo
alone) the energy at the mic and after the canceller; the ERLE is the median, over the last
``erle_window_ms`` of such frames, of those whose echo is within ``LOUD_DB`` of the loudest (a median
over all frames sat at the noise floor, ~10 dB with a canceller at 30; an energy ratio was held down for
a whole second by one bad frame as the canceller resumed). Split from ``echojudge.py`` (session 24) so
each file stays small.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

LOUD_DB = 20.0  # the ERLE counts on frames whose echo is this close to the loudest of the window
KEPT_FRAMES, KEPT_ERLE_DB = 4, 20.0  # after a restart the kept filter cancels this much this many echo frames


def _db(mic_energy: float, out_energy: float) -> float:
    return 10.0 * math.log10(max(mic_energy, 1e-18) / max(out_energy, 1e-18))


class ErleMeter:
    """``window_frames``: the echo frames the ERLE is measured over; ``min_frames``: loud ones it needs."""

    def __init__(self, window_frames: int, min_frames: int) -> None:
        self._frames: deque[tuple[float, float]] = deque(maxlen=window_frames)  # (mic, cancelled) energy
        self.min_frames = min_frames
        self._reply_in = 0.0  # this reply's echo energy at the mic / after the canceller (the log's ERLE)
        self._reply_out = 0.0
        self._reply_frames = 0

    def add(self, mic: float, out: float) -> None:
        """One echo frame: the raw mic's RMS and the cancelled frame's."""
        self._frames.append((mic * mic, out * out))
        self._reply_in += mic * mic
        self._reply_out += out * out
        self._reply_frames += 1

    def clear(self) -> None:
        """Earned again from frames to come (a stall, a moved path)."""
        self._frames.clear()

    def snapshot(self) -> list[tuple[float, float]]:
        """The window's frames, to :meth:`restore` (a trust suspended and given back: satellite.echojudge)."""
        return list(self._frames)

    def restore(self, frames: list[tuple[float, float]]) -> None:
        self._frames.clear()
        self._frames.extend(frames)

    def __len__(self) -> int:
        return len(self._frames)

    def loud(self) -> list[float]:
        """The ERLE (dB) of each frame of the window whose echo is within ``LOUD_DB`` of the loudest."""
        if not self._frames:
            return []
        floor = max(e[0] for e in self._frames) * 10 ** (-LOUD_DB / 10)
        return [_db(a, b) for a, b in self._frames if a >= floor]

    def now(self, loud: list[float]) -> float:
        """The ERLE the judge goes by: the median of ``loud`` once there are ``min_frames`` of them, else -inf."""
        return float(np.median(loud)) if len(loud) >= self.min_frames else float("-inf")

    def kept_proven(self, loud: list[float]) -> bool:
        """The last ``KEPT_FRAMES`` echo frames each cancelled ``KEPT_ERLE_DB`` or more (the kept filter after
        a restart: :meth:`satellite.echojudge.EchoJudge._kept_proven`)."""
        if len(self._frames) < KEPT_FRAMES or len(loud) < KEPT_FRAMES:
            return False
        return all(_db(a, b) >= KEPT_ERLE_DB for a, b in list(self._frames)[-KEPT_FRAMES:])

    def take_reply(self) -> tuple[float | None, int]:
        """ERLE (dB) over the echo frames since the last call, and how many frames that was."""
        frames, echo_in, echo_out = self._reply_frames, self._reply_in, self._reply_out
        self._reply_in = self._reply_out = 0.0
        self._reply_frames = 0
        if frames == 0 or echo_in <= 0:
            return None, frames
        return _db(echo_in, echo_out), frames
