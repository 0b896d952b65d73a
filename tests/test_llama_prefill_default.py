"""The default service prefills a conversation's next prompt after each reply (session 21:
bench/llama_history_bench.py), and a follow-up is still answered in context: the real
``python -m wyoming_llama`` with its defaults (history, prefill, threads) on the real llama-server and
SmolLM2."""

from __future__ import annotations

import re

from helpers import ServiceProcess, connected, start_service
from wyoming.asr import Transcript

CLOCK_TOKENS = 21  # the clock line's length in SmolLM2's tokens (handler.clock_line)
REPLY = re.compile(r"reply conversation=(\S+) .*prompt_tokens=(\d+) cached=(\d+)")


async def prefilled(service: ServiceProcess, conversation: str, count: int) -> None:
    """Until the service has logged ``count`` finished prefills of ``conversation``."""
    assert await service.wait_log(f"prefill conversation={conversation} ", count=count, timeout=120)


async def answer(service: ServiceProcess, conversation: str, text: str) -> tuple[str, int]:
    """The reply's text and the prompt tokens llama-server evaluated for it (not cached)."""
    marker = f"reply conversation={conversation} "
    replies = sum(marker in line for line in service.log)
    async with connected(service.port) as client:
        await client.send(Transcript(text=text, context={"conversation_id": conversation}))
        events = await client.recv_until("handled-stop", timeout=300)
    assert await service.wait_log(marker, count=replies + 1, timeout=60)  # logged right after the last event
    found = [m for line in service.log if (m := REPLY.search(line)) and m[1] == conversation]
    said = " ".join(str(e.data.get("text")) for e in events if e.type == "handled")
    return said, int(found[replies][2]) - int(found[replies][3])


async def test_default_service_prefills_and_keeps_the_follow_up_in_context() -> None:
    # the defaults, but for a smaller KV cache, one warmed slot and whole replies (their usage is reported)
    service = await start_service("wyoming_llama", "--context-size", "2048", "--warm-up-slots", "1",
                                  "--max-sentences", "0", "--max-tokens", "24")
    try:
        await answer(service, "f", "My name is Zorblax.")
        await prefilled(service, "f", 1)  # the next prompt's start was evaluated after the reply
        said, _ = await answer(service, "f", "What is my name?")
        assert "Zorblax" in said  # the follow-up is answered from the kept history
        await prefilled(service, "f", 2)
        # a question that needs the clock line finds it already evaluated: it reads its own words only
        _, uncached = await answer(service, "f", "What day is it today?")
        await prefilled(service, "f", 3)
        _, fresh = await answer(service, "g", "What day is it today?")  # a first turn: nothing prefilled
    finally:
        await service.stop()
    assert uncached <= fresh - CLOCK_TOKENS, (uncached, fresh)
