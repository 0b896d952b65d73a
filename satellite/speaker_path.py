"""The speaker→mic echo path as the satellite sees it: restarts, stalls and the echo's span.

A mixin of :class:`satellite.core.Satellite` (kept apart so each file stays small). The echo
canceller (:mod:`satellite.aec`) and the echo judge (:mod:`satellite.echojudge`) are right
only while they know the echo path; three things move or reveal it:

* **a speaker restart** (every barge-in hold kills the sound command to silence its buffer
  at once): the new one starts with another buffer level. The canceller pauses until the delay
  is measured again (from the first ~0.2–0.45 s of playback); the judge does not trust it
  until it has proven itself on the new delay.
* **a stall** (:mod:`satellite.lag`): the satellite fell behind its mic by more than
  ``STALL_S``; if the speaker ran dry meanwhile it plays later from now on. The judge stops
  trusting the canceller at once, before the echo on a moved path reaches the mic, and the
  delay is measured afresh (the canceller keeps running): unchanged, the trust is back;
  changed, the canceller is re-aligned and proves itself again.
* **the echo's span**: a reply's echo reaches the mic the measured delay after each sample was
  handed to the speaker and lasts for the reverberation in the canceller's learned echo path.
  Both gates of the judge compare each mic frame with the playback of that moment (the
  reference delayed by the known delay), so a deep speaker buffer is covered, and the tail of
  a reply is not taken for the user's next turn.
"""

from __future__ import annotations

import logging
import time
from collections import deque

from .aec import AudioFrontend
from .audio_io import SpeakerSink
from .bargetrace import BargeTrace
from .echo import frame_rms
from .echojudge import EchoJudge
from .judge_log import log_judge
from .lag import MicLag
from .playback import Playback
from .vad import SpeechDetector
from .write_ahead import CANCELLER_RATE, WriteAhead

_LOGGER = logging.getLogger("satellite.core")
# Behind the mic by more than this: the speaker may have run dry. Under the write-ahead's 40 ms
# lead (satellite.write_ahead), not 45 ms: the room, 0 dB, a 41 ms stall ran its card dry by one
# sample (played.wav against the tap), which the write-ahead's level estimate did not see; the
# canceller, trusted at 39 dB ERLE, took 11-17 dB out of the echo from then on and the echo held the
# reply (session 16's lead, 07:44:12). Replayed over 18 taps: that hold gone, 90 barge-ins unchanged.
STALL_S = 0.035
_STALL_OVER_S = 0.015
_SPAN_EVERY = 33  # frames (~1 s) between updates of the echo span from the canceller
_USER_GAP = 4  # frames the judge held back that still join two stretches of the user's voice
_PRE_USER = 6  # frames kept before the first the judge let through (its reaction: ~4 frames after the onset)
# How far back a question's start is looked for when double talk let it through (beyond the VAD's
# pre-roll): double talk is not called for 0.78 s (was 1.2 s) after the delay meter restarts (a stall, a dropped
# speaker frame), and the whole-stack room called it 1.5 s after a user's onset (1118 ms lost).
_REACH_BACK_S = 2.1
_ECHO_ONLY_RUN = 3  # frames in a row explained as echo alone that end a reach back
# Per frame of the pre-roll (``_allowed``): held back as echo; let through; let through on double
# talk before the canceller is trusted; held back, loud, before the canceller is trusted, and not
# explained by the playback as echo alone is (satellite.delay.EchoDelay.echo_only); quiet (nothing
# loud held back: counted as the user's, a pause in the question).
_HELD, _LET, _LET_ON_DOUBLE_TALK, _UNEXPLAINED, _QUIET = 0, 1, 2, 3, 4
_QUIET_RMS = 10 ** (-40 / 20)  # a cleaned frame below -40 dBFS is no echo worth keeping out of a question
# A user over an untrusted canceller that the double-talk detector does not call (see _partly_explained):
_PARTLY_EXPLAINED = (0.6, 0.88)  # the playback explains the loud mic this well: neither double talk nor echo alone
_PARTLY_EXCESS_DB = 0.0  # ... the cleaned frame at least at the residual echo the canceller leaves
_PARTLY_HISS_DB = 3.0  # ... and its high band this far over the high band's residual echo
_PARTLY_MIC_RMS = 10 ** (-40 / 20)  # ... on a mic at least this loud
_KEPT_SLACK_DB = 0.0  # the residual echo after a restart: at least the kept path's proof (aec_prior) less this


