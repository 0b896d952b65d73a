"""Where a barge-in's time goes: monotonic timestamps of one mic frame's trip through the satellite.

For each frame the mic loop stamps: the mic read returning (``read``), the canceller done
(``cleaned``), the echo judge and the VAD done (``judged``). When that frame silences the
reply (hold or stop), :meth:`BargeTrace.report` logs one structured debug line with the
steps in milliseconds, the voiced frames the VAD counted, how many
bytes were still waiting in the pipe to the sound command (killed now, so never played) and
how much reply audio was held or dropped::

    barge-in trace action=hold mic_ms=12990 voiced_frames=3 read_to_cleaned_ms=0.21
        cleaned_to_judged_ms=0.05 judged_to_silent_ms=0.35 sink_queued_bytes=2048 reply_buffered_ms=5230

The speaker's own buffer (a sound card's, the room simulator's 100 ms) is outside the
process; the room measures the whole path from speech onset to silence.
"""

from __future__ import annotations

import logging
import time

_LOGGER = logging.getLogger(__name__)


class BargeTrace:
    def __init__(self) -> None:
        self.read = self.cleaned = self.judged = 0.0

    def stamp_read(self) -> None:
        self.read = time.monotonic()

    def stamp_cleaned(self) -> None:
        self.cleaned = time.monotonic()

    def stamp_judged(self) -> None:
        self.judged = time.monotonic()

    def report(self, action: str, *, mic_ms: float, voiced_frames: int, sink_queued: int | None,
               buffered_ms: int) -> None:
        if not _LOGGER.isEnabledFor(logging.DEBUG) or self.read == 0.0:
            return
        now = time.monotonic()
        _LOGGER.debug(
            "barge-in trace action=%s mic_ms=%d voiced_frames=%d read_to_cleaned_ms=%.2f "
            "cleaned_to_judged_ms=%.2f judged_to_silent_ms=%.2f sink_queued_bytes=%s reply_buffered_ms=%d",
            action, mic_ms, voiced_frames, (self.cleaned - self.read) * 1000,
            (self.judged - self.cleaned) * 1000, (now - self.judged) * 1000,
            "n/a" if sink_queued is None else sink_queued, buffered_ms,
        )
