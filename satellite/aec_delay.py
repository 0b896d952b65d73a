"""The front end's (:class:`satellite.aec.AudioFrontend`) delay of the canceller's reference: set from the echo
delay meter's (:mod:`satellite.delay`) estimates and moves, from the kept path proven after a restart
(:mod:`satellite.aec_prior`) and after an unseen slip (:mod:`satellite.aec_slip`); the canceller fed the mic it
waited on after a move (:mod:`satellite.aec_catchup`); and what the meter says about the mic, as the front end
passes it on to the echo judge. Split from ``aec.py`` (session 27) so each file stays small. Pure and synchronous."""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np

from .aec_catchup import CatchUp, Outcome, echo_from
from .aec_config import FrontendConfig
from .aec_prior import PriorPath, echo_of
from .aec_shadow import PROVEN_BLOCKS, ShadowCanceller
from .delay import EchoDelay
from .realign import TAPS, delayed, snap
from .speex import SpeexEchoCanceller

_LOGGER = logging.getLogger("satellite.aec")
RATE = 16000
MAX_BULK = RATE * 480 // 1000  # the longest reference delay (samples at 16 kHz: satellite.aec)
KEEP_MS = 10  # the delay the canceller sees once the bulk is compensated
_REALIGN_AGREE = 2.0  # samples: a fine move of the echo must agree this well with the whole-sample one
# After a sub-millisecond move of the reference while speex runs (the meter's fine move, an unseen slip) its
# output is no measure of the echo for this long (samples): speex's filter and its history of the reference are
# on the old alignment. The room at 0 dB (session 29's lead, reply 15): a fine move 0.73 samples back 0.69 s into
# a reply, speex at 28-34 dB before it, 17 then 14 dB after (0.73 samples either way left 2-3 dB less: not a
# plain shift), an onset on echo alone 60 ms after the move (a continuation hold, a stutter). See settling.
SETTLE = RATE * 150 // 1000
STAND_IN_DB = 20.0  # the shadow canceller's path stands in after a recheck's wait if it cancelled this much
Pcm = np.ndarray[Any, np.dtype[np.int16]]


