"""The intent replies known before a turn (the no-home line, today's date) are in the TTS cache first.

A real TTS server (Piper through ``wyoming_kokoro``, ``--debug`` so its cache hits are logged): after
:func:`orchestrator.warm_replies.warm_all` a turn's request for the same text is answered from the
cache; a replica that is down is asked again and then given up, without an exception.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator

import pytest
from helpers import free_port
from wyoming.event import Eventable

from orchestrator.intents import NO_HOME_REPLY, IntentRecognizer
from orchestrator.timers import TimerManager
from orchestrator.warm_replies import COMMON_TIMER_MINUTES, known_replies, synthesize_once, warm_all
from voice_runtime.clock import ManualClock
from voice_runtime.procs import ServiceProcess, start_service

NOW = dt.datetime(2026, 12, 4, 10, 30)


@pytest.fixture(scope="module")
async def tts() -> AsyncIterator[ServiceProcess]:
    proc = await start_service("wyoming_kokoro", "--provider", "piper", "--engines", "piper", "--no-warmup", "--debug")
    try:
        yield proc
    finally:
        await proc.stop()


def _count(proc: ServiceProcess, what: str) -> int:
    return sum(1 for line in proc.log if what in line and "chars=" in line)


async def _wait(proc: ServiceProcess, what: str, count: int) -> bool:
    return await proc.wait_lines(lambda line: what in line and "chars=" in line, count, timeout=10)


CACHED, RUN = " cached", "gate_wait="  # the TTS's debug lines: answered from its cache / synthesised


def test_known_replies_are_the_date_and_the_no_home_line() -> None:
    assert known_replies(IntentRecognizer(), NOW) == ["Today is Friday, December 4, 2026.", NO_HOME_REPLY]
    assert known_replies(None, NOW) == []


class _Ringer:
    async def timer_event(self, event: Eventable, announce: str | None) -> None:
        pass


async def test_with_timers_the_no_timer_line_and_common_timers_are_known_and_are_what_the_turns_say() -> None:
    timers = TimerManager(None)
    timers.attach("kitchen", _Ringer())
    intents = IntentRecognizer(timers=timers)
    known = known_replies(intents, NOW)
    assert known[:2] == ["Today is Friday, December 4, 2026.", NO_HOME_REPLY]
    assert "There is no timer running." in known and "Timer set for 5 minutes." in known
    assert len(known) == 3 + len(COMMON_TIMER_MINUTES)
    said = []
    for text in ("cancel the timer", "set a timer for 5 minutes", "set a timer for ten minutes",
                 "set a timer for 1 minute"):
        match = await intents.answer(text, "kitchen")
        assert match is not None, text
        said.append(match.response)
    assert said == ["There is no timer running.", "Timer set for 5 minutes.", "Timer set for 10 minutes.",
                    "Timer set for 1 minute."]
    assert set(said) <= set(known)  # each is answered from the TTS cache


async def test_a_warmed_reply_comes_from_the_cache(tts: ServiceProcess) -> None:
    text = known_replies(IntentRecognizer(), NOW)[0]
    cached, runs = _count(tts, CACHED), _count(tts, RUN)
    assert await warm_all([tts.uri], [text], None, clock=ManualClock()) == [tts.uri]
    assert await _wait(tts, RUN, runs + 1)  # the warm synthesised it
    assert _count(tts, CACHED) == cached
    await synthesize_once(tts.uri, text, None)  # the turn's request
    assert await _wait(tts, CACHED, cached + 1)  # answered from the cache


async def test_a_text_not_warmed_is_synthesised(tts: ServiceProcess) -> None:
    cached, runs = _count(tts, CACHED), _count(tts, RUN)
    await synthesize_once(tts.uri, "The kettle is on the stove in the kitchen.", None)
    assert await _wait(tts, RUN, runs + 1)
    assert _count(tts, CACHED) == cached


async def test_a_replica_that_is_down_is_asked_again_then_given_up() -> None:
    clock = ManualClock()
    dead = f"tcp://127.0.0.1:{free_port()}"
    warming = asyncio.create_task(warm_all([dead], ["Hello."], None, clock=clock, retry_after=10.0, tries=2))
    assert await clock.next_sleep() == 10.0  # the first try failed: asked again later
    clock.advance(10.0)
    assert await warming == []  # the second failed too: given up, no exception


async def test_a_uri_it_cannot_open_is_given_up_at_once() -> None:
    clock = ManualClock()
    assert await warm_all(["stdio://"], ["Hello."], None, clock=clock) == []
    assert clock.slept == []


async def test_the_start_up_warm_up_waits_while_a_satellite_is_busy(tts: ServiceProcess) -> None:
    """Nothing is synthesised while a turn is on (``idle()`` False); once idle, every text is."""
    clock = ManualClock()
    idle = False
    runs = _count(tts, RUN)
    texts = ["The porch light is on at last.", "The hall light is on at last."]
    warming = asyncio.create_task(warm_all([tts.uri], texts, None, clock=clock, idle=lambda: idle, poll=0.25))
    assert await clock.next_sleep() == 0.25  # a turn is on: it waits
    clock.advance(0.25)
    assert await clock.next_sleep() == 0.25
    assert _count(tts, RUN) == runs and not warming.done()
    idle = True
    clock.advance(0.25)
    assert await warming == [tts.uri]
    assert await _wait(tts, RUN, runs + 2)
