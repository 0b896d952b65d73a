"""A wake word heard just after a turn that opened without it began: the turn restarts at it.

A detection while a turn streams is ignored (a false accept on the user's words, or the wake
word said again), except ``RESTART_SECONDS`` or less after a turn that opened WITHOUT the wake word
began (a barge-in over a reply, a follow-up; not a continuation: ``RESTARTABLE``): that wake word
began before the turn (it takes up to 1.25 s to say), so the VAD opened the turn on its first
syllables (session 20's live room: a barge-in confirmed 0.66 s before the detection, and "Okay,
Naboo." was streamed as the request). The turn starts again at the wake word (``WAKE_RESTART``:
detection, a new ``run-pipeline`` with its name, which cancels the one in progress in Home Assistant
and in our orchestrator, the listening tone; the pre-roll is the audio from the detection on), the
wake word's audio not in the request, once a second model hears the wake word too
(``WakeGate.agreed``: the cascade asks openWakeWord's model about the ring buffer 0.45 s after the
detection). The user is already speaking there, so a false accept would cut the request: Piper's
"What time is it?" is one, of microWakeWord and our verifier at its last word, sure (microWakeWord
0.48-0.55) at some alignments and unsure at others, and openWakeWord's model scores it 0.001 (real
wake words 0.95-0.97; ``bench/wake_unsure.py``). Without that agreement the turn goes on as it was
(session 21 restarted at once at a sure detection, and at an unsure one when voice followed it: a
false accept inside a loud request then cut it there).

Home Assistant's run cannot be replaced that way (``_restart_step``): it is ended first. And so that the
ended run hears no request, a turn for Home Assistant that a wake word may restart holds its audio until
that is decided (``_may_restart``; controller_side.py holds it).

A mixin of :class:`satellite.core.Satellite` under :class:`satellite.wake_turn.WakeTurns` (kept apart so
each file stays small).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from wyoming.event import Event

from .state import TurnMachine, TurnState, TurnTrigger
from .talker_gate import TalkerGate
from .vad import SpeechDetector
from .wake import WakeGate

_LOGGER = logging.getLogger("satellite.core")


RESTART_SECONDS = 1.3  # a wake word heard this soon after a turn without it began: the turn restarts at it ...
# ... and Home Assistant's turn holds its audio until then, or until its speech has been over this long with no wake
# word heard (one that ended the speech would have been: microWakeWord at the word's end, the verifier within its
# POST_SECONDS, 0.5 s; satellite.wake_cascade). Under Home Assistant's 0.7 s silence count, so that the hold does
# not end a short request later than HA alone would (session 30 held it 1.3 s: "Lights off." 0.45 s later).
HOLD_QUIET_SECONDS = 0.6
OPINION_WAIT_SECONDS = 1.0  # ... once the second model agrees (its answer comes 0.45 s after the detection)
HA_FILL_BYTES = 16000  # 0.5 s of silence: what a Home Assistant run ended for a restart hears (no request)
HA_RUN_END_SECONDS = 4.0  # a Home Assistant run ended for a restart: its end (synthesize, error) awaited this long
# The turns a wake word can have opened before it was detected (the state and trigger that started them): a
# barge-in over a reply or an announcement, speech that outlasted the reply, a follow-up. Not a continuation
# right after the question (the user is going on with it: live run, session 21, a false accept in "What is
# the capital of Australia?" there restarted the turn at "-stralia").
RESTARTABLE = frozenset({
    (TurnState.BARGE_IN, TurnTrigger.BARGE_IN_CONFIRMED), (TurnState.BARGE_IN, TurnTrigger.REPLY_DONE),
    (TurnState.ANNOUNCE_BARGE_IN, TurnTrigger.BARGE_IN_CONFIRMED),
    (TurnState.ANNOUNCE_BARGE_IN, TurnTrigger.REPLY_DONE), (TurnState.LISTENING, TurnTrigger.SPEECH_START),
})


class WakeRestarts:
    _restart: tuple[str, float, int] | None = None  # a wake word heard just after the turn began: name, mic ms, turn
    _restart_audio = b""  # ... the audio heard from it on (the restarted turn's pre-roll)
    _restart_sure = True  # ... the detection was sure (WakeGate.trusted)
    _restart_after_ha = False  # ... Home Assistant's run it began in was ended: waiting for that run's end
    _restart_frames = ""  # ... the VAD's verdicts on them ("v" voiced, "." not; logged)
    _restart_levels: tuple[float, ...] = ()  # ... the talker gate's levels up to it (the wake word's: its reference)
    _held_quiet = 0  # frames in a row the VAD has heard no voice in while the turn's audio is held
    wake: WakeGate | None
    machine: TurnMachine
    detector: SpeechDetector
    _mic_ms: float
    _wake_name: str | None
    _route: str | None
    _reply_text: str  # the text of the turn's reply (Home Assistant's ``synthesize``: its run's TTS stage began)
    _late_reply_until: float  # until then a reply's audio is an ended turn's late reply: dropped (outside.py)
    turns: int
    talker: TalkerGate | None
    _turn_began_ms: float
    _held_audio: list[Event] | None  # the turn's audio not sent yet (controller_side.py)
    if TYPE_CHECKING:
        def _release_audio(self) -> None: ...
        def _drop_audio(self, fill: bytes = b"") -> int: ...
        def _loud(self, frame: bytes, frames: str) -> bool: ...
        def _restart_now(self) -> None: ...

    def _hold_step(self) -> None:
        """A streaming frame with no wake word detected in it: the turn's held audio goes (in a burst: Home
        Assistant counts audio, not time) once no wake word can restart the turn: ``RESTART_SECONDS`` into it, or
        its speech over for ``HOLD_QUIET_SECONDS``. (A detection decides it too: ``_restart_step``.)"""
        if self._held_audio is None or self._restart is not None:
            return
        self._held_quiet = 0 if self.detector.voiced else self._held_quiet + 1
        if self._held_quiet * self.detector.config.frame_seconds >= HOLD_QUIET_SECONDS:
            self._release_held(f"the speech over for {HOLD_QUIET_SECONDS:.1f} s with no wake word in it")
        elif self._mic_ms - self._turn_began_ms > RESTART_SECONDS * 1000:
            self._release_held(f"no wake word {RESTART_SECONDS:.1f} s into the turn")

    def _release_held(self, why: str) -> None:
        """No wake word restarts the turn: its held audio goes now."""
        if self._held_audio is None:
            return
        _LOGGER.info("%s: the turn's held audio (%d chunks, %.2f s into it) goes", why, len(self._held_audio),
                     (self._mic_ms - self._turn_began_ms) / 1000)
        self._release_audio()

    def _restart_step(self, frame: bytes, state: TurnState) -> bool:
        """A wake word heard just after a turn without it began: True once the second model agrees (the turn
        restarted at the wake word, or its Home Assistant run ended for that); the candidate is dropped when it
        does not agree, or when its turn ends first."""
        assert self._restart is not None
        _, heard_ms, turn = self._restart
        if self._restart_after_ha:
            return self._restart_after_ha_step(frame, heard_ms)
        if state != TurnState.STREAMING or self.turns != turn:
            _LOGGER.info("the turn ended before the second opinion on the wake word heard in it (frames=%s)",
                         self._restart_frames)
            self._restart = None
            return False
        self._restart_audio += frame
        loud = self._loud(frame, self._restart_frames)
        self._restart_frames += ("V" if loud else "v") if self.detector.voiced else "."
        agreed = self.wake.agreed if self.wake is not None else True
        if agreed is None and self._mic_ms - heard_ms <= OPINION_WAIT_SECONDS * 1000:
            return False
        if not agreed:
            _LOGGER.info("the second model does not hear the wake word heard in the turn (%s): a false accept on the "
                         "user's words; the turn goes on as it was", getattr(self.wake.detector, "opinion", None)
                         if self.wake is not None else None)
            self._restart = None
            self._release_held("the second model does not hear the wake word")
            return False
        # HA's run gets silence instead (its STT given none: our whisper's error, ignored by HA: the run hung)
        if dropped := self._drop_audio(bytes(HA_FILL_BYTES) if self._ha_run() else b""):
            _LOGGER.info("the turn's audio before the wake word (%d chunks) not sent: no request", dropped)
        if self._ha_run():
            # Home Assistant 2026.2.3 cancels its running pipeline for a new run-pipeline, and the cancelled
            # run's end then marks the satellite's pipeline as not running: it drops every audio-chunk of the
            # new run ("Unexpected event from satellite"; bench/ha_restart.py on the real rig). So its run is
            # ended first (audio-stop: it hears the wake word; its reply is dropped), and the turn restarts once
            # that run is over (its TTS stage's synthesize, or an error), with the audio from the wake word on.
            _LOGGER.info("the second model hears the wake word too: Home Assistant's run ends first, then the turn "
                         "restarts at it (frames=%s)", self._restart_frames)
            self._restart_after_ha = True
            self._reply_text = ""
            self.detector.restart()  # (the command that follows is not a new turn of its own)
            return False  # (the caller ends the stream: VadEvent.END below)
        _LOGGER.info("the second model hears the wake word too: the turn restarts at it (%.2f s of audio after it, "
                     "frames=%s)", (self._mic_ms - heard_ms) / 1000, self._restart_frames)
        self._restart_now()
        return True

    def _restart_after_ha_step(self, frame: bytes, heard_ms: float) -> bool:
        """Home Assistant's run was ended for a restart: the audio is kept until that run is over (its
        ``synthesize``, or an ``error``: the satellite is then listening), then the turn restarts."""
        self._restart_audio += frame
        # (its synthesize; its error: listening; an agent that streams may start the reply's audio first: speaking)
        over = bool(self._reply_text) or self.machine.state in (TurnState.LISTENING, TurnState.SPEAKING)
        if not over and self._mic_ms - heard_ms <= HA_RUN_END_SECONDS * 1000:
            return True  # (speech meanwhile is the command: kept, no turn of its own)
        _LOGGER.info("Home Assistant's run %s: the turn restarts at the wake word (%.2f s of audio after it)",
                     "is over" if over else "did not end in time", (self._mic_ms - heard_ms) / 1000)
        self._late_reply_until = float("inf")  # the ended run's reply (to the wake word): dropped
        if self.talker is not None and self._restart_levels:  # (the run's end cleared them: keyed to the pause
            self.talker.recall(self._restart_levels)  # or the command after it, -62 dBFS on the rig in s30)
        self._restart_now()
        return True

    def _may_restart(self) -> bool:
        """A turn for Home Assistant (our orchestrator's run is replaced by the restart's: no request) a wake word
        may restart (``RESTARTABLE``): its audio is held until that is decided (s29: "Okay, Naboo. What?")."""
        last = self.machine.history[-1] if self.machine.history else None
        ha = getattr(self, "_stt_turn", -1) >= 0  # (reset when a controller attaches: controller_side.py)
        return self.wake is not None and self._wake_name is None and ha and last is not None and last[:2] in RESTARTABLE

    def _ha_run(self) -> bool:
        """The streaming turn is Home Assistant's run (it announced its speech-to-text stage with ``transcribe``;
        our orchestrator never sends that)."""
        return self._route == "local" and getattr(self, "_stt_turn", -1) == self.turns
