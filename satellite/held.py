"""Speech over a held reply: a barge-in, the rest of the question, or nothing (a cough).

A mixin of :class:`satellite.core.Satellite` (kept apart so each file stays small). When the
user is heard over a reply or an announcement it is held at once (``satellite.state.HELD``);
each mic frame then decides what the speech is. What it takes is set when the hold begins,
by the kind of hold (:data:`KINDS`), and what confirms each kind is :data:`MINIMUM`:

=================  ======================================================  =====================
hold               when it begins                                          confirmed after
=================  ======================================================  =====================
``CONTINUATION``   over a reply of a local turn, at most ``continuation_   ``continuation_min_
                   hold_seconds`` (1.4 s) of mic time after the question   seconds`` of voice,
                   ended (the satellite's ``audio-stop``, whoever found    reached within that
                   the end), under ``continuation_max_heard_seconds``      window (held time
                   (0.95 s) of the reply played, and a controller that     counts); past it a
                   joins such speech                                       barge-in's
                   to the question (our orchestrator; not Home
                   Assistant, whose runs send ``transcribe``)
``BARGE_IN``       any other hold of a reply                               ``barge_in_min_
                                                                           seconds`` (0.4 s)
``ANNOUNCEMENT``   an announcement held                                    ``barge_in_min_
                                                                           seconds``
=================  ======================================================  =====================

Why: a request with a pause after a word that can end it ("Lock the front door ... please")
is ended at the pause; the reply starts and the user's last word, shorter than a barge-in's
0.4 s, was taken for a cough: the reply resumed and the word was lost (the room, session 18,
held-55 in 1 of 2 runs). Right after the end of the question the user going on is far likelier
than a cough, and the orchestrator joins the new turn to the question
(``orchestrator/continuation.py``: within 1.5 s of its end, under 1.0 s of the reply played before
the hold, which the ``run-pipeline`` tells it: ``reply_played``),
so a short word there starts the turn. Only voice the echo judge lets through counts (the VAD
hears the rest as silence); but echo it does let through at a reply's start (a false hold) now
needs only ``continuation_min_seconds`` of it to cancel the reply, so the price is measured
in the room (``bench/results/s19_cont.md``). Later in a reply, or with Home Assistant (which
would answer "please" on its own), the barge-in rule stands.

The verdict, once per held frame: the speech lasted the kind's minimum (``BARGE_IN_CONFIRMED``,
or ``CONTINUED`` for a continuation); or, in a continuation hold, the speech went quiet for
``continuation_lapse_seconds`` short of its minimum (``SPEECH_LAPSED``: the reply resumes at
once, the VAD restarted; a word that goes on with the question is voiced without such a gap,
the question's own tail or the noise the controller's early end left the VAD in is not: session
19's held-60 waited 0.6 s for the VAD's end of 4 voiced frames, a stutter at the reply's start);
or the VAD is not in speech and the onset was not confirmed in ``onset_confirm_ms`` (or the
reply ran out): ``ONSET_LAPSED``; else nothing yet.
"""

from __future__ import annotations

import logging
import math
from enum import StrEnum
from typing import TYPE_CHECKING

from .echojudge import EchoJudge
from .going_on import voice_level
from .playback import Playback
from .state import TurnMachine, TurnState, TurnTrigger
from .vad import RATE, SpeechDetector

if TYPE_CHECKING:
    from .config import SatelliteConfig

_LOGGER = logging.getLogger("satellite.core")
# run-pipeline's data: the reply played before the hold the new turn's speech came over (seconds; read by
# orchestrator.continuation.reply_played: the same name)
REPLY_PLAYED = "reply_played"
_PATTERN_FRAMES = 64  # the held frames' verdicts logged at most (the room's logs: how words and echo look)
_LEVEL_SECONDS = 3.0  # the question's voice level is taken over its last seconds (satellite.going_on)


class HoldKind(StrEnum):
    CONTINUATION = "continuation"  # the user going on right after the end of the question
    BARGE_IN = "barge-in"
    ANNOUNCEMENT = "announcement"


