"""The system prompt is evaluated into the slots before anyone asks (LocalProvider.warm_up), on a
real llama-server: the first turn of each conversation then finds it in the prompt cache. Every
slot by default; ``--warm-up-slots N`` the first N (the ones SlotMap hands out first)."""

from __future__ import annotations

from stack import Stack

from voice_runtime.models import resolve_llama_server, resolve_llm
from wyoming_llama.history import ChatMessage
from wyoming_llama.llm import GenerationSettings, LocalProvider, ReplyStats
from wyoming_llama.process import LlamaServerConfig, LlamaServerProcess

SYSTEM = (
    "You are a terse assistant for a lighthouse keeper on a cold northern island. Answer in a few words, "
    "mention the weather only when asked, and never use lists or markdown in what you say."
)


async def first_turns(provider: LocalProvider) -> dict[str, ReplyStats]:
    settings = GenerationSettings(max_tokens=2, temperature=0.0)
    stats: dict[str, ReplyStats] = {}
    for conversation in ("kitchen", "hall", "attic"):  # three conversations: slots 0, 1, 2
        messages: list[ChatMessage] = [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": f"Say hello to the {conversation}."},
        ]
        stats[conversation] = ReplyStats()
        async for _ in provider.stream(messages, settings, stats[conversation], conversation=conversation):
            pass
    return stats


async def test_warm_up_puts_the_system_prompt_in_the_first_slots_before_the_first_turn() -> None:
    process = LlamaServerProcess(
        LlamaServerConfig(
            exe=resolve_llama_server(),
            model=resolve_llm(),
            context_size=1024,
            threads=1,
            parallel=3,
            startup_timeout=120,
        )
    )
    await process.start()
    provider = LocalProvider(process=process, ready_timeout=60, slots=3)
    try:
        cold = await first_turns(provider)  # slots 0-2: not warmed, nothing of the prompt cached
        await process.stop()
        process = LlamaServerProcess(process.config)  # a fresh server, its first two slots warmed this time
        await process.start()
        provider.process = process
        await provider.warm_up(SYSTEM, slots=2)
        assert provider.warmed == process.url
        warm = await first_turns(provider)
    finally:
        await provider.aclose()
        await process.stop()
    for conversation in ("kitchen", "hall", "attic"):
        assert (cold[conversation].cached_tokens or 0) < 5, cold
        assert warm[conversation].prompt_tokens == cold[conversation].prompt_tokens
    for conversation in ("kitchen", "hall"):
        # The system prompt (~40 tokens) and the user message's opening were evaluated already.
        cached = warm[conversation].cached_tokens
        assert cached is not None and cached >= 40, warm
    assert (warm["attic"].cached_tokens or 0) < 5, warm  # the third slot was left cold


async def test_the_service_warms_every_slot_by_default(stack: Stack) -> None:
    """``wyoming_llama`` with its defaults (the session's stack: 4 slots) warms every slot once its
    llama-server is ready (``--warm-up-slots`` unset), in the background."""
    assert await stack.llama.wait_log("warm-up: system prompt evaluated into 4 slot(s)", timeout=120)
