"""The satellite's turn driver: mic → echo guard → canceller → (wake word) → VAD → state machine → controller or cloud.

One :class:`Satellite` per process, shared by all connections; the first to send ``run-satellite``
is the controller while it is alive (:mod:`satellite.admission`; attached, armed and written to
by :mod:`satellite.controller_side`). The mic clocks everything: for each mic frame one speaker
frame is written (see :mod:`satellite.audio_io`).

Turn protocol with the controller (as Home Assistant drives wyoming-satellite):
``run-pipeline`` (asr → tts), ``audio-start``, ``audio-chunk``s (pre-roll first),
``audio-stop`` at speech end (or when the controller's ``voice-stopped``/``transcript``
comes first); the reply's ``audio-start``/``audio-chunk``s/``audio-stop`` play as they
stream in; ``played`` once the reply has been heard to the end.

Barge-in: while a reply plays the mic is still listened to (through the echo guard). As soon
as the VAD hears speech the reply is held (silent, kept); speech that lasts
``barge_in_min_seconds`` then drops it and starts a new turn (a new ``run-pipeline`` during
a reply means "cancel that reply"), while a shorter sound (a cough) resumes it. Right after the
question's end, over the reply's first moments, a shorter word is enough: the user going on
(:mod:`satellite.held`). Reply audio of the old turn that still arrives is dropped.

Outside a turn (:mod:`satellite.outside`): announcements, timers, follow-ups, event hooks.
Cloud fallback (:mod:`satellite.cloud_turn`): with no controller, or after an ``error`` of
code ``services-unavailable``, the turn runs against the cloud; for ``local_retry_seconds`` turns go
there directly. ``pause-satellite`` makes the satellite ignore the mic until the next ``run-satellite``.

Wake word (``wake`` set, :mod:`satellite.wake`): only a detection starts a turn (``detection``,
then ``run-pipeline`` from asr with ``wake_word_name``); the VAD then waits for the command and
its end. A detection during a reply is a confirmed barge-in. Front end (``frontend`` set,
:mod:`satellite.aec`): the echo-cancelled frame is what the VAD and wake word hear and what is
streamed, and what the echo judge (:mod:`satellite.echojudge`) hears the user in.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event
from wyoming.pipeline import PipelineStage, RunPipeline

from voice_runtime.clock import Clock, MonotonicClock
from voice_runtime.tasks import cancel_and_wait

from .admission import Admission
from .aec import AudioFrontend
from .announce import Announcements
from .audio_io import EchoPathMic, MicSource, SpeakerSink
from .bargetrace import BargeTrace
from .cloud import CloudAssistant
from .cloud_turn import CloudTurns
from .config import SatelliteConfig
from .controller_events import ControllerEvents, ControllerLink
from .controller_side import ControllerSide
from .echojudge import EchoJudge
from .ha_turn import HaEndOfTurn
from .held import REPLY_PLAYED, HeldSpeech
from .hooks import EventHooks
from .lag import MicLag
from .outside import LATE_REPLY_SECONDS, OutsideTurn
from .playback import Playback
from .speaker_path import SpeakerPath
from .state import HELD, PLAYING, TurnAction, TurnMachine, TurnState, TurnTrigger
from .talker_gate import TalkerGate
from .timers import Alarm, TimerBoard
from .tones import LISTEN_HZ, PROCESS_HZ, alarm, chime, error_tone, tone, wav_sound
from .vad import RATE, SpeechDetector, VadEvent
from .wake import WakeGate
from .wake_turn import WakeTurns

__all__ = ["Satellite", "SatelliteConfig"]  # the config's home was here: imported from here still
_LOGGER = logging.getLogger(__name__)
_OUTBOX_SIZE = 2000  # events (~60 s of 30 ms chunks); when full, events are dropped (logged)


class Satellite(ControllerSide, ControllerEvents, SpeakerPath, OutsideTurn, CloudTurns, WakeTurns, HaEndOfTurn,
                HeldSpeech):
    def __init__(
        self,
        config: SatelliteConfig,
        mic: MicSource,
        speaker: SpeakerSink,
        *,
        cloud: CloudAssistant | None = None,
        clock: Clock | None = None,
        hooks: EventHooks | None = None,
        frontend: AudioFrontend | None = None,
        wake: WakeGate | None = None,
    ) -> None:
        self.config = config
        self.mic = mic
        self.speaker = speaker
        self.cloud = cloud
        self.clock = clock or MonotonicClock()
        self.frontend = frontend  # AEC/NS/AGC (satellite.aec); None: the raw mic
        self.wake = wake  # None: always listening (--no-wake-word), any speech starts a turn
        # The talker gate (satellite.talker_gate) needs the wake word's level as its reference.
        self.talker = TalkerGate(config.talker, config.vad.frame_seconds) if wake and config.talker.enabled else None
        if wake is None and config.talker.enabled:
            _LOGGER.info("talker gate off: no wake word, so no talker to key it to (--no-wake-word)")
        self._wake_name: str | None = None  # the wake word that started the turn in progress
        self._wake_ms = 0.0  # mic time of the last detection
        self._wake_turn = False  # the turn in progress was started by the wake word
        self.machine = TurnMachine()
        self.detector = SpeechDetector(config.vad)
        self.guard = EchoJudge(config.echo, config.vad.frame_seconds,
                               cancels_echo=frontend is not None and frontend.cancels_echo)
        self.trace = BargeTrace()
        self.lag = MicLag(config.vad.frame_seconds)
        self._stalled = self._span_adapted = False
        self._span_frames = 0
        self._wire_echo_path()
        self.playback = Playback(speaker.rate, config.vad.frame_ms)
        rate, tones = speaker.rate, config.tones
        self._listen_tone = wav_sound(config.awake_wav, rate) if config.awake_wav else tone(LISTEN_HZ, rate, tones)
        self._process_tone = wav_sound(config.done_wav, rate) if config.done_wav else tone(PROCESS_HZ, rate, tones)
        self._error_tone = wav_sound(config.error_wav, rate) if config.error_wav else error_tone(rate, tones)
        self.announcements = Announcements(config.announce, self.playback.fmt, chime(rate, config.tones))
        self.timers = TimerBoard()
        self.alarm = Alarm(config.alarm, wav_sound(config.timer_finished_wav, rate) if config.timer_finished_wav
                           else alarm(rate, config.tones))
        self.hooks = hooks or (EventHooks(config.hooks) if config.hooks.enabled else None)
        self._incoming: str | None = None  # what controller audio-chunks are: "reply" | "announcement" | "parked"
        # Until then an audio-start is the late reply of a turn that ended without it (dropped), not an
        # announcement: inf while a reply is owed, a few seconds after such a turn ended, else -inf.
        self._late_reply_until = float("-inf")
        self._reply_text = ""
        self._follow_up_until = float("-inf")
        self.controller: ControllerLink | None = None
        self.admission = Admission(self.clock, config.controller_silent_seconds)  # who may be the controller
        self._paused = False
        self._degraded_until = float("-inf")
        self._armed = asyncio.Event()
        self._outbox: asyncio.Queue[tuple[ControllerLink, Event]] = asyncio.Queue(_OUTBOX_SIZE)
        self._tasks: list[asyncio.Task[None]] = []
        # The turn in progress.
        self._route: str | None = None  # "local" | "cloud"
        self._utterance = bytearray()  # the whole utterance (for a fallback to the cloud)
        self._pending = bytearray()  # speech heard over the reply, before barge-in is confirmed
        self._cloud_audio: asyncio.Queue[bytes | None] | None = None
        self._cloud_task: asyncio.Task[None] | None = None
        self._reply_ended = False
        self._waiting_since = 0.0  # the last sign of progress of the awaited reply
        self._transcribed = False  # the controller has sent this turn's transcript
        self._timed_out_turn = -1  # the turn given up on (its utterance is kept for a late fallback)
        self._mic_ms = 0.0
        self._voiced: deque[bool] = deque(maxlen=64)  # the VAD's verdicts, the last frame's last (ha_turn.py)
        self._held_ms = 0.0  # mic time the reply was last held
        self.turns = 0
        self.stopped = asyncio.Event()

    # -- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        if self.wake is not None:
            await self.wake.start()
        self._tasks = [
            asyncio.create_task(self._run(), name="satellite mic loop"),
            asyncio.create_task(self._send_loop(), name="satellite sender"),
        ]
        if self.hooks is not None:
            await self.hooks.start()
        self._start_timer_voice()
        self._update_arming()

    async def stop(self) -> None:
        await cancel_and_wait(self._cloud_task)
        if self._eot is not None:
            await self._eot.close()
        for task in self._tasks:
            await cancel_and_wait(task)
        self._tasks = []
        if self.hooks is not None:
            await self.hooks.stop()
        if self.wake is not None:
            await self.wake.stop()

    @property
    def state(self) -> TurnState:
        return self.machine.state

    # -- internals -----------------------------------------------------------------------
    def _fire(self, trigger: TurnTrigger) -> None:
        before = self.machine.state
        actions = self.machine.fire(trigger)
        if self.machine.state != before or actions:
            _LOGGER.info("state %s -> %s on %s", before.value, self.machine.state.value, trigger.value)
        for action in actions:
            self._do(action)
        if self.machine.state in (TurnState.LISTENING, TurnState.IDLE):
            self._parked = None  # the turn is over: a cut reply is not resumed by a later one
            self._eot_stop()
            if self._route == "announce":
                self._route = None
            if self._late_reply_until == float("inf"):  # the turn ended before its reply came
                self._late_reply_until = self.clock.now() + LATE_REPLY_SECONDS
            self._next_announcement()

    def _do(self, action: TurnAction) -> None:
        if action == TurnAction.START_TURN:
            self._start_turn()
        elif action == TurnAction.END_STREAM:
            self._waiting_since, self._ended_ms = self.clock.now(), self._mic_ms
            self._question_ended()  # (held.py: the user going on is listened for)
            self._emit("streaming-stopped")
            self._stream(self.talker.flush() if self.talker is not None else [])  # what the talker gate held back
            if self._route == "local":
                self._late_reply_until = float("inf")
                for frame in self._eot_finish():  # a pause held back from Home Assistant (ha_turn.py)
                    self._send(AudioChunk(rate=RATE, width=2, channels=1, audio=frame,
                                          timestamp=int(self._mic_ms)).event())
                _LOGGER.info("audio-stop to the controller at mic %.2fs", self._mic_ms / 1000)
                self._send(AudioStop(timestamp=int(self._mic_ms)).event())
            elif self._cloud_audio is not None:
                self._cloud_audio.put_nowait(None)
        elif action == TurnAction.CANCEL_TURN:
            self._cancel_cloud()
            self._route = None
        elif action == TurnAction.STOP_PLAYBACK:
            if not self.playback.held and self.playback.busy:
                self._abort_speaker("stop")
            self._park_reply()  # (controller_events.py: said again, only its rest plays)
            dropped = self.playback.stop()
            if dropped:
                _LOGGER.info("playback stopped dropped_ms=%d", dropped * 1000 // (2 * self.playback.rate))
            self._log_echo()
            self._reply_ended = False
            if self._route == "announce":
                self.announcements.finish()
            if self._incoming in ("reply", "parked"):
                self._incoming = None
        elif action == TurnAction.HOLD_PLAYBACK:
            self._hold_begins()  # what will confirm the speech (held.py)
            if self.config.barge_in_hold:
                self.playback.hold()
                self._held_ms = self._mic_ms
                self._abort_speaker("hold")
        elif action == TurnAction.RESUME_PLAYBACK:
            self.playback.resume()
            self._hold_ends()  # (logged: held.py)
        elif action == TurnAction.SEND_PLAYED:
            self._send_played()
            self._log_echo()
        elif action == TurnAction.PLAY_ANNOUNCEMENT:
            self._play_announcement()
        elif action == TurnAction.TONE_LISTEN and self.config.tones.enabled:
            self.playback.add_tone(self._listen_tone)
        elif action == TurnAction.TONE_PROCESS and self.config.tones.enabled:
            self.playback.add_tone(self._process_tone)

    def _start_turn(self) -> None:
        self.turns += 1
        self.guard.going_on.stop()
        self._transcribed = False
        self._reply_ended = False
        self._reply_text = ""
        self._follow_up_until = float("-inf")
        self.stop_alarm("speech")
        self._emit("streaming-started")
        self._utterance = bytearray(self._pending)
        self._pending.clear()
        if self.talker is not None:  # keyed to the wake word's level, or a follow-up's first words
            self._utterance = bytearray(self.talker.begin(bytes(self._utterance), self._wake_name is not None))
        local = self._local_available() and self.clock.now() >= self._degraded_until
        lag = self.talker.lag if self.talker is not None else 0  # frames it holds back
        start_ms = int(self._mic_ms - (len(self._utterance) // 32 + lag * self.config.vad.frame_ms))
        self._wake_turn = self._wake_name is not None
        if local or self.cloud is None:
            self._route = "local"
            _LOGGER.info("turn %d local run-pipeline preroll_ms=%d", self.turns, len(self._utterance) // 32)
            self.detector.end_after(self.config.controller_end_seconds)
            self._eot_begin(bytes(self._utterance))
            run = RunPipeline(start_stage=PipelineStage.ASR, end_stage=PipelineStage.TTS,
                              wake_word_name=self._wake_name).event()
            if (played := self._played_before_hold()) is not None:  # (held.py; orchestrator.continuation)
                run.data[REPLY_PLAYED] = played
            self._send(run)
            self._hold_audio(self._may_restart())  # (wake_turn.py: not sent while a wake word may restart it)
            self._send(AudioStart(rate=RATE, width=2, channels=1, timestamp=start_ms).event())
            if self._utterance:  # none while the talker gate holds it: an empty chunk ends HA's STT stream
                self._send(AudioChunk(rate=RATE, width=2, channels=1, audio=bytes(self._utterance),
                                      timestamp=start_ms).event())
        else:
            _LOGGER.info("turn %d cloud", self.turns)
            self._start_cloud_turn(ended=False)
        self._wake_name = None

    def _stream(self, frames: list[bytes]) -> None:
        """Stream ``frames``, the last heard ``lag`` frames before the current one (the talker gate holds some back)."""
        lag = self.talker.lag if self.talker is not None else 0
        for k, frame in enumerate(frames):
            age = len(frames) - 1 - k + lag
            self._utterance += frame
            if self._route == "local":  # the frame (with its own VAD verdict); with --end-of-turn-uri
                voiced = self._voiced[-1 - age] if age < len(self._voiced) else self.detector.voiced
                out = self._eot_frames(frame, voiced)  # none while a pause is held back
                for i, audio in enumerate(out):
                    start_ms = int(self._mic_ms) - self.config.vad.frame_ms * (len(out) - i + age)
                    self._send(AudioChunk(rate=RATE, width=2, channels=1, audio=audio, timestamp=start_ms).event())
            elif self._cloud_audio is not None:
                self._cloud_audio.put_nowait(frame)

    def process_frame(self, frame: bytes, played: bytes) -> None:
        """One tick: ``frame`` from the mic, ``played`` the speaker frame of the same moment.

        Timestamps (ms) are positions in the mic's stream; ``_mic_ms`` is the end of ``frame``.
        """
        self._mic_ms += self.config.vad.frame_ms
        self._tick()
        raw = frame
        frame, allow = self._judge(frame, played)  # the VAD, the wake word and the controller get the cleaned frame
        if self.guard.phantom:  # ... but not the echo of audio that never played (satellite.killed_echo)
            frame = raw
        heard, streamed, turns = frame, [frame], self.turns
        if self.talker is not None:  # in a gated turn the VAD and the controller hear its talker only
            streamed = self.talker.step(frame, self.machine.state == TurnState.STREAMING)
            frame = self.talker.now
        event = self.detector.process(frame, allow)
        self._voiced.append(self.detector.voiced)
        self.trace.stamp_judged()
        state = self.machine.state
        if state == TurnState.IDLE:
            return
        if self.wake is not None:
            event = self._wake_step(heard, event, state)
            state = self.machine.state
        if event == VadEvent.START:  # over a reply: from where the judge first heard the user
            self._pending = bytearray(self._preroll(self.detector.take_preroll(), len(frame), state in PLAYING))
            self._fire(TurnTrigger.SPEECH_START)
        elif self.guard.onset and state in (TurnState.SPEAKING, TurnState.ANNOUNCING):
            self._pending.clear()  # the VAD's pre-roll replaces it once it hears speech
            self._fire(TurnTrigger.ONSET)
        elif state == TurnState.STREAMING and self.turns == turns:  # (a turn's first frame is in its pre-roll)
            self._stream(streamed)
        elif state in HELD:
            self._pending += frame
        if event == VadEvent.END:
            self._pending.clear()
            self._fire(TurnTrigger.SPEECH_END)
        state = self.machine.state
        if state == TurnState.STREAMING and len(self._utterance) >= self.config.max_speech_seconds * RATE * 2:
            _LOGGER.warning("speech longer than %.0fs: cut", self.config.max_speech_seconds)
            self.detector.reset()
            self._fire(TurnTrigger.SPEECH_END)
        elif state in HELD and (verdict := self._held_verdict()) is not None:  # held.py
            self._fire(verdict)
        elif state in PLAYING and self._reply_ended and not self.playback.has_reply:
            self._fire(TurnTrigger.REPLY_DONE)
        elif state == TurnState.WAITING:
            self._check_waiting()

    async def _run(self) -> None:
        await self._armed.wait()
        echo_path = self.mic if isinstance(self.mic, EchoPathMic) else None
        try:
            await self.mic.open()
            await self.speaker.open()
            while True:
                try:
                    frame = await self.mic.read()
                except EOFError:
                    _LOGGER.error("microphone ended")
                    return
                self.trace.stamp_read()
                self._check_lag()
                played = self.playback.next_frame()
                await self.speaker.write(played)
                if echo_path is not None:
                    echo_path.played(played)
                self.process_frame(frame, played)
                self._slow_frame()
        except (OSError, ValueError) as err:  # a device or command that cannot be opened or used
            _LOGGER.error("audio failed: %s", err)
        finally:
            try:  # closed before ``stopped``: the process exits on it (a WAV speaker's header is written at close)
                await self.mic.close()
            finally:  # a stop's cancel landing in the mic's close must not skip the speaker's
                try:
                    await self.speaker.close()
                finally:
                    self.stopped.set()