# (held state, the question's end is recent and the controller joins what follows) -> the kind of hold
KINDS: dict[tuple[TurnState, bool], HoldKind] = {
    (TurnState.BARGE_IN, True): HoldKind.CONTINUATION,
    (TurnState.BARGE_IN, False): HoldKind.BARGE_IN,
    (TurnState.ANNOUNCE_BARGE_IN, True): HoldKind.ANNOUNCEMENT,
    (TurnState.ANNOUNCE_BARGE_IN, False): HoldKind.ANNOUNCEMENT,
}

# kind -> (the SatelliteConfig field with the voiced seconds that confirm it, the trigger then)
MINIMUM: dict[HoldKind, tuple[str, TurnTrigger]] = {
    HoldKind.CONTINUATION: ("continuation_min_seconds", TurnTrigger.CONTINUED),
    HoldKind.BARGE_IN: ("barge_in_min_seconds", TurnTrigger.BARGE_IN_CONFIRMED),
    HoldKind.ANNOUNCEMENT: ("barge_in_min_seconds", TurnTrigger.BARGE_IN_CONFIRMED),
}


class HeldSpeech:
    config: SatelliteConfig
    machine: TurnMachine
    playback: Playback
    detector: SpeechDetector
    guard: EchoJudge
    turns: int
    _utterance: bytearray  # the question's audio as streamed (core.py)
    _route: str | None  # "local": the controller's turn
    _mic_ms: float
    _held_ms: float  # mic time the reply was last held (core.py)
    _stt_turn: int  # the turn Home Assistant's run announced its speech-to-text stage for
    _ended_ms: float = -math.inf  # mic time the question ended (audio-stop: the controller's end or the VAD's)
    _reply_from: int = 0  # the playback's played reply bytes when the reply began (controller_events.py)
    _hold_kind: HoldKind = HoldKind.BARGE_IN
    _held_voiced: int = 0  # the most voiced frames the speech over the current hold reached
    _held_frames: str = ""  # the VAD's verdicts over the current hold ("v" voiced, "." not; logged, bounded)
    _held_quiet: int = 0  # unvoiced frames in a row over the current hold
    _hold_began_ms: float = 0.0  # mic time the current hold began
    _hold_after: float = 0.0  # seconds from the question's end to the hold
    _hold_heard: float = 0.0  # seconds of the reply played when the hold began

    def _hold_begins(self) -> None:
        """The reply (or an announcement) is being held: what will confirm the speech over it."""
        heard = (self.playback.played_reply_bytes - self._reply_from) / (2 * self.playback.rate)
        after = (self._mic_ms - self._ended_ms) / 1000
        config = self.config
        recent = (after <= config.continuation_hold_seconds and heard < config.continuation_max_heard_seconds
                  and self._route == "local" and self._stt_turn != self.turns and config.continuation_min_seconds > 0)
        self._hold_kind = KINDS.get((self.machine.state, recent), HoldKind.BARGE_IN)
        self._held_voiced = 0
        self._held_frames = ""
        self._held_quiet = 0
        self._hold_began_ms, self._hold_after, self._hold_heard = self._mic_ms, after, heard
        _LOGGER.info("hold (%s): %.2fs after the end of the question, %.2fs of the reply heard",
                     self._hold_kind.value, after, heard)

    def _question_ended(self) -> None:
        """The question's end (``audio-stop``): over the reply's first moments a frame at the user's voice
        level, louder than the echo the playback predicts, is the user going on (satellite.going_on), however
        unproven the canceller; only where a continuation hold could follow (as in :meth:`_hold_begins`)."""
        config = self.config
        if self._route != "local" or self._stt_turn == self.turns or config.continuation_min_seconds <= 0:
            self.guard.going_on.stop()
            return
        tail = bytes(self._utterance[-round(_LEVEL_SECONDS * RATE) * 2 :])  # (16-bit mono)
        self.guard.going_on.expect(voice_level(tail, self.detector.config.frame_bytes),
                                   config.continuation_hold_seconds, config.continuation_max_heard_seconds)

    def _continuation_expires(self) -> None:
        """A continuation is confirmed only while the controller would still join it: its clock of the
        time since the question's end runs on while the reply is held, so that window holds up to the
        confirmation, not only at the hold's start. Past it the hold is a barge-in's. The reply heard is
        not such a clock: the ``run-pipeline`` tells our orchestrator the reply played before the hold
        (:meth:`_played_before_hold`), the held time is not heard. Before (session 20) it counted too,
        the orchestrator's 1.0 s running on while the reply was held: the room, 19:58, cont-01's far
        "please" held at 0.87 s of the reply reached the 6 voiced frames of a continuation 0.1 s later,
        a barge-in's by then, and was lost."""
        if self._hold_kind is not HoldKind.CONTINUATION:
            return
        held = (self._mic_ms - self._hold_began_ms) / 1000
        config = self.config
        if self._hold_after + held > config.continuation_hold_seconds:
            self._hold_kind = HoldKind.BARGE_IN
            _LOGGER.info("hold (continuation) now a barge-in's: not confirmed by %.2fs of the reply, %.2fs after "
                         "the end of the question", self._hold_heard + held, self._hold_after + held)

    def _played_before_hold(self) -> float | None:
        """Seconds of the reply played before the hold whose speech starts the turn now starting (the
        speech confirmed over it), for the ``run-pipeline`` (``reply_played``: our orchestrator joins it
        to the question only over the reply's first second, counted so); None for any other turn."""
        history = self.machine.history
        if not history or history[-1][0] is not TurnState.BARGE_IN or history[-1][1] not in (
                TurnTrigger.CONTINUED, TurnTrigger.BARGE_IN_CONFIRMED):
            return None
        return round(self._hold_heard, 3)

    def _minimum(self) -> tuple[float, int, TurnTrigger]:
        """The current hold's minimum of voice: seconds, frames, and the trigger once it is reached."""
        field, trigger = MINIMUM[self._hold_kind]
        minimum = float(getattr(self.config, field))
        return minimum, max(1, math.ceil(minimum / self.detector.config.frame_seconds - 1e-6)), trigger

    def _hold_ends(self) -> None:
        """The held reply plays on: how close the speech over it came to its minimum (the price of a
        lower one is read off these lines in the room's logs)."""
        minimum, frames, _ = self._minimum()
        _LOGGER.info("hold (%s) over: %d voiced frames heard, %d confirm it (%.2fs) frames=%s",
                     self._hold_kind.value, self._held_voiced, frames, minimum, self._held_frames)

    def _lapsed(self) -> bool:
        """A continuation hold's speech went quiet (``continuation_lapse_seconds``) short of its minimum.
        A word that goes on with the question is voiced without such a gap; the question's own tail
        or a noise the controller's early end left the VAD in (session 19, held-60: 4 frames) is not,
        and the VAD's end of that speech (0.6 s of silence) was a 0.6 s stutter at the reply's start."""
        lapse = self.config.continuation_lapse_seconds
        if self._hold_kind is not HoldKind.CONTINUATION or lapse <= 0 or not self.detector.in_speech:
            return False
        return self._held_quiet >= max(1, math.ceil(lapse / self.detector.config.frame_seconds - 1e-6))

    def _held_verdict(self) -> TurnTrigger | None:
        """Once per mic frame while held: what the speech over the reply has become (None: not yet)."""
        self._continuation_expires()
        minimum, frames, trigger = self._minimum()
        self._held_voiced = max(self._held_voiced, self.detector.voiced_frames)
        if len(self._held_frames) < _PATTERN_FRAMES:
            self._held_frames += "v" if self.detector.voiced else "."
        self._held_quiet = 0 if self.detector.voiced else self._held_quiet + 1
        if self.detector.in_speech and self.detector.voiced_frames >= frames:
            # (one wording for both: bench/room_bench.py counts "barge-in after" as the reply cut by speech)
            _LOGGER.info("barge-in after %.2fs of speech%s frames=%s", self.detector.voiced_seconds,
                         " (a continuation)" if trigger is TurnTrigger.CONTINUED else "", self._held_frames)
            return trigger
        if self._lapsed():
            _LOGGER.info("speech over the hold went quiet after %d voiced frames: not the user going on; "
                         "the reply resumes", self.detector.voiced_frames)
            self.detector.restart()  # speech from now on is new (a new hold)
            return TurnTrigger.SPEECH_LAPSED
        if not self.detector.in_speech and (
                self._mic_ms - self._held_ms >= self.config.echo.onset_confirm_ms or not self.playback.has_reply):
            _LOGGER.info("onset not confirmed as speech: the reply resumes")
            return TurnTrigger.ONSET_LAPSED
        return None