def _unplayed_s(ahead: object) -> float | None:
    """Seconds of written audio the speaker still held (never to play once it is killed): the
    write-ahead's estimate (satellite.write_ahead); None without one (or with it off)."""
    level, lead = getattr(ahead, "level_s", None), getattr(ahead, "lead_s", -1.0)
    return float(level) if isinstance(level, float) and isinstance(lead, float) and lead >= 0 else None


class SpeakerPath:
    frontend: AudioFrontend | None
    guard: EchoJudge
    speaker: SpeakerSink
    trace: BargeTrace
    detector: SpeechDetector
    playback: Playback
    lag: MicLag
    _mic_ms: float
    _stalled: bool
    _span_frames: int
    _span_adapted: bool
    _dropped: int = 0
    _restarted: bool = False  # the speaker was killed: its new echo path is measured once it plays again
    _underruns: int = 0  # the speaker's write-ahead underruns seen (satellite.write_ahead)
    _trimmed: int = 0  # samples of idle silence the write-ahead left out, seen (at the speaker's rate)
    _allowed: deque[int]  # per frame of the last ``_REACH_BACK_S`` (at least the pre-roll): _HELD, _LET, ...
    _heard: deque[bytes]  # ... and the cleaned frames (what the VAD heard and a turn streams)
    _unspoken: int  # frames since the VAD was last in speech (a reach-back stops there)
    _user_on: bool = False  # the judge let the last frame through

    def _wire_echo_path(self) -> None:
        vad = self.detector.config
        frames = max(
            vad.speech_window, round(vad.preroll_seconds / vad.frame_seconds), round(_REACH_BACK_S / vad.frame_seconds)
        )
        self._allowed = deque(maxlen=frames)
        self._heard = deque(maxlen=frames)
        self._unspoken = 0
        if self.frontend is not None:
            self.frontend.on_path_change = self._echo_path_moved
            self.frontend.on_path_confirmed = self.guard.confirm

    def _echo_path_moved(self) -> None:
        # While a hold has the speaker killed the meter measured the echo of what played before the kill
        # (a recheck after a stall): the judge goes on following the user's voice through the hold. Before,
        # the span after the kill ended there: the room, session 24's base run (load 3-6), cont-06's "in the
        # bedroom" held 0.39 s into the reply, "moved 1441 samples" 30 ms after the kill, lapsed (v.....).
        self.guard.path_changed(playing=not self._restarted)
        self._update_echo_span()

    def _preroll(self, preroll: bytes, frame_bytes: int, over_reply: bool) -> bytes:
        """The VAD's pre-roll of a speech start; over a reply, from where the judge first let the
        user through (quiet frames count as the user's: a pause in the question; gaps of loud
        frames it held back under ``_USER_GAP`` bridged) less ``_PRE_USER`` frames: the loud
        frames before are the reply's echo as the canceller left it. Whole, the 0.6 s pre-roll
        put the reply's words into the question (the loaded whole-stack room: "One day, stop.
        What time is it?": 380 ms of echo at -21 dBFS before the onset; from the onset whisper
        heard it right). Quiet or held frames before the first the judge did not call echo (the
        reply's echo a trusted canceller left at -35..-50 dBFS, around the quiet line) are not the
        user's either: at most ``_PRE_USER`` frames before it are kept (with 0.3-0.55 s of them
        Whisper, beam 5 as the server decodes, heard "Stop. What time is it? Stop. What time is
        it?" in 4 of 77 replayed room barge-ins)."""
        if not over_reply:
            return preroll
        flags = list(self._allowed)
        base = max(0, len(flags) - len(preroll) // frame_bytes)  # the VAD's pre-roll is flags[base:]
        first, gap = len(flags), 0
        for i in range(len(flags) - 1, base - 1, -1):
            if flags[i] in (_LET, _LET_ON_DOUBLE_TALK, _QUIET):
                first, gap = i, 0
            else:
                gap += 1
                if gap >= _USER_GAP:
                    break
        let = next((i for i in range(first, len(flags)) if flags[i] != _QUIET), len(flags))
        if let < len(flags) and flags[let] == _LET_ON_DOUBLE_TALK and len(self._heard) == len(flags):
            return self._reach_back(flags, let)
        user = next((i for i in range(first, len(flags)) if flags[i] not in (_QUIET, _HELD)), len(flags))
        keep = len(flags) - max(base, user - _PRE_USER)
        return preroll[-keep * frame_bytes :] if keep else preroll

    def _reach_back(self, flags: list[int], first: int) -> bytes:
        """Double talk is called on the last 0.3 s of mic once the user outweighs the echo there:
        0.3-0.5 s after the onset (the first barge-in of each whole-stack run lost 174-880 ms), and
        not for 0.78 s (1.2 s then) after the delay meter restarted (a dropped speaker frame, a stall: the room
        lost 1118 ms, beyond the VAD's 0.6 s pre-roll). The question is the loud frames the
        playback did not explain as echo alone, back to ``_ECHO_ONLY_RUN`` in a row it did (quiet
        frames, a pause, count neither way; echo-only is judged every 90 ms on the last 0.3 s, so
        a frame or two of the user's can still be called echo), in the last ``_REACH_BACK_S`` and
        not before the VAD last heard speech; kept from ``_PRE_USER`` frames before the first.
        Synthetic (42 barge-ins over an untrusted canceller, -6/0 dB): start cut in 27, by up to
        0.633 s -> 20, by up to 0.604 s (over 0.2 s: 9 -> 5); over 0.2 s of echo kept 1 -> 1."""
        floor = max(0, len(flags) - self._unspoken)
        user, held = first, 0
        for i in range(first - 1, floor - 1, -1):
            if flags[i] in (_UNEXPLAINED, _LET, _LET_ON_DOUBLE_TALK):
                user, held = i, 0
            elif flags[i] == _HELD:
                held += 1
                if held >= _ECHO_ONLY_RUN:
                    break
        return b"".join(list(self._heard)[max(floor, user - _PRE_USER) :])

    def _judge(self, raw: bytes, played: bytes) -> tuple[bytes, bool]:
        """The echo-cancelled frame, and whether it may hold the user's voice (the echo judge)."""
        if self._restarted and played.strip(b"\0"):
            self._restarted = False
            self._speaker_replayed()
        ahead = getattr(self.speaker, "ahead", None)
        if ahead is not None:
            self._follow_write_ahead(ahead)
        cleaned, cancelling, not_echo, double_talk, echo_only, later = raw, True, False, False, False, False
        voice = settling = False
        estimate_corr = 0.0
        if self.frontend is not None:
            # The user is heard (the last frame let through, speech, or the speaker killed by a hold): the
            # shadow canceller holds its filter over their words (satellite.aec_shadow).
            self.frontend.user_speaking(self._user_on or self.detector.in_speech or self._restarted)
            proven = self.frontend.priors_proven
            cleaned = self.frontend.process(raw, played)
            if self.frontend.priors_proven != proven:  # the kept path cancels at once after a restart (aec_prior):
                floor = self.guard.raw.coupling_db - self.frontend.kept_erle_db + _KEPT_SLACK_DB  # its residual
                self.guard.residual.recall_coupling(floor)  # the residual echo learned on it before counts again
                self.guard.residual_hi.recall_coupling(floor - _KEPT_SLACK_DB)
            # Asked only while trusted (~1 ms) and the speaker plays: after a kill (live, session 20) it fired
            # 60 ms into a barge-in, the judge suspended, the question was not confirmed (3 voiced frames).
            asked = self.guard.converged and not self._restarted
            if asked and self.frontend.later_echo.shift:
                self._echo_moved_later(stalled=False)
            later = asked and self.frontend.later_echo.pending  # (satellite.estimate: one frame, not yet a move)
            voice = later and self.frontend.later_echo.voice  # ... or a voice: not off the path either
            later = later and not self.frontend.later_echo.evidence  # ... a voice clearly over the estimate: judged
            cancelling, not_echo = self.frontend.cancelling, self.frontend.mic_not_echo
            double_talk, echo_only = self.frontend.double_talk, self.frontend.echo_only
            estimate_corr, settling = self.frontend.estimate_corr, self.frontend.settling
            self._tick_echo_span()
        self.trace.stamp_cleaned()
        allow = self.guard.process(
            raw,
            cleaned,
            played,
            cancelling=cancelling,
            not_echo=not_echo,
            double_talk=double_talk,
            echo_only=echo_only,
            estimate_corr=estimate_corr,
            later_echo=later, later_voice=voice, settling=settling,
        )
        if not allow and cancelling and not echo_only and self._partly_explained(raw):
            allow = double_talk = True  # the user, let through as on double talk (and so flagged)
        if self.guard.misaligned and self.frontend is not None:
            self.frontend.recheck()  # the judge suspended itself: the delay, measured again, confirms it
        self._user_on = allow
        self._allowed.append(self._flag(allow, frame_rms(cleaned) < _QUIET_RMS, double_talk, echo_only))
        self._heard.append(cleaned)
        self._unspoken = 0 if self.detector.in_speech else self._unspoken + 1
        return cleaned, allow

    def _partly_explained(self, raw: bytes) -> bool:
        """Before the canceller is trusted the judge lets the user through on double talk alone
        (both gates also pass only a user 6 dB over the echo). At 0 dB, the room's first barge-in
        of a run (ERLE 6-8 dB): the playback still explained "Stop." over the echo to 0.75-0.83,
        neither double talk (< 0.75) nor echo alone (>= 0.9; the room's echo 0.95-0.98), and the
        double talk came 0.73 s after the onset, on "What": the reply went silent 0.79 s after
        it and the reach back, ended by the echo alone in the pause, cut "Stop." from the question.
        So a frame the playback explains only partly is the user's when the canceller left it at
        least at its residual echo and its high band (the "s" of "Stop") over the high band's:
        replayed on the lead's four taps of session 16 (0/-6 dB, echo only and barge-ins), the
        two slow barge-ins let through 0.15-0.16 s after the onset, no echo-only frame."""
        if self.frontend is None or self.guard.converged or self.guard.suspended:
            return False
        low, high = _PARTLY_EXPLAINED
        return (
            low <= self.frontend.explained < high
            and self.guard.residual.excess_db >= _PARTLY_EXCESS_DB
            and self.guard.residual_hi.excess_db >= _PARTLY_HISS_DB
            and frame_rms(raw) >= _PARTLY_MIC_RMS
        )

    def _flag(self, allow: bool, quiet: bool, double_talk: bool, echo_only: bool) -> int:
        if allow:
            converged = self.guard.converged or self.frontend is None
            return _LET_ON_DOUBLE_TALK if double_talk and not converged else _LET
        if quiet:
            return _QUIET  # nothing loud held back
        return _HELD if self.guard.converged or self.frontend is None or echo_only else _UNEXPLAINED

    def _check_lag(self) -> None:
        """Per mic frame read (before its speaker frame is written)."""
        lag = self.lag.update(self.trace.read)
        # A frame the speaker sink dropped (its command fell behind) moves the echo path too: what
        # plays from now on is heard a frame earlier than the reference says.
        dropped = getattr(self.speaker, "dropped_frames", 0)
        moved, self._dropped = dropped != self._dropped, dropped
        if moved and self._restarted and lag <= STALL_S:
            pass  # the restarted speaker command is not reading yet: only silence was dropped
        elif (lag > STALL_S and not self._stalled) or moved:
            self._stalled = self._stalled or lag > STALL_S
            _LOGGER.debug(
                "behind the mic by %.0f ms, %d speaker frames dropped: the echo path may have moved",
                lag * 1000,
                dropped,
            )
            # (Not while the speaker is killed and silent, a hold: nothing plays to move. Killing and
            # restarting the sound command stalled the loaded room's satellite 90 ms at the hold; the
            # suspend and recheck left the judge deaf to the held word: session 22, 3 of 4 lost.)
            if self.frontend is not None and self.frontend.cancels_echo and not self._restarted:
                self.guard.suspend()
                self.frontend.recheck(moved=moved, behind_s=lag)
                # At once: the delay may have shrunk (an underrun, then frames played as soon as
                # written) or grown; the judge expects echo from anything played in the longest
                # delay and its tail until it is measured again (with the old delay the newest
                # playback's echo was taken for the user: false holds after stalls).
                self._update_echo_span()
        elif lag < _STALL_OVER_S and self._stalled:
            self._stalled = False
            _LOGGER.info("stall over: was behind the mic by up to %.0f ms", self.lag.take_peak() * 1000)

    def _update_echo_span(self) -> None:
        self._span_frames = 0
        self._span_adapted = self.guard.converged
        if self.frontend is not None:
            path = self.frontend.echo_path(adapted=self._span_adapted)
            if path is not None:
                self.guard.set_echo_path(*path)

    def _tick_echo_span(self) -> None:
        if self.frontend is not None:
            self.frontend.watch(not self.guard.converged)  # double talk is what lets the user through then
        self._span_frames += 1
        if self._span_frames >= _SPAN_EVERY or self.guard.converged != self._span_adapted:
            self._update_echo_span()  # at once when the canceller is (no longer) trusted

    def _abort_speaker(self, why: str) -> None:
        """Silent now, not after the device's buffer has played out. What was written in the
        last delay never plays (no echo of it is expected, none is cancelled). The echo still
        arriving is on the path it was played on: the judge and the canceller keep that path
        until the speaker plays again (:meth:`_speaker_replayed`). Before, the path was called
        unknown at once: the judge expected the loudest echo of the last second from a silent
        speaker and the canceller paused, so the user whose words held the reply was not heard
        (the room: the onset lapsed, the question was lost or lost its first words)."""
        queued = getattr(self.speaker, "queued", None)
        sink_queued = queued() if callable(queued) else None
        unplayed = _unplayed_s(getattr(self.speaker, "ahead", None))
        self.speaker.abort()
        # The judge expects no echo of anything played in the delay (its gates held the user back after
        # a hold otherwise); the canceller still cancels what had left the speaker (``unplayed`` earlier).
        # Live, session 20: with the judge also expecting that echo one barge-in's onset lapsed (0 voiced
        # frames in 0.3 s; 9 of 10 confirmed); replayed (the kill as on main) its speech started 0.18 s in.
        self.guard.speaker_dropped()
        if self.frontend is not None:
            self.frontend.speaker_dropped(None if unplayed is None else round(unplayed * CANCELLER_RATE))
        self.trace.report(
            why,
            mic_ms=self._mic_ms,
            voiced_frames=self.detector.voiced_frames,
            sink_queued=sink_queued,
            buffered_ms=self.playback.buffered_ms,
        )
        log_judge(why, self.guard, self.frontend)
        self._restarted = True

    def _speaker_replayed(self) -> None:
        """The restarted speaker plays again (a resumed reply, the next one, a tone): it may
        have another delay. The echo judge trusts the canceller again only once it is proven
        (its filter is kept: usually still right, and speex takes 4-6 s to adapt from zero)."""
        self.guard.path_changed()
        if self.frontend is not None:
            self.frontend.path_changed()

    def _follow_write_ahead(self, ahead: WriteAhead) -> None:
        """The write-ahead (:mod:`satellite.write_ahead`) moved the echo path with this frame's write:
        idle silence left out (the speaker plays that much sooner, known to the sample: the
        canceller's reference follows exactly), or the speaker ran dry (later by about a stall:
        as after a dropped frame, the judge stops trusting the canceller, which waits, its filter
        kept, until the delay is measured again)."""
        if ahead.trimmed != self._trimmed:
            samples, self._trimmed = ahead.trimmed - self._trimmed, ahead.trimmed
            if self.frontend is not None:
                self.frontend.advance_reference(samples * CANCELLER_RATE // ahead.rate)
                self._update_echo_span()
        if ahead.underruns != self._underruns:
            self._underruns = ahead.underruns
            _LOGGER.debug("speaker ran dry (%d so far): the echo delay is measured again", ahead.underruns)
            self._echo_moved_later()

    def _echo_moved_later(self, *, stalled: bool = True) -> None:
        """The speaker ran dry: what follows plays later. The judge stops trusting the canceller, which
        waits, its filter kept, until the delay is measured again (satellite.aec.AudioFrontend.recheck).
        Also when nothing said so but the echo is the canceller's estimate heard later
        (satellite.estimate.LaterEcho): a card that played silence the write-ahead did not see."""
        if self.frontend is not None and self.frontend.cancels_echo and not self._restarted:  # (as _check_lag)
            if self.frontend.later_echo.shift:
                _LOGGER.debug("echo %d samples later than the canceller's estimate: measured again",
                              self.frontend.later_echo.shift)
            # Found later with nothing stalled (``stalled`` False): the judge's trust comes back at once if the
            # delay is measured unchanged (EchoJudge.suspend).
            self.guard.suspend(stalled=stalled or self.lag.lag > STALL_S)
            self.frontend.recheck(moved=True, behind_s=self.lag.lag)
            self._update_echo_span()

    def _log_echo(self) -> None:
        erle, frames = self.guard.take_reply_erle()
        if erle is not None:
            _LOGGER.info(
                "echo canceller erle_db=%.1f frames=%d trusted=%s span_ms=%.0f",
                erle,
                frames,
                self.guard.converged,
                self.guard.span_s * 1000,
            )

    def _slow_frame(self) -> None:
        busy = time.monotonic() - self.trace.read
        if busy > 0.015:
            _LOGGER.debug("slow frame: %.1f ms from the mic read to the frame processed", busy * 1000)
