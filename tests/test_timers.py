"""Timers owned by the orchestrator: the state table, ringing on a manual clock, persistence,
and the voice commands that drive them (official home-assistant-intents templates)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from wyoming.event import Eventable
from wyoming.timer import TimerCancelled, TimerFinished, TimerStarted, TimerUpdated

from orchestrator.answers import NO_TIMER_SATELLITE
from orchestrator.intents import IntentRecognizer
from orchestrator.timers import TRANSITIONS, TimerAction, TimerError, TimerManager, TimerQuery, TimerState
from voice_runtime.clock import ManualClock

OWNER = "satellite:kitchen"
EPOCH = 1_800_000_000.0


@dataclass
class RecordingRinger:
    """The satellite side of the Ringer interface: records what it was told."""

    events: list[tuple[Eventable, str | None]] = field(default_factory=list)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def timer_event(self, event: Eventable, announce: str | None) -> None:
        async with self.changed:
            self.events.append((event, announce))
            self.changed.notify_all()

    async def wait_for(self, kind: type[Eventable]) -> tuple[Eventable, str | None]:
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(lambda: any(isinstance(e, kind) for e, _ in self.events)), 5)
        return next((e, a) for e, a in self.events if isinstance(e, kind))


def manager(data_dir: Path | None, clock: ManualClock, offset: float = 0.0) -> TimerManager:
    return TimerManager(data_dir, clock=clock, wall=lambda: EPOCH + offset + clock.now())


@contextlib.asynccontextmanager
async def running(timers: TimerManager) -> AsyncIterator[None]:
    task = asyncio.create_task(timers.run(), name="timers")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def until_sleeping(clock: ManualClock) -> None:
    """Let the timer task reach its sleep on the manual clock (event-loop turns, no time)."""
    for _ in range(100):
        if clock.sleeping:
            return
        await asyncio.sleep(0)
    raise AssertionError("the timer task never waited for a deadline")


def test_state_table_is_explicit_and_closed() -> None:
    assert TRANSITIONS[(TimerState.RUNNING, TimerAction.PAUSE)] is TimerState.PAUSED
    assert TRANSITIONS[(TimerState.PAUSED, TimerAction.RESUME)] is TimerState.RUNNING
    assert (TimerState.PAUSED, TimerAction.FINISH) not in TRANSITIONS  # a paused timer never rings
    assert not any(state in (TimerState.FINISHED, TimerState.CANCELLED) for state, _ in TRANSITIONS)


async def test_a_timer_rings_its_satellite_when_the_clock_reaches_the_deadline() -> None:
    clock = ManualClock()
    timers = manager(None, clock)
    ringer = RecordingRinger()
    timers.attach(OWNER, ringer)
    async with running(timers):
        timer = await timers.start(OWNER, minutes=5, name="pizza")
        started, _ = await ringer.wait_for(TimerStarted)
        assert isinstance(started, TimerStarted) and started.total_seconds == 300 and started.name == "pizza"
        await until_sleeping(clock)
        clock.advance(299)
        await until_sleeping(clock)
        assert not any(isinstance(e, TimerFinished) for e, _ in ringer.events)
        clock.advance(1)
        finished, line = await ringer.wait_for(TimerFinished)
    assert isinstance(finished, TimerFinished) and finished.id == timer.id
    assert line == "Your pizza timer is done."
    assert timers.timers(OWNER) == []


async def test_pause_resume_add_and_status_through_voice_commands() -> None:
    clock = ManualClock()
    timers = manager(None, clock)
    ringer = RecordingRinger()
    timers.attach(OWNER, ringer)
    intents = IntentRecognizer(timers=timers)

    async def say(text: str) -> str:
        match = await intents.answer(text, OWNER)
        assert match is not None, text
        return match.response

    assert await say("Set a pizza timer for 10 minutes.") == "Pizza timer set for 10 minutes."
    assert await say("set a timer for five minutes") == "Timer set for 5 minutes."
    clock.advance(120)
    assert await say("Pause the pizza timer.") == "Paused your pizza timer."
    clock.advance(300)  # paused: no time passes for it
    status = await say("How much time is left on the pizza timer?")
    assert status == "8 minutes left on your pizza timer, paused."
    assert await say("Resume the pizza timer") == "Resumed your pizza timer."
    assert await say("add 2 minutes to the pizza timer") == "Added 2 minutes; 10 minutes left."
    both = await say("How much time is left on my timers?")
    assert both.startswith("You have 2 timers") and "10 minutes left on your pizza timer" in both
    assert await say("Cancel the 5 minute timer.") == "Cancelled your 5 minute timer."
    kinds = [type(e) for e, _ in ringer.events]
    assert kinds == [TimerStarted, TimerStarted, TimerUpdated, TimerUpdated, TimerUpdated, TimerCancelled]
    assert await say("cancel my pizza timer") == "Cancelled your pizza timer."
    assert await say("cancel the timer") == "There is no timer running."


async def test_requests_that_cannot_be_done_get_a_clear_answer() -> None:
    clock = ManualClock()
    timers = manager(None, clock)
    timers.attach(OWNER, RecordingRinger())
    timer = await timers.start(OWNER, seconds=30)
    with pytest.raises(TimerError, match="already running"):
        await timers.apply(timer, TimerAction.RESUME)
    with pytest.raises(TimerError, match="no time"):
        await timers.apply(timer, TimerAction.ADD, -60)
    with pytest.raises(TimerError):
        await timers.start(OWNER, hours=25)
    await timers.start(OWNER, seconds=40)
    with pytest.raises(TimerError, match="2 timers"):
        timers.find(OWNER, TimerQuery())
    # Nobody to ring: the assistant says so instead of pretending.
    intents = IntentRecognizer(timers=timers)
    match = await intents.answer("set a timer for ten minutes", "ask")
    assert match is not None and match.response == NO_TIMER_SATELLITE
    no_manager = await IntentRecognizer().answer("set a timer for ten minutes", OWNER)
    assert no_manager is not None and no_manager.response == NO_TIMER_SATELLITE


async def test_timers_survive_a_restart_and_ring_once_their_satellite_is_back(tmp_path: Path) -> None:
    clock = ManualClock()
    first = manager(tmp_path, clock)
    first.attach(OWNER, RecordingRinger())
    running_timer = await first.start(OWNER, minutes=10)
    paused = await first.start(OWNER, minutes=3, name="tea")
    await first.apply(paused, TimerAction.PAUSE)
    saved = json.loads((tmp_path / "timers.json").read_text())
    assert {t["id"] for t in saved["timers"]} == {running_timer.id, paused.id}
    assert os.listdir(tmp_path) == ["timers.json"]  # written atomically, nothing left behind

    # The orchestrator is down for 4 minutes; the new process has a fresh monotonic clock.
    clock2 = ManualClock()
    second = manager(tmp_path, clock2, offset=240)
    by_id = {t.id: t for t in second.timers(OWNER)}
    assert by_id[running_timer.id].seconds_left(second.wall()) == pytest.approx(360)
    assert by_id[paused.id].seconds_left(second.wall()) == pytest.approx(180)
    ringer = RecordingRinger()
    async with running(second):
        clock2.advance(400)  # past the deadline before the satellite reconnects: nothing rings yet
        await asyncio.sleep(0)
        assert ringer.events == []
        second.attach(OWNER, ringer)
        finished, line = await ringer.wait_for(TimerFinished)
    assert isinstance(finished, TimerFinished) and finished.id == running_timer.id
    assert line == "Your timer is done."
    assert [t.id for t in second.timers(OWNER)] == [paused.id]  # the paused one never rang


async def test_a_corrupt_timer_file_is_reported_and_ignored(tmp_path: Path) -> None:
    (tmp_path / "timers.json").write_text("{not json")
    timers = manager(tmp_path, ManualClock())
    assert timers.timers(OWNER) == []
    timers.attach(OWNER, RecordingRinger())
    await timers.start(OWNER, seconds=5)
    assert len(json.loads((tmp_path / "timers.json").read_text())["timers"]) == 1
