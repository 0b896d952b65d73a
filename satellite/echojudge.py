"""Is the user speaking over the playback? Judged on the echo canceller's output.

Pure and synchronous. Per mic frame :meth:`EchoJudge.process` gets the raw mic frame, the
echo-cancelled frame and the speaker frame written at the same tick, and says whether the
frame may hold the user's voice (the VAD then decides whether it is speech at all).

Two gates, both adaptive (learned while the reply plays, never from frames judged to be the
user):

* the **raw gate** (:class:`satellite.echo.EchoGuard`): the raw mic must be ``margin_db``
  (6 dB) louder than the echo the playback predicts. Safe with any canceller state, but deaf
  to a user who is about as loud as the echo.
* the **residual gate** (:class:`ResidualGate`): the *cancelled* mic must be
  ``residual_margin_db`` (8 dB) louder than the residual echo the canceller leaves (a high
  percentile of cancelled/reference levels, plus the noise floor). With the canceller removing
  20–30 dB of echo, a user 12–22 dB quieter than the echo still passes it (but see *leaks*
  below: a frame mostly echo by energy must be 15 dB over it).

Which one decides depends on the canceller's measured state. Its echo return loss
enhancement (ERLE: raw/cancelled level over the last second of frames the raw gate calls echo)
is tracked all the time. While it is at least ``converged_erle_db`` (12 dB) the residual gate
alone decides (trusting the canceller); before that (start-up, a speaker restart, a canceller
that misadjusted) a frame must pass *both* gates. A speaker restart (:meth:`path_changed`:
the device's buffer, hence the echo delay, may differ) makes the canceller unproven again,
but its filter is kept: it is usually still right, and re-adapting from zero takes speex 4–6 s.

**Onset** (:attr:`EchoJudge.onset`): strong frames in a row over a trusted canceller, broadband or in the
high band (:mod:`satellite.onset_run`). The gates' playback reference: :mod:`satellite.echo_window`.

**What the canceller did to the frame** (while it is trusted): a frame it made louder than the
mic is no evidence (it subtracted an echo that was not there: its path moved; a loud one ends the
trust, :attr:`EchoJudge.misaligned`), and a frame it took about its ERLE out of is echo cancelled
as usual, whatever the playback-based residual says. A frame it made much louder than anything
the mic heard just before predicted an echo that had not come (the path moved): the trust ends.
A *leak*, a frame it still took ``_LEAK_DB`` (8 dB) out of, less than ``_LEAK_EXCESS_DB`` (15 dB)
over the residual echo and with no hiss, is the canceller cancelling a few frames worse than its
ERLE, not the user: an onset needs a frame of its run that is not one (:func:`satellite.leaks.is_fresh`).
So is a frame whose cancelled sound is a scaled copy of the canceller's own echo estimate
(``estimate_corr``: the canceller on its path underrated the echo), or the negative of it (it subtracted
an echo that was not there: the path moved unseen), however far over the residual.
The trust begins only once the ERLE has held for ``_TRUST_FRAMES`` (the question's end: :mod:`satellite.going_on`).
Without a canceller (no playback reference, ``--no-aec``) the raw gate alone decides.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from .echo import EchoConfig, EchoGuard, db_to_ratio, frame_rms, ratio_to_db
from .echo_window import PlayedWindow
from .erle import ErleMeter
from .going_on import GoingOn
from .killed_echo import KilledEcho
from .leaks import OFF_PATH_CORR, UNDERRATED_CORR, is_fresh
from .onset_run import OnsetRun
from .residual import ResidualGate, high_band_rms

_SUSPENDED_DB = 6.0  # the raw gate's extra margin while the echo path may have moved (a stall)
# High-band onsets only from this ERLE (the room: false ones at 12.2-13.1 dB, true 14.3-33). 14, not
# 15, since the residual echo's floor (_ERLE_SLACK_DB): a "Stop" at 0 dB, 14.6 dB ERLE, its "s" 13.8 dB
# over the high band's residual, was held a frame later without it (the stale residual had let it in).
_HI_MIN_ERLE_DB = 14.0
_ADDED_DB = 1.0  # a frame the canceller made this much louder than the mic: it is off its path, no evidence
_MISALIGNED_RMS = 10 ** (-35 / 20)  # ... on a mic frame this loud: the path moved (see process)
_TRUST_FRAMES = 10  # the ERLE is at least converged_erle_db this many frames in a row: trusted
_AS_ECHO_DB = 6.0  # a frame cancelled within this of the canceller's ERLE is echo (see process)
_OFF_PATH_DB = 10.0  # a frame made this much louder than the mic, and than the mic before: the path moved
_BEFORE = 4  # ... and than the loudest of this many mic frames before it
_ERLE_SLACK_DB = 6.0  # the residual echo: at least ERLE + this under the raw echo (process)


class EchoJudge:
    """Call :meth:`process` once per mic frame, in order."""

    def __init__(self, config: EchoConfig, frame_seconds: float, *, cancels_echo: bool) -> None:
        self.config = config
        self.cancels_echo = cancels_echo
        self.raw = EchoGuard(config, frame_seconds)
        self.residual = ResidualGate(config, frame_seconds)
        self.residual_hi = ResidualGate(config, frame_seconds)  # the same on the high band (onsets only)
        erle_frames = max(2, round(config.erle_window_ms / 1000.0 / frame_seconds))
        # the last second's echo frames (satellite.erle)
        self._erle = ErleMeter(erle_frames, max(2, round(config.trust_after_ms / 1000.0 / frame_seconds)))
        self._min_ref = db_to_ratio(config.min_reference_dbfs)
        self.converged = False
        self.early = False  # trusted early: the kept filter proven after a restart, double talk still lets through
        self._kept = False  # the speaker restarted with the canceller's filter kept (path_changed)
        self._proven = 0  # frames in a row the ERLE has said the canceller may be trusted
        self._erle_now = float("-inf")  # the ERLE the last frame was judged with
        self.misaligned = False  # the last frame showed the trusted canceller off its path
        self.residual_decisions = 0  # frames decided by the residual gate alone
        self._run = OnsetRun(config.onset_frames)  # the strong frames so far (satellite.onset_run)
        self._mics: deque[float] = deque(maxlen=_BEFORE)  # the last frames' mic levels (RMS)
        self.suspended = False  # the path may have moved: not trusted until confirmed (or re-proven)
        self._given_back: list[tuple[float, float]] | None = None  # the ERLE of a trust confirm gives back
        self._window = PlayedWindow(frame_seconds, config.window_ms / 1000.0)  # (satellite.echo_window)
        self.killed, self.going_on = KilledEcho(frame_seconds), GoingOn(frame_seconds)  # (their modules)

    def process(
        self,
        raw: bytes,
        cleaned: bytes,
        played: bytes,
        *,
        cancelling: bool = True,
        not_echo: bool = False,
        double_talk: bool = False,
        echo_only: bool = False,
        estimate_corr: float = 0.0,
        later_echo: bool = False,
        later_voice: bool = False,
        settling: bool = False,
    ) -> bool:
        """True if the (cleaned) frame may be the user's voice, not just the playback's echo.
        ``cancelling`` False: the canceller let this frame through untouched (it waits for the
        echo delay): no evidence about it either way. ``not_echo``: the playback explains the
        mic's sound at no delay (:attr:`satellite.aec.AudioFrontend.mic_not_echo`: no echo path):
        the user's, whatever the gates say (they had nothing to learn an echo level from: with
        the residual gate at its initial coupling the user had to be 8 dB louder than the
        playback itself, and a user speaking as the reply began was never heard).
        ``double_talk``: the playback explains little of the mic's sound
        (:attr:`satellite.aec.AudioFrontend.double_talk`): neither gate learns from it, and before the
        canceller is trusted the VAD alone decides (someone is speaking; else a user 6 dB louder than the
        echo, over the first reply, was learned as echo by the raw gate and never heard: the room missed
        the first interruption at both echo levels). ``echo_only``: the playback explains the mic as
        well as echo alone does (:attr:`satellite.aec.AudioFrontend.echo_only`): before the canceller is
        trusted, not the user whatever the gates say (after a stall both were off the path: the first
        syllable of a reply's echo passed both, a false hold). After a kill: :mod:`satellite.killed_echo`.
        ``later_echo``: the frame may be the echo heard later than the canceller's estimate, one frame not yet
        a moved path (:attr:`satellite.estimate.LaterEcho.pending`): no evidence either way (as ``added``).
        ``later_voice``: such a frame found to be a voice over the echo (:attr:`satellite.estimate.LaterEcho.voice`):
        nor is the canceller off its path if it made it louder (room_cont cont-25, session 26: suspended there).
        ``settling``: the reference moved by a fraction of a millisecond just before (:attr:`satellite.aec_delay.
        DelayView.settling`): over a trusted canceller a frame the playback explains as echo alone is no evidence."""
        mic = frame_rms(raw)
        self.killed.step(self.span_s)
        louder_before = max(self._mics, default=0.0)
        self._mics.append(mic)
        high_band = self.config.onset_high_band  # off: no high band is computed (per frame, on the mic loop)
        reference, reference_hi = self._window.add(played, high_band=high_band)
        self.going_on.step(self._window.played[-1])
        raw_user = raw_plain = self.raw.process(mic, reference, learn=not double_talk)
        if raw_user and self.suspended and not double_talk:
            raw_user = self._clearly_above_echo(mic)
        if not self.config.enabled:
            return True
        if not self.cancels_echo:
            return raw_user
        out = frame_rms(cleaned)
        # How much the canceller took out of this frame. Below -_ADDED_DB it made the frame louder:
        # it subtracted an echo that was not there (the path moved under it, e.g. the speaker's
        # delay changed by 10 ms with no stall: the room, 0 dB, ERLE 32 dB, cancelled 10-15 dB
        # louder than the mic, excess 23 dB: a false hold). No voice does that (the user adds to
        # the mic what the canceller leaves), so such a frame is no evidence either way.
        cancelled_db = ratio_to_db(max(mic, 1e-9) / max(out, 1e-9)) if cancelling else 0.0
        added = cancelled_db < -_ADDED_DB
        unknown = added or later_echo  # no evidence of the user (nor of the echo's level) in this frame
        # Right after a fine move of the reference speex leaves echo it cancelled before (aec_delay.SETTLE): the
        # room's reply 15 (session 29, 0 dB), 17 then 14 dB out at 29 dB ERLE, explained 0.98: an onset on echo.
        unknown = unknown or (settling and echo_only and self.converged)
        # Over a trusted canceller a frame it took about its usual ERLE out of is echo, cancelled
        # as usual, whatever the playback-based residual says: the user's voice is not cancelled,
        # so a frame the residual gate calls the user (8 dB over the residual) loses at least
        # ~8 dB less than the echo does (the room, 0 dB, 10 barge-ins: 7.3-22 dB less). The
        # playback-based residual missed the echo's tail when the playback paused between
        # phrases (the room: the mic at -18 dBFS of echo with the playback at -67, 16-24 dB
        # taken out, ERLE 21 dB, excess 9-10 dB: a false hold).
        as_echo = self.converged and cancelling and cancelled_db > self._erle_now - _AS_ECHO_DB
        # A loud frame made louder by a trusted canceller: its path has moved (the satellite asks
        # the delay meter, :attr:`misaligned`); not trusted until the delay is measured again.
        # Also a quiet mic made much louder than anything it heard in the last _BEFORE frames: the
        # echo was predicted before it came (the room, -6 dB, a reply's first echo frame: the mic
        # at -50 dBFS, the output at -26, 33 dB over the mic before, ERLE 29 dB; the next three
        # frames were let through almost whole, 0-1.5 dB taken out: an onset on echo alone). Over
        # the recorded taps three such frames, all at a reply's or phrase's start, 33-39 dB over;
        # the 75 other frames made 6 dB louder, at most 2.4 dB over (the tail of an echo that had
        # stopped, the canceller's estimate of it too long: still on its path).
        off_path = cancelled_db <= -_OFF_PATH_DB and out >= max(
            _MISALIGNED_RMS, louder_before * db_to_ratio(_OFF_PATH_DB)
        )
        phantom = self.killed.phantom(added)  # ... not after a kill: the echo of what never played
        self.misaligned = (
            self.converged and not phantom and not later_voice and ((added and mic >= _MISALIGNED_RMS) or off_path)
        )
        if self.misaligned:
            self.suspend()
        learn = cancelling and not not_echo and not double_talk and not unknown
        # The residual echo a trusted canceller leaves is at most its ERLE (+ _ERLE_SLACK_DB) under the
        # echo the raw gate learned: a residual level learned below that is stale. After a speaker
        # restart it was learned on the first frames, before the echo came (the room, 0 dB: -38.6 dB),
        # and then never again: the canceller, re-converging from 3 dB, left every frame over the
        # margin, so none was learned as echo; once its ERLE was 12-22 dB it was trusted with the
        # residual still at -38.6 and the echo 14-17 dB over it held the reply (a false hold).
        floor_db = (
            self.raw.coupling_db - self._erle_now - _ERLE_SLACK_DB
            if self.converged and math.isfinite(self._erle_now)
            else None
        )
        residual_user = (
            self.residual.process(out, reference, learn=learn, min_coupling_db=floor_db) and not unknown and not as_echo
        )
        hi_user = high_band and self.residual_hi.process(
            high_band_rms(cleaned), reference_hi, learn=learn and not residual_user
        )
        if not_echo:
            self._run.reset()
            self.killed.judged(mic, True)  # (the user's frame: followed after a kill, satellite.killed_echo)
            return True
        # ERLE from echo alone: not while either gate hears more than echo (double talk: the user
        # in the mic, not removed by the canceller, would pull it down and end the trust just as
        # the user starts to speak).
        if (
            cancelling
            and not raw_user
            and not residual_user
            and not double_talk and not phantom and not later_echo
            and max(self.raw.recent_reference, reference) >= self._min_ref
        ):
            self._erle.add(mic, out)
        loud = self._erle.loud()
        erle = self._erle.now(loud)
        self._erle_now = erle
        # Trusted once the ERLE has held for _TRUST_FRAMES in a row: a canceller re-converging
        # after a speaker restart crossed 12 dB and back (11.1, 14.0, 12.4, 16.3 dB) and 5 frames
        # after its first crossing let 5-9 dB of echo through (excess 15 dB: an onset and a false
        # cut, the room at 0 dB); the true onsets came 24-103 frames after the trust began.
        proven = not self.suspended and erle >= self.config.converged_erle_db
        self._proven = self._proven + 1 if proven else 0
        self.converged = self._proven >= _TRUST_FRAMES
        self._kept = self._kept and not self.suspended and not self.converged
        self.early = self._kept and (self.early or self._erle.kept_proven(loud))
        if self.early and not math.isfinite(erle):
            erle = float(np.median(loud))
        margin = self.config.onset_margin_db
        hiss = hi_user and self.residual_hi.excess_db >= margin and erle >= _HI_MIN_ERLE_DB
        broadband = residual_user and self.residual.excess_db >= margin
        strong = (self.converged or self.early) and (broadband or hiss) and not unknown and not as_echo
        # A scaled copy of the canceller's estimate (or of its negative) is echo, hiss or not (leaks.is_fresh).
        underrated = estimate_corr >= UNDERRATED_CORR or estimate_corr <= OFF_PATH_CORR
        self._run.step(strong, not underrated and (hiss or is_fresh(cancelled_db, self.residual)),
                       self.residual.excess_db)
        residual_user = residual_user and self._run.lets_through()
        if self.converged and self.killed.active:  # the speaker was killed (satellite.killed_echo)
            return self.killed.verdict(mic, residual_user or (phantom and raw_user), self.going_on.at_level(mic))
        self.residual_decisions += self.converged
        user = residual_user if self.converged else double_talk or (raw_user and residual_user and not echo_only)
        user = user or (self.early and residual_user) or (not self.converged and self.going_on.verdict(  # (its module)
            mic, raw_plain, echo_only, self.raw.recent_reference * db_to_ratio(self.raw.coupling_db)))
        if not self.converged and self.killed.active and self.going_on.at_level(mic):  # (satellite.going_on)
            return self.killed.verdict(mic, user, True)
        self.killed.judged(mic, user)
        return user

    def _clearly_above_echo(self, mic: float) -> bool:
        """While the path may have moved (:meth:`suspend`: the satellite fell behind its mic)
        neither gate knows the echo: the canceller is off its path (its residual is the whole
        echo), and the speaker may play sooner or later than the raw gate's window says (the
        first syllable of the echo after an underrun came as loud as the loudest playback of the window,
        7 dB over its learned coupling). The user must be ``_SUSPENDED_DB`` more over the expected echo."""
        reference = self.raw.recent_reference
        if reference < self._min_ref:
            return True
        return ratio_to_db(max(mic, 1e-9) / reference) > self.raw.coupling_db + self.config.margin_db + _SUSPENDED_DB

    @property
    def onset(self) -> bool:
        """The last frame ended a run of strong frames that holds the reply (:mod:`satellite.onset_run`)."""
        return self._run.onset

    @property
    def span_s(self) -> float:
        """The playback (s back from now) the gates expect echo from (:meth:`set_echo_path`)."""
        return self._window.span_s

    @property
    def phantom(self) -> bool:
        """The last frame was the canceller subtracting the echo of audio that never played (killed_echo)."""
        return self.killed.last

    @property
    def erle_db(self) -> float | None:
        """The canceller's ERLE over the last second of echo (:class:`satellite.erle.ErleMeter`); None before any.
        After a speaker restart the canceller keeps its filter (:meth:`path_changed`), usually still right:
        the last 4 echo frames since each cancelling 20 dB or more is an early trust (:attr:`early`, until the
        usual proof: ``trust_after_ms`` of echo + ``_TRUST_FRAMES``, ~0.9 s into a reply in the room, session
        21, while the canceller cancelled from ~0.34 s; a user 6 dB under the echo was heard 0.7 s late, far
        trailing words over a reply's first second never). While early the residual gate decides and onsets
        count, but double talk still lets the user through, the front end still watches for it (``converged``
        stays False: ``SpeakerPath`` asks it ``watch(not converged)``), and nothing that needs the full proof
        acts (a misaligned frame, the as-echo rule, the residual's floor). Session 21 trusted it fully: a user
        12 dB under the echo 0.1 s in was never heard (s22_cont.md)."""
        loud = self._erle.loud()
        return float(np.median(loud)) if loud else None

    @property
    def _min_erle_frames(self) -> int:
        return self._erle.min_frames

    def _loud_erle(self) -> list[float]:
        return self._erle.loud()

    def take_reply_erle(self) -> tuple[float | None, int]:
        """ERLE (dB) over the echo frames since the last call, and how many frames that was."""
        return self._erle.take_reply()

    def set_echo_path(self, delay_s: float | None, tail_s: float) -> None:
        """The playback's echo reaches the mic ``delay_s`` after it is played (None: not known) and
        lasts ``tail_s`` (from the canceller). Both gates compare each mic frame with the playback
        of that moment: the reference is delayed by the known delay (less a frame) and they expect
        echo from the playback of the window after it (at least ``window_ms``). Before, a fixed
        300 ms window from now missed the echo of a deep speaker buffer (the room: 200-470 ms) and
        the tail of a reply that had just ended; a window as long as delay + tail made the raw
        gate deaf (it expected the loudest echo of the last 0.8 s)."""
        frames = self._window.set_delay(delay_s, tail_s)
        self.raw.set_span(frames)
        self.residual.set_span(frames)
        self.residual_hi.set_span(frames)

    def speaker_dropped(self) -> None:
        """The speaker's buffer was thrown away (a hold or stop kills the sound command): what was
        written in the last ``delay`` will never sound, so no echo of it is expected (else the
        gates held the user's voice back for delay + tail after a hold, and the barge-in was
        never confirmed: the room, 0 of 15 at -6 dB)."""
        self._window.dropped()
        self.killed.killed()  # for its echo's span the canceller's added frames are no path moving

    def suspend(self, *, stalled: bool = True) -> None:
        """The echo path may have moved (the satellite fell behind its mic): the canceller is not
        trusted until :meth:`confirm` (the delay was re-measured unchanged) or, if it changed,
        until it has proven itself again after :meth:`path_changed`. ``stalled`` False (a LaterEcho find): a
        delay re-measured unchanged with no stall since gives the trust back at once (session 27's u12, held
        0.78 s after speaking; tests/test_satellite_echojudge_giveback.py)."""
        if stalled:
            self._given_back = None
        elif not self.suspended:
            self._given_back = self._erle.snapshot() if self.converged else None
        self.suspended = True
        self.converged = self.early = self._kept = False
        self._run.reset()
        self._erle.clear()  # trust is earned again on frames from after the stall (the room: false
        # onsets right after an "unchanged" delay, the canceller disturbed by the stall's gap)

    def confirm(self) -> None:
        self.suspended = False
        if self._given_back is not None:  # (suspend: nothing stalled, the delay unchanged)
            self._erle.restore(self._given_back)
            self._given_back = None
            self._proven, self.converged = _TRUST_FRAMES, True

    def path_changed(self, *, playing: bool = True) -> None:
        """The echo delay may have changed (a restarted speaker, a new bulk delay): the canceller
        is unproven again. The gates keep their playback windows (measured in the room: clearing
        them let the echo of the last 300 ms through as the user, 10-50 ms after each change) and
        the raw gate its coupling (a level ratio, whatever the delay). ``playing`` False: the speaker
        is killed (a hold) and the delay meter only now measured the echo of what played before: the
        span after the kill goes on (:mod:`satellite.killed_echo`), the user's voice still followed."""
        self.residual.forget_coupling()
        self.residual_hi.forget_coupling()
        self._erle.clear()
        self._given_back = None
        if playing:
            self.killed.replayed()
        self.suspended = False  # re-proven from the ERLE measured from now on
        self.converged = self.early = False
        self._kept = True
        self._run.reset()
