"""How far ahead of the sound card the satellite writes: a reply starts into a nearly empty card.

Pure and synchronous (the clock is injected). The satellite hands its speaker one frame per mic
frame, silence while nothing plays, as a full-duplex card wants. Written as it comes, the card's
queue stays at whatever level the past left it: every stall of the satellite let the card run
dry, and the burst of frames that caught up raised the level for good, up to the whole buffer
(the room simulator's 100 ms card plus the pipes: "satellite has the reply -> first sound"
0.06-0.17 s in session 13's room runs). :class:`WriteAhead` keeps the card's stream unbroken and
its level near ``lead_s`` instead:

* **start** (the first write, and after the card was dropped): ``lead_s`` of silence in front.
* **idle** (nothing audible for ``hang_s`` plus what the card holds: the last sound and its echo
  are over): while the card holds at least ``lead_s`` plus a :attr:`unit` when a frame comes,
  whole units of the silent frame are left out. The card plays everything after that exactly that
  many samples sooner; :attr:`trimmed` counts them, and the echo canceller's reference delay is
  shortened by as much (``satellite.aec.AudioFrontend.advance_reference``): sample-exact, the
  filter stays right. A unit is the shortest time that is a whole number of samples both at the
  speaker's rate and at the canceller's 16 kHz (22050 Hz: 441 samples, 20 ms; 48000 Hz: 3), so
  the level settles in ``[lead_s, lead_s + unit)``.
* **otherwise** every frame is written as it comes: within and between sounds the card plays
  one unbroken stream, so the echo delay the canceller measured stays true to the sample.
* **a reader that starts late** (``waits_for_reader``: a sound command just (re)started reads its
  pipe only once its program has loaded, 27-58 ms later for the room's Python player): until the
  sink calls :meth:`reader_started` nothing written counts as played, so the level is everything
  written since the start, and the idle trim gives the excess back. Counted from the first write
  instead, that start-up stayed in the card as a lead the estimate did not know (session 25: a
  20 ms lead played 48 ms after the write in room_bench, all ten replies; the player read its first
  bytes 27.5 ms after the satellite wrote them).
* **ran dry** (the satellite stalled longer than the card's level): the card played silence in
  between, and what follows plays later by about the stall's excess. Counted in
  :attr:`underruns` and logged; the satellite measures the echo delay again. When it ran dry in a
  sound or its ``hang_s`` after, the lead is raised to ``LEAD_AFTER_DRY_MS`` for ``DRY_HOLD_S``:
  nothing is inserted (the frames that queued up in the mic during the stall are written at once and
  refill the card), the idle trim just stops there. Dry while idle, once, it is not: only a second
  idle underrun within ``DRY_HOLD_S`` raises it (``raise_when_idle`` raises at the first, as before
  session 31). On a quiet box most underruns are single ones while idle; the reply after one
  started at 40 ms in 38 of 108 of sessions 28-30's quiet room turns
  (sat->speaker 0.068 s p50 against 0.053 at 20 ms). Replayed (``bench/write_ahead_probe.py`` with and
  without ``--raise-when-idle``): sessions 28-30's 32 quiet taps, underruns in sounds 48 -> 49, the
  start level p95 of session 30's rt-h2 0.056 -> 0.036 s; two room_turns taps at load 5-8 (~60
  underruns each), the same 27 in sounds.

Where a reply's first sound waits (session 23's quiet room, 0.077 s p50 from the first reply audio
in to the first sound): the card's level when that frame is written, ``[lead_s, lead_s + unit)``,
plus the wait for the next mic tick (0-30 ms), plus the room's 10 ms block. Writing the first reply
audio at once instead of at the next tick would not play it sooner: at every tick the card is
handed the tick's frame, so between ticks it already holds silence up to the next tick plus its
level, and written audio cannot be taken back (only the whole card dropped: a restart, a new echo
path). What plays it sooner is a smaller lead (written audio arrives earlier only as the level is
lower), so the default lead is 20 ms, kept 40 ms after a stall ran the card dry in a sound.

Why not stop writing while idle (session 14's version): each sound then started a drained card
afresh, at ``lead_s`` after the tick it came in, and that anchor is never sample-exact (the room
at 22050 Hz and 30 ms frames: one sample later on every other start, 45 us; a real card restarts
at its own period boundary). Each reply moved the echo by a fraction of a sample to some
milliseconds, too little to measure, enough to cost speex ~10 dB until it re-adapted: 0 dB echo,
lead 40 ms, ERLE later p50 21.4 dB (live) vs 31.3 dB written always. The lead's tapped run,
replayed with the reference the room really played: 35.2 dB; with only the sub-sample moves
between replies: 23.0 dB; with only the two stall moves: 31.5 dB (2026-12-02, run r0).

The level is estimated from what was written and the time since (never below zero: a card that
ran dry plays silence and goes on when data comes). A real card: the stream never stops, so no
underrun while idle (``aplay --buffer-time=100000`` as before, no ``--start-delay`` needed);
PortAudio the same. The card's own clock may drift from the monotonic one by ~100 ppm: over a
long idle stretch the estimate drifts, the trimming stops at ``lead_s`` of it, and the first
underrun (counted) resets it.
"""