class DelayView:
    """The reference's delay as the echo delay meter and the moves of the path set it (the front end's part)."""

    config: FrontendConfig
    _delay: EchoDelay | None
    _speex: SpeexEchoCanceller | None
    _shadow: ShadowCanceller | None
    _catch_up: CatchUp
    _history: Pcm
    _step: float
    _waited: int | None
    _warm: int
    _kept_path: PriorPath | None
    bulk: int
    _frac: float
    slips: int
    kept_erle_db: float
    prior_frames: int
    priors_proven: int
    _settle_left: int

    @property
    def settling(self) -> bool:
        """The reference moved by a fraction of a millisecond while speex ran, less than ``SETTLE`` of cancelled
        audio ago: its output is not yet a measure of the echo (a frame it left loud may be the move's, not the
        user's). The echo judge takes such a frame the playback explains as echo alone as no evidence."""
        return self._settle_left > 0

    def _delay_reference(self, delay: float) -> bool:
        """The reference delayed by ``delay`` samples (16 kHz; whole ``bulk`` and its fraction) from the next
        frame on, if within 0..``MAX_BULK``: True if so, else nothing changes."""
        if not 0 <= delay <= MAX_BULK:
            return False
        self.bulk, self._frac = math.floor(delay), delay - math.floor(delay)
        return True

    def _aligned(self, n: int, back: int = 0) -> Pcm:
        """``n`` samples of the reference delayed by ``bulk`` + ``_frac``, the last ``back`` before this frame's end."""
        end = len(self._history) - self.bulk - back
        if self._frac and self.bulk >= TAPS:  # the reference from TAPS before to TAPS after the samples
            seg = self._history[end - n - TAPS - 1 : end + TAPS + 1].astype(np.float64)
            fine = delayed(seg, n + TAPS + 1 - self._frac, n)
            return np.clip(np.round(fine), -32768, 32767).astype(np.int16)
        return self._history[end - n : end]

    def _caught_up(self, n: int) -> None:
        """Speex is fed the mic it waited on (satellite.aec_catchup) with the reference at the delay now known,
        up to this frame (``n`` samples); its output is dropped. Not if the mic is more than the echo its filter
        predicts (the user: :func:`satellite.aec_catchup.echo_from`; at its edge only, the rest is fed)."""
        speex = self._speex
        most = len(self._history) - self.bulk - n - TAPS - 1

        def alone(mic: Pcm, edge: int) -> int | None:
            assert speex is not None
            h = speex.impulse_response()
            reference = self._aligned(len(mic) + min(len(h), max(1, most - len(mic))) - 1, n)
            return echo_from(mic, echo_of(h, reference, len(mic)), speex.frame_size, edge)

        taken = self._catch_up.take(most, self.bulk + self._frac, alone if speex is not None else None)
        if len(taken.mic) and speex is not None:
            speex.process(taken.mic, self._aligned(len(taken.mic), n))
        elif taken.outcome is Outcome.REFUSED:
            _LOGGER.debug("the mic kept through the wait is more than echo: the canceller is not caught up on it")

    def _moved(self, lag: int, before: tuple[int | None, float | None]) -> bool:
        """The reference's delay for a new echo delay ``lag`` (``before``: the old one and its fine estimate):
        moved by the fine estimates' difference in whole speaker samples (:mod:`satellite.realign`), else
        to ``lag`` less ``KEEP_MS`` if more than 1 ms away. True if it moved more than 1 ms."""
        assert self._delay is not None
        fine, (old, old_fine) = self._delay.fine, before
        if old is not None and old_fine is not None:
            shift = snap(fine - old_fine, self._step)
            delay = self.bulk + self._frac + shift
            if abs(shift - (lag - old)) <= _REALIGN_AGREE and self._delay_reference(delay):
                _LOGGER.info("echo delay %.1f ms: moved %.2f samples, reference delayed %.2f", lag / 16, shift, delay)
                self._settle_left = SETTLE if shift else self._settle_left
                return abs(shift) > RATE // 1000
        bulk = min(MAX_BULK, max(0, lag - RATE * KEEP_MS // 1000))
        if abs(bulk - self.bulk) <= RATE // 1000:  # moved by 1 ms or less
            return False
        _LOGGER.info("echo delay %.1f ms: reference delayed by %.1f ms (was %.1f)", lag / 16, bulk / 16, self.bulk / 16)
        self.bulk, self._frac = bulk, 0.0
        if self._shadow is not None:
            self._shadow.remeasure()
        return True

    def _kept_stand_in(self) -> PriorPath | None:
        """The shadow canceller's path, frozen, if it was cancelling ``STAND_IN_DB`` or more (see :meth:`_stand_in`)."""
        shadow = self._shadow
        if shadow is None or shadow.measured < PROVEN_BLOCKS or shadow.erle_db < STAND_IN_DB:
            return None
        return PriorPath(shadow.impulse_response(), 0)

    def _stand_in(self, kept: PriorPath | None) -> None:
        """Speex resumes after waiting for the delay a recheck measured (the satellite fell behind its mic and the
        speaker ran dry): its history of the reference is from before the wait, at the old delay, and its first
        frames predicted the echo of what played then: the room at 0 dB (session 29's lead, echo-only reply 16,
        a stall of 112 ms, the delay 80 ms later), the resumed frames 21.7 and 7.4 dB LOUDER than the mic, then
        11.5: that reply's ERLE 18.8 dB (35-37 either side). The room did not change, only the delay: for speex's
        tail the shadow's path (``kept``, frozen) on the reference at the new delay stands in, as the kept path
        does after a restart (:meth:`_adopt`; dropped as there if it is louder than a loud mic)."""
        if kept is None or self._warm > 0 or self._waited is not None:
            return
        self._kept_path, self._warm = kept, self.config.aec_tail_ms * RATE // 1000
        _LOGGER.debug("the shadow's path stands in for speex's tail after the wait")

    def _adopt(self, prior: PriorPath) -> None:
        """The kept path proven at ``prior.offset`` from the old delay: the reference is delayed by that from
        now on and speex resumes; its history of the reference stale (not fed while it waited), for its tail the
        kept path's output stands in (speex's first frames left the whole echo: the judge held on them)."""
        offset = self.bulk + self._frac + prior.offset
        if self._delay is None or not self._delay_reference(offset):
            return
        self._delay.assume(prior.offset)  # (the meter's measurement, agreeing, is then no change)
        prior.rebase()
        self._waited, self._warm = None, self.config.aec_tail_ms * RATE // 1000
        self._kept_path, self.kept_erle_db = prior, prior.erle_db
        self.prior_frames, self.priors_proven = self.prior_frames + 1, self.priors_proven + 1
        _LOGGER.debug("the kept echo path after the restart: %.2f samples from the old delay, %.1f dB",
                      prior.offset, prior.erle_db)

    def _slipped(self, shift: float, cancelled: Any) -> np.ndarray[Any, np.dtype[np.int16]]:
        """The echo came ``shift`` samples (16 kHz) later than the reference (:mod:`satellite.aec_slip`): the
        reference is delayed that much more from the next frame on; ``cancelled``: this frame on the moved path."""
        delay = self.bulk + self._frac + shift
        if self._delay is not None and self._delay_reference(delay):
            self._delay.assume(shift)  # (the meter's next estimate, agreeing, is then no change)
            self.slips += 1
            self._settle_left = SETTLE
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
