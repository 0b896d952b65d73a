"""The satellite's Wyoming protocol: one handler per connection, all sharing one :class:`Satellite`.

In: ``run-satellite`` (this connection becomes the controller; refused with ``satellite-busy``
while another controller is alive, see :mod:`satellite.admission`), ``pause-satellite``,
``describe``/``ping`` (answered by the base class at once), during a turn
``voice-started``/``voice-stopped``, ``transcript``, ``synthesize``, the reply's
``audio-start``/``audio-chunk``/``audio-stop`` and ``error``; outside a turn an
announcement's ``audio-start``/``audio-chunk``/``audio-stop`` and ``timer-started``/
``timer-updated``/``timer-cancelled``/``timer-finished`` (see :mod:`satellite.outside`).
Other events are accepted and ignored.

Out (through the satellite's sender): ``run-pipeline``, ``audio-start``/``audio-chunk``/
``audio-stop`` (the utterance) and ``played`` (after every reply and announcement). See
:mod:`satellite.core` for the order and for barge-in (a new ``run-pipeline`` during a reply
means "cancel that reply").
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Info, WakeProgram
from wyoming.info import Satellite as SatelliteInfo
from wyoming.ping import Ping
from wyoming.satellite import RunSatellite

from voice_runtime.cli import ATTRIBUTION
from voice_runtime.handler import ServiceHandler
from voice_runtime.limits import Limits

from .admission import BUSY
from .core import Satellite

VERSION = "0.1.0"


def satellite_info(name: str, area: str | None, wake: list[WakeProgram] | None = None) -> Info:
    active = [model.name for program in wake or [] for model in program.models]
    return Info(
        wake=wake or [],
        satellite=SatelliteInfo(
            name=name, area=area, has_vad=True, active_wake_words=active, max_active_wake_words=len(active),
            supports_trigger=False, installed=True, description="hearth room satellite (WebRTC VAD, barge-in)",
            version=VERSION, attribution=ATTRIBUTION,
        )
    )


class SatelliteHandler(ServiceHandler):
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        satellite: Satellite,
        info: Callable[[], Info],
        limits: Limits | None = None,
    ) -> None:
        super().__init__(reader, writer, info=info, limits=limits)
        self.satellite = satellite
        # Refused (satellite-busy): our half of the stream has ended; nothing more is written (a write
        # after the end would close the socket with the client's frames unread: a reset that loses the
        # refusal before the client reads it), and what the client still sends is read and dropped
        # until it closes (or the idle timeout ends it).
        self._refused = False
        self._heard = asyncio.Event()  # set by every frame from the client (cleared by answers())
        # Cleared while this connection's run-satellite waits for the controller in charge to answer a ping:
        # nothing is written to it meanwhile (its describe's info would tell our orchestrator's link it was
        # taken: orchestrator/satellite_link.py), and once refused nothing is written at all.
        self._decided = asyncio.Event()
        self._decided.set()

    def heard(self, event: Event) -> None:
        self._heard.set()
        if self.satellite.controller is self:
            self.satellite.admission.heard()

    async def answers(self, seconds: float) -> bool:
        """Whether the client sends anything (its ``pong`` to the ``ping`` written now, or any frame)
        within ``seconds``: a half-open connection (the peer gone without a FIN) never does."""
        self._heard.clear()
        try:
            async with asyncio.timeout(seconds):
                with contextlib.suppress(ConnectionResetError):
                    await self.write_event(Ping().event())
                await self._heard.wait()
        except TimeoutError:
            return False
        return True

    async def write_event(self, event: Event) -> None:
        await self._decided.wait()
        if not self._refused:
            await super().write_event(event)

    async def handle_event(self, event: Event) -> bool:
        if self._refused:
            return True
        replaced: SatelliteHandler | None = None
        if RunSatellite.is_type(event.type):
            admission = self.satellite.admission
            current = self.satellite.controller
            self._decided.clear()
            try:
                if (
                    isinstance(current, SatelliteHandler)
                    and current is not self
                    and admission.silent_for() < admission.silent_seconds
                    and not await current.answers(admission.probe_seconds)
                    and self.satellite.controller is current  # (no other newcomer took it meanwhile)
                ):
                    admission.gone(current.client, self.client)
                    replaced = current
                current = self.satellite.controller
                other = None if current is None or current is self or current is replaced else current.client
                refusal = admission.refusal(other, self.client)
                if refusal is not None:  # another controller is in charge (satellite.admission): say so, then
                    # end our half of the stream; closing at once could reset the socket (frames of the client
                    # unread) before the error is read. The client closes on the end of the stream.
                    self._refused = True
                    with contextlib.suppress(ConnectionResetError, OSError, RuntimeError):  # logged by admission
                        await super().write_event(Error(text=refusal, code=BUSY).event())
                        self.writer.write_eof()
                    return True
            finally:
                self._decided.set()
        await self.satellite.on_controller_event(self, event)
        if replaced is not None:
            await replaced.stop()  # its connection closes: nothing more is written to it, nor read from it
        return True

    async def disconnect(self) -> None:
        self.satellite.detach(self)
