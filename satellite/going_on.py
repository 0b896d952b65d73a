"""The user going on right after the question's end, heard over an unproven canceller.

Pure and synchronous; used by :class:`satellite.echojudge.EchoJudge`. A request with a pause after
a word that can end it ("Lock the front door ... please") is ended at the pause and the reply starts
under the user's last word (:mod:`satellite.held`: a continuation hold). Over a trusted canceller the
residual gate hears that word. Over an unproven one (each reply's start on a loaded satellite: every
stall past ``STALL_S`` restarts the delay's measurement, a speaker that ran dry makes the canceller
wait for it, and double talk is not called for 0.78 s after each restart) a frame had to pass both
gates: the raw gate (``margin_db`` over the echo the playback predicts, ``+6 dB`` while suspended)
and the residual gate, which over a canceller that is not cancelling is the raw mic ``residual_margin_db``
over the raw echo. A user's "please" 11 dB over the predicted echo passed neither: the room, session
23's first run (load 2 -> 8, 344 stalls), 15 of 30 trailing words never held, 13 of them with the
canceller waiting or suspended through the whole word.

For ``seconds`` after the question's end (:meth:`expect`, the satellite's ``audio-stop`` with the
question's voice level) and while the reply has played under ``heard_seconds``, a frame the raw gate
calls the user at its plain margin (not the suspended one) is the user when it is also as loud as
their question was (within ``under_db`` of its ``LEVEL_PERCENTILE`` frame level; that level less
``outweigh_db`` over the echo the raw gate expects: a far user is left to the gates) and the playback does not
explain it as echo alone (:attr:`satellite.aec.AudioFrontend.echo_only`). The echo after a stall can
come 7 dB over the raw gate's learned coupling, but not also at the level of the user's own voice with
the playback explaining little of it.
"""

from __future__ import annotations

import math

import numpy as np

from .echo import db_to_ratio

LEVEL_PERCENTILE = 90  # the question's voice level: this percentile of its frames' levels (pauses are quiet)
UNDER_DB = 6.0  # a frame this far under the question's level may still be the user going on
OUTWEIGH_DB = 3.0  # ... when the question's level less this is over the echo the raw gate expects
_MIN_REFERENCE = 10 ** (-50 / 20)  # a speaker frame this loud (RMS) is the reply playing (counted as heard)


def voice_level(pcm: bytes, frame_bytes: int) -> float:
    """The question's voice level (RMS, full scale 1.0): ``LEVEL_PERCENTILE`` of its frames' levels."""
    n = len(pcm) // frame_bytes
    if n == 0:
        return 0.0
    x = np.frombuffer(pcm[: n * frame_bytes], dtype="<i2").astype(np.float64).reshape(n, -1) / 32768.0
    return float(np.percentile(np.sqrt(np.mean(x * x, axis=1)), LEVEL_PERCENTILE))


class GoingOn:
    """:meth:`expect` at the question's end, :meth:`step` once per frame, :meth:`verdict` per frame."""

    def __init__(self, frame_seconds: float, under_db: float = UNDER_DB, outweigh_db: float = OUTWEIGH_DB) -> None:
        self._frame_seconds = frame_seconds
        self._under, self._outweigh = db_to_ratio(-under_db), db_to_ratio(-outweigh_db)
        self._left = 0  # frames of the window left
        self._heard_left = 0  # frames of reply playback the window lasts
        self._floor = math.inf  # a frame at least this loud (RMS) is at the user's level
        self._voice = math.inf  # ... and the user outweighs an expected echo up to this level

    def expect(self, level: float, seconds: float, heard_seconds: float) -> None:
        """The question ended, its voice at ``level`` (RMS): for ``seconds`` (and ``heard_seconds`` of
        the reply played) a frame at that level may be the user going on."""
        self._left = math.ceil(seconds / self._frame_seconds - 1e-6)
        self._heard_left = math.ceil(heard_seconds / self._frame_seconds - 1e-6)
        self._floor = level * self._under if level > 0 else math.inf
        self._voice = level * self._outweigh if level > 0 else math.inf

    def stop(self) -> None:
        self._left = 0

    def step(self, played_rms: float) -> None:
        """One frame went by, the speaker's frame at ``played_rms``."""
        self._left = max(0, self._left - 1)
        if played_rms >= _MIN_REFERENCE:
            self._heard_left = max(0, self._heard_left - 1)
            if self._heard_left == 0:
                self._left = 0

    @property
    def active(self) -> bool:
        return self._left > 0

    def at_level(self, mic: float) -> bool:
        """Within the window, the raw mic at the user's level: while a hold has killed the speaker the judge
        follows the user's voice at its level (:meth:`satellite.killed_echo.KilledEcho.verdict`), not the
        raw gate, which expects the loudest echo of its window (up to ~1 s) long after the speaker went
        silent: the room, session 23's second run (load 11), 8 continuation holds lapsed after 1-3 voiced
        frames (``vvv.....``), the word's softer end under that echo."""
        return self._left > 0 and mic >= self._floor

    def verdict(self, mic: float, raw_user: bool, echo_only: bool, echo: float) -> bool:
        """The frame (raw mic RMS ``mic``; ``raw_user``: the raw gate at its plain margin; ``echo``: the echo
        it expects, RMS) is the user going on. Only for a user whose voice outweighs that echo (their
        level less ``outweigh_db`` over it): a far user's level says nothing, and the raw gate alone let a
        reply's first echo through (session 22's loaded room replayed: a false hold 0.3 s in, far user)."""
        return self._left > 0 and raw_user and not echo_only and mic >= self._floor and self._voice >= echo
