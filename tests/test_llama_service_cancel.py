"""Generation stopped on the real llama-server (``llama``: tests/conftest.py): by a
new transcript (what was said is kept in the history) and by the client's disconnect."""

from __future__ import annotations

from helpers import ServiceProcess, connected
from llama_service_harness import check_reply, in_process, metric, ready_url, wait_idle, wait_released
from wyoming.asr import Transcript
from wyoming.handle import HandledChunk

from wyoming_llama.handler import EMPTY_TRANSCRIPT_REPLY
from wyoming_llama.llm import GenerationSettings


async def test_new_transcript_cancels_generation_and_keeps_what_was_said(llama: ServiceProcess) -> None:
    url = await ready_url(llama)
    # Would generate 400 tokens if not stopped.
    settings = GenerationSettings(max_tokens=400, temperature=0.0, extra={"ignore_eos": True})
    async with in_process(url, settings) as (server, service, _), connected(server.port or 0) as client:
        await wait_idle(url)
        predicted = await metric(url, "tokens_predicted_total")
        await client.send(Transcript(text="Count from one to five hundred.", context={"conversation_id": "c"}))
        first = await client.recv_until("handled-chunk")
        assert [e.type for e in first] == ["handled-start", "handled-chunk"]
        await client.send(Transcript(text=" ", context={"conversation_id": "c"}))  # barge in
        rest = await client.recv_until("handled-stop")
        start = next(i for i, e in enumerate(rest) if e.type == "handled-start")
        said = [HandledChunk.from_event(e).text for e in first[1:] + rest[:start]]
        assert all(e.type == "handled-chunk" for e in rest[:start])
        assert check_reply(rest[start:], "c") == EMPTY_TRANSCRIPT_REPLY
        await wait_released(url)  # the cancelled generation's tokens are counted once its slot is free
        generated = await metric(url, "tokens_predicted_total") - predicted
        assert [(t.user, t.assistant) for t in service.history.turns("c")] == [
            ("Count from one to five hundred.", "".join(said))]
    assert 1 <= generated < 100, generated


async def test_disconnect_cancels_generation(llama: ServiceProcess) -> None:
    url = await ready_url(llama)
    settings = GenerationSettings(max_tokens=400, temperature=0.0, extra={"ignore_eos": True})
    async with in_process(url, settings) as (server, _, _):
        await wait_idle(url)
        predicted = await metric(url, "tokens_predicted_total")
        async with connected(server.port or 0) as client:
            await client.send(Transcript(text="Count from one to five hundred."))
            await client.recv_until("handled-chunk")
        await server.wait_connections(0)
        await wait_released(url)  # (not wait_idle: its token may come from another slot first)
        generated = await metric(url, "tokens_predicted_total") - predicted
    assert 1 <= generated < 100, generated
