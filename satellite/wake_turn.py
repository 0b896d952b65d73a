"""Wake-word turns of the satellite: only the wake word starts a turn or interrupts a reply.

While a timer's alarm rings, speech ("stop"; the satellite cannot tell the word from others)
silences it without the wake word and starts no turn; the wake word does the same.

A detection less than ``OWN_AUDIO_SECONDS`` after a turn stopped streaming is ignored: saying
"Okay Nabu" takes 0.68-1.25 s (nine Piper/Kokoro voices), so that wake word began inside the
streamed question, i.e. it is a false accept on the user's own words (Piper's "What time is
it?" after "Okay Nabu." is one, at its last word); taken as a new wake word it cut the answer
that had just begun, or replaced the question with an empty turn.

A detection while a turn streams is ignored too (a false accept on the user's words, or the wake
word said again), except ``RESTART_SECONDS`` or less after a turn that opened WITHOUT the wake
word began (a barge-in over a reply, a continuation, a follow-up): that wake word began before
the turn (it takes up to 1.25 s to say), so the VAD opened the turn on its first syllables
(session 20's live room: a barge-in confirmed 0.66 s before the detection, and "Okay, Naboo." was
streamed as the request). The turn starts again at the wake word (``WAKE_RESTART``: detection,
a new ``run-pipeline`` with its name, which cancels the one in progress in Home Assistant and in
our orchestrator, the listening tone), the wake word's audio not in the request.

A mixin of :class:`satellite.core.Satellite` (kept apart so each file stays small); the
detector itself is :mod:`satellite.wake`.
"""

from __future__ import annotations

import logging

from wyoming.event import Event
from wyoming.wake import Detection

from .state import TurnAction, TurnMachine, TurnState, TurnTrigger
from .vad import SpeechDetector, VadEvent
from .wake import WakeGate

_LOGGER = logging.getLogger("satellite.core")


HUSH_SECONDS = 2.0  # a wake word heard this soon after speech silenced an alarm is that speech: no turn
OWN_AUDIO_SECONDS = 0.6  # a wake word heard this soon after a turn's stream ended began in that turn's audio
RESTART_SECONDS = 1.3  # a wake word heard this soon after a turn without it began: the turn restarts at it


class WakeTurns:
    _hushed_ms = float("-inf")  # mic time when speech last silenced a ringing alarm
    _streamed_ms = float("-inf")  # mic time of the last frame heard while a turn was streaming
    _turn_seen = -1  # the turn whose start is ``_turn_began_ms``
    _turn_began_ms = float("-inf")  # mic time (to a frame) the streaming turn began
    wake: WakeGate | None
    machine: TurnMachine
    detector: SpeechDetector
    _mic_ms: float
    _wake_ms: float
    _wake_turn: bool
    _wake_name: str | None
    _pending: bytearray
    turns: int

    @property
    def follow_up_open(self) -> bool:
        raise NotImplementedError

    def on_wake_detected(self, name: str | None = None) -> bool:
        raise NotImplementedError

    def stop_alarm(self, reason: str = "local stop") -> bool:
        raise NotImplementedError

    def _fire(self, trigger: TurnTrigger) -> None:
        raise NotImplementedError

    def _send(self, event: Event) -> None:
        raise NotImplementedError

    def _do(self, action: TurnAction) -> None:
        raise NotImplementedError

    def _wake_step(self, frame: bytes, event: VadEvent, state: TurnState) -> VadEvent:
        """Wake-word mode: only the wake word starts a turn (or interrupts a reply)."""
        assert self.wake is not None
        if state == TurnState.STREAMING:
            self._streamed_ms = self._mic_ms
            if self.turns != self._turn_seen:
                self._turn_seen, self._turn_began_ms = self.turns, self._mic_ms
        name = self.wake.process(frame)
        if name is not None:
            self._on_wake(name, state)
            return VadEvent.NONE
        if state == TurnState.LISTENING and event == VadEvent.START and self.stop_alarm("speech"):
            self._hushed_ms = self._mic_ms
            return VadEvent.NONE  # "stop" (any speech) while a timer rings: silences it, starts nothing
        if state in (TurnState.LISTENING, TurnState.WAITING) and event == VadEvent.START and not self.follow_up_open:
            return VadEvent.NONE  # speech without the wake word starts nothing (except a follow-up)
        if state == TurnState.STREAMING and self._wake_turn:
            if event == VadEvent.START:
                return VadEvent.NONE  # the command began: it is streamed already, keep going
            quiet = self._mic_ms - self._wake_ms > self.wake.config.command_timeout_seconds * 1000
            if not self.detector.in_speech and quiet:
                _LOGGER.info("nothing said after the wake word")
                return VadEvent.END
        return event

    def _on_wake(self, name: str, state: TurnState) -> None:
        _LOGGER.info("wake word %s detected state=%s", name, state.value)
        assert self.wake is not None
        stopped = self.on_wake_detected(name)  # it stopped a ringing timer: the detection is used up
        if stopped or self._mic_ms - self._hushed_ms <= HUSH_SECONDS * 1000:  # (or its start did, as speech)
            return
        restart = False
        if state == TurnState.STREAMING:
            into = (self._mic_ms - self._turn_began_ms) / 1000
            if self._wake_turn or into > RESTART_SECONDS:
                return  # heard in the request (a false accept on its words, or the wake word said again)
            _LOGGER.info("wake word %.2f s into a turn opened without it: it began before that turn, which "
                         "restarts at the wake word", into)
            restart = True
        elif self._mic_ms - self._streamed_ms < OWN_AUDIO_SECONDS * 1000:
            _LOGGER.info(
                "wake word ignored: heard %.2f s after the turn's audio ended, so it began in it",
                (self._mic_ms - self._streamed_ms) / 1000,
            )
            return
        self._wake_name = name
        self._wake_ms = self._mic_ms
        self._send(Detection(name=name, timestamp=int(self._mic_ms)).event())
        self.detector.reset()  # now the VAD waits for the command, then for its end
        self._pending = bytearray(self.wake.take_preroll())
        if restart:
            self._fire(TurnTrigger.WAKE_RESTART)  # run-pipeline with the wake word, the listening tone
            return
        if state in (TurnState.LISTENING, TurnState.WAITING):
            self._fire(TurnTrigger.SPEECH_START)  # listening tone, run-pipeline from asr with the wake word
            return
        if state == TurnState.SPEAKING:
            self._fire(TurnTrigger.SPEECH_START)  # the wake word over a reply is a barge-in, confirmed at once
        self._fire(TurnTrigger.BARGE_IN_CONFIRMED)
        self._do(TurnAction.TONE_LISTEN)
