"""End of turn from meaning in Home Assistant's pipelines (``--end-of-turn-uri``).

Home Assistant 2026.2.3 sends its speech-to-text server only ``transcribe`` (a language), never
``vad_sensitivity``, and ends the question with its own silence-only detector
(``assist_pipeline/vad.py`` ``VoiceCommandSegmenter``: 0.25 / 0.7 / 1.25 s by the satellite's
"finished speaking detection"), then sends ``audio-stop`` and reads the transcript. So our
whisper's end of turn from what was said never runs there. Two things in HA's code make it
possible from the satellite:

* its satellite entity (``wyoming/assist_satellite.py``) ends the speech-to-text stream as soon as
  the satellite sends ``audio-stop`` (``_audio_queue.put_nowait(None)``); chunks after it are
  never read;
* its detector counts the **audio it receives** (``chunk_seconds`` from each chunk's length, in
  10 ms windows), not the wall clock: silence it is not sent, it does not count. (Its silence
  count is also restored only after 1 s of uninterrupted speech, so pauses add up within a
  question.)

So with ``--end-of-turn-uri tcp://HOST:10300`` (our ``wyoming_whisper``), during a run that
Home Assistant announced with ``transcribe`` (its STT stage; our orchestrator never sends it) the
satellite also streams the mic to that server with ``vad_sensitivity`` (the same request our
orchestrator makes, ``orchestrator/asr_session.py``) and:

* sends Home Assistant ``audio-stop`` as soon as the server's ``voice-stopped`` says the request
  is complete (a finished request: 1.0 s of silence with the default ``relaxed``, + its decode;
  it does not end a pause of up to 0.9 s of measured silence after words that read finished,
  which the 0.7 s of sessions 15-16 did: 0 of 90 offline, 0 of 10 on the real rig, where Home
  Assistant's own count still cut 1 of those 10: ``bench/results/ha_eot_offline.md``,
  ``bench/results/ha_end_of_turn_s17.md``);
* of each pause the server has not ended, sends Home Assistant only the first
  ``keep_pause_seconds``; the rest is held back, and dropped when speech resumes (its last
  ``preroll_seconds`` go first, so a soft onset is not lost) or sent before ``audio-stop`` when
  the turn ends, so the transcript gets the whole trailing silence. Home Assistant hears a
  shortened pause and does not cut "turn on the … kitchen lights" at its 0.7 s.
* once the server has read the speech so far as a finished request (its
  ``transcript-speculative``, asked for with ``speculative_transcripts``), Home Assistant gets
  ``finished_pause_seconds`` of that pause as it comes: enough for our whisper, as Home
  Assistant's STT, to make its speculative final decode of Home Assistant's stream (after 0.3 s
  of silence) while our end of turn still waits, so the transcript is ready at ``audio-stop``.
  Before (the whole trailing silence in one burst with ``audio-stop``) Home Assistant's STT
  started its decode only then: its transcript came 0.11-0.44 s after ``audio-stop``
  (``bench/results/ha_end_of_turn.md``, session 15). A Home Assistant set to ``aggressive``
  (0.25 s) then ends such a request itself, as it would alone.
* Home Assistant adds those slices up over a question (its count is restored only after 1 s of
  speech), and its VAD (MicroVad) also counts words it hears late as silence, so the gate
  (:mod:`.ha_gate`) runs HA's own end of the command on exactly what it sends
  (:mod:`.ha_vad`) and lets no pause take HA's count more than ``ha_silence_seconds`` (0.1 s)
  below its 0.7 s: "Turn on the fan, ... in the bedroom" (cut by HA in every rig run of sessions
  17-19 with the old estimate) is then not cut by Home Assistant either.

Held back only while the server has shown it keeps up (its ``voice-started`` for this turn).
Whatever goes wrong (no server, a refused connection, an ``error``, a closed connection, a
queue that fills because it is slow) the held audio goes to Home Assistant at once and from then
on every frame does: Home Assistant's own detector ends the turn, as without the option (logged
once per outage). The satellite's own ``--controller-end-seconds`` (2.0 s) silence still ends
any turn, so nothing is held longer than that.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from wyoming.asr import Transcribe
from wyoming.audio import AudioChunk, AudioStart
from wyoming.error import Error
from wyoming.event import async_write_event
from wyoming.vad import VoiceStarted, VoiceStopped

from voice_runtime.client import open_uri
from voice_runtime.limits import Limits
from voice_runtime.protocol import ProtocolError, read_frame
from voice_runtime.speculative import SpeculativeTranscript
from voice_runtime.tasks import cancel_and_wait

from .ha_gate import SilenceGate
from .state import TurnMachine, TurnState, TurnTrigger
from .vad import SpeechDetector

if TYPE_CHECKING:
    from .core import SatelliteConfig

_LOGGER = logging.getLogger(__name__)
_LIMITS = Limits(max_data_bytes=64 * 1024, max_payload_bytes=256 * 1024, frame_timeout=3.0)
SENSITIVITIES = ("aggressive", "default", "relaxed")


@dataclass(frozen=True)
class EndOfTurnConfig:
    uri: str | None = None  # our whisper server; None: Home Assistant's detector alone (as before)
    # the vad_sensitivity asked of it: relaxed, 1.0 s after a finished request (session 17; it was 0.7 s, which
    # cut pauses of 0.75-0.9 s of measured silence after words that read finished: bench/ha_eot_offline.py)
    sensitivity: str = "relaxed"
    keep_pause_seconds: float = 0.15  # of a pause not yet ended, Home Assistant hears this much
    # ... and this much once our whisper reads the speech before it as finished: more than its
    # 0.3 s speech pad, so Home Assistant's STT stream (the same server) decodes it in the pause
    finished_pause_seconds: float = 0.4
    preroll_seconds: float = 0.15  # of a held pause, this much goes ahead of speech that resumes
    # of HA's 0.7 s count, the pauses we send may spend this much (HA's own count, mirrored: .ha_gate); 0.6 until
    # session 19 (an estimate; 0.15 still cut 4 of 430 offline, 0.1 none: bench/ha_count_offline.py)
    ha_silence_seconds: float = 0.1
    # Home Assistant's "finished speaking detection" for this satellite (HA 2026.2.3 sends it to neither the
    # satellite nor the STT server): the count the gate mirrors (aggressive 0.25 s, default 0.7, relaxed 1.25).
    # Session 20, the real rig set to aggressive: the gate, mirroring 0.7 s, let HA cut "How far away ... is
    # the moon" at its pause.
    ha_sensitivity: str = "default"
    max_held_seconds: float = 3.0  # a hold never keeps more (the satellite's own end comes at 2.0 s)
    connect_timeout: float = 1.0
    before_transcribe_seconds: float = 2.0  # audio kept until Home Assistant's transcribe; none by then: not HA
    queue_frames: int = 100  # to the server (3 s of 30 ms frames); full: it is too slow, fall back

    def __post_init__(self) -> None:
        if self.sensitivity not in SENSITIVITIES or self.ha_sensitivity not in SENSITIVITIES:
            raise ValueError(f"end-of-turn and Home Assistant sensitivities must be one of {', '.join(SENSITIVITIES)}")
        if self.uri is not None:
            host_port(self.uri)
        if min(self.keep_pause_seconds, self.preroll_seconds, self.finished_pause_seconds, self.ha_silence_seconds) < 0:
            raise ValueError(
                "keep_pause_seconds, preroll_seconds, finished_pause_seconds and ha_silence_seconds "
                "must not be negative"
            )


def host_port(uri: str) -> tuple[str, int]:
    parts = urlsplit(uri)
    if parts.scheme != "tcp" or not parts.hostname or parts.port is None:
        raise ValueError(f"--end-of-turn-uri {uri!r} is not tcp://HOST:PORT")
    return parts.hostname, parts.port


class EndOfTurnStream:
    """One turn's mic audio to our whisper's end of turn. ``on_end`` is called (once, on the
    event loop) when the server says the turn is complete; ``on_failed`` with the reason when it
    cannot help (then it sends nothing more)."""

    def __init__(
        self,
        config: EndOfTurnConfig,
        frame_seconds: float,
        on_end: Callable[[], None],
        on_failed: Callable[[str], None],
    ) -> None:
        self.config = config
        self.on_end = on_end
        self.on_failed = on_failed
        self.early: deque[bytes] = deque(maxlen=max(1, round(config.before_transcribe_seconds / frame_seconds)))
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(config.queue_frames)
        self.task: asyncio.Task[None] | None = None
        self.live = False  # the server said voice-started: it keeps up with this turn
        self.finished_reading = False  # a transcript-speculative came: the speech so far reads finished
        self.failed = False
        self.ended = False

    def feed(self, frame: bytes) -> None:
        if self.failed or self.ended:
            return
        if self.task is None:
            self.early.append(frame)  # until Home Assistant's transcribe (a few ms into the turn)
            return
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            self._fail(f"{self.config.queue_frames} frames not sent: the server is too slow")

    def start(self, language: str | None) -> None:
        if self.task is not None or self.failed:
            return
        while self.early and not self.queue.full():
            self.queue.put_nowait(self.early.popleft())
        self.early.clear()
        self.task = asyncio.create_task(self._run(language), name="end of turn stream")

    def cancel(self) -> None:
        """The turn is over: stop (the connection closes as the task ends)."""
        self.ended = True
        if self.task is not None:
            self.task.cancel()

    async def close(self) -> None:
        self.ended = True
        await cancel_and_wait(self.task)

    def _fail(self, why: str) -> None:
        if not self.failed and not self.ended:
            self.failed = True
            self.live = False
            self.on_failed(why)

    async def _run(self, language: str | None) -> None:
        assert self.config.uri is not None  # tcp://HOST:PORT, checked by EndOfTurnConfig (host_port)
        writer: asyncio.StreamWriter | None = None
        try:
            reader, writer = await open_uri(self.config.uri, self.config.connect_timeout)
            request = Transcribe(
                language=language,
                vad_sensitivity=self.config.sensitivity,
                context={"partial_transcripts": False, "speculative_transcripts": True},
            )  # only its end of turn is wanted, and when it reads the speech as finished (SilenceGate.finished)
            await async_write_event(request.event(), writer)
            await async_write_event(AudioStart(rate=16000, width=2, channels=1).event(), writer)
            sender = asyncio.create_task(self._send(writer), name="end of turn sender")
            try:
                await self._read(reader)
            finally:
                await cancel_and_wait(sender)
        except (OSError, TimeoutError, ProtocolError, ValueError) as err:
            self._fail(f"{type(err).__name__} {err}".strip())
        finally:
            if writer is not None:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()

    async def _send(self, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                frame = await self.queue.get()
                await async_write_event(AudioChunk(rate=16000, width=2, channels=1, audio=frame).event(), writer)
        except OSError as err:
            self._fail(f"sending: {err}")

    async def _read(self, reader: asyncio.StreamReader) -> None:
        while True:
            event = await read_frame(reader, _LIMITS)
            if event is None:
                self._fail("the server closed the connection")
                return
            if VoiceStarted.is_type(event.type):
                self.live = not self.failed
                _LOGGER.info("end of turn: our whisper hears speech")  # once a turn (the pause's frames need it)
            elif SpeculativeTranscript.is_type(event.type):
                self.finished_reading = True
                _LOGGER.info("end of turn: our whisper reads the speech so far as finished")  # once a pause
            elif VoiceStopped.is_type(event.type):
                if not self.failed and not self.ended:
                    self.ended = True
                    self.on_end()
                return
            elif Error.is_type(event.type):
                error = Error.from_event(event)
                self._fail(f"error {error.code}: {error.text}")
                return


class HaEndOfTurn:
    """The satellite's side (a mixin of :class:`satellite.core.Satellite`): one stream per local
    turn, started by Home Assistant's ``transcribe``; the frames Home Assistant gets."""

    config: SatelliteConfig
    machine: TurnMachine
    detector: SpeechDetector
    turns: int
    _route: str | None
    _mic_ms: float
    _eot: EndOfTurnStream | None = None
    _eot_gate: SilenceGate | None = None
    _eot_down = False  # an outage was logged; the next turn the server keeps up with logs its return

    if TYPE_CHECKING:

        def _fire(self, trigger: TurnTrigger) -> None: ...
        def _ended_by_controller(self) -> None: ...

    def _eot_begin(self, preroll: bytes) -> None:
        """A local turn starts (its pre-roll): ready to stream once Home Assistant says it transcribes."""
        self._eot_stop()
        config = self.config.end_of_turn
        if config.uri is None:
            return
        turn, frame_seconds = self.turns, self.config.vad.frame_seconds
        self._eot_gate = SilenceGate(frame_seconds, config)
        self._eot = EndOfTurnStream(
            config, frame_seconds, lambda: self._eot_ended(turn), lambda why: self._eot_failed(turn, why)
        )
        if preroll:
            self._eot.feed(preroll)
            self._eot_gate.heard(preroll)  # Home Assistant gets it first (core.py), its VAD too

    def _eot_transcribe(self, language: str | None) -> None:
        """Home Assistant's ``transcribe`` (its STT stage) for the turn in progress."""
        if self._eot is not None:
            _LOGGER.info(
                "turn %d: Home Assistant transcribes (language %s) at mic %.2fs: end of turn from %s",
                self.turns,
                language,
                self._mic_ms / 1000,
                self.config.end_of_turn.uri,
            )
            self._eot.start(language)

    def _eot_frames(self, frame: bytes, voiced: bool) -> list[bytes]:
        """What Home Assistant gets for this mic frame (``voiced``: the VAD's verdict on it, not on the
        current frame: the talker gate streams some late): the frame, or nothing while a pause is held
        back, or held frames ahead of it."""
        stream, gate = self._eot, self._eot_gate
        if stream is None or gate is None:
            return [frame]
        stream.feed(frame)
        if stream.live and gate is not None and not gate.holding:
            _LOGGER.info(
                "turn %d: our whisper hears the speech at mic %.2fs: pauses are held back from now",
                self.turns,
                self._mic_ms / 1000,
            )
        if stream.live and self._eot_down:
            self._eot_down = False
            _LOGGER.info("end of turn from %s: answering again", self.config.end_of_turn.uri)
        gate.holding = stream.live
        out = gate.feed(frame, voiced)
        if stream.finished_reading:  # judged on this frame, not the one before (a word's tail the VAD called
            stream.finished_reading = False  # voiced made the verdict look stale: lost for the whole pause)
            out += gate.finished()
        return out

    def _eot_finish(self) -> list[bytes]:
        """The turn's audio ends: the held frames (sent before ``audio-stop``); the stream stops."""
        gate = self._eot_gate
        held = gate.release() if gate is not None else []
        if gate is not None and gate.dropped:
            _LOGGER.info(
                "turn %d: %.2f s of pauses not sent to the controller", self.turns, gate.dropped * gate.frame_seconds
            )
        self._eot_stop()
        return held

    def _eot_stop(self) -> None:
        if self._eot is not None:
            self._eot.cancel()
        self._eot = self._eot_gate = None

    def _eot_ended(self, turn: int) -> None:
        if turn != self.turns or self._route != "local" or self.machine.state is not TurnState.STREAMING:
            return
        _LOGGER.info(
            "end of turn from %s: the request is complete (mic %.2fs)", self.config.end_of_turn.uri, self._mic_ms / 1000
        )
        self._ended_by_controller()
        self._fire(TurnTrigger.SPEECH_END)

    def _eot_failed(self, turn: int, why: str) -> None:
        if not self._eot_down:
            _LOGGER.warning(
                "end of turn from %s unavailable (%s): Home Assistant's own detector ends turns until it answers again",
                self.config.end_of_turn.uri,
                why,
            )
        self._eot_down = True
