"""A conversation's history on the real llama-server (``llama``: tests/conftest.py):
a fact carried within a conversation only, its prompt from llama-server's cache, and one slot
per conversation (``SlotMap``)."""

from __future__ import annotations

from helpers import ServiceProcess, connected
from llama_service_harness import ask, check_reply, in_process, ready_url

from wyoming_llama.history import ChatMessage
from wyoming_llama.llm import GenerationSettings, LocalProvider, ReplyStats


async def test_history_carries_a_fact_within_a_conversation_only(llama: ServiceProcess) -> None:
    url = await ready_url(llama)
    settings = GenerationSettings(max_tokens=12, temperature=0.0)
    async with in_process(url, settings) as (server, service, provider), connected(server.port or 0) as client:
        first = check_reply(await ask(client, "My name is Zorblax.", "conv-a"), "conv-a")
        check_reply(await ask(client, "What is my name?", "conv-a"), "conv-a")
        check_reply(await ask(client, "What is my name?", "conv-b"), "conv-b")
        # Without a conversation id the connection is the conversation.
        check_reply(await ask(client, "I live in Oslo."), None)
        check_reply(await ask(client, "Where do I live?"), None)
    same, other = provider.sent[1], provider.sent[2]
    assert same == [
        {"role": "system", "content": "Answer briefly."},
        # repeated as it was asked, so llama-server's prompt cache covers it (no clock line: neither
        # question is about the time, handler.needs_clock; the line's own repetition: test_llama_units)
        {"role": "user", "content": "My name is Zorblax."},
        {"role": "assistant", "content": first},
        {"role": "user", "content": "What is my name?"},
    ]
    assert not any("Zorblax" in m["content"] for m in other)
    # so llama-server evaluated only the new question: the whole first prompt came from its cache
    asked_first, asked_again = provider.stats[0], provider.stats[1]
    assert asked_first.prompt_tokens and asked_again.cached_tokens is not None
    assert asked_again.cached_tokens >= asked_first.prompt_tokens, (asked_first, asked_again)
    assert "Oslo" in provider.sent[4][1]["content"]
    assert [t.user for t in service.history.turns("conv-a")] == ["My name is Zorblax.", "What is my name?"]
    assert [t.user for t in service.history.turns("conv-b")] == ["What is my name?"]


async def test_each_conversation_keeps_its_own_slot_so_its_history_is_not_evaluated_again(
    llama: ServiceProcess,
) -> None:
    """Three conversations taking turns: without a slot each (id_slot), each would land in the
    slot the previous one used (they share the system prompt) and evaluate its history again."""
    url = await ready_url(llama)
    provider = LocalProvider(url=url, slots=4)
    settings = GenerationSettings(max_tokens=12, temperature=0.0)
    history: dict[str, list[ChatMessage]] = {
        c: [{"role": "system", "content": "Answer briefly."}] for c in ("kitchen", "bedroom", "hall")}
    cached: dict[str, list[int]] = {c: [] for c in history}
    prompt: dict[str, list[int]] = {c: [] for c in history}
    try:
        for question in ("Name a fruit.", "Name a color.", "Name an animal."):
            for conversation, messages in history.items():
                messages.append({"role": "user", "content": f"{question} ({conversation})"})
                stats = ReplyStats()
                reply = "".join([p async for p in provider.stream(messages, settings, stats,
                                                                  conversation=conversation)])
                messages.append({"role": "assistant", "content": reply})
                cached[conversation].append(stats.cached_tokens or 0)
                prompt[conversation].append(stats.prompt_tokens or 0)
    finally:
        await provider.aclose()
    for conversation in history:
        # From the second turn on, all but the newest question (and the re-read reply) is reused.
        for turn in (1, 2):
            assert cached[conversation][turn] >= prompt[conversation][turn - 1], (conversation, cached, prompt)


def test_slot_map_gives_each_conversation_its_own_slot_and_reuses_the_least_recent() -> None:
    from wyoming_llama.llm import SlotMap

    slots = SlotMap(2)
    a = slots.acquire("a")
    slots.release(a)
    b = slots.acquire("b")
    slots.release(b)
    assert a != b and slots.acquire("a") == a  # "a" is now the most recent
    slots.release(a)
    c = slots.acquire("c")  # both taken: "b", the least recently used, gives its slot up
    assert c == b
    slots.release(c)
    busy = slots.acquire("a")  # "a" is generating: a newcomer takes "c"'s slot, not this one
    assert slots.acquire("d") == c and busy == a
