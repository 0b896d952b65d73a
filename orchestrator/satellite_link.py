"""Drive a Wyoming satellite the way Home Assistant does.

We connect to the satellite (it is the server), send ``run-satellite`` and ``describe``,
ping every ``ping_interval`` seconds and drop the connection when a pong is ``ping_timeout``
late, then reconnect: after 0.5 s, doubling on each failure up to ``reconnect_delay`` (a
satellite started just after the orchestrator is reached within a second, a missing one is
not hammered and is logged once per outage; a session that lasted ``reconnect_delay`` resets
the wait). A satellite that already has a controller (Home Assistant) answers ``run-satellite``
with an ``error`` of code ``satellite-busy`` and ends its side: that is logged once (at warning)
per busy spell and retried with the same back-off. The satellite starts each turn with
``run-pipeline`` and streams its microphone audio; we answer with the events Home Assistant
sends (``voice-started``/``voice-stopped``, ``transcript``, ``synthesize``, the reply
``audio-start``/``audio-chunk``/``audio-stop``, ``error``) and wait for ``played``.

A ``run-pipeline`` mid-turn is barge-in (see :mod:`orchestrator.state`), unless it comes right
after the end of speech: then it continues the same question (:mod:`orchestrator.continuation`).

Timers: while connected the link is the ringer of its satellite's timers (:mod:`orchestrator.link_timers`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.ping import Ping, Pong
from wyoming.pipeline import PipelineStage, RunPipeline
from wyoming.satellite import RunSatellite
from wyoming.snd import Played

from voice_runtime.backoff import Backoff, BackoffPolicy
from voice_runtime.clock import Clock, MonotonicClock
from voice_runtime.error_codes import BAD_EVENT, NO_SPEECH, SATELLITE_BUSY, TURN_FAILED
from voice_runtime.limits import Limits
from voice_runtime.protocol import ProtocolError, read_frame
from voice_runtime.tasks import TaskSet, cancel_and_wait, race

from .continuation import ContinuationPolicy, Verdict, reply_played
from .link_timers import LinkTimers
from .link_turn import (
    ContinuedOutput,
    LinkOut,
    LinkTurn,
    await_command,
    checked_chunk,
    end_command,
    run_after_acting,
)
from .pipeline import Pipeline, TurnResult
from .services import Connection
from .state import LinkAction, LinkMachine, LinkState, LinkTrigger
from .timers import TimerManager

_LOGGER = logging.getLogger(__name__)
FIRST_RECONNECT_WAIT = 0.5  # seconds before the first reconnect attempt; doubles up to reconnect_delay
RECENT_TURNS = 100  # results kept for inspection; older ones are only counted
TURN_FAILED_SEND_TIMEOUT = 2.0  # seconds to tell the satellite a turn failed before giving up on it
LINK_LIMITS = Limits()  # frame size caps for what a satellite sends (as our servers apply)
# Parsing a bad event raises these (wyoming's ``from_event`` on missing/mistyped fields).
BAD_EVENT_ERRORS = (KeyError, ValueError, TypeError, AttributeError, IndexError, UnicodeError)


class SatelliteBusy(ConnectionError):
    """The satellite refused us: another controller (Home Assistant, another orchestrator) is in charge."""


@dataclass(frozen=True)
class LinkConfig:
    uri: str
    ping_interval: float = 2.0
    ping_timeout: float = 5.0
    reconnect_delay: float = 10.0
    played_timeout: float = 120.0
    continuation: ContinuationPolicy = ContinuationPolicy()


class SatelliteLink(LinkTimers):
    def __init__(
        self, config: LinkConfig, pipeline: Pipeline, *, clock: Clock | None = None, timers: TimerManager | None = None
    ) -> None:
        self.config = config
        self.timers = timers
        self._conn: Connection | None = None
        self._announcing: asyncio.Task[TurnResult] | None = None
        self.pipeline = pipeline
        self.clock = clock or MonotonicClock()
        self.machine = LinkMachine()
        self.info: Info | None = None
        self.connected = asyncio.Event()
        self.turns: deque[TurnResult] = deque(maxlen=RECENT_TURNS)  # the most recent results
        self.turns_done = 0  # every turn ever finished or cancelled
        self.sessions = 0  # connections made (a reconnect adds one)
        self.busy = False  # refused by the satellite (satellite-busy) since the last session that ran
        self.bad_events = 0  # frames/events from the satellite that could not be used (answered with ``error``)
        self.turn_finished = asyncio.Condition()
        self.played = 0
        self.continuations = 0  # new speech merged into the question before it (continuation.py)
        self.continuation_reply_heard: deque[float] = deque(maxlen=RECENT_TURNS)  # reply heard before each
        self._turn: LinkTurn | None = None
        self._tasks = TaskSet()  # the link's tasks: turns, the announcement, the pinger
        self._count = 0
        self._stopping = False

    @property
    def name(self) -> str:
        if self.info is not None and self.info.satellite is not None:
            return self.info.satellite.name
        return self.config.uri

    async def run(self) -> None:
        """Connect, serve, reconnect after loss (waits back off); until cancelled."""
        # The wait before each reconnect attempt: 0.5 s doubling, capped at reconnect_delay.
        backoff = Backoff(BackoffPolicy(first=FIRST_RECONNECT_WAIT, cap=self.config.reconnect_delay), clock=self.clock)
        unreachable = False
        while not self._stopping:
            try:
                conn = await Connection.open(self.config.uri)
            except (OSError, TimeoutError) as err:  # said once per outage: the next dials log at debug
                wait = backoff.next()
                level, unreachable = logging.DEBUG if unreachable else logging.INFO, True
                _LOGGER.log(level, "satellite %s unreachable (%s); retry in %.1fs", self.config.uri, err, wait)
                await self.clock.sleep(wait)
                continue
            started, refused, unreachable = self.clock.now(), False, False
            try:
                await self._session(conn)
            except SatelliteBusy as err:  # said once per busy spell
                refused = True
                level = logging.DEBUG if self.busy else logging.WARNING
                _LOGGER.log(
                    level,
                    "satellite %s is busy with another controller; retrying with back-off: %s",
                    self.config.uri,
                    err,
                )
            except (OSError, TimeoutError) as err:
                _LOGGER.warning("satellite %s connection lost: %s", self.config.uri, err)
            except Exception:  # a stream that can no longer be trusted, or a bug: never end for good
                _LOGGER.exception("satellite %s session failed; reconnecting", self.config.uri)
            finally:
                self.connected.clear()
                self._conn = None
                self._detach_timers()
                await cancel_and_wait(self._announcing)
                await self._cancel_turn()
                self.machine.fire(LinkTrigger.DISCONNECT)
                await conn.close()
            self.busy = refused
            if self.clock.now() - started >= self.config.reconnect_delay:
                backoff.reset()  # it served a while: the next loss starts the back-off again
            if not self._stopping:
                await self.clock.sleep(backoff.next())

    async def _session(self, conn: Connection) -> None:
        self.sessions += 1
        await conn.send(RunSatellite().event())
        await conn.send(Describe().event())
        pong = asyncio.Event()
        pinger = self._tasks.spawn(self._ping(conn, pong), name=f"ping {self.config.uri}", awaited=True)
        self._conn = conn
        self._attach_timers()
        self.connected.set()
        _LOGGER.debug("satellite %s dialled", self.config.uri)  # "connected" once it answers (a refusal does not)
        reading: asyncio.Task[Event | None] | None = None
        try:
            while True:
                reading = self._tasks.spawn(read_frame(conn.reader, LINK_LIMITS), name="read satellite", awaited=True)
                if await race(pinger, reading) == 0:  # the pinger first: a lost link wins a tie
                    pinger.result()  # raises TimeoutError when pongs stopped
                    return
                try:
                    event = reading.result()
                except ProtocolError as err:  # answered; a fatal one means the stream is lost
                    self.bad_events += 1
                    await self._send_error(conn, err.code, err.text)
                    if err.fatal:
                        raise ConnectionResetError(f"unreadable frame from the satellite: {err.text}") from err
                    continue
                if event is None:
                    raise ConnectionResetError(f"{self.config.uri} closed the connection")
                try:
                    await self._on_event(event, conn, pong)
                except BAD_EVENT_ERRORS as err:  # a readable frame with bad fields: answer, keep going
                    self.bad_events += 1
                    _LOGGER.warning("satellite %s sent a bad %r event: %r", self.config.uri, str(event.type)[:40], err)
                    await self._send_error(conn, BAD_EVENT, f"invalid {str(event.type)[:40]!r} event")
        finally:
            await cancel_and_wait(reading)
            await cancel_and_wait(pinger)

    @staticmethod
    async def _send_error(conn: Connection, code: str, text: str) -> None:
        await conn.send(Error(text=text, code=code).event())

    async def _ping(self, conn: Connection, pong: asyncio.Event) -> None:
        while True:
            pong.clear()
            await conn.send(Ping().event())
            sent = self.clock.now()
            await self.clock.sleep(self.config.ping_interval)
            if not pong.is_set():
                # Wait the rest of the timeout for a late pong.
                remaining = self.config.ping_timeout - (self.clock.now() - sent)
                if remaining > 0:
                    await race(pong.wait(), self.clock.sleep(remaining))
                if not pong.is_set():
                    raise TimeoutError(f"no pong from {self.config.uri} within {self.config.ping_timeout}s")

    async def _on_event(self, event: Event, conn: Connection, pong: asyncio.Event) -> None:
        if Pong.is_type(event.type):
            pong.set()
        elif Ping.is_type(event.type):
            await conn.send(Pong(text=Ping.from_event(event).text).event())
        elif Info.is_type(event.type):  # the answer to our describe: it took us as its controller
            self.info = Info.from_event(event)
            _LOGGER.info("satellite %s connected (%s)", self.config.uri, self.name)
            if self.pipeline.intents is not None:  # "lights off" means this satellite's area (home/here.py)
                self.pipeline.intents.areas[self.owner] = self.info.satellite.area if self.info.satellite else None
        elif RunPipeline.is_type(event.type):
            await self._on_run_pipeline(RunPipeline.from_event(event), conn, reply_played(event.data))
        elif AudioChunk.is_type(event.type):
            if self._turn is not None and self.machine.state is LinkState.LISTENING:
                self._turn.put(checked_chunk(AudioChunk.from_event(event)))
        elif AudioStop.is_type(event.type):
            if self.machine.state is LinkState.LISTENING and self._turn is not None:
                self.machine.fire(LinkTrigger.AUDIO_STOP)
                self._turn.put(None)
        elif Played.is_type(event.type):
            self.machine.fire(LinkTrigger.PLAYED)
            async with self.turn_finished:
                self.played += 1
                self.turn_finished.notify_all()
        elif AudioStart.is_type(event.type) or event.type in ("streaming-started", "streaming-stopped"):
            pass
        elif Error.is_type(event.type):
            if Error.from_event(event).code == SATELLITE_BUSY:
                raise SatelliteBusy(Error.from_event(event).text)
            _LOGGER.warning("satellite %s reported an error: %s", self.config.uri, event.data)
        else:
            _LOGGER.debug("satellite %s sent %s", self.config.uri, event.type)

    async def _on_run_pipeline(self, stage: RunPipeline, conn: Connection, played: float | None = None) -> None:
        prev, prefix, acted_reply, command, first_text = self._turn, None, None, None, ""
        if prev is not None and prev.command is not None and stage.end_stage != PipelineStage.ASR:
            command, prev.command = prev.command, None  # more speech while waiting: the next turn waits
        elif prev is not None and prev.stage.start_stage == stage.start_stage == PipelineStage.ASR:
            # Decided before anything is cancelled: the turn cannot start an intent in between.
            no_speech = prev.result.error is not None and prev.result.error.code == NO_SPEECH
            running = prev.result.acting and not prev.result.reply and prev.task is not None and not prev.task.done()
            decision = prev.track.decide(
                self.clock.now(), acting=prev.result.acting, audio_ok=prev.heard.complete, no_speech=no_speech,
                running=running, played=played,
            )
            _LOGGER.info(
                "satellite %s new speech after turn %d: %s (%s; reply heard %.2fs)",
                self.config.uri,
                prev.number,
                {Verdict.MERGE: "continuation", Verdict.AFTER_ACTING: "new turn after acting"}.get(
                    decision.verdict, "new turn"),
                decision.reason,
                decision.reply_heard,
            )
            if decision.merge:
                prefix, first_text = prev.heard, prev.result.transcript
                self.continuations += 1
                self.continuation_reply_heard.append(decision.reply_heard)
            elif decision.verdict is Verdict.AFTER_ACTING and stage.end_stage != PipelineStage.ASR:
                # Whatever the satellite does with a reply (speaks it, or shows the text: ``handle``), a
                # running command is waited for, never cancelled half-done (link_turn.await_command).
                if prev.result.reply and stage.end_stage == PipelineStage.TTS:
                    acted_reply = prev.result.reply  # (link_turn.run_after_acting)
                elif running:
                    command = prev
        actions = self.machine.fire(LinkTrigger.RUN_PIPELINE)
        if LinkAction.CANCEL_TURN in actions and command is not None and self._turn is command:
            self._turn, command.cancel_requested = None, True  # nothing more of it goes out; its command runs on
            _LOGGER.info("satellite %s new speech while turn %d's command runs: waiting for it",
                         self.config.uri, command.number)
        elif LinkAction.CANCEL_TURN in actions:
            _LOGGER.info(
                "satellite %s %s: cancelling turn %d",
                self.config.uri,
                "continuation" if prefix is not None else "barge-in",
                self._turn.number if self._turn else -1,
            )
            await self._cancel_turn()
        if LinkAction.START_TURN in actions:
            self._count += 1
            turn = LinkTurn(self._count, stage, self.config.continuation, prefix)
            turn.after_acting, turn.command, turn.first_text = acted_reply, command, first_text
            self._turn = turn
            turn.task = self._tasks.spawn(self._run_turn(turn, conn), name=f"turn {turn.number}")

    async def _run_turn(self, turn: LinkTurn, conn: Connection) -> TurnResult:
        out = LinkOut(conn, turn, self.clock)
        conversation = self.owner
        try:
            if turn.command is not None:
                await await_command(turn, self.clock, self._finished)
            if turn.stage.start_stage == PipelineStage.TTS and turn.stage.announce_text:
                await self.pipeline.announce(turn.stage.announce_text, out, result=turn.result)
            elif turn.after_acting is not None:
                await run_after_acting(self.pipeline, turn, out, conversation, end_stage=turn.stage.end_stage.value)
            else:
                await self.pipeline.run_turn(
                    turn.chunks(),
                    ContinuedOutput(out, self.pipeline, turn) if turn.first_text else out,
                    conversation_id=conversation,
                    result=turn.result,
                    end_stage=turn.stage.end_stage.value,
                    endpoint_after=turn.heard.prefix_seconds,
                )
                _LOGGER.info(
                    "turn %d answered transcript=%r continued=%s",
                    turn.number,
                    turn.result.transcript,
                    turn.heard.prefix_seconds > 0,
                )
        except (OSError, TimeoutError) as err:  # the satellite's connection, or a file/service in the turn
            _LOGGER.warning("turn %d failed: %s", turn.number, err)
            await self._turn_failed(conn, turn, err)
        except Exception as err:  # a bug: the turn ends, the link goes on
            _LOGGER.exception("turn %d failed", turn.number)
            await self._turn_failed(conn, turn, err)
        finally:
            turn.settled.set()
            if turn.command is not None:  # this turn was cancelled while it waited
                await end_command(turn.command, self._finished)
        if self._turn is turn:
            self.machine.fire(LinkTrigger.TURN_DONE_AUDIO if turn.result.audio_bytes else LinkTrigger.TURN_DONE_SILENT)
        await self._finished(turn)
        return turn.result

    async def _turn_failed(self, conn: Connection, turn: LinkTurn, err: BaseException) -> None:
        """Tell the satellite ``turn`` failed (it would wait out its own timeout in silence); if it is unreachable,
        the session's reader notices and reconnects."""
        with contextlib.suppress(OSError, TimeoutError):
            async with asyncio.timeout(TURN_FAILED_SEND_TIMEOUT):
                if not turn.cancel_requested:
                    await self._send_error(conn, TURN_FAILED, f"the turn failed: {err or type(err).__name__}"[:200])

    async def _cancel_turn(self) -> None:
        turn, self._turn = self._turn, None
        if turn is not None and turn.task is not None and not turn.task.done():
            turn.cancel_requested = True
            await cancel_and_wait(turn.task)
            _LOGGER.info(
                "turn %d cancelled; %d late audio chunk(s) held back; transcript=%r continued=%s",
                turn.number,
                turn.suppressed_chunks,
                turn.result.transcript,
                turn.heard.prefix_seconds > 0,
            )
            await self._finished(turn)

    async def _finished(self, turn: LinkTurn) -> None:
        """Record ``turn`` once: a task that outlives its cancellation (``cancel_and_wait`` gave up
        after its timeout) ends on its own later and must not count again."""
        if turn.recorded:
            return
        turn.recorded = True
        async with self.turn_finished:
            self.turns.append(turn.result)
            self.turns_done += 1
            self.turn_finished.notify_all()

    async def wait_turns(self, count: int) -> list[TurnResult]:
        """Wait until ``count`` turns have finished in all; the most recent results (≤ RECENT_TURNS)."""
        async with self.turn_finished:
            await self.turn_finished.wait_for(lambda: self.turns_done >= count)
        return list(self.turns)

    async def wait_played(self, count: int) -> None:
        """Wait until the satellite has reported ``played`` ``count`` times."""
        async with self.turn_finished:
            await self.turn_finished.wait_for(lambda: self.played >= count)

    async def stop(self) -> None:
        self._stopping = True
        await self._cancel_turn()