from __future__ import annotations

import logging
import math

from voice_runtime.clock import Clock, MonotonicClock

_LOGGER = logging.getLogger(__name__)
LEAD_MS = 20  # what the card holds when a sound starts: margin against the satellite's jitter
# The satellite's default since session 24 (40 ms from session 15; -1: every frame written as it comes). Each
# ms of it is a ms between the reply's first audio in and its first sound (session 23: that step 0.077 s
# p50 quiet, 40 ms of it the lead). Raised to ``LEAD_AFTER_DRY_MS`` for ``DRY_HOLD_S`` after the card ran
# dry (a stall longer than what it held): a box that stalls keeps session 15's margin. Session 15's
# choice of 40 ms (one run each, 0 dB, in session 14's version with no silence while idle: off 0/20
# false holds, ERLE p50 31.3 dB; 40 ms 3/20, 21.4 dB; this version 2026-12-02 21:38-22:01: 40 ms 0/20,
# 33.5 dB; off 0/20, 33.9 dB) compared off and 40 ms, not smaller leads. Off with --snd-lead-ms -1.
DEFAULT_LEAD_MS = float(LEAD_MS)
LEAD_AFTER_DRY_MS = 40.0  # the lead (at least) after the card ran dry, for ...
DRY_HOLD_S = 30.0  # ... this long after the last time it did. Replayed over four taps of session 24
# (bench/write_ahead_probe.py, s24_fast.md): 120 s kept a quiet-ish run's lead at 40 ms for the whole run
# after one 20 ms stall; 30 s gave back most of the 20 ms at +1 underrun or none.
HANG_MS = 500  # silence after a sound before its stream is trimmed (the echo's tail is over)
CANCELLER_RATE = 16000  # the echo canceller's rate: a trim is a whole number of its samples too
# Written this close to the card's estimated end, or later: it ran dry, or may have (the estimate is
# off by a ms or two: session 16's room ran its card dry by one sample unseen, the canceller trusted on a
# path one sample off). Counted as an underrun: the satellite measures the echo delay again and the lead
# is raised. Was 2 ms past the end; with the 40 ms lead the satellite's stall check (35 ms,
# satellite.speaker_path.STALL_S) rechecked those anyway, with 20 ms it does not.
_DRY_S = -0.005
READER_START_MAX_S = 1.0  # a reader not reported started after this is taken as started (the old count)


def trim_unit(rate: int) -> int:
    """The fewest samples at ``rate`` that are also a whole number of samples at 16 kHz."""
    return rate // math.gcd(rate, CANCELLER_RATE)


