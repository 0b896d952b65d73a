"""Cloud turns of the satellite: the utterance to Deepgram/DeepSeek when no controller can answer.

A mixin of :class:`satellite.core.Satellite` (kept apart so each file stays small). The turn
runs as a task; :class:`satellite.cloud.CloudAssistant` calls back the ``on_*`` methods
(its ``TurnSink``) as the transcript and the spoken reply arrive.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from voice_runtime.audio import AudioFormat
from voice_runtime.clock import Clock

from .cloud import CloudAssistant, CloudError
from .playback import Playback
from .state import TurnMachine, TurnState, TurnTrigger

_LOGGER = logging.getLogger("satellite.core")


class CloudTurns:
    cloud: CloudAssistant | None
    machine: TurnMachine
    playback: Playback
    _route: str | None
    _reply_ended: bool
    _utterance: bytearray
    _cloud_audio: asyncio.Queue[bytes | None] | None
    _cloud_task: asyncio.Task[None] | None
    clock: Clock
    _waiting_since: float
    _transcribed: bool

    def _fire(self, trigger: TurnTrigger) -> None:
        raise NotImplementedError

    def _reply_start(self, fmt: AudioFormat) -> None:
        raise NotImplementedError

    def _reply_end(self) -> None:
        raise NotImplementedError

    # -- callbacks of the cloud turn (TurnSink) ---------------------------------------------
    def on_transcript(self, text: str) -> None:
        self._waiting_since = self.clock.now()  # the wait counts from the turn's last event
        self._transcribed = True
        self._fire(TurnTrigger.TRANSCRIPT)

    def on_reply_start(self, fmt: AudioFormat) -> None:
        self._reply_start(fmt)

    def on_reply_audio(self, pcm: bytes) -> None:
        if self.machine.state in (TurnState.SPEAKING, TurnState.BARGE_IN) and not self._reply_ended:
            self.playback.add_reply(pcm)

    def on_reply_end(self) -> None:
        if self.machine.state == TurnState.WAITING:
            self._fire(TurnTrigger.ERROR)  # nothing to say: the turn is over
        else:
            self._reply_end()

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
            _LOGGER.error("cloud turn failed: %s", err if isinstance(err, CloudError) else type(err).__name__)
            _LOGGER.debug("cloud turn failure detail", exc_info=True)
            if self._cloud_task is asyncio.current_task():
                self._cloud_task = None
                self._fire(TurnTrigger.ERROR)

    def _cancel_cloud(self) -> None:
        task, self._cloud_task = self._cloud_task, None
        self._cloud_audio = None
        if task is not None and not task.done():
            task.cancel()
