"""Which mic frames Home Assistant gets during a pause of a run our whisper ends (pure; used by
:mod:`.ha_turn`, ``--end-of-turn-uri``).

Home Assistant's detector (``assist_pipeline/vad.py`` ``VoiceCommandSegmenter``, HA 2026.2.3) ends
the question once it has counted 0.7 s of silence (its default), and it **adds the pauses up**: its
count is restored only after 1.0 s of uninterrupted speech. Of each pause our whisper has not
ended, Home Assistant hears ``keep_pause_seconds`` (more, ``finished_pause_seconds``, once our
whisper reads the speech before it as finished, so that Home Assistant's STT decodes it in the
pause) and, when speech resumes, ``preroll_seconds`` ahead of it; the rest is held back.

Those slices add up in Home Assistant's count: with 0.4 s + 0.15 s of each pause after words that
read finished, the second or third such pause of "Play some jazz ... in the kitchen ... at low
volume" would end the turn at Home Assistant while our whisper still waits. So the gate also keeps
an estimate of Home Assistant's count and sends no more of a pause than keeps it within
``ha_silence_seconds`` (0.6 s, under HA's default 0.7 s): it counts every frame of a pause it
sends (the preroll too), and forgets the count after ``HA_RESET_SECONDS`` of speech in a row, as
HA does. Once the estimate is spent a pause gets only ``MIN_PREROLL_SECONDS`` ahead of the speech.

A pause starts where the voice drops ``QUIET_DB`` below the turn's loudest frame, even while the
satellite's WebRTC VAD still calls the frames voiced: on the real rig it called the last ~0.12 s of
a word's quiet tail (below -40 dBFS) speech, and Home Assistant, which counted them as silence,
ended "Turn on the fan, ... in the bedroom" in its first 0.9 s pause (0.12 s of tail + 0.39 s +
the 0.15 s preroll + the onset; session 17, ``bench/results/ha_end_of_turn_s17.md``).
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from .echo import db_to_ratio, frame_rms

if TYPE_CHECKING:
    from .ha_turn import EndOfTurnConfig

HA_RESET_SECONDS = 1.0  # VoiceCommandSegmenter.reset_seconds: speech that restores its silence count
MIN_PREROLL_SECONDS = 0.06  # ahead of resumed speech even when the estimate is spent (a soft onset)
MIN_PAUSE_SECONDS = 0.12  # shorter quiet runs are dips inside speech: not counted
QUIET_DB = 30.0  # a frame this far below the turn's loudest is a pause for the gate, voiced or not


class SilenceGate:
    """Which mic frames Home Assistant gets during a pause (pure). ``holding`` False: all of them."""

    def __init__(self, frame_seconds: float, config: EndOfTurnConfig) -> None:
        self.keep = round(config.keep_pause_seconds / frame_seconds)
        self.keep_finished = round(config.finished_pause_seconds / frame_seconds)
        self.preroll = round(config.preroll_seconds / frame_seconds)
        self.budget = round(config.ha_silence_seconds / frame_seconds)
        self.min_preroll = min(self.preroll, round(MIN_PREROLL_SECONDS / frame_seconds))
        self.min_pause = max(1, round(MIN_PAUSE_SECONDS / frame_seconds))
        self.reset = round(HA_RESET_SECONDS / frame_seconds)
        self.held: deque[bytes] = deque(maxlen=max(1, round(config.max_held_seconds / frame_seconds)))
        self.frame_seconds = frame_seconds
        self.holding = False
        self.silent = 0  # unvoiced frames in a row
        self.voiced_run = 0  # voiced frames in a row
        self.allowed = self.keep  # of this pause's frames, Home Assistant gets this many as they come
        self.sent = 0  # of this pause's frames, sent to Home Assistant (held ones released too)
        self.counted = 0  # frames of silence Home Assistant has counted since its count was restored (estimate)
        self.dropped = 0  # frames of held pauses never sent (the turn's total)
        self.peak = 0.0  # the turn's loudest frame so far (RMS)
        self.spoken = False  # a voiced frame came: Home Assistant's count runs from here

    def _affordable(self) -> int:
        """How many more frames of this pause Home Assistant may get, keeping its count (with this
        pause's preroll still to come) within the budget."""
        return max(0, self.budget - self.counted - self.preroll - self.sent)

    def _loud(self, frame: bytes) -> bool:
        """Whether ``frame`` is within ``QUIET_DB`` of the turn's loudest frame (and the new loudest)."""
        rms = frame_rms(frame)
        self.peak = max(self.peak, rms)
        return rms > 0 and rms >= self.peak * db_to_ratio(-QUIET_DB)

    def feed(self, frame: bytes, voiced: bool) -> list[bytes]:
        voiced = voiced and self._loud(frame)
        if voiced:
            ahead = max(self.min_preroll, min(self.preroll, self.budget - self.counted - self.sent))
            out = list(self.held)[-ahead:] if ahead else []
            self.dropped += len(self.held) - len(out)
            self.held.clear()
            # a pause ends: Home Assistant counted what it got of it (not the silence before the question,
            # nor a dip inside a word: its VAD does not fall for 0.1 s, and counting them spent the estimate
            # within a long request, so its STT decoded only after audio-stop: +0.2-0.4 s on the rig)
            if self.spoken and self.silent >= self.min_pause:
                self.counted += self.sent + len(out)
            self.spoken = True
            self.silent = self.sent = 0
            self.allowed = self.keep
            self.voiced_run += 1
            if self.voiced_run >= self.reset:
                self.counted = 0
            return [*out, frame]
        self.silent += 1
        self.voiced_run = 0
        if not self.holding:
            self.sent += 1
            return [*self.release(), frame]
        if not self.held and self.sent < self.allowed and self._affordable() > 0:
            self.sent += 1
            return [frame]
        if len(self.held) == self.held.maxlen:
            self.dropped += 1  # the oldest goes (it was silence)
        self.held.append(frame)
        return []

    def finished(self) -> list[bytes]:
        """The speech before this pause reads as a finished request: Home Assistant gets up to
        ``keep_finished`` frames of the pause (the held ones now, to send at once; the rest as
        they come), as far as the budget allows. Nothing during speech (the verdict was on older audio)."""
        if self.silent == 0:
            return []
        self.allowed = max(self.allowed, self.keep_finished)
        # this pause's frames before the held ones were sent, or dropped when held too long
        count = max(0, min(len(self.held), self.allowed - (self.silent - len(self.held)), self._affordable()))
        self.sent += count
        return [self.held.popleft() for _ in range(count)]

    def release(self) -> list[bytes]:
        """Everything held, to send now (the turn ends, or holding stops)."""
        out = list(self.held)
        self.held.clear()
        return out
