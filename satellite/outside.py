"""What the controller sends outside a turn: announcements, timers, follow-ups; event hooks.

A mixin of :class:`satellite.core.Satellite` (the turn driver), kept apart so each file stays
small. What Home Assistant 2026.2.3's wyoming ``assist_satellite`` does (read from its source):

* **Announcements** (``assist_satellite.announce``): ``audio-start`` (22050 Hz), chunks of up
  to 2048 bytes read from ffmpeg (any length), ``audio-stop``; then it waits up to the audio's
  length + 0.5 s for ``played``. Its pre-announcement sound is not sent to Wyoming
  satellites, so the satellite plays its own chime right before the first audio (HA sends it
  seconds after `audio-start`, once its TTS is done). Audio that starts outside a turn
  is an announcement; one that arrives during a turn waits (:mod:`satellite.announce`).
* **Timers**: ``timer-started/updated/cancelled/finished`` for timers set on this device
  (:mod:`satellite.timers`); at ``timer-finished`` an alarm rings until the wake word
  (:meth:`OutsideTurn.on_wake_detected`), a local stop (:meth:`OutsideTurn.stop_alarm`),
  speech that starts a turn, the timer cancelled, or ``alarm.seconds``. HA does not speak the
  timer's name: with ``--tts-uri`` the satellite has it synthesized and plays it once ahead of
  the beeps (:mod:`satellite.timer_voice`).
* **Continue conversation**: Home Assistant sends nothing for it to a Wyoming satellite. Its
  pipeline keeps the conversation agent for the next run when the reply ends like a
  question (``ChatLog.continue_conversation``: "?", ";" or "？"). The satellite applies the
  same rule to the reply's ``synthesize`` text and, after ``played``, listens without the
  wake word for ``follow_up_seconds`` (:attr:`OutsideTurn.follow_up_open`, read by the wake
  word gate).
* **Going on after the end of the question**: once the controller has ended the question, the
  VAD starts afresh (speech from then on is a new turn, which our orchestrator merges into the
  question: ``orchestrator/continuation.py``), and for ``CONTINUE_SECONDS`` it needs no wake
  word either (the user simply goes on).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event
from wyoming.snd import Played
from wyoming.timer import TimerCancelled

from voice_runtime.audio import AudioFormat
from voice_runtime.clock import Clock

from .announce import Announcements
from .hooks import EventHooks
from .playback import Playback
from .state import PLAYING, TurnMachine, TurnState, TurnTrigger
from .timer_voice import TtsFailed, describe, synthesize
from .timers import Alarm, TimerBoard, TimerFinishedNotice

if TYPE_CHECKING:
    from .config import SatelliteConfig
    from .vad import SpeechDetector

_LOGGER = logging.getLogger(__name__)
QUESTION_ENDINGS = ("?", ";", "？")  # Home Assistant's rule for continuing a conversation
LATE_REPLY_SECONDS = 10.0  # audio starting this soon after a turn that got no reply is its late reply
CONTINUE_SECONDS = 1.5  # after the controller ended the question, speech starts a turn without the wake word
LINE_ECHO_SECONDS = 1.5  # after the timer's spoken name, speech (its echo) does not yet silence the alarm


class OutsideTurn:
    config: SatelliteConfig
    machine: TurnMachine
    playback: Playback
    clock: Clock
    announcements: Announcements
    timers: TimerBoard
    alarm: Alarm
    hooks: EventHooks | None
    _route: str | None
    _incoming: str | None
    _reply_ended: bool
    _reply_text: str
    _late_reply_until: float
    _follow_up_until: float
    _continue_until: float = float("-inf")
    _tasks: list[asyncio.Task[None]]  # the satellite's tasks, cancelled at stop (core.py)
    _timer_line: asyncio.Task[None] | None = None  # the finished timer's name being synthesized
    _line_until = float("-inf")  # until then speech does not silence the alarm (the name's echo)
    detector: SpeechDetector

    def _fire(self, trigger: TurnTrigger) -> None:
        raise NotImplementedError

    def _send(self, event: Event) -> None:
        raise NotImplementedError

    def _is_reply_audio_start(self) -> bool:
        state = self.machine.state
        if self._route == "local" and (
            state == TurnState.WAITING or (state in (TurnState.SPEAKING, TurnState.BARGE_IN) and not self._reply_ended)
        ):
            return True
        if self.clock.now() < self._late_reply_until:
            _LOGGER.info("late reply of an earlier turn: dropped")
            self._late_reply_until = float("-inf")
            self._incoming = None
            return True  # the reply path drops it: no turn is waiting for it
        return False

    def _on_announcement_audio(self, event: Event) -> bool:
        """Controller audio outside a turn is an announcement: True if ``event`` was handled as one."""
        if AudioStart.is_type(event.type):
            if self._is_reply_audio_start():
                return False
            if self.machine.state == TurnState.IDLE:
                _LOGGER.warning("paused: announcement not played")
                self._incoming = None
                self._send(Played().event())
                return True
            if self._incoming == "announcement":
                self._announcement_ended("a new audio-start")  # the previous one got no audio-stop
            start = AudioStart.from_event(event)
            self.announcements.start(AudioFormat(start.rate, start.width, start.channels))
            self._incoming = "announcement"
            _LOGGER.info("announcement arriving (%d waiting)", self.announcements.waiting)
            self._next_announcement()
            return True
        if self._incoming != "announcement" or not (AudioChunk.is_type(event.type) or AudioStop.is_type(event.type)):
            return False
        if AudioStop.is_type(event.type):
            self._announcement_ended("audio-stop")
            return True
        try:
            self.playback.add_pcm(self.announcements.audio(AudioChunk.from_event(event).audio))
        except ValueError as err:  # a malformed WAV header: what came so far is all there is
            _LOGGER.error("announcement audio unusable: %s", err)
            self._announcement_ended("bad audio")
        return True

    def _announcement_ended(self, why: str) -> None:
        """The announcement being received is complete (what came of it plays out)."""
        self._incoming = None
        tail, complete = self.announcements.stop()
        self.playback.add_pcm(tail)
        dropped = 0
        if complete:  # `played` after the last audible sample: its trailing near-silence is not played
            dropped = self.playback.drop_quiet_tail(self.announcements.config.quiet_level,
                                                    self.announcements.quiet_tail_bytes)
        _LOGGER.info("announcement ended (%s) playing=%s quiet_tail_ms=%d", why, complete,
                     self.playback.fmt.seconds(dropped) * 1000)
        if complete and self.machine.state in PLAYING:
            self._reply_ended = True

    def _end_controller_audio(self) -> None:
        """The controller is gone: what it sent of an announcement plays out; waiting ones are dropped."""
        if self._incoming == "announcement":
            self._announcement_ended("controller gone")
        if self.announcements.waiting:
            _LOGGER.info("controller gone: %d waiting announcement(s) dropped", self.announcements.waiting)
        self.announcements.drop_waiting()

    def _next_announcement(self) -> None:
        if self.machine.state == TurnState.LISTENING and self.announcements.waiting:
            self._fire(TurnTrigger.ANNOUNCE)

    def _play_announcement(self) -> None:
        nxt = self.announcements.next()
        if nxt is None:
            return
        clip, pcm = nxt
        self._route = "announce"
        self.playback.resume()
        self.playback.end_reply()
        self.playback.add_pcm(pcm)  # the chime and the audio so far; with no audio yet, the chime waits for it
        self._reply_ended = clip.complete
        self._emit("speaking", what="announcement")

    def _on_timer_event(self, event: Event) -> None:
        try:
            notice = self.timers.apply(event, self.clock.now())
        except (KeyError, TypeError, ValueError) as err:
            _LOGGER.warning("malformed %s event ignored: %s %s", event.type, type(err).__name__, err)
            return
        if notice is not None:
            self._ring(notice)
        elif TimerCancelled.is_type(event.type) and self.alarm.ringing is not None \
                and self.alarm.ringing.id == event.data.get("id"):
            self.stop_alarm("timer cancelled")

    def _ring(self, notice: TimerFinishedNotice) -> None:
        self.alarm.start(notice, self.clock.now())
        self._emit("timer-ringing", id=notice.id, name=notice.name)
        voice = self.config.alarm.voice
        if voice.uri is not None and notice.announced:
            _LOGGER.info("timer %s: the controller announces it; the satellite does not say it too", notice.id)
        elif voice.uri is not None:
            self.alarm.waiting_for_line = True
            if self._timer_line is not None:
                self._timer_line.cancel()  # the line of a timer that is no longer ringing
            self._timer_line = asyncio.create_task(self._say_timer(notice), name=f"timer {notice.id} name")
            self._tasks = [task for task in self._tasks if not task.done()] + [self._timer_line]

    async def _say_timer(self, notice: TimerFinishedNotice) -> None:
        """Synthesize the finished timer's line (off the mic loop); it plays once, ahead of the beeps."""
        voice = self.config.alarm.voice
        text = voice.line(notice.name)
        try:
            pcm = await synthesize(voice, text, self.playback.fmt)
        except TtsFailed as err:
            _LOGGER.warning("timer %s rings without its name: %s", notice.id, err)
            pcm = b""
        if self.alarm.ringing is not notice:
            _LOGGER.info("timer %s stopped before its name was ready: not spoken", notice.id)
            return
        self.alarm.line, self.alarm.waiting_for_line = pcm, False
        if pcm:
            _LOGGER.info("timer %s: %r (%.2f s) plays ahead of the beeps", notice.id, text,
                         self.playback.fmt.seconds(len(pcm)))

    def _start_timer_voice(self) -> None:
        """At start-up: describe the --tts-uri server (or log that there is none), in the background."""
        self._tasks.append(asyncio.create_task(describe(self.config.alarm.voice), name="timer voice describe"))

    def stop_alarm(self, reason: str = "local stop") -> bool:
        """Stop a ringing timer alarm (a button, a local "stop"); True if one was ringing. Speech does
        not stop it while the timer's spoken name plays and ``LINE_ECHO_SECONDS`` after (its echo)."""
        if reason == "speech" and self.alarm.ringing is not None and self.clock.now() < self._line_until:
            _LOGGER.debug("speech while the timer's name plays: its echo, the alarm rings on")
            return False
        if not self.alarm.stop(reason):
            return False
        self.playback.clear_tones()
        self._emit("timer-stopped", reason=reason)
        return True

    def on_wake_detected(self, name: str | None = None) -> bool:
        """The wake word was heard (called by the wake-word code).

        Returns True when the detection was used up stopping a ringing alarm: then no turn starts.
        """
        self._emit("wake-detected", name=name)
        return self.stop_alarm("wake word")

    @property
    def follow_up_open(self) -> bool:
        """The reply asked a question: listen again without the wake word (for ``follow_up_seconds``);
        or the controller has just ended the question and the user may go on (``CONTINUE_SECONDS``)."""
        state, now = self.machine.state, self.clock.now()
        return (state == TurnState.LISTENING and now < self._follow_up_until) or (
            state == TurnState.WAITING and now < self._continue_until)

    def _ended_by_controller(self) -> None:
        """The controller ended the question: speech from now on is new (a continuation or a barge-in)."""
        _LOGGER.info("the question's speech: %d voiced frames (%s)", self.detector.voiced_frames,
                     "in speech" if self.detector.in_speech else "ended")
        self.detector.restart()
        self._continue_until = self.clock.now() + CONTINUE_SECONDS

    def _tick(self) -> None:
        """Once per mic frame: timers overdue, the alarm's next beeps or its end."""
        now = self.clock.now()
        if (notice := self.timers.overdue(now)) is not None:
            self._ring(notice)
        if self.alarm.ringing is not None:
            if self.alarm.expired(now):
                self.stop_alarm(f"rang {self.config.alarm.seconds:.0f} s")
            elif not self.playback.busy and self.machine.state not in PLAYING:  # a reply/announcement goes first
                sound = self.alarm.next_sound(now)
                if sound and sound is not self.alarm.sound:  # the timer's name: speech heard now is its echo
                    self._line_until = now + self.playback.fmt.seconds(len(sound)) + LINE_ECHO_SECONDS
                self.playback.add_tone(sound)

    def _emit(self, event_type: str, **data: object) -> None:
        if self.hooks is not None:
            self.hooks.emit(event_type, data)

    def _send_played(self) -> None:
        """``played`` for a reply or an announcement; a reply that asked a question opens a follow-up."""
        if self._route in ("local", "announce"):
            self._send(Played().event())
            self._emit("played")
        if self._route == "announce":
            clip = self.announcements.playing
            if clip is not None:
                _LOGGER.info("announcement played: %.2f s of audio", self.playback.fmt.seconds(clip.received))
            self.announcements.finish()
        elif self._route == "local" and self._reply_text.strip().endswith(QUESTION_ENDINGS) \
                and self.config.follow_up_seconds > 0:
            _LOGGER.info("the reply asked a question: listening without the wake word for %.1f s",
                         self.config.follow_up_seconds)
            self._follow_up_until = self.clock.now() + self.config.follow_up_seconds
        self._reply_text = ""
        self._route = None
