"""The post-reply prefill is kept fresh while the clock line's minute changes (``wyoming_llama/prefill.py``):
a question asked with the clock line a minute or more after the last reply evaluates only its own words
and the template's few tokens, not the clock line again from its minute on (session 28's quiet room:
held-56 "What time does the store close?" evaluated 30 tokens instead of 12, 285 ms).

The minute passes on a fake clock: the prefiller's sleep is a gate the test opens, then the clock moves."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import httpx
from helpers import ServiceProcess, connected
from llama_service_harness import RecordingProvider, ask, check_reply, in_process, ready_url, uncached

from wyoming_llama.handler import clock_line
from wyoming_llama.history import ChatMessage
from wyoming_llama.llm import GenerationSettings, LocalProvider, SlotMap
from wyoming_llama.prefill import Prefiller

SETTINGS = GenerationSettings(max_tokens=8, temperature=0.0)
START = dt.datetime(2026, 3, 14, 15, 9, 30)


class Minutes:
    """A clock that moves only when the test lets a minute pass (the prefiller's ``sleep``)."""

    def __init__(self) -> None:
        self.now = START
        self.asleep = asyncio.Event()  # a refresh waits for its minute
        self._gate = asyncio.Event()

    async def sleep(self, seconds: float) -> None:
        self.asleep.set()
        await self._gate.wait()
        self._gate.clear()
        self.now += dt.timedelta(seconds=seconds)

    async def pass_minute(self) -> None:
        """Once a refresh waits for its minute: the minute passes (``asleep`` then tells the next wait)."""
        await self.asleep.wait()
        self.asleep.clear()
        self._gate.set()


async def clock_question_uncached(url: str, conversation: str, *, refresh: bool) -> tuple[int, RecordingProvider]:
    """A question, a minute's pause, then a question asked with the clock line: the prompt tokens the
    second one evaluated (not cached)."""
    minutes = Minutes()

    def prefiller(inner: LocalProvider) -> Prefiller:
        return Prefiller(inner, now=lambda: minutes.now, sleep=minutes.sleep)

    async with in_process(url, SETTINGS, slots=4,  # the shared service's --parallel
                          now=lambda: minutes.now, prefiller=prefiller) as (server, service, provider):
        assert service.prefiller is not None
        async with connected(server.port or 0) as client:
            check_reply(await ask(client, "Name a fruit.", conversation), conversation)
            await service.prefiller.wait()
            if refresh:
                await minutes.pass_minute()  # the refresh evaluates the new minute's clock line
                await minutes.asleep.wait()  # ... and waits for the next one
                await service.prefiller.wait()
            else:
                minutes.now += dt.timedelta(minutes=1)  # the minute passes, nothing is evaluated
            check_reply(await ask(client, "Name a color for today.", conversation), conversation)
    return uncached(provider), provider


async def test_a_clock_question_a_minute_later_finds_the_new_minute_evaluated(llama: ServiceProcess) -> None:
    url = await ready_url(llama)
    stale, _ = await clock_question_uncached(url, "refresh-off", refresh=False)
    fresh, provider = await clock_question_uncached(url, "refresh-on", refresh=True)
    # the clock line from its minute on ("10 PM, Saturday, March 14, 2026.") was evaluated before the question
    assert fresh <= stale - 10, (stale, fresh)
    # what the model was asked is unchanged: the new minute's clock line, then the question
    later = START + dt.timedelta(seconds=30.05)
    assert later.minute == 10
    assert provider.sent[-1][-1]["content"] == f"{clock_line(later)}\n\nName a color for today."
    assert [m["role"] for m in provider.sent[-1]] == ["system", "user", "assistant", "user"]


class FakeProvider:
    """What the prefiller uses of ``LocalProvider``: the prompts it evaluates are recorded."""

    def __init__(self) -> None:
        self.slot_map = SlotMap(2)
        self.priority = None
        self.evaluated: list[list[ChatMessage]] = []

    async def _base_url(self) -> str:
        return "http://llama.invalid"

    async def evaluate(self, base: str, messages: list[ChatMessage], slot: int | None) -> httpx.Response:
        self.evaluated.append(messages)
        body: dict[str, Any] = {"usage": {"prompt_tokens": 1}, "timings": {"prompt_ms": 1.0}}
        return httpx.Response(200, json=body)


def prompt(minutes: Minutes) -> list[ChatMessage]:
    return [{"role": "user", "content": clock_line(minutes.now)}]


async def test_the_prefill_is_evaluated_again_at_each_new_minute_until_paused_or_gone() -> None:
    minutes = Minutes()
    provider = FakeProvider()
    prefiller = Prefiller(provider, now=lambda: minutes.now, sleep=minutes.sleep)  # type: ignore[arg-type]
    alive = True
    try:
        prefiller.schedule("kitchen", lambda: prompt(minutes) if alive else None, refresh=True)
        await prefiller.wait()
        await minutes.pass_minute()
        await minutes.asleep.wait()
        assert [m[0]["content"] for m in provider.evaluated] == ["It is 3:09 PM, Saturday, March 14, 2026.",
                                                                 "It is 3:10 PM, Saturday, March 14, 2026."]
        # a question of the conversation is being answered: no refresh until its reply's prefill
        task = prefiller._tasks["kitchen"]
        prefiller.pause("kitchen")
        await asyncio.wait({task})
        assert task.cancelled() and "kitchen" not in prefiller._tasks and len(provider.evaluated) == 2
        minutes.asleep.clear()  # the cancelled wait
        # its reply was stored: evaluated at once, then a minute later; gone (expired): no more
        prefiller.schedule("kitchen", lambda: prompt(minutes) if alive else None, refresh=True)
        await prefiller.wait()
        await minutes.pass_minute()
        await minutes.asleep.wait()
        assert len(provider.evaluated) == 4
        task = prefiller._tasks["kitchen"]
        alive = False
        await minutes.pass_minute()
        await asyncio.wait({task}, timeout=30)
        assert task.done() and len(provider.evaluated) == 4
        assert not prefiller._paused  # nothing kept of a conversation whose task has ended
        prefiller.pause("porch")  # a conversation without a prefill: nothing to pause, nothing kept
        assert not prefiller._paused
        # a list (no refresh asked): evaluated once, no minute awaited
        prefiller.schedule("hall", prompt(minutes))
        hall = prefiller._tasks["hall"]
        await asyncio.wait({hall}, timeout=30)  # a refresh would wait for a minute that never comes
        assert hall.done() and len(provider.evaluated) == 5 and not minutes.asleep.is_set()
    finally:
        await prefiller.aclose()


async def test_a_conversation_whose_slot_was_taken_is_not_refreshed() -> None:
    """Its prompt is no longer cached: a refresh would evaluate all of it, a minute after a minute."""
    minutes = Minutes()
    provider = FakeProvider()
    prefiller = Prefiller(provider, now=lambda: minutes.now, sleep=minutes.sleep)  # type: ignore[arg-type]
    try:
        prefiller.schedule("kitchen", lambda: prompt(minutes), refresh=True)
        await prefiller.wait()
        for other in ("hall", "porch"):  # two more conversations on a 2-slot server
            provider.slot_map.release(provider.slot_map.acquire(other))
        assert not provider.slot_map.owns("kitchen")
        task = prefiller._tasks["kitchen"]
        await minutes.pass_minute()
        await asyncio.wait({task}, timeout=30)
        assert task.done() and len(provider.evaluated) == 1
    finally:
        await prefiller.aclose()


def test_the_minute_refresh_is_on_by_default_and_can_be_turned_off() -> None:
    from wyoming_llama.__main__ import make_config, parse_args

    assert make_config(parse_args([])).prefill_refresh is True
    assert make_config(parse_args(["--no-prefill-refresh"])).prefill_refresh is False
    assert make_config(parse_args(["--no-prefill-refresh"])).prefill is True  # the prefill itself stays on
