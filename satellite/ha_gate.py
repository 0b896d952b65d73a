"""Which mic frames Home Assistant gets during a pause of a run our whisper ends (pure; used by
:mod:`.ha_turn`, ``--end-of-turn-uri``).

Home Assistant's detector (``assist_pipeline/vad.py`` ``VoiceCommandSegmenter``, HA 2026.2.3) ends
the question once it has counted 0.7 s of silence (its default), and it **adds the pauses up**: its
count is restored only after 1.0 s of uninterrupted speech. Of each pause our whisper has not
ended, Home Assistant hears ``keep_pause_seconds`` (more, ``finished_pause_seconds``, once our
whisper reads the speech before it as finished, so that Home Assistant's STT decodes it in the
pause) and, when speech resumes, ``preroll_seconds`` ahead of it; the rest is held back.

Those slices add up in Home Assistant's count, and it counts more than the pauses: its VAD
(MicroVad) scores the speech itself, late and unevenly. On the real rig (session 19,
``bench/ha_tap.py``) HA ended "Turn on the fan, ... in the bedroom" 0.22 s into "in the bedroom":
MicroVad gives nothing for its first 0.75 s of audio, so it heard "Turn on the fan" as under 0.5
and its command began only at the pause; the pause's 0.56 s we sent, then the resumed words scored
0.00, spent its 0.7 s. Session 17's gate kept an ESTIMATE of the count (the pause frames it sent),
which could not see either. So the gate now runs HA's own end of the command on exactly what it
sends (:class:`.ha_vad.HaVad`: MicroVad 1.0.1, HA's pin, and HA's segmenter logic) and sends no
more of a pause than keeps HA's silence count above ``0.7 - ha_silence_seconds`` (0.6 s with the
default 0.1: the rest is room for resumed words MicroVad scores as silence; looser limits cut
requests offline, bench/ha_count_offline.py, bench/results/s19_ha.md). Once
the count is that low a pause gets only ``MIN_PREROLL_SECONDS`` ahead of the speech.

A pause starts where the voice drops ``QUIET_DB`` below the turn's loudest frame, even while the
satellite's WebRTC VAD still calls the frames voiced: on the real rig it called the last ~0.12 s of
a word's quiet tail (below -40 dBFS) speech, which HA counts as silence.
"""

from __future__ import annotations

import math
from collections import deque
from typing import TYPE_CHECKING

from .echo import db_to_ratio, frame_rms
from .ha_vad import HaVad

if TYPE_CHECKING:
    from .ha_turn import EndOfTurnConfig

HA_SILENCE_SECONDS = 0.7  # HA's default "finished speaking detection" (the satellite cannot read HA's setting)
# HA's VadSensitivity.to_seconds, by the setting the satellite is told (--ha-finished-speaking)
HA_SECONDS = {"aggressive": 0.25, "default": HA_SILENCE_SECONDS, "relaxed": 1.25}

MIN_PREROLL_SECONDS = 0.06  # ahead of resumed speech even when HA's count is low (a soft onset)
QUIET_DB = 30.0  # a frame this far below the turn's loudest is a pause for the gate, voiced or not


class SilenceGate:
    """Which mic frames Home Assistant gets during a pause (pure). ``holding`` False: all of them.
    ``ha``: HA's end of the command, fed every frame the gate lets out (a MicroVad by default)."""

    def __init__(self, frame_seconds: float, config: EndOfTurnConfig, ha: HaVad | None = None) -> None:
        self.keep = round(config.keep_pause_seconds / frame_seconds)
        self.keep_finished = round(config.finished_pause_seconds / frame_seconds)
        self.preroll = round(config.preroll_seconds / frame_seconds)
        self.min_preroll = min(self.preroll, round(MIN_PREROLL_SECONDS / frame_seconds))
        seconds = HA_SECONDS[config.ha_sensitivity]
        # HA's count never goes under this (the margin scales with the count: 0.1 s of 0.7 is 0.036 s of 0.25)
        self.floor = seconds - config.ha_silence_seconds * seconds / HA_SILENCE_SECONDS
        self.held: deque[bytes] = deque(maxlen=max(1, round(config.max_held_seconds / frame_seconds)))
        self.frame_seconds = frame_seconds
        self.ha = ha if ha is not None else HaVad(seconds)
        self.holding = False
        self.silent = 0  # unvoiced frames in a row
        self.allowed = self.keep  # of this pause's frames, Home Assistant gets this many as they come
        self.sent = 0  # of this pause's frames, sent to Home Assistant (held ones released too)
        self.dropped = 0  # frames of held pauses never sent (the turn's total)
        self.peak = 0.0  # the turn's loudest frame so far (RMS)

    def heard(self, audio: bytes) -> None:
        """Audio Home Assistant got without the gate (the turn's pre-roll)."""
        self.ha.feed(audio)

    def _out(self, frames: list[bytes]) -> list[bytes]:
        """Frames Home Assistant gets: its VAD and count hear them too."""
        for frame in frames:
            self.ha.feed(frame)
        return frames

    def spare(self) -> int:
        """How many more frames of silence Home Assistant may get, its count staying above the floor
        (before its command begins it has counted nothing: its whole count is left)."""
        segmenter = self.ha.segmenter
        left = segmenter.silence_left if segmenter.in_command else segmenter.silence_seconds
        return max(0, math.floor((left - self.floor) / self.frame_seconds + 1e-9))

    def _loud(self, frame: bytes) -> bool:
        """Whether ``frame`` is within ``QUIET_DB`` of the turn's loudest frame (and the new loudest)."""
        rms = frame_rms(frame)
        self.peak = max(self.peak, rms)
        return rms > 0 and rms >= self.peak * db_to_ratio(-QUIET_DB)

    def feed(self, frame: bytes, voiced: bool) -> list[bytes]:
        voiced = voiced and self._loud(frame)
        if voiced:
            ahead = min(len(self.held), max(self.min_preroll, min(self.preroll, self.spare())))
            out = list(self.held)[len(self.held) - ahead :]
            self.dropped += len(self.held) - len(out)
            self.held.clear()
            self.silent = self.sent = 0
            self.allowed = self.keep
            return self._out([*out, frame])
        self.silent += 1
        if not self.holding:
            self.sent += 1
            return [*self.release(), *self._out([frame])]
        # as it comes, keeping room for the preroll a resumed voice gets at least
        if not self.held and self.sent < self.allowed and self.spare() > self.min_preroll:
            self.sent += 1
            return self._out([frame])
        if len(self.held) == self.held.maxlen:
            self.dropped += 1  # the oldest goes (it was silence)
        self.held.append(frame)
        return []

    def finished(self) -> list[bytes]:
        """The speech before this pause reads as a finished request: Home Assistant gets up to
        ``keep_finished`` frames of the pause (the held ones now, to send at once; the rest as
        they come), as far as its count allows. Nothing during speech (the verdict was on older audio)."""
        if self.silent == 0:
            return []
        self.allowed = max(self.allowed, self.keep_finished)
        # this pause's frames before the held ones were sent, or dropped when held too long
        count = max(0, min(len(self.held), self.allowed - (self.silent - len(self.held))))
        out: list[bytes] = []
        while len(out) < count and self.spare() > self.min_preroll:  # HA's count moves with each frame
            out += self._out([self.held.popleft()])
        self.sent += len(out)
        return out

    def release(self) -> list[bytes]:
        """Everything held, to send now (the turn ends, or holding stops)."""
        out = list(self.held)
        self.held.clear()
        return self._out(out)
