"""The system prompt is evaluated into every slot before anyone asks (LocalProvider.warm_up),
on a real llama-server: the first turn of each conversation then finds it in the prompt cache."""

from __future__ import annotations

from voice_runtime.models import resolve_llama_server, resolve_llm
from wyoming_llama.history import ChatMessage
from wyoming_llama.llm import GenerationSettings, LocalProvider, ReplyStats
from wyoming_llama.process import LlamaServerConfig, LlamaServerProcess

SYSTEM = ("You are a terse assistant for a lighthouse keeper on a cold northern island. Answer in a few words, "
          "mention the weather only when asked, and never use lists or markdown in what you say.")


async def first_turns(provider: LocalProvider) -> dict[str, ReplyStats]:
    settings = GenerationSettings(max_tokens=2, temperature=0.0)
    stats: dict[str, ReplyStats] = {}
    for conversation in ("kitchen", "hall"):  # two conversations: a slot each
        messages: list[ChatMessage] = [{"role": "system", "content": SYSTEM},
                                       {"role": "user", "content": f"Say hello to the {conversation}."}]
        stats[conversation] = ReplyStats()
        async for _ in provider.stream(messages, settings, stats[conversation], conversation=conversation):
            pass
    return stats


async def test_warm_up_puts_the_system_prompt_in_every_slot_before_the_first_turn() -> None:
    process = LlamaServerProcess(LlamaServerConfig(exe=resolve_llama_server(), model=resolve_llm(), context_size=1024,
                                                   threads=1, parallel=2, startup_timeout=120))
    await process.start()
    provider = LocalProvider(process=process, ready_timeout=60, slots=2)
    try:
        cold = await first_turns(provider)  # slots 0/1: not warmed, nothing of the prompt cached
        await process.stop()
        process = LlamaServerProcess(process.config)  # a fresh server, warmed this time
        await process.start()
        provider.process = process
        await provider.warm_up(SYSTEM)
        assert provider.warmed == process.url
        warm = await first_turns(provider)
    finally:
        await provider.aclose()
        await process.stop()
    for conversation in ("kitchen", "hall"):
        assert (cold[conversation].cached_tokens or 0) < 5, cold
        # The system prompt (~40 tokens) and the user message's opening were evaluated already.
        assert warm[conversation].cached_tokens is not None and warm[conversation].cached_tokens >= 40, warm
        assert warm[conversation].prompt_tokens == cold[conversation].prompt_tokens
