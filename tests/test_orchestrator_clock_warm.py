"""The clock's answer: warmed before its minute while the satellites are idle, and true when heard.

:func:`orchestrator.warm_replies.keep_clock_warm` against a real TTS server (Piper through
``wyoming_kokoro``, ``--debug``: each call logs " cached" or "gate_wait=... pinned=SLOT"), on a
manual clock; the spoken minute near a minute's turn (``answers.SPOKEN_AHEAD``) with the real
intent recogniser.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator

import pytest
from helpers import free_port

from orchestrator.intents import IntentRecognizer
from orchestrator.warm_replies import clock_line, clock_slot, keep_clock_warm, synthesize_once
from voice_runtime.clock import ManualClock
from voice_runtime.procs import ServiceProcess, start_service
from voice_runtime.tasks import cancel_and_wait

START = dt.datetime(2026, 12, 4, 16, 17, 30)


@pytest.mark.parametrize(("at", "said"), [
    (dt.datetime(2026, 12, 4, 16, 17, 59, 700_000), "It is 4:18 PM."),  # heard in 4:18: main said 4:17
    (dt.datetime(2026, 12, 4, 16, 17, 59, 400_000), "It is 4:18 PM."),  # (main: 4:17)
    (dt.datetime(2026, 12, 4, 16, 17, 59, 0), "It is 4:17 PM."),
    (dt.datetime(2026, 12, 4, 16, 18, 0, 0), "It is 4:18 PM."),
    (dt.datetime(2026, 12, 4, 11, 59, 59, 800_000), "It is 12:00 PM."),
])
async def test_the_time_said_is_the_minute_its_words_are_heard_in(at: dt.datetime, said: str) -> None:
    match = await IntentRecognizer(now=lambda: at).answer("what time is it", "ask")
    assert match is not None and match.response == said


async def test_the_date_said_just_before_midnight_is_the_day_it_is_heard_on() -> None:
    match = await IntentRecognizer(now=lambda: dt.datetime(2026, 12, 4, 23, 59, 59, 800_000)).answer(
        "what's today's date", "ask")
    assert match is not None and match.response == "Today is Saturday, December 5, 2026."


def test_the_clock_lines_take_turns_in_two_slots() -> None:
    assert clock_line(dt.datetime(2026, 12, 4, 16, 18)) == "It is 4:18 PM."
    assert [clock_slot(dt.datetime(2026, 12, 4, 16, m)) for m in (17, 18, 19)] == ["clock-1", "clock-0", "clock-1"]


@pytest.fixture(scope="module")
async def tts() -> AsyncIterator[ServiceProcess]:
    proc = await start_service("wyoming_kokoro", "--provider", "piper", "--engines", "piper", "--no-warmup", "--debug")
    try:
        yield proc
    finally:
        await proc.stop()


def _pinned(proc: ServiceProcess, slot: str) -> int:
    return sum(1 for line in proc.log if f"pinned={slot}" in line)


POLL = 0.25


async def _next_wait(clock: ManualClock) -> float:
    """The loop's next sleep other than a look at the satellites while a warm-up runs (``POLL``)."""
    while (seconds := await clock.next_sleep()) == POLL:
        pass
    return seconds


