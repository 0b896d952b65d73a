"""Events from the controller during a turn: transcript, end of speech, the reply's audio, errors.

A mixin of :class:`satellite.core.Satellite` (kept apart so each file stays small): what each
controller event does to the turn in progress (:mod:`satellite.state` holds the table);
announcements and timers outside a turn are :mod:`satellite.outside`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol

from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.satellite import PauseSatellite, RunSatellite
from wyoming.tts import Synthesize
from wyoming.vad import VoiceStopped

from voice_runtime.audio import AudioFormat
from voice_runtime.clock import Clock
from voice_runtime.error_codes import HA_NO_SPEECH, SERVICES_UNAVAILABLE
from voice_runtime.error_codes import NO_SPEECH as ORCHESTRATOR_NO_SPEECH

from .admission import Admission
from .cloud import CloudAssistant
from .playback import Playback
from .state import TurnMachine, TurnState, TurnTrigger
from .timers import is_timer_event

if TYPE_CHECKING:
    from .config import SatelliteConfig

_LOGGER = logging.getLogger("satellite.core")
NO_SPEECH = (ORCHESTRATOR_NO_SPEECH, HA_NO_SPEECH)  # our orchestrator's code, Home Assistant's


class ControllerLink(Protocol):
    client: str

    async def write_event(self, event: Event) -> None: ...


class ControllerEvents:
    config: SatelliteConfig
    machine: TurnMachine
    playback: Playback
    clock: Clock
    cloud: CloudAssistant | None
    controller: ControllerLink | None
    admission: Admission
    turns: int
    _paused: bool
    _route: str | None
    _incoming: str | None
    _reply_ended: bool
    _reply_text: str
    _waiting_since: float
    _transcribed: bool
    _degraded_until: float
    _late_reply_until: float
    _timed_out_turn: int
    _error_tone: bytes
    _wake_turn: bool
    _stt_turn: int = -1  # the turn Home Assistant's pipeline announced its speech-to-text stage for
    _answer_due: tuple[int, float] | None = None  # (turn, time): no sign of an answer by then -> end it
    _reply_from: int = 0
    _parked: tuple[str, bytes] | None = None  # (text, the rest) of a reply cut by the user's speech (_park_reply)

    if TYPE_CHECKING:
        def attach(self, link: ControllerLink) -> None: ...
        def _fire(self, trigger: TurnTrigger) -> None: ...
        def _emit(self, event_type: str, **data: object) -> None: ...
        def _abort_local_turn(self) -> None: ...
        def _update_arming(self) -> None: ...
        def _ended_by_controller(self) -> None: ...
        def _on_announcement_audio(self, event: Event) -> bool: ...
        def _on_timer_event(self, event: Event) -> None: ...
        def _start_cloud_turn(self, *, ended: bool) -> None: ...
        def _eot_transcribe(self, language: str | None) -> None: ...

    async def on_controller_event(self, link: ControllerLink, event: Event) -> None:
        if RunSatellite.is_type(event.type):  # admitted by the handler (satellite.admission)
            self.attach(link)
            self.admission.heard()
            return
        if link is not self.controller:
            _LOGGER.debug("event=%s from a connection that is not the controller; ignored", event.type)
            return
        if PauseSatellite.is_type(event.type):
            _LOGGER.info("paused by controller")
            self._emit("muted")
            self._abort_local_turn()
            self._paused = True
            self._update_arming()
            return
        if self._late_fallback(event):
            return
        if is_timer_event(event.type):
            self._on_timer_event(event)
            return
        self._abandoned(event)
        if self._on_announcement_audio(event):
            return
        if self._route != "local":
            _LOGGER.debug("event=%s outside a local turn; ignored", event.type)
            return
        self._waiting_since = self.clock.now()  # reply_timeout counts from the last event of the turn
        state = self.machine.state
        if Transcribe.is_type(event.type):
            self._stt_turn, self._answer_due = self.turns, None  # Home Assistant's run: its STT stage
            self._eot_transcribe(Transcribe.from_event(event).language)  # --end-of-turn-uri (ha_turn.py)
        elif Transcript.is_type(event.type):
            if state is TurnState.STREAMING:
                self._ended_by_controller()  # speech from now on is a new turn (outside.py)
            text = Transcript.from_event(event).text
            _LOGGER.info("transcript=%r", text)
            self._transcribed = True  # the wait for the answer is now --thinking-timeout
            self._emit("transcript", text=text)
            self._fire(TurnTrigger.TRANSCRIPT)
            if self._stt_turn == self.turns and self.config.answer_timeout > 0:
                self._answer_due = (self.turns, self.clock.now() + self.config.answer_timeout)
        elif VoiceStopped.is_type(event.type):
            if state is TurnState.STREAMING:
                _LOGGER.info("end of speech found by the controller")
                self._ended_by_controller()  # speech from now on is new: a continuation, or a barge-in
            self._fire(TurnTrigger.SPEECH_END)
        elif Synthesize.is_type(event.type):
            self._answer_due = None
            self._reply_text = Synthesize.from_event(event).text
            _LOGGER.info("reply text=%r", self._reply_text)
        elif AudioStart.is_type(event.type):
            self._answer_due = None
            start = AudioStart.from_event(event)
            self._reply_start(AudioFormat(start.rate, start.width, start.channels))
        elif AudioChunk.is_type(event.type):
            if (state in (TurnState.SPEAKING, TurnState.BARGE_IN) and not self._reply_ended
                    and self._incoming == "reply"):
                try:
                    self.playback.add_reply(AudioChunk.from_event(event).audio)
                except ValueError as err:  # a malformed WAV header: the rest of this reply is dropped
                    _LOGGER.error("reply audio unusable: %s", err)
                    self._incoming = None
        elif AudioStop.is_type(event.type):
            self._reply_end()
        elif Error.is_type(event.type):
            error = Error.from_event(event)
            self._answer_due = None
            _LOGGER.warning("controller error code=%s text=%s", error.code, error.text)
            self._emit("error", code=error.code, text=error.text)
            self._late_reply_until = float("-inf")  # an error instead of a reply: none will come
            if state is TurnState.SPEAKING and self._reply_ended:
                pass  # the whole reply (e.g. a spoken apology) has arrived: let it play to the end
            elif error.code == SERVICES_UNAVAILABLE and self.cloud is not None and state in (
                TurnState.STREAMING, TurnState.WAITING
            ):
                self._degraded_until = self.clock.now() + self.config.local_retry_seconds
                self._start_cloud_turn(ended=state == TurnState.WAITING)
            else:
                silent = state in (TurnState.STREAMING, TurnState.WAITING)  # no reply audio came for this turn
                self._fire(TurnTrigger.ERROR)
                # no-speech: the controller heard nothing to answer; without the wake word that is
                # mostly noise that started the VAD, not a question the user waits on.
                if silent and (error.code not in NO_SPEECH or self._wake_turn):
                    self._play_error_tone(error.code or "error")
        else:
            _LOGGER.debug("event=%s ignored", event.type)

    def _fail_local_turn(self, why: str) -> None:
        """The controller is gone (or replaced) mid-turn: the turn ends; the error tone if nothing was said."""
        silent = self._route == "local" and self.machine.state in (TurnState.STREAMING, TurnState.WAITING)
        self._abort_local_turn()
        if silent:
            self._play_error_tone(why)

    def _play_error_tone(self, why: str) -> None:
        """Tell the user the turn failed: without it the satellite just goes back to listening.

        Not after reply audio (an apology the controller spoke, a reply cut short), not on a
        barge-in (no error comes for a cancelled turn), not for announcements (they are no turn).
        Played through the speaker path like every tone, so the echo canceller has it as reference.
        """
        if not (self.config.error_tone and self.config.tones.enabled):
            return
        if self.machine.state is not TurnState.LISTENING:  # an announcement started at once: it speaks
            return
        _LOGGER.info("error tone: turn %d failed (%s) with nothing said", self.turns, why)
        self.playback.add_tone(self._error_tone)

    def _check_waiting(self) -> None:
        """Once per mic frame in ``waiting``: give up on a reply that is not coming.

        Home Assistant 2026.2.3 (``assist_pipeline``) skips the TTS stage when the intent's answer
        is empty and its wyoming ``assist_satellite`` does not forward ``run-end``: after the
        ``transcript`` the satellite hears nothing more of that run. Any answer to speak starts
        with ``synthesize`` (its TTS stage; sent at once after the intent) or, when an agent
        streams, the audio's ``audio-start``. So a run Home Assistant announced with ``transcribe``
        (its STT stage, which our orchestrator does not send) that brings neither within
        ``answer_timeout`` of its transcript said nothing: the turn ends. Audio that still comes
        is not dropped as a late reply: it plays as an announcement (with ``played``).
        Otherwise the turn's last event starts the wait: ``reply_timeout`` until its transcript,
        ``thinking_timeout`` after it (the controller has the question; an LLM may be slow). The
        controller went quiet: the turn failed with nothing said, so the error tone plays (as for an
        ``error``). Not at ``answer_timeout``: Home Assistant's run ended there with nothing to say
        (an intent whose answer is empty, e.g. "never mind"), which is no failure.
        """
        now = self.clock.now()
        if self._answer_due is not None and self._answer_due[0] == self.turns and now >= self._answer_due[1]:
            _LOGGER.info("no answer %.1f s after the transcript of Home Assistant's run: it had nothing to say; "
                         "turn %d ends", self.config.answer_timeout, self.turns)
            self._answer_due = None
            self._late_reply_until = float("-inf")  # audio after this is no reply to drop
            self._fire(TurnTrigger.ERROR)
        elif now - self._waiting_since > (limit := self.config.thinking_timeout if self._transcribed
                                          else self.config.reply_timeout):
            _LOGGER.warning("nothing from the turn for %.0fs: given up", limit)
            self._timed_out_turn = self.turns
            self._fire(TurnTrigger.ERROR)
            self._play_error_tone("thinking-timeout" if self._transcribed else "reply-timeout")

    def _abandoned(self, event: Event) -> None:
        """Audio from the controller while the question still streams: it has ended the run.

        Home Assistant 2026.2.3 cancels the running pipeline for an announcement (its
        ``assist_satellite`` ``async_internal_announce``) and tells a Wyoming satellite nothing
        (``run-end`` is not forwarded), then sends the announcement's ``audio-start``. A reply
        never comes before the question's end (``transcript``/``voice-stopped``, which end the
        streaming). The turn ends at once and the audio plays as an announcement; before, the
        satellite streamed on to its own end of speech, waited for a transcript until its reply
        timeout, and only then played the announcement (HA had given up waiting for ``played``).
        Our orchestrator sends audio only after a transcript, except the reply of a turn the user
        has just interrupted with a new one: that is still dropped.
        """
        streaming = self._route == "local" and self.machine.state is TurnState.STREAMING
        if not (AudioStart.is_type(event.type) and streaming):
            return
        if self.clock.now() < self._late_reply_until:
            return  # the reply of the turn this one interrupted, in flight: dropped as before (outside.py)
        _LOGGER.info("controller audio while the question streams: the controller ended the run")
        self._emit("streaming-stopped")
        self._fire(TurnTrigger.ABANDONED)

    def _late_fallback(self, event: Event) -> bool:
        """``services-unavailable`` for the turn the reply timeout gave up on, nothing newer
        started: send its utterance to the cloud after all."""
        if not (Error.is_type(event.type) and self._timed_out_turn == self.turns and self.cloud is not None
                and self._route is None and self.machine.accepts(TurnTrigger.LATE_FALLBACK)):
            return False
        if Error.from_event(event).code != SERVICES_UNAVAILABLE:
            return False
        _LOGGER.warning("services-unavailable after the reply timeout: turn %d goes to the cloud", self.turns)
        self._timed_out_turn = -1
        self._degraded_until = self.clock.now() + self.config.local_retry_seconds
        self._waiting_since = self.clock.now()
        self._fire(TurnTrigger.LATE_FALLBACK)
        self._start_cloud_turn(ended=True)
        return True

    def _park_reply(self) -> None:
        """Speech over a held reply was confirmed (a continuation or a barge-in) and the reply is cut:
        keep its rest (from the start of the word it was cut in: ``Playback.unheard``) until the next
        reply starts, in case that is the same reply again. Only a whole reply of a local turn whose
        text came first (``synthesize``: an intent's answer, not an LLM's streamed one), of our
        orchestrator (Home Assistant's runs, announced by ``transcribe``, answer new speech anew)."""
        history = self.machine.history
        self._parked = None
        if (self._route == "local" and self._stt_turn != self.turns and self._reply_ended and self._reply_text
                and history and history[-1][0] is TurnState.BARGE_IN
                and history[-1][1] in (TurnTrigger.CONTINUED, TurnTrigger.BARGE_IN_CONFIRMED)):
            self._parked = (self._reply_text, self.playback.unheard())

    def _reply_start(self, fmt: AudioFormat) -> None:
        state = self.machine.state
        if state == TurnState.WAITING:
            parked, self._parked = self._parked, None
            self.playback.resume()  # a new reply is audible, whatever was held before
            self.playback.start_reply(fmt)
            self._reply_from = self.playback.played_reply_bytes  # how much of it was heard (held.py)
            self._reply_ended = False
            self._late_reply_until = float("-inf")
            self._incoming = "reply"
            if parked is not None and parked[0].strip() == self._reply_text.strip():
                # The same reply again (our orchestrator's answer to "Thanks." over a timer's reply: the
                # command's reply again, session 20's room 2 of 3): the rest of the cut one, not all of it
                # twice. This reply's own audio is not played ("parked": its chunks are dropped).
                _LOGGER.info("the reply cut by the speech again: its rest plays (%d ms), not all of it twice",
                             len(parked[1]) * 1000 // (2 * self.playback.rate))
                self.playback.add_pcm(parked[1])
                self._incoming = "parked"
            self._fire(TurnTrigger.REPLY_START)
            self._emit("speaking", what="reply")
        elif state in (TurnState.SPEAKING, TurnState.BARGE_IN) and not self._reply_ended:
            self.playback.start_reply(fmt)

    def _reply_end(self) -> None:
        if self.machine.state in (TurnState.SPEAKING, TurnState.BARGE_IN):
            self.playback.end_reply()
            self._reply_ended = True
            self._incoming = None
            _LOGGER.info("reply audio complete: %d ms still to play", self.playback.buffered_ms)
