"""How far ahead of the sound card the satellite writes: a reply starts into a nearly empty card.

Pure and synchronous (the clock is injected). The satellite hands its speaker one frame per mic
frame. Written always (silence while idle, as a full-duplex card wants), the card's queue stays
at whatever level the past left it: every stall of the satellite let the card run dry, and the
burst of frames that caught up raised the level for good, up to the whole buffer (the room
simulator's 100 ms card plus the pipes: "satellite has the reply -> first sound" 0.06-0.17 s in
session 13's room runs). :class:`WriteAhead` decides per frame instead:

* **idle** (nothing audible for ``hang_s``): silent frames are not written. The card drains and
  plays silence of its own (an underrun on a real ALSA card: see below).
* **a sound starts** (the first audible frame after idle): ``lead_s`` of silence is written in
  front of it, less what the card is estimated to hold still, so the sound plays ``lead_s`` after
  the tick it was handed over in, every time: the echo canceller's reference delay is the same
  reply after reply (it is measured once; the playback is its reference, frame by frame).
* **streaming** (a sound, and up to ``hang_s`` of silence after it): every frame is written, as
  before; the level stays at ``lead_s`` (a stall that outlasts it is an underrun: the frames that
  catch up raise the level until the next idle stretch, as before).
* **realigned**: a start after a stream that slipped (the card ran dry, a frame was dropped)
  puts the echo back at ``lead_s`` while the canceller had re-measured the slipped delay; the
  satellite then measures it again (:attr:`WriteAhead.realigned`; the room at -6 dB: both false
  holds of 20 echo-only replies came 0.5 s into the reply after such a slip, the canceller 10 ms
  off, before this was done).

The level is estimated from what was written and the time since (never below zero: a card
that ran dry plays silence and starts again when data comes). It is only trusted for the pad
in front of a new sound; the card's own clock may drift from the monotonic one by ~100 ppm,
which over a reply (seconds) is well under a millisecond, and every idle stretch starts afresh.

A real card: with ``aplay`` an idle stretch is an underrun ("underrun!!!" on its stderr; it
prepares the device again and restarts at its start threshold, by default a full buffer: with
``--buffer-time=100000`` a sound then starts ~100 ms after it was written, as it did before;
``--start-delay=20000`` starts it at 20 ms). The last thing written before an underrun is
``hang_s`` of silence, so the card stops on zeros: no click. PortAudio (ALSA) recovers from an
output underflow on the next write by itself. Within a reply nothing changes for the card.
"""

from __future__ import annotations

from voice_runtime.clock import Clock, MonotonicClock

LEAD_MS = 40  # what the card holds when a sound starts: margin against the satellite's jitter
# The satellite's default: off (-1, silence written all the time). In the room at 0 dB echo the
# write-ahead cost ~9 dB of ERLE and brought false holds back (lead 2026-12-02, one run each, same
# hour, load 0.6-1.2: off 0/20 false holds, ERLE p50 31.3 dB; 40 ms 3/20, 21.4 dB; 80 ms 1/20,
# 22.8 dB) for ~0.06 s less to first sound; opt in with --snd-lead-ms 40.
DEFAULT_LEAD_MS = -1.0
HANG_MS = 500  # silence still written after a sound (pauses within a reply keep the card running)
_DRY_S = 0.002  # written this much later than the card's estimated level: it ran dry


class WriteAhead:
    def __init__(
        self, rate: int, *, lead_ms: float = LEAD_MS, hang_ms: float = HANG_MS, clock: Clock | None = None
    ) -> None:
        self.rate = rate
        self.lead_s = lead_ms / 1000.0
        self.hang_s = hang_ms / 1000.0
        self.clock = clock or MonotonicClock()
        self.streaming = False
        self.starts = 0  # sounds started into an idle card
        # Starts that put the echo path back where it was anchored after the stream before had
        # slipped (the card ran dry, a frame was dropped): the echo delay the canceller had
        # re-measured then is wrong again from this start on.
        self.realigned = 0
        self._slipped = False
        self._level = 0.0  # seconds of audio the card is estimated to hold
        self._at = self.clock.now()
        self._quiet = 0.0  # seconds of silence handed over since the last audible frame

    @property
    def level_s(self) -> float:
        """Seconds of audio the card is estimated to hold now."""
        return max(0.0, self._level - (self.clock.now() - self._at))

    def plan(self, pcm: bytes) -> bytes | None:
        """What to write for this frame (16-bit mono): the frame, the frame with silence in front
        (a sound starts), or None (idle: nothing)."""
        if self.lead_s < 0:
            return pcm  # off: every frame is written, silence too (the full-duplex way)
        now = self.clock.now()
        if self.streaming and now - self._at > self._level + _DRY_S:
            self._slipped = True  # the card ran dry: what plays from now on is later than anchored
        self._level = max(0.0, self._level - (now - self._at))
        self._at = now
        seconds = len(pcm) / (2 * self.rate)
        if not pcm.strip(b"\0"):
            self._quiet += seconds
            if not self.streaming:
                return None
            if self._quiet > self.hang_s:
                self.streaming = False  # the card drains on the silence already written
                return None
            self._level += seconds
            return pcm
        self._quiet = 0.0
        if self.streaming:
            self._level += seconds
            return pcm
        self.streaming = True
        self.starts += 1
        if self._slipped:
            self._slipped = False
            self.realigned += 1
        pad = max(0, round((self.lead_s - self._level) * self.rate)) * 2
        self._level += pad / (2 * self.rate) + seconds
        return bytes(pad) + pcm

    def slipped(self) -> None:
        """A frame of the stream was not written (the sink dropped it): the stream moved."""
        if self.streaming:
            self._slipped = True

    def dropped(self) -> None:
        """The card's queue was thrown away (a barge-in killed the sound command; the satellite
        measures the echo path afresh after that anyway)."""
        self.streaming = False
        self._slipped = False
        self._level = 0.0
        self._at = self.clock.now()