async def test_the_next_minute_is_warmed_before_it_and_a_busy_minute_is_skipped(
    tts: ServiceProcess, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="orchestrator.warm_replies")
    clock = ManualClock()
    idle = True
    dead = f"tcp://127.0.0.1:{free_port()}"  # a replica that is down is passed over, not fatal
    warming = asyncio.create_task(keep_clock_warm(
        [dead, tts.uri], None, lambda: idle, clock=clock, now=lambda: START + dt.timedelta(seconds=clock.now()),
        lead=15.0, poll=POLL))
    try:
        assert await clock.next_sleep() == 15.0  # 16:17:30 -> 16:17:45, 15 s before 16:18
        before = _pinned(tts, "clock-0")
        clock.advance(15.0)
        assert await _next_wait(clock) == pytest.approx(60.0)  # warmed; next: 16:18:45 for 16:19
        assert _pinned(tts, "clock-0") == before + 1
        cached = sum(1 for line in tts.log if " cached" in line)
        await synthesize_once(tts.uri, "It is 4:18 PM.", None)  # a turn at 16:18 asks for it
        assert await tts.wait_lines(lambda line: " cached" in line, cached + 1, timeout=10)

        idle = False  # a turn from 16:18:45 to 16:19:46: 16:19's line is not synthesised meanwhile
        clock.advance(60.0)
        assert await clock.next_sleep() == POLL
        clock.advance(POLL)
        assert await clock.next_sleep() == POLL
        slot_1 = _pinned(tts, "clock-1")
        clock.advance(61.0 - POLL)  # 16:19:46: past 16:19's give-up (16:19:45), now 16:20's turn
        assert await clock.next_sleep() == POLL  # still busy: waiting to warm 16:20
        assert _pinned(tts, "clock-1") == slot_1
        assert any("16:19 not warmed: busy" in r.getMessage() for r in caplog.records)
        pinned_0 = _pinned(tts, "clock-0")
        idle = True
        clock.advance(POLL)
        assert await _next_wait(clock) == pytest.approx(58.75)  # 16:20's line, at 16:19:46.25 when idle came
        assert _pinned(tts, "clock-0") == pinned_0 + 1
        assert _pinned(tts, "clock-1") == slot_1
    finally:
        await cancel_and_wait(warming)


async def test_a_turn_that_begins_stops_the_warm_up_and_it_is_asked_again_when_idle(tts: ServiceProcess) -> None:
    """The warm-up waits at the engine behind a long reply; a turn begins: it is stopped (the TTS
    cancels it, nothing pinned) and synthesised once the satellites are idle again."""
    clock = ManualClock()
    idle = True
    received = sum(1 for line in tts.log if "synthesize received" in line)
    warming = asyncio.create_task(keep_clock_warm(
        [tts.uri], None, lambda: idle, clock=clock, now=lambda: START + dt.timedelta(seconds=clock.now()),
        lead=15.0, poll=POLL))
    long_reply = asyncio.create_task(synthesize_once(
        tts.uri, "This is a long answer that keeps the engine busy for a while, sentence after sentence, "
        "so that the warm-up has to wait at the gate behind it before it can run at all.", None))
    try:
        assert await clock.next_sleep() == 15.0
        assert await tts.wait_lines(lambda line: "synthesize received" in line, received + 1, timeout=10)
        before, cancelled = _pinned(tts, "clock-0"), sum(1 for line in tts.log if "reply cancelled" in line)
        clock.advance(15.0)  # 16:17:45: the warm-up of 16:18 starts (and waits behind the long reply)
        assert await clock.next_sleep() == POLL
        assert await tts.wait_lines(lambda line: "synthesize received" in line, received + 2, timeout=10)  # at the TTS
        idle = False  # the user starts speaking
        clock.advance(POLL)
        assert await tts.wait_lines(lambda line: "reply cancelled" in line, cancelled + 1, timeout=10)
        assert await clock.next_sleep() == POLL  # waiting for idle again
        assert _pinned(tts, "clock-0") == before
        await long_reply
        idle = True
        clock.advance(POLL)
        assert await _next_wait(clock) > 50.0  # warmed; waiting for 16:18:45
        assert _pinned(tts, "clock-0") == before + 1
    finally:
        await cancel_and_wait(warming)
        await cancel_and_wait(long_reply)


async def test_a_wall_clock_that_goes_back_an_hour_is_followed(tts: ServiceProcess) -> None:
    """Daylight saving ends: 16:17:45 becomes 15:17:45. The next line warmed is 15:19's, a minute later,
    not 16:19's an hour later."""
    clock = ManualClock()
    shift = dt.timedelta(0)
    warming = asyncio.create_task(keep_clock_warm(
        [tts.uri], None, lambda: True, clock=clock,
        now=lambda: START + dt.timedelta(seconds=clock.now()) - shift, lead=15.0, poll=POLL))
    try:
        assert await clock.next_sleep() == 15.0
        clock.advance(15.0)
        assert await _next_wait(clock) == pytest.approx(60.0)  # 16:18 warmed at 16:17:45
        shift = dt.timedelta(hours=1)  # now 15:17:45.x
        clock.advance(60.0)  # wakes at 15:18:45: the target was 16:19, it is 15:19 now
        assert await _next_wait(clock) == pytest.approx(60.0)  # 15:19 warmed; next at 15:19:45
    finally:
        await cancel_and_wait(warming)
