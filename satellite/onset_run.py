"""An onset: frames in a row clearly over the residual echo of a trusted canceller (:mod:`satellite.echojudge`).

While the canceller is trusted, ``onset_frames`` (2) frames in a row that the residual gate calls the user,
with the cancelled mic at least ``onset_margin_db`` (8 dB) above the residual echo, are an *onset*
(:attr:`satellite.echojudge.EchoJudge.onset`): the satellite holds the reply on it, before the VAD has heard
voicing (an "st" is ~150 ms of unvoiced sound), and resumes it if the VAD does not confirm speech soon after.
The same test runs on the frames' high band (:func:`satellite.residual.high_band_rms`, a second residual
gate on the second difference of the cancelled mic and of the playback): the "s" of "Stop" is a hiss that the
echo of speech has little of, so at 0 dB echo, with the canceller at 14-19 dB ERLE (the room's barge-ins), it
clears the high band's residual at once while the broadband residual (the echo's voiced energy) hid it until
the vowel, ~0.2 s after the onset.

Pure and synchronous: :meth:`OnsetRun.step` once per judged frame, :meth:`OnsetRun.reset` when the canceller's
trust ends.
"""

from __future__ import annotations

_HI_RISE_DB = 0.0  # a high-band onset needs a frame this far above the broadband residual echo
_HI_HOLD_DB = 3.0  # ... and the frame it holds on this far (see step)


class OnsetRun:
    """The run of strong frames (clearly over the residual echo, broadband or high band) so far."""

    def __init__(self, frames: int) -> None:
        self.frames = frames  # EchoConfig.onset_frames (0: no onsets)
        self.strong = 0  # frames in a row clearly above the residual echo while it is trusted
        self.risen = False  # ... one of which was above the broadband residual echo
        self.fresh = False  # ... one of which was not a leak of echo coming back (satellite.leaks.is_fresh)
        self.onset = False

    def reset(self) -> None:
        self.strong = 0
        self.risen = False
        self.fresh = False
        self.onset = False

    def step(self, strong: bool, fresh: bool, excess_db: float) -> None:
        """One frame: ``strong`` (clearly over the residual echo), ``fresh`` (not a leak, nor a scaled copy of
        the canceller's estimate) and its broadband excess over the residual echo (dB)."""
        self.fresh = strong and (self.fresh or fresh)
        self.strong = self.strong + 1 if strong else 0
        # A high-band onset needs a broadband rise in one of its frames: the echo's own hiss,
        # poorly cancelled, came with the broadband residual below the residual echo.
        self.risen = strong and (self.risen or excess_db >= _HI_RISE_DB)
        self.onset = 0 < self.frames <= self.strong and self.risen and self.fresh and excess_db >= _HI_HOLD_DB

    def lets_through(self) -> bool:
        """A frame the residual gate calls the user counts only if its run is fresh, or still short (the first
        frame of a run stays the user's either way: satellite.leaks.is_fresh)."""
        return self.fresh or self.strong < max(2, self.frames)
