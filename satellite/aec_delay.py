"""What the echo delay meter (:mod:`satellite.delay`) says about the mic, as the front end
(:class:`satellite.aec.AudioFrontend`) passes it on to the echo judge; and the reference moved
after an unseen slip (:mod:`satellite.aec_slip`). Pure and synchronous."""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np

from .delay import EchoDelay

_LOGGER = logging.getLogger("satellite.aec")
MAX_BULK = 16000 * 480 // 1000  # the longest reference delay (samples at 16 kHz: satellite.aec)


class DelayView:
    _delay: EchoDelay | None
    bulk: int
    _frac: float
    slips: int

    def _delay_reference(self, delay: float) -> bool:
        """The reference delayed by ``delay`` samples (16 kHz; whole ``bulk`` and its fraction) from the next
        frame on, if within 0..``MAX_BULK``: True if so, else nothing changes."""
        if not 0 <= delay <= MAX_BULK:
            return False
        self.bulk, self._frac = math.floor(delay), delay - math.floor(delay)
        return True

    def _slipped(self, shift: float, cancelled: Any) -> np.ndarray[Any, np.dtype[np.int16]]:
        """The echo came ``shift`` samples (16 kHz) later than the reference (:mod:`satellite.aec_slip`): the
        reference is delayed that much more from the next frame on; ``cancelled``: this frame on the moved path."""
        delay = self.bulk + self._frac + shift
        if self._delay is not None and self._delay_reference(delay):
            self._delay.assume(shift)  # (the meter's next estimate, agreeing, is then no change)
            self.slips += 1
            _LOGGER.info("echo %.2f samples later than the reference, unseen: reference delayed %.2f", shift, delay)
        out: np.ndarray[Any, np.dtype[np.int16]] = np.clip(np.round(cancelled), -32768, 32767).astype(np.int16)
        return out

    @property
    def mic_not_echo(self) -> bool:
        """No echo delay was ever measured and the mic is loud with sound the playback explains
        at no delay (:attr:`satellite.delay.EchoDelay.unexplained`): no echo path (a speaker
        the mic does not hear), so the mic's sound is the user's. Checked every 90 ms."""
        return self._delay is not None and self._delay.unexplained

    @property
    def double_talk(self) -> bool:
        """The mic is loud and the playback explains little of it at any delay: someone is
        speaking over it (:attr:`satellite.delay.EchoDelay.double_talk`, every 90 ms while
        :meth:`watch` is on, else every 250 ms)."""
        return self._delay is not None and self._delay.double_talk

    @property
    def explained(self) -> float:
        """How much of the loud mic the playback explains at its best delay (0..1, the last
        estimate: :attr:`satellite.delay.EchoDelay.explained`); 0 without a canceller."""
        return self._delay.explained if self._delay is not None else 0.0

    @property
    def echo_only(self) -> bool:
        """The mic is loud and the playback explains it (at some delay, measured or not) as well
        as echo alone does (:attr:`satellite.delay.EchoDelay.echo_only`)."""
        return self._delay is not None and self._delay.echo_only

    def watch(self, closely: bool) -> None:
        """Estimate (delay, double talk) every 90 ms, not 250, while the judge does not trust the
        canceller yet: then double talk is what lets the user through."""
        if self._delay is not None:
            self._delay.watch = closely