class WriteAhead:
    def __init__(
        self,
        rate: int,
        *,
        lead_ms: float = LEAD_MS,
        hang_ms: float = HANG_MS,
        clock: Clock | None = None,
        lead_after_dry_ms: float = LEAD_AFTER_DRY_MS,
        dry_hold_s: float = DRY_HOLD_S,
        waits_for_reader: bool = False,
        raise_when_idle: bool = False,
    ) -> None:
        self.rate = rate
        self.raise_when_idle = raise_when_idle  # the first idle underrun raises the lead too (off)
        self.waits_for_reader = waits_for_reader  # the sink calls reader_started() after each start
        self._lead = lead_ms / 1000.0
        self._lead_after_dry = max(self._lead, lead_after_dry_ms / 1000.0)
        self.dry_hold_s = dry_hold_s
        self._dry_at = float("-inf")  # when the card last ran dry (the lead raised)
        self._idle_dry_at = float("-inf")  # when it last ran dry while idle
        self._lead_now = self._lead  # the lead of the last frame (its changes are logged)
        self.hang_s = hang_ms / 1000.0
        self.clock = clock or MonotonicClock()
        self.unit = trim_unit(rate)
        self.trimmed = 0  # samples (at ``rate``) of idle silence left out: the card plays that much sooner
        self.underruns = 0  # the card ran dry (a stall longer than its level): the echo moved later
        self._fresh = True  # nothing written since the card was opened or dropped
        self._level = 0.0  # seconds of audio the card is estimated to hold
        self._at = self.clock.now()
        self._quiet = 0.0  # seconds of silence handed over since the last audible frame
        self._unread_since: float | None = None  # first write of a start whose reader has not read yet

    @property
    def lead_s(self) -> float:
        """What the card is kept at while idle and holds when a sound starts (< 0: off): the lead, or
        ``lead_after_dry_ms`` for ``dry_hold_s`` after the card last ran dry."""
        if self._lead < 0 or self.clock.now() - self._dry_at >= self.dry_hold_s:
            return self._lead
        return self._lead_after_dry

    @property
    def level_s(self) -> float:
        """Seconds of audio the card is estimated to hold now."""
        if self._unread_since is not None:
            return self._level  # its reader has not read yet: nothing has played
        return max(0.0, self._level - (self.clock.now() - self._at))

    def plan(self, pcm: bytes) -> bytes | None:
        """What to write for this frame (16-bit mono): the frame; ``lead_s`` of silence and the
        frame (a start); part of a silent frame (idle, the card holds more than the lead); or
        None (idle: the whole silent frame left out)."""
        if self._lead < 0:
            return pcm  # off: every frame as it comes
        now = self.clock.now()
        if self._unread_since is not None:
            if now - self._unread_since < READER_START_MAX_S:
                self._at = now  # nothing has been read yet: the card plays nothing, it holds all that was written
            else:
                self.reader_started()
        elapsed = now - self._at
        if not self._fresh and elapsed > self._level + _DRY_S:
            self.underruns += 1
            idle = self._quiet > self.hang_s
            if self.raise_when_idle or not idle or now - self._idle_dry_at < self.dry_hold_s:
                self._dry_at = now  # the lead is raised (its catch-up burst refills the card: not trimmed below it)
            if idle:
                self._idle_dry_at = now
            _LOGGER.debug(
                "speaker ran dry (or nearly): %.1f ms past its estimated end (underrun %d)",
                (elapsed - self._level) * 1000,
                self.underruns,
            )
        self._level = max(0.0, self._level - elapsed)
        self._at = now
        if (lead := self.lead_s) != self._lead_now:
            why = "it ran dry" if lead > self._lead_now else f"{self.dry_hold_s:.0f} s without running dry"
            _LOGGER.info("speaker lead %.0f -> %.0f ms (%s)", self._lead_now * 1000, lead * 1000, why)
            self._lead_now = lead
        seconds = len(pcm) / (2 * self.rate)
        out = pcm
        if self._fresh:
            self._fresh = False
            out = bytes(round(self.lead_s * self.rate) * 2) + pcm
            if self.waits_for_reader:
                self._unread_since = now
        elif not pcm.strip(b"\0"):
            self._quiet += seconds
            if self._quiet > self.hang_s + self._level:
                out = self._trim(pcm)
        else:
            self._quiet = 0.0
        self._level += len(out) / (2 * self.rate)
        return out or None

    def _trim(self, pcm: bytes) -> bytes:
        """The silent frame less the whole units the card holds beyond the lead."""
        samples = len(pcm) // 2  # the card holds ``_level`` before this frame: keep it at the lead
        units = min(samples // self.unit, math.floor((self._level - self.lead_s) * self.rate / self.unit + 1e-9))
        if units <= 0:
            return pcm
        cut = units * self.unit
        self.trimmed += cut
        _LOGGER.debug(
            "speaker idle: %.1f ms of silence left out (%.1f ms held), it plays that much sooner",
            cut * 1000 / self.rate,
            self._level * 1000,
        )
        return pcm[cut * 2 :]

    @property
    def awaiting_reader(self) -> bool:
        """Written since a start, and the sink has not yet seen its reader read (``waits_for_reader``)."""
        return self._unread_since is not None

    def reader_started(self) -> None:
        """The sink saw its reader take the first bytes since the start: the card plays from now on.
        Until then the level did not drain, so it holds everything written since the start."""
        if self._unread_since is None:
            return
        now = self.clock.now()
        _LOGGER.debug(
            "speaker reader started %.1f ms after the first write: %.1f ms held",
            (now - self._unread_since) * 1000,
            self._level * 1000,
        )
        self._unread_since = None
        self._at = now  # the level as at the last write: nothing has drained it since the start

    def dropped(self) -> None:
        """The card's queue was thrown away (a barge-in killed the sound command, the command
        exited): the next write starts afresh with the lead (the satellite measures the echo path
        again after a restart anyway)."""
        self._fresh = True
        self._unread_since = None
        self._level = 0.0
        self._quiet = 0.0
        self._at = self.clock.now()
