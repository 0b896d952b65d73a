"""The satellite's turn driver: mic → echo guard → VAD → state machine → controller or cloud.

One :class:`Satellite` per process, shared by all connections; the connection that last
sent ``run-satellite`` is the controller. The mic clocks everything: for each mic frame
one speaker frame is written (see :mod:`satellite.audio_io`).

Turn protocol with the controller (as Home Assistant drives wyoming-satellite):
``run-pipeline`` (asr → tts), ``audio-start``, ``audio-chunk``s (pre-roll first),
``audio-stop`` at speech end; the reply's ``audio-start``/``audio-chunk``s/``audio-stop``
play as they stream in; ``played`` once the reply has been heard to the end.

Barge-in: while a reply plays the mic is still listened to (through the echo guard). As soon
as the VAD hears speech the reply is held (silent, kept); speech that lasts
``barge_in_min_seconds`` then drops it (not drained) and starts a new turn, while a shorter
sound (a cough) resumes it where it stopped. The controller is told to cancel by the new
turn itself: a new ``run-pipeline`` during a reply means "cancel that reply" (the
orchestrator treats it as barge-in; Home Assistant starts a new pipeline). The new
utterance is streamed with its pre-roll, so its start is intact. Reply
audio of the old turn that still arrives is dropped: reply audio is accepted only after
the new utterance's ``audio-stop``, from its ``audio-start`` on.

If the controller decides the speech has ended first (``voice-stopped`` or ``transcript``
while the satellite still streams, as Home Assistant's own VAD may), the stream ends there.

Cloud fallback: when no controller is attached, or the controller answers a turn with an
``error`` of code ``services-unavailable`` (the utterance is then sent to the cloud), the
turn runs against the cloud (:mod:`satellite.cloud`). After such an error turns go to the
cloud for ``local_retry_seconds``, then the controller is tried again; a controller that
(re)sends ``run-satellite`` is used at once. ``pause-satellite`` (muted in Home Assistant)
makes the satellite ignore the mic until the next ``run-satellite``, cloud or not.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol

from wyoming.asr import Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.pipeline import PipelineStage, RunPipeline
from wyoming.satellite import PauseSatellite, RunSatellite
from wyoming.snd import Played
from wyoming.tts import Synthesize
from wyoming.vad import VoiceStopped

from voice_runtime.audio import AudioFormat
from voice_runtime.clock import Clock, MonotonicClock
from voice_runtime.tasks import cancel_and_wait

from .audio_io import EchoPathMic, MicSource, SpeakerSink
from .cloud import CloudAssistant
from .echo import EchoConfig, EchoGuard, frame_rms
from .playback import Playback
from .state import Action, State, Trigger, TurnMachine
from .tones import LISTEN_HZ, PROCESS_HZ, ToneConfig, tone
from .vad import RATE, SpeechDetector, VadConfig, VadEvent

_LOGGER = logging.getLogger(__name__)
SERVICES_UNAVAILABLE = "services-unavailable"
_OUTBOX_SIZE = 2000  # events (~60 s of 30 ms chunks); when full, events are dropped (logged)


class ControllerLink(Protocol):
    client: str

    async def write_event(self, event: Event) -> None: ...


@dataclass(frozen=True)
class SatelliteConfig:
    name: str = "hearth-satellite"
    area: str | None = None
    vad: VadConfig = field(default_factory=VadConfig)
    echo: EchoConfig = field(default_factory=EchoConfig)
    tones: ToneConfig = field(default_factory=ToneConfig)
    barge_in_min_seconds: float = 0.4
    barge_in_hold: bool = True  # silence the reply as soon as speech starts over it
    reply_timeout: float = 20.0
    max_speech_seconds: float = 30.0  # an utterance is cut here (a TV left on must not stream forever)
    local_retry_seconds: float = 30.0


class Satellite:
    def __init__(
        self,
        config: SatelliteConfig,
        mic: MicSource,
        speaker: SpeakerSink,
        *,
        cloud: CloudAssistant | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.config = config
        self.mic = mic
        self.speaker = speaker
        self.cloud = cloud
        self.clock = clock or MonotonicClock()
        self.machine = TurnMachine()
        self.detector = SpeechDetector(config.vad)
        self.guard = EchoGuard(config.echo, config.vad.frame_seconds)
        self.playback = Playback(speaker.rate, config.vad.frame_ms)
        self._listen_tone = tone(LISTEN_HZ, speaker.rate, config.tones)
        self._process_tone = tone(PROCESS_HZ, speaker.rate, config.tones)
        self.controller: ControllerLink | None = None
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
        self._timed_out_turn = -1  # the turn given up on (its utterance is kept for a late fallback)
        self._mic_ms = 0.0
        self.turns = 0
        self.stopped = asyncio.Event()

    # -- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._run(), name="satellite mic loop"),
            asyncio.create_task(self._send_loop(), name="satellite sender"),
        ]
        self._update_arming()

    async def stop(self) -> None:
        await cancel_and_wait(self._cloud_task)
        for task in self._tasks:
            await cancel_and_wait(task)
        self._tasks = []

    @property
    def state(self) -> State:
        return self.machine.state

    # -- controller API (called by the handler) ------------------------------------------
    def attach(self, link: ControllerLink) -> None:
        if self.controller is not None and self.controller is not link:
            _LOGGER.info("controller replaced old=%s new=%s", self.controller.client, link.client)
            self._abort_local_turn()
        self.controller = link
        self._paused = False
        self._degraded_until = float("-inf")
        _LOGGER.info("controller attached client=%s", link.client)
        self._update_arming()

    def detach(self, link: ControllerLink) -> None:
        if self.controller is not link:
            return
        _LOGGER.info("controller gone client=%s", link.client)
        self._abort_local_turn()
        self.controller = None
        self._paused = False
        self._update_arming()

    async def on_controller_event(self, link: ControllerLink, event: Event) -> None:
        if RunSatellite.is_type(event.type):
            self.attach(link)
            return
        if link is not self.controller:
            _LOGGER.debug("event=%s from a connection that is not the controller; ignored", event.type)
            return
        if PauseSatellite.is_type(event.type):
            _LOGGER.info("paused by controller")
            self._abort_local_turn()
            self._paused = True
            self._update_arming()
            return
        if self._late_fallback(event):
            return
        if self._route != "local":
            _LOGGER.debug("event=%s outside a local turn; ignored", event.type)
            return
        self._waiting_since = self.clock.now()  # reply_timeout counts from the last event of the turn
        state = self.machine.state
        if Transcript.is_type(event.type):
            _LOGGER.info("transcript=%r", Transcript.from_event(event).text)
            self._fire(Trigger.TRANSCRIPT)
        elif VoiceStopped.is_type(event.type):
            if state is State.STREAMING:
                _LOGGER.info("end of speech found by the controller")
            self._fire(Trigger.SPEECH_END)
        elif Synthesize.is_type(event.type):
            _LOGGER.info("reply text=%r", Synthesize.from_event(event).text)
        elif AudioStart.is_type(event.type):
            start = AudioStart.from_event(event)
            self._reply_start(AudioFormat(start.rate, start.width, start.channels))
        elif AudioChunk.is_type(event.type):
            if state in (State.SPEAKING, State.BARGE_IN) and not self._reply_ended:
                self.playback.add_reply(AudioChunk.from_event(event).audio)
        elif AudioStop.is_type(event.type):
            self._reply_end()
        elif Error.is_type(event.type):
            error = Error.from_event(event)
            _LOGGER.warning("controller error code=%s text=%s", error.code, error.text)
            if state is State.SPEAKING and self._reply_ended:
                pass  # the whole reply (e.g. a spoken apology) has arrived: let it play to the end
            elif error.code == SERVICES_UNAVAILABLE and self.cloud is not None and state in (
                State.STREAMING, State.WAITING
            ):
                self._degraded_until = self.clock.now() + self.config.local_retry_seconds
                self._start_cloud_turn(ended=state == State.WAITING)
            else:
                self._fire(Trigger.ERROR)
        else:
            _LOGGER.debug("event=%s ignored", event.type)

    def _late_fallback(self, event: Event) -> bool:
        """``services-unavailable`` for the turn the reply timeout gave up on, nothing newer
        started: send its utterance to the cloud after all."""
        if not (Error.is_type(event.type) and self._timed_out_turn == self.turns and self.cloud is not None
                and self._route is None and self.machine.accepts(Trigger.LATE_FALLBACK)):
            return False
        if Error.from_event(event).code != SERVICES_UNAVAILABLE:
            return False
        _LOGGER.warning("services-unavailable after the reply timeout: turn %d goes to the cloud", self.turns)
        self._timed_out_turn = -1
        self._degraded_until = self.clock.now() + self.config.local_retry_seconds
        self._waiting_since = self.clock.now()
        self._fire(Trigger.LATE_FALLBACK)
        self._start_cloud_turn(ended=True)
        return True

    # -- cloud turn callbacks (TurnSink) -------------------------------------------------
    def on_transcript(self, text: str) -> None:
        self._waiting_since = self.clock.now()
        self._fire(Trigger.TRANSCRIPT)

    def on_reply_start(self, fmt: AudioFormat) -> None:
        self._reply_start(fmt)

    def on_reply_audio(self, pcm: bytes) -> None:
        if self.machine.state in (State.SPEAKING, State.BARGE_IN) and not self._reply_ended:
            self.playback.add_reply(pcm)

    def on_reply_end(self) -> None:
        if self.machine.state == State.WAITING:
            self._fire(Trigger.ERROR)  # nothing to say: the turn is over
        else:
            self._reply_end()

    # -- internals -----------------------------------------------------------------------
    def _reply_start(self, fmt: AudioFormat) -> None:
        state = self.machine.state
        if state == State.WAITING:
            self.playback.start_reply(fmt)
            self._reply_ended = False
            self._fire(Trigger.REPLY_START)
        elif state in (State.SPEAKING, State.BARGE_IN) and not self._reply_ended:
            self.playback.start_reply(fmt)

    def _reply_end(self) -> None:
        if self.machine.state in (State.SPEAKING, State.BARGE_IN):
            self.playback.end_reply()
            self._reply_ended = True

    def _local_available(self) -> bool:
        return self.controller is not None and not self._paused

    def _update_arming(self) -> None:
        armed = self._local_available() or (self.cloud is not None and not self._paused)
        if armed:
            self._armed.set()
            self._fire(Trigger.ARM)
        else:
            self._fire(Trigger.DISARM)

    def _abort_local_turn(self) -> None:
        if self._route == "local" and self.machine.state not in (State.IDLE, State.LISTENING):
            self._fire(Trigger.ERROR)

    def _send(self, event: Event) -> None:
        if self.controller is None:
            return
        try:
            self._outbox.put_nowait((self.controller, event))
        except asyncio.QueueFull:
            _LOGGER.warning("controller is not reading; dropped %s", event.type)

    async def _send_loop(self) -> None:
        while True:
            link, event = await self._outbox.get()
            try:
                with contextlib.suppress(ConnectionResetError):
                    await link.write_event(event)
            finally:
                self._outbox.task_done()

    async def flush(self) -> None:
        """Wait until every event queued for the controller has been written."""
        await self._outbox.join()

    def _fire(self, trigger: Trigger) -> None:
        before = self.machine.state
        actions = self.machine.fire(trigger)
        if self.machine.state != before or actions:
            _LOGGER.info("state %s -> %s on %s", before.value, self.machine.state.value, trigger.value)
        for action in actions:
            self._do(action)

    def _do(self, action: Action) -> None:
        if action == Action.START_TURN:
            self._start_turn()
        elif action == Action.END_STREAM:
            self._waiting_since = self.clock.now()
            if self._route == "local":
                self._send(AudioStop(timestamp=int(self._mic_ms)).event())
            elif self._cloud_audio is not None:
                self._cloud_audio.put_nowait(None)
        elif action == Action.CANCEL_TURN:
            self._cancel_cloud()
            self._route = None
        elif action == Action.STOP_PLAYBACK:
            dropped = self.playback.stop()
            if dropped:
                _LOGGER.info("playback stopped dropped_ms=%d", dropped * 1000 // (2 * self.playback.rate))
            self._reply_ended = False
        elif action == Action.HOLD_PLAYBACK and self.config.barge_in_hold:
            self.playback.hold()
        elif action == Action.RESUME_PLAYBACK:
            self.playback.resume()
        elif action == Action.SEND_PLAYED:
            if self._route == "local":
                self._send(Played().event())
            self._route = None
        elif action == Action.TONE_LISTEN and self.config.tones.enabled:
            self.playback.add_tone(self._listen_tone)
        elif action == Action.TONE_PROCESS and self.config.tones.enabled:
            self.playback.add_tone(self._process_tone)

    def _start_turn(self) -> None:
        self.turns += 1
        self._reply_ended = False
        self._utterance = bytearray(self._pending)
        self._pending.clear()
        local = self._local_available() and self.clock.now() >= self._degraded_until
        start_ms = int(self._mic_ms - len(self._utterance) * 1000 / (2 * RATE))
        if local or self.cloud is None:
            self._route = "local"
            _LOGGER.info("turn %d local run-pipeline preroll_ms=%d", self.turns, len(self._utterance) // 32)
            self._send(RunPipeline(start_stage=PipelineStage.ASR, end_stage=PipelineStage.TTS).event())
            self._send(AudioStart(rate=RATE, width=2, channels=1, timestamp=start_ms).event())
            self._send(AudioChunk(rate=RATE, width=2, channels=1, audio=bytes(self._utterance),
                                  timestamp=start_ms).event())
        else:
            _LOGGER.info("turn %d cloud", self.turns)
            self._start_cloud_turn(ended=False)

    def _start_cloud_turn(self, *, ended: bool) -> None:
        assert self.cloud is not None
        self._cancel_cloud()
        self._route = "cloud"
        self._cloud_audio = asyncio.Queue()
        self._cloud_audio.put_nowait(bytes(self._utterance))
        if ended:
            self._cloud_audio.put_nowait(None)
        self._cloud_task = asyncio.create_task(self._cloud_turn(self._cloud_audio), name="cloud turn")

    async def _cloud_turn(self, audio: asyncio.Queue[bytes | None]) -> None:
        assert self.cloud is not None

        async def chunks() -> AsyncIterator[bytes]:
            while (chunk := await audio.get()) is not None:
                yield chunk

        try:
            await self.cloud.run_turn(chunks(), self)
        except Exception as err:  # network, HTTP status, bad JSON: the turn fails cleanly
            _LOGGER.error("cloud turn failed: %s", type(err).__name__)
            _LOGGER.debug("cloud turn failure detail", exc_info=True)
            if self._cloud_task is asyncio.current_task():
                self._cloud_task = None
                self._fire(Trigger.ERROR)

    def _cancel_cloud(self) -> None:
        task, self._cloud_task = self._cloud_task, None
        self._cloud_audio = None
        if task is not None and not task.done():
            task.cancel()

    def _stream(self, frame: bytes) -> None:
        self._utterance += frame
        if self._route == "local":
            start_ms = int(self._mic_ms) - self.config.vad.frame_ms
            self._send(AudioChunk(rate=RATE, width=2, channels=1, audio=frame, timestamp=start_ms).event())
        elif self._cloud_audio is not None:
            self._cloud_audio.put_nowait(frame)

    def process_frame(self, frame: bytes, played: bytes) -> None:
        """One tick: ``frame`` from the mic, ``played`` the speaker frame of the same moment.

        Timestamps (ms) are positions in the mic's stream; ``_mic_ms`` is the end of ``frame``.
        """
        self._mic_ms += self.config.vad.frame_ms
        allow = self.guard.process(frame_rms(frame), frame_rms(played))
        event = self.detector.process(frame, allow)
        state = self.machine.state
        if state == State.IDLE:
            return
        if event == VadEvent.START:
            self._pending = bytearray(self.detector.take_preroll())
            self._fire(Trigger.SPEECH_START)
        elif state == State.STREAMING:
            self._stream(frame)
        elif state == State.BARGE_IN:
            self._pending += frame
        if event == VadEvent.END:
            self._pending.clear()
            self._fire(Trigger.SPEECH_END)
        state = self.machine.state
        if state == State.STREAMING and len(self._utterance) >= self.config.max_speech_seconds * RATE * 2:
            _LOGGER.warning("speech longer than %.0fs: cut", self.config.max_speech_seconds)
            self.detector.reset()
            self._fire(Trigger.SPEECH_END)
        elif state == State.BARGE_IN and self.detector.voiced_seconds >= self.config.barge_in_min_seconds:
            _LOGGER.info("barge-in after %.2fs of speech", self.detector.voiced_seconds)
            self._fire(Trigger.BARGE_IN_CONFIRMED)
        elif state in (State.SPEAKING, State.BARGE_IN) and self._reply_ended and not self.playback.has_reply:
            self._fire(Trigger.REPLY_DONE)
        elif state == State.WAITING and self.clock.now() - self._waiting_since > self.config.reply_timeout:
            _LOGGER.warning("nothing from the turn for %.0fs: given up", self.config.reply_timeout)
            self._timed_out_turn = self.turns
            self._fire(Trigger.ERROR)

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
                played = self.playback.next_frame()
                await self.speaker.write(played)
                if echo_path is not None:
                    echo_path.played(played)
                self.process_frame(frame, played)
        except (OSError, ValueError) as err:  # a device or command that cannot be opened or used
            _LOGGER.error("audio failed: %s", err)
        finally:
            self.stopped.set()
            await self.mic.close()
            await self.speaker.close()
