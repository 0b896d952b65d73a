"""The link as the ringer of its satellite's timers (a mixin of
:class:`orchestrator.satellite_link.SatelliteLink`, kept apart so each file stays small).

While connected the link is the :class:`~orchestrator.timers.Ringer` of its satellite's timers
(owner ``satellite:<uri>``, the conversation id of its turns): it forwards
``timer-started``/``-updated``/``-cancelled``/``-finished`` and, when one finishes while no turn
is running, speaks the line as an announcement (audio outside a pipeline run, as Home
Assistant's ``announce`` does).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from wyoming.event import Eventable
from wyoming.pipeline import PipelineStage, RunPipeline
from wyoming.timer import TimerFinished

from voice_runtime.clock import Clock
from voice_runtime.tasks import TaskSet

from .link_turn import LinkOut, LinkTurn
from .pipeline import Pipeline
from .services import Connection
from .state import LinkMachine, LinkState
from .timers import TimerManager
from .turn import TurnResult

if TYPE_CHECKING:
    from .satellite_link import LinkConfig

_LOGGER = logging.getLogger("orchestrator.satellite_link")


class LinkTimers:
    config: LinkConfig
    timers: TimerManager | None
    pipeline: Pipeline
    clock: Clock
    machine: LinkMachine
    _conn: Connection | None
    _announcing: asyncio.Task[TurnResult] | None
    _tasks: TaskSet

    if TYPE_CHECKING:

        @property
        def name(self) -> str: ...

    @property
    def owner(self) -> str:
        """The conversation id of this satellite's turns; its timers belong to it. The URI, not
        the name from ``info``: known before the first turn, stable across restarts, unique."""
        return f"satellite:{self.config.uri}"

    def _attach_timers(self) -> None:
        if self.timers is not None:
            self.timers.attach(self.owner, self)

    def _detach_timers(self) -> None:
        if self.timers is not None:
            self.timers.detach(self.owner, self)

    async def timer_event(self, event: Eventable, announce: str | None) -> None:
        """Tell the satellite about one of its timers (the TimerManager calls this)."""
        conn = self._conn
        if conn is None:
            raise ConnectionResetError(f"satellite {self.config.uri} is not connected")
        busy = self._announcing is not None and not self._announcing.done()
        speaks = bool(announce) and self.machine.state is LinkState.IDLE and not busy
        sent = event.event()
        if speaks and TimerFinished.is_type(sent.type):
            sent.data["announced"] = True  # a satellite with its own --tts-uri does not say it too
        await conn.send(sent)
        if speaks and announce:
            self._announcing = self._tasks.spawn(self._announce(conn, announce), name=f"announce {self.name}")

    async def _announce(self, conn: Connection, text: str) -> TurnResult:
        turn = LinkTurn(0, RunPipeline(start_stage=PipelineStage.TTS, end_stage=PipelineStage.TTS))
        try:
            return await self.pipeline.announce(text, LinkOut(conn, turn, self.clock))
        except (OSError, TimeoutError) as err:
            _LOGGER.warning("announcement to %s failed: %s", self.config.uri, err)
            return turn.result
