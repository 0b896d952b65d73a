"""The residual gate of the echo judge (:mod:`satellite.echojudge`): the echo-cancelled mic
against the residual echo the canceller leaves, predicted from the playback; and the high band
(:func:`high_band_rms`) the same gate also runs on. Pure and synchronous."""

from __future__ import annotations

from collections import deque

import numpy as np

from .echo import EchoConfig, db_to_ratio, ratio_to_db

_ABOVE_FLOOR_DB = 6.0  # with nothing playing, a frame this close to the noise floor is not the user


def high_band_rms(pcm: bytes) -> float:
    """RMS (full scale 1) of the second difference of 16-bit PCM: +12 dB/octave, so a hiss ("s",
    "t") outweighs voiced energy below ~1-2 kHz by 30-40 dB. Any rate: the gates learn each
    level as a ratio to the playback's, so the weighting needs only be monotonic."""
    if len(pcm) < 6:
        return 0.0
    x = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2").astype(np.float32)
    d = x[2:] - 2.0 * x[1:-1] + x[:-2]
    return float(np.sqrt(np.mean(np.square(d)))) / 32768.0


class ResidualGate:
    """The cancelled mic against the residual echo predicted from the playback."""

    def __init__(self, config: EchoConfig, frame_seconds: float) -> None:
        self.config = config
        self._window_frames = max(1, round(config.window_ms / 1000.0 / frame_seconds))
        self._refs: deque[float] = deque(maxlen=self._window_frames)
        learn = max(1, round(config.learn_ms / 1000.0 / frame_seconds))
        self._levels: deque[float] = deque(maxlen=learn)  # cancelled/reference, dB, of echo frames
        self._floor: deque[float] = deque(maxlen=learn)  # cancelled level of quiet frames (noise)
        self._hangover_frames = round(config.hangover_ms / 1000.0 / frame_seconds)
        self._min_ref = db_to_ratio(config.min_reference_dbfs)
        self._hangover = 0
        self.coupling_db = config.initial_coupling_db
        self.floor = 0.0
        self.excess_db = 0.0  # the last frame's level above the predicted residual echo
        self._forgotten: tuple[list[float], float] = ([], self.coupling_db)  # what forget_coupling forgot

    def set_span(self, frames: int) -> None:
        frames = max(frames, self._window_frames)
        if frames != self._refs.maxlen:
            self._refs = deque(self._refs, maxlen=frames)

    @property
    def learned(self) -> int:
        """Echo frames the residual level is learned from (since the last :meth:`forget_coupling`)."""
        return len(self._levels)

    def forget_coupling(self) -> None:
        """The canceller is off its path: its residual is unknown again (the playback window is
        kept: what was just played still echoes)."""
        if len(self._levels) >= self.config.min_learned_frames:  # (not the few frames of a path that moved again)
            self._forgotten = (list(self._levels), self.coupling_db)
        self._levels.clear()
        self.coupling_db = self.config.initial_coupling_db

    def recall_coupling(self, floor_db: float) -> None:
        """The canceller is back on the path its residual echo was learned on (the kept path proven at once
        after a speaker restart, :mod:`satellite.aec_prior`): what :meth:`forget_coupling` forgot counts
        again, with what was learned since (the higher percentile of both: a residual learned on fewer
        frames than ``min_learned_frames`` left the user 8 dB over the playback itself to be heard), but
        never under ``floor_db`` (what the kept path proved it leaves: recalled alone, the residual of a
        converged speex, 8-10 dB under the kept path's, held the reply on echo alone offline)."""
        levels, coupling = self._forgotten
        self._levels = deque([*levels, *self._levels], maxlen=self._levels.maxlen)
        if len(self._levels) >= self.config.min_learned_frames:
            coupling = float(np.percentile(np.fromiter(self._levels, float), self.config.percentile))
        elif not levels:
            return
        self.coupling_db = max(coupling, floor_db)

    def process(
        self, cleaned_rms: float, reference_rms: float, *, learn: bool = True, min_coupling_db: float | None = None
    ) -> bool:
        """``learn`` False: the frame is not the canceller's output (it waits for the delay), so the
        residual echo is not learned from it (else it learned the raw echo and was deaf to the
        user for the next ``learn_ms``). ``min_coupling_db``: the residual echo is expected at
        least this far from the playback, whatever was learned (see
        :meth:`satellite.echojudge.EchoJudge.process`)."""
        self._refs.append(reference_rms)
        reference = max(self._refs)
        if reference < self._min_ref:
            self.excess_db = float("-inf")  # nothing playing: no residual to be above
            self._floor.append(cleaned_rms)
            self.floor = float(np.percentile(np.fromiter(self._floor, float), 20))
            # Not at the noise floor: WebRTC's VAD, not fed while the echo was judged echo, kept
            # the state of the last frame it heard and called the room's noise after the reply
            # speech (a false hold after CPU stalls, tests/test_satellite_echopath_stall.py).
            return cleaned_rms > self.floor * db_to_ratio(_ABOVE_FLOOR_DB)
        coupling = self.coupling_db if min_coupling_db is None else max(self.coupling_db, min_coupling_db)
        expected = reference * db_to_ratio(coupling) + self.floor
        self.excess_db = ratio_to_db(max(cleaned_rms, 1e-9) / max(expected, 1e-9))
        if self.excess_db > self.config.residual_margin_db:
            self._hangover = self._hangover_frames
            return True
        if self._hangover > 0:
            self._hangover -= 1
            return False
        if not learn:
            return False
        self._levels.append(ratio_to_db(max(cleaned_rms, 1e-9) / reference))
        if len(self._levels) >= self.config.min_learned_frames:
            self.coupling_db = float(np.percentile(np.fromiter(self._levels, float), self.config.percentile))
        return False
