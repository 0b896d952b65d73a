"""The echo judge right after a hold killed the speaker: the canceller subtracts an echo that never came.

Pure and synchronous; used by :class:`satellite.echojudge.EchoJudge`. A hold (or a stop) kills the
sound command, so what it still held never sounds. The canceller is told to forget only what the
satellite's write-ahead still held (``AudioFrontend.speaker_dropped``: its level, 40-60 ms), but the
sound command held more (the bulk delay is ~120 ms in the room), so for a few frames, once the last
echo that did play has come, it subtracts the echo of audio that never played: its output is louder
than the mic (``added``), a negated copy of its estimate. The judge took such a frame for the path
moving: it stopped trusting the canceller (``misaligned``, a suspend) 2-3 frames into the hold, and
the user's word went on unheard. Over a continuation hold that is a lost word: the room, session 21,
cont-10 "please" and cont-22 "now" (and the lead's three "now" after "What time is it?"),
``frames=vvv.....``: three voiced frames, then quiet to the judge, the hold lapsed and the reply
resumed. The tap of session 21's run 2 replayed with the live write-ahead's 40-60 ms forgotten gives
those very frames (suspended on the third frame of the hold, ``estimate_corr`` -0.75..-0.8).

So for the echo's span after a kill (:meth:`killed` until :meth:`replayed` or ``span_s``):

* a frame the canceller made louder is no sign of a moved path (the judge does not suspend);
* its cleaned level is no evidence: the raw mic decides. The user is there if the raw gate says so,
  or if the frame before was the user's and the raw mic is within ``_GOES_ON_DB`` of it: the user's
  voice going on at its level, while what echo truly came ends with the sound (its reverberation
  falls away: ~9 dB a frame in the room's 0.2 s). An echo that held the reply by mistake has its last
  frames before the phantom ones: they are not the user's, so it does not go on through them;
* within the going-on window (:mod:`satellite.going_on`: right after the question's end, where a continuation
  hold follows) the user's voice is also followed down to the user's level (``at_level``: within 6 dB under the
  question's), however fast it falls: a word's soft end ("-ease" of "please") fell 7-10 dB in one frame after
  its vowel (the room, session 30: cont-01 -24.5 -> -31.8 dBFS, held-55 -22.6 -> -32.7), was let go at the fall,
  and the hold lapsed at 3-4 voiced frames (``frames=vvv.......``): the word lost. An echo that held the reply by
  mistake is followed as before through the echo in flight, and then only while it is as loud as the user;
* no ERLE and nothing learned from it;
* the satellite streams (and its VAD hears) the raw mic for it, not the canceller's output: that is the
  negated echo of the reply's next words, louder than a far user's word it lands in (cont-10: the mic
  at -25.6 dBFS, the output at -21.1), which went to whisper with the trailing word.
"""

from __future__ import annotations

import math

from .echo import db_to_ratio

_GOES_ON_DB = 6.0  # the raw mic this close to the user's frame before it: the user's voice going on


class KilledEcho:
    """Per frame: :meth:`step` first, then :meth:`verdict` (within the span after a kill) or :meth:`judged`."""

    def __init__(self, frame_seconds: float) -> None:
        self._frame_seconds = frame_seconds
        self._since: int | None = None  # frames since the kill (None: not within the echo's span of one)
        self._user_mic = 0.0  # the raw mic of the user's last frame the gates let through (0: the last was not)
        self.last = False  # the last frame was a phantom: the satellite streams (the VAD hears) the raw mic

    def killed(self) -> None:
        self._since = 0

    def replayed(self) -> None:
        """The speaker plays again (or the path is unknown): a frame made louder is evidence again."""
        self._since = None

    def step(self, span_s: float) -> None:
        self.last = False
        if self._since is not None:
            self._since += 1
            if self._since > math.ceil(span_s / self._frame_seconds) + 1:
                self._since = None

    @property
    def active(self) -> bool:
        """Within the echo's span after a kill, the speaker silent since."""
        return self._since is not None

    def phantom(self, added: bool) -> bool:
        """Is this frame the canceller subtracting the echo of audio that never played?"""
        self.last = added and self._since is not None
        return self.last

    def verdict(self, mic: float, by_gates: bool, at_level: bool = False) -> bool:
        """Within the span: the user's if the gates say so, or if the user's voice goes on (the raw mic
        within ``_GOES_ON_DB`` of the user's last frame the gates let through, or ``at_level``: at the user's
        level in the going-on window; every frame since the user's)."""
        if by_gates:
            self._user_mic = mic
            return True
        if self._user_mic > 0 and (at_level or mic >= self._user_mic * db_to_ratio(-_GOES_ON_DB)):
            return True
        self._user_mic = 0.0
        return False

    def judged(self, mic: float, user: bool) -> None:
        """Any other frame's verdict (the user's frame before a kill is where the voice is followed from)."""
        self._user_mic = mic if user else 0.0
