"""Wake-word turns of the satellite: only the wake word starts a turn or interrupts a reply.

While a timer's alarm rings, speech ("stop"; the satellite cannot tell the word from others)
silences it without the wake word and starts no turn; the wake word does the same.

A detection less than ``OWN_AUDIO_SECONDS`` after a turn stopped streaming is ignored: saying
"Okay Nabu" takes 0.68-1.25 s (nine Piper/Kokoro voices), so that wake word began inside the
streamed question, i.e. it is a false accept on the user's own words (Piper's "What time is
it?" after "Okay Nabu." is one, at its last word); taken as a new wake word it cut the answer
that had just begun, or replaced the question with an empty turn.

A detection while a turn streams is ignored too (a false accept on the user's words, or the wake
word said again), except just after a turn that opened WITHOUT the wake word began: the turn then
restarts at it (:mod:`satellite.wake_restart`).

An UNSURE wake word (``WakeGate.trusted`` False) that no command follows within
``UNSURE_COMMAND_SECONDS`` ends its turn quietly (``WAKE_DROPPED``; the turn's run is replaced by one
that ends at speech-to-text and gets no audio: no request, no reply, no tone), whether it opened the
turn or restarted one: a false accept, or the wake word said alone; before, the turn streamed the room
(or, over a reply, the wake word) and the controller answered it. The command: ``COMMAND_VOICED_SECONDS``
of voice as loud as the talker (within the talker gate's opening bar of the wake word's level; without
the gate: after a pause) after the wake word's end, or the talker's voice all along.

A turn without the wake word keyed to the last one (a continuation, a barge-in, a follow-up) that
the talker gate has not opened for ``UNHEARD_SECONDS`` into it is ended: nobody near is speaking
(session 20's live room: 3 continuations opened by the talker's own last syllable right after the
controller ended the question streamed the room for 2.1 s, the reply ~2.4 s late; on the room's taps
the gate opened for the turns the user did speak in 0.0-0.6 s into them, n=12: bench/turn_talker_open.py).

A mixin of :class:`satellite.core.Satellite` (kept apart so each file stays small); the
detector itself is :mod:`satellite.wake`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from wyoming.audio import AudioStart, AudioStop
from wyoming.event import Event
from wyoming.pipeline import PipelineStage, RunPipeline
from wyoming.wake import Detection

from .state import TurnAction, TurnMachine, TurnState, TurnTrigger
from .talker_gate import TalkerGate, frame_db
from .vad import SpeechDetector, VadEvent
from .wake import WakeGate
from .wake_restart import RESTART_SECONDS, RESTARTABLE, WakeRestarts

_LOGGER = logging.getLogger("satellite.core")


HUSH_SECONDS = 2.0  # a wake word heard this soon after speech silenced an alarm is that speech: no turn
OWN_AUDIO_SECONDS = 0.6  # a wake word heard this soon after a turn's stream ended began in that turn's audio
COMMAND_VOICED_SECONDS = 0.09  # a command: this much voice at the talker's level (the talker gate's open_frames)
UNHEARD_SECONDS = 1.0  # a turn without the wake word the talker gate has not opened for in this long is ended
# An unsure wake word (WakeGate.trusted False) that no command follows within this long ends its turn quietly.
# bench/wake_unsure.py (8 Kokoro voices at 0.9/1.15x and Piper, 0/-20 dB: the wake corpora's design): the
# command (COMMAND_VOICED_SECONDS of it) came p50 0.18 s, p95 0.71 s, at most 0.90 s after a real detection
# (n=57; the 4 unsure ones 0.45-0.69 s). Synthetic talkers do not wait for the listening tone; people do
# (the tone starts at the detection): 2.0 s leaves them 1.1 s more. A false accept costs only that wait.
UNSURE_COMMAND_SECONDS = 2.0
RATE = 16000


def command_follows(frames: str, need: int) -> bool:
    """``frames`` after a wake detection ("V" voiced as loud as the talker, "v" voiced softer, "." not voiced):
    ``need`` frames of the talker's voice after the wake word's end (its first frame that is not the talker's
    voice), so that the wake word's own tail after an early detection is not taken for the command."""
    end = next((i for i, f in enumerate(frames) if f != "V"), len(frames))
    return frames[end:].count("V") >= need


