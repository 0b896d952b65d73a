"""Speculative replies (the orchestrator's preemptive generation) on the real model: a reply to a
transcript marked ``speculative`` enters the history only once the same transcript confirms it."""

from __future__ import annotations

from helpers import Client, ServiceProcess, connected
from llama_service_harness import ask, check_reply, in_process, ready_url
from wyoming.asr import Transcript
from wyoming.event import Event

from wyoming_llama.llm import GenerationSettings

SETTINGS = GenerationSettings(max_tokens=8, temperature=0.0)


async def speculate(client: Client, text: str, conversation: str) -> list[Event]:
    await client.send(Transcript(text=text, context={"conversation_id": conversation, "speculative": True}))
    return await client.recv_until("handled-stop", timeout=180)


async def test_a_confirmed_speculative_reply_is_kept_once_and_not_generated_again(llama: ServiceProcess) -> None:
    url = await ready_url(llama)
    async with in_process(url, SETTINGS) as (server, service, provider), connected(server.port or 0) as client:
        first = check_reply(await speculate(client, "My name is Zorblax.", "c"), "c")
        assert service.history.turns("c") == []  # not confirmed yet
        await client.send(Transcript(text="My name is Zorblax.", context={"conversation_id": "c"}))
        check_reply(await ask(client, "What is my name?", "c"), "c")
    assert len(provider.sent) == 2  # the confirmation did not ask the model again
    assert [(t.user, t.assistant) for t in service.history.turns("c")] == [
        ("My name is Zorblax.", first), ("What is my name?", service.history.turns("c")[1].assistant)]
    # the confirmed turn is repeated exactly as the speculative request asked it (no clock line: not
    # a question about the time, handler.needs_clock)
    assert provider.sent[0][-1]["content"] == "My name is Zorblax."
    assert provider.sent[1][1:3] == [provider.sent[0][-1], {"role": "assistant", "content": first}]


async def test_a_speculative_reply_that_is_not_confirmed_leaves_no_trace(llama: ServiceProcess) -> None:
    url = await ready_url(llama)
    async with in_process(url, SETTINGS) as (server, service, provider):
        async with connected(server.port or 0) as client:
            check_reply(await speculate(client, "Turn on the", "d"), "d")  # the user went on speaking
            check_reply(await ask(client, "Turn on the radio.", "d"), "d")
            check_reply(await speculate(client, "My name is", "d"), "d")
        # ... and this connection closed (the orchestrator gave the speculation up)
        async with connected(server.port or 0) as client:
            check_reply(await ask(client, "What did I ask?", "d"), "d")
    assert [t.user for t in service.history.turns("d")] == ["Turn on the radio.", "What did I ask?"]
    assert not any(m["content"] == "Turn on the" for m in provider.sent[-1])
