"""The satellite's side of its controller connection: which link is attached, whether the mic loop
is armed, and the outbox of events to the controller.

A mixin of :class:`satellite.core.Satellite` (kept apart so each file stays small). The handler
(:mod:`satellite.handler`) calls :meth:`attach`/:meth:`detach` once :mod:`satellite.admission` has
let a connection be the controller; the turn driver queues events with ``_send`` and one task
(``_send_loop``) writes them, so a slow controller never blocks the mic loop: the queue is bounded
and an event that finds it full is dropped (logged). What the controller's events do to a turn is
:mod:`satellite.controller_events`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from wyoming.audio import AudioChunk, AudioStop
from wyoming.event import Event
from wyoming.pipeline import RunPipeline

from .cloud import CloudAssistant
from .controller_events import ControllerLink
from .state import TurnMachine, TurnState, TurnTrigger

_LOGGER = logging.getLogger("satellite.core")


class ControllerSide:
    controller: ControllerLink | None
    cloud: CloudAssistant | None
    machine: TurnMachine
    _paused: bool
    _degraded_until: float
    _armed: asyncio.Event
    _outbox: asyncio.Queue[tuple[ControllerLink, Event]]
    _route: str | None
    _stt_turn: int
    # a turn's audio held back from the controller (satellite.wake_turn: a wake word may restart the turn at it)
    _held_audio: list[Event] | None = None
    _dropping_audio = False  # ... and, once the turn restarts, dropped until the next turn's start

    if TYPE_CHECKING:

        def _fire(self, trigger: TurnTrigger) -> None: ...
        def _fail_local_turn(self, why: str) -> None: ...
        def _end_controller_audio(self) -> None: ...

    # -- controller API (called by the handler) ------------------------------------------
    def attach(self, link: ControllerLink) -> None:
        if self.controller is not None and self.controller is not link:
            _LOGGER.info("controller replaced old=%s new=%s", self.controller.client, link.client)
            self._fail_local_turn("controller-replaced")
            self._end_controller_audio()
        self.controller = link
        self._stt_turn = -1  # (it has announced no speech-to-text stage yet: Home Assistant's runs do)
        self._paused = False
        self._degraded_until = float("-inf")
        _LOGGER.info("controller attached client=%s", link.client)
        self._update_arming()

    def detach(self, link: ControllerLink) -> None:
        if self.controller is not link:
            return
        _LOGGER.info("controller gone client=%s", link.client)
        self._fail_local_turn("controller-lost")
        self._end_controller_audio()
        self.controller = None
        self._paused = False
        self._update_arming()

    def _local_available(self) -> bool:
        return self.controller is not None and not self._paused

    def _update_arming(self) -> None:
        armed = self._local_available() or (self.cloud is not None and not self._paused)
        if armed:
            self._armed.set()
            self._fire(TurnTrigger.ARM)
        else:
            self._fire(TurnTrigger.DISARM)

    def _abort_local_turn(self) -> None:
        if self._route == "local" and self.machine.state not in (TurnState.IDLE, TurnState.LISTENING):
            self._fire(TurnTrigger.ERROR)

    def _hold_audio(self, hold: bool) -> None:
        """From now on the turn's ``audio-chunk``s wait (``hold``), until :meth:`_release_audio` or
        :meth:`_drop_audio`; its ``audio-stop`` sends them first."""
        self._held_audio, self._dropping_audio = ([] if hold else None), False

    def _release_audio(self) -> None:
        held, self._held_audio = self._held_audio, None
        for event in held or ():
            self._send(event)

    def _drop_audio(self, fill: bytes = b"") -> int:
        """The held audio is never sent, nor the rest of the turn's (it restarts at the wake word heard in it:
        its run ends with no speech, so no request); ``fill`` goes instead. How many chunks were held."""
        held, self._held_audio = self._held_audio, None
        if fill:
            self._send(AudioChunk(rate=16000, width=2, channels=1, audio=fill).event())
        self._dropping_audio = True
        return len(held or ())

    def _send(self, event: Event) -> None:
        if self.controller is None:
            return
        if self._dropping_audio and AudioChunk.is_type(event.type):
            return
        if RunPipeline.is_type(event.type):
            self._held_audio = None  # a new run: audio still held belongs to a turn that ended without audio-stop
        if self._held_audio is not None:
            if AudioChunk.is_type(event.type):
                self._held_audio.append(event)
                return
            if AudioStop.is_type(event.type):
                self._release_audio()
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