class WakeTurns(WakeRestarts):
    _hushed_ms = float("-inf")  # mic time when speech last silenced a ringing alarm
    _streamed_ms = float("-inf")  # mic time of the last frame heard while a turn was streaming
    _turn_seen = -1  # the turn whose start is ``_turn_began_ms``
    _turn_began_ms = float("-inf")  # mic time (to a frame) the streaming turn began
    _turn_restartable = False  # ... it was opened so that a wake word can have begun before it (RESTARTABLE)
    _unsure: tuple[float, int] | None = None  # an unsure wake word that opened a turn: mic ms, turn (no command yet)
    _unsure_frames = ""  # ... the VAD's verdicts after it, as ``_restart_frames``
    wake: WakeGate | None
    machine: TurnMachine
    detector: SpeechDetector
    _mic_ms: float
    _wake_ms: float
    _wake_turn: bool
    _wake_name: str | None
    _pending: bytearray
    _route: str | None
    _stt_turn: int  # the turn Home Assistant announced its speech-to-text stage for (controller_events.py)
    _late_reply_until: float  # until then a reply's audio is an ended turn's late reply: dropped (outside.py)
    _reply_text: str  # the text of the turn's reply (Home Assistant's ``synthesize``: its run's TTS stage began)
    talker: TalkerGate | None
    turns: int
    _held_audio: list[Event] | None  # the turn's audio not sent yet (controller_side.py)
    if TYPE_CHECKING:
        def _release_audio(self) -> None: ...
        def _drop_audio(self, fill: bytes = b"") -> int: ...

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
                last = self.machine.history[-1] if self.machine.history else None
                self._turn_restartable = last is not None and (last[0], last[1]) in RESTARTABLE
                self._held_quiet = 0
        name = self.wake.process(frame)
        if state == TurnState.STREAMING and name is None:
            self._hold_step()  # (wake_restart.py: the turn's held audio goes once no wake word can restart it)
        if name is not None:
            self._on_wake(name, state)
            return VadEvent.NONE
        if self._restart is not None and self._restart_step(frame, state):
            return VadEvent.NONE
        if self._restart is not None and self._restart_after_ha and state == TurnState.STREAMING:
            return VadEvent.END  # Home Assistant's run ends (audio-stop), the restart waits for its end
        if state == TurnState.LISTENING and event == VadEvent.START and self.stop_alarm("speech"):
            self._hushed_ms = self._mic_ms
            return VadEvent.NONE  # "stop" (any speech) while a timer rings: silences it, starts nothing
        if state in (TurnState.LISTENING, TurnState.WAITING) and event == VadEvent.START and not self.follow_up_open:
            return VadEvent.NONE  # speech without the wake word starts nothing (except a follow-up)
        if state == TurnState.STREAMING and not self._wake_turn and self._unheard():
            self.detector.restart()  # (speech from now on is new)
            return VadEvent.END
        if state in (TurnState.STREAMING, TurnState.WAITING) and self._unsure is not None and self._unsure_step(
                frame, state):
            return VadEvent.NONE  # no command after an unsure wake word: its turn ended quietly
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
        if state == TurnState.STREAMING:
            into = (self._mic_ms - self._turn_began_ms) / 1000
            if self._wake_turn or into > RESTART_SECONDS or not self._turn_restartable:
                return  # heard in the request (a false accept on its words, or the wake word said again)
            self._restart = (name, self._mic_ms, self.turns)
            self._restart_audio, self._restart_frames, self._restart_after_ha = self.wake.take_preroll(), "", False
            self._restart_sure = self.wake.trusted
            self._restart_levels = tuple(self.talker.levels()) if self.talker is not None else ()
            self.wake.request_opinion()
            _LOGGER.info("wake word (%s) %.2f s into a turn opened without it: if a second model hears it too, it "
                         "began before that turn, which restarts at it", "sure" if self._restart_sure else "unsure",
                         into)
            if self.wake.agreed and not self._ha_run():  # a detector without a second model: at once
                self._drop_audio()
                self._restart_now()
            return
        if self._mic_ms - self._streamed_ms < OWN_AUDIO_SECONDS * 1000:
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
        if state == TurnState.SPEAKING:
            self._fire(TurnTrigger.SPEECH_START)  # the wake word over a reply is a barge-in, confirmed at once
        if state not in (TurnState.LISTENING, TurnState.WAITING):
            self._fire(TurnTrigger.BARGE_IN_CONFIRMED)
            self._do(TurnAction.TONE_LISTEN)
        else:
            self._fire(TurnTrigger.SPEECH_START)  # listening tone, run-pipeline from asr with the wake word
        self._unsure, self._unsure_frames = (None if self.wake.trusted else (self._mic_ms, self.turns)), ""
        if self._unsure is not None:
            _LOGGER.info("the wake word is unsure: its turn ends quietly unless a command follows within %.1f s",
                         UNSURE_COMMAND_SECONDS)

    def _loud(self, frame: bytes, frames: str) -> bool:
        """``frame`` is as loud as the talker (within the talker gate's opening bar of the wake word's level);
        without the gate, any frame after a pause (3 frames unvoiced) since the detection (``frames``)."""
        talker = self.talker
        if talker is None or talker.reference_db is None:
            return "..." in frames
        return frame_db(frame) >= talker.reference_db - talker.config.open_db

    def _unsure_step(self, frame: bytes, state: TurnState) -> bool:
        """The turn an unsure wake word opened: True once it has ended quietly, no command having followed
        within ``UNSURE_COMMAND_SECONDS`` (a false accept, or the wake word alone: either way nobody asked),
        or the controller having ended it before one did (Home Assistant's VAD: 0.7 s of silence)."""
        assert self._unsure is not None
        heard_ms, turn = self._unsure
        if self.turns != turn:
            self._unsure = None
            return False
        if state == TurnState.WAITING:
            _LOGGER.info("the controller ended the turn before a command followed the wake word: it ends quietly "
                         "(frames=%s)", self._unsure_frames)
            self._unsure = None
            self._drop_turn()
            return True
        loud = self._loud(frame, self._unsure_frames)
        self._unsure_frames += ("V" if loud else "v") if self.detector.voiced else "."
        need = round(COMMAND_VOICED_SECONDS / self.detector.config.frame_seconds)
        if command_follows(self._unsure_frames, need):
            _LOGGER.info("a command follows the unsure wake word (%.2f s after it, frames=%s)",
                         (self._mic_ms - heard_ms) / 1000, self._unsure_frames)
            self._unsure = None
            return False
        if self._mic_ms - heard_ms <= UNSURE_COMMAND_SECONDS * 1000:
            return False
        if "V" * len(self._unsure_frames) == self._unsure_frames:
            self._unsure = None  # the talker's voice all along since the wake word: the command ran on
            return False
        _LOGGER.info("no command %.2f s after the unsure wake word: its turn ends quietly (frames=%s)",
                     (self._mic_ms - heard_ms) / 1000, self._unsure_frames)
        self._unsure = None
        self._drop_turn()
        return True

    def _drop_turn(self) -> None:
        """End the streaming turn with no request and no reply. Our orchestrator's run is replaced (a new
        ``run-pipeline`` cancels the one in progress) by one that ends at speech-to-text (``end_stage`` asr: no
        intent, no reply) and gets no audio (``audio-stop`` at once); its ``error``/``transcript`` comes while
        listening and is ignored. Home Assistant's run cannot be replaced (``_restart_step``): it gets
        ``audio-stop`` (what it heard after a wake word that opened the turn is the talker gate's quiet fill:
        no text, an error, no reply), and whatever reply still comes is dropped as the ended turn's late reply."""
        if self._ha_run():
            if self.machine.state == TurnState.STREAMING:
                self._send(AudioStop(timestamp=int(self._mic_ms)).event())
            self._late_reply_until = float("inf")  # (at listening: for LATE_REPLY_SECONDS, core._fire)
        elif self._route == "local":
            self._send(RunPipeline(start_stage=PipelineStage.ASR, end_stage=PipelineStage.ASR).event())
            self._send(AudioStart(rate=RATE, width=2, channels=1, timestamp=int(self._mic_ms)).event())
            self._send(AudioStop(timestamp=int(self._mic_ms)).event())
        self.detector.reset()
        self._fire(TurnTrigger.WAKE_DROPPED)  # the cloud's turn (if it went there) is cancelled

    def _unheard(self) -> bool:
        """A turn without the wake word, keyed to the last one, that the talker gate has not opened for in
        ``UNHEARD_SECONDS``: nobody near is speaking; it ends (it streams only the room)."""
        talker = self.talker
        if talker is None or not talker.armed or talker.heard or self._restart is not None:
            return False
        if self._mic_ms - self._turn_began_ms < UNHEARD_SECONDS * 1000:
            return False
        _LOGGER.info("the talker gate has not opened %.2f s into a turn without the wake word: ended",
                     (self._mic_ms - self._turn_began_ms) / 1000)
        return True

    def _restart_now(self) -> None:
        """The turn starts again at the wake word heard in it (``_restart``), its pre-roll the audio from it on."""
        assert self._restart is not None
        name, heard_ms, _ = self._restart
        self._restart = None
        self._wake_name, self._wake_ms = name, heard_ms
        self._send(Detection(name=name, timestamp=int(heard_ms)).event())
        self.detector.reset()  # the VAD waits for the command's start (it is going on), then for its end
        self._pending = bytearray(self._restart_audio)
        self._restart_audio = b""
        state = self.machine.state
        if state == TurnState.STREAMING:
            self._fire(TurnTrigger.WAKE_RESTART)  # run-pipeline with the wake word, the listening tone
        elif state == TurnState.SPEAKING:  # (Home Assistant's ended run began its reply: cut, as by a wake word)
            self._fire(TurnTrigger.SPEECH_START)
            self._fire(TurnTrigger.BARGE_IN_CONFIRMED)
            self._do(TurnAction.TONE_LISTEN)
        else:  # (Home Assistant's run was ended first: waiting, or listening after its error)
            self._fire(TurnTrigger.SPEECH_START)
        self._unsure = None if self._restart_sure else (heard_ms, self.turns)
        self._unsure_frames = self._restart_frames
        if self._unsure is not None:
            _LOGGER.info("the wake word is unsure: its turn ends quietly unless a command follows within %.1f s of it",
                         UNSURE_COMMAND_SECONDS)
