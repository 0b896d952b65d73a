"""wyoming_llama as a client meets it, against the real llama-server and the real SmolLM2 GGUF
(``llama``: one ``python -m wyoming_llama`` for the module, tests/conftest.py): its
Info and streamed reply, the empty and the bad transcript, attached to a running llama-server,
and the sentence budget (``--max-sentences``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from helpers import ServiceProcess, connected, start_service
from llama_service_harness import ask, check_reply, llama_child, llama_service, metric, ready_url
from wyoming.asr import Transcript
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe, Info

from wyoming_llama.handler import EMPTY_TRANSCRIPT_REPLY
from wyoming_llama.spoken import SentenceBudget


@pytest.fixture(scope="module")
async def llama() -> AsyncIterator[ServiceProcess]:
    """conftest's service without the minute's prefill refresh (wyoming_llama/prefill.py): one
    firing at a minute's turn would count in the empty transcript's decode check."""
    async with llama_service("--no-prefill-refresh") as service:
        yield service


async def test_describe_and_streamed_reply(llama: ServiceProcess) -> None:
    async with connected(llama.port) as client:
        await client.send(Describe())
        info = Info.from_event((await client.recv_until("info", timeout=10))[-1])
        events = await ask(client, "What is the capital of France?", "conv-stream")
    program = info.handle[0]
    assert program.installed and program.supports_handled_streaming
    assert program.models[0].name == "SmolLM2-135M-Instruct.Q4_1" and program.models[0].languages == ["en"]
    text = check_reply(events, "conv-stream")
    assert text.strip()
    assert len(events) - 3 > 5  # streamed in many pieces, not one


async def test_empty_transcript_is_answered_without_the_model(llama: ServiceProcess) -> None:
    url = await ready_url(llama)
    before = await metric(url, "n_decode_total")
    async with connected(llama.port) as client:
        events = await ask(client, "  \n ", "conv-empty")
    assert check_reply(events, "conv-empty") == EMPTY_TRANSCRIPT_REPLY
    assert await metric(url, "n_decode_total") == before


async def test_bad_input_gets_error_codes(llama: ServiceProcess) -> None:
    async with connected(llama.port) as client:
        await client.send(Transcript(text="x" * 5000))
        too_long = Error.from_event((await client.recv_until("error"))[-1])
        await client.send(Event("transcript", {"text": 42}))
        not_text = Error.from_event((await client.recv_until("error"))[-1])
        await client.send(Event("transcript", {"context": {}}))
        no_text = Error.from_event((await client.recv_until("error"))[-1])
        await client.send(Event("synthesize", {"text": "hello"}))
        unknown = Error.from_event((await client.recv_until("error"))[-1])
        events = await ask(client, "   ")  # still usable
    assert (too_long.code, not_text.code, no_text.code, unknown.code) == (
        "transcript-too-long", "invalid-transcript", "bad-event", "unknown-event")
    assert check_reply(events, None) == EMPTY_TRANSCRIPT_REPLY


async def test_attached_to_a_running_llama_server(llama: ServiceProcess) -> None:
    url = await ready_url(llama)
    attached = await start_service("wyoming_llama", "--llm-url", url, "--model", "smol", "--max-tokens", "8")
    try:
        async with connected(attached.port) as client:
            await client.send(Describe())
            info = Info.from_event((await client.recv_until("info", timeout=10))[-1])
            events = await ask(client, "Say hello.", "attached")
    finally:
        await attached.stop()
    assert info.handle[0].models[0].name == "smol"
    assert check_reply(events, "attached").strip()
    assert llama_child(llama)[1] == url  # still the managed one; the attached service started none


async def test_a_reply_is_stopped_after_max_sentences(llama: ServiceProcess) -> None:
    """--max-sentences 2: the reply ends after its second sentence and generation stops there
    (ignore_eos makes the model write on to --max-tokens otherwise)."""
    url = await ready_url(llama)
    attached = await start_service("wyoming_llama", "--llm-url", url, "--max-tokens", "300", "--temperature", "0",
                                   "--llm-option", "ignore_eos=true", "--max-sentences", "2")
    try:
        predicted = await metric(url, "tokens_predicted_total")
        async with connected(attached.port) as client:
            events = await ask(client, "Tell me a long story about a dragon and a knight.", "sentences")
        generated = await metric(url, "tokens_predicted_total") - predicted
    finally:
        await attached.stop()
    reply = check_reply(events, "sentences")
    ends = sum(1 for i, c in enumerate(reply) if c in ".!?" and (i + 1 == len(reply) or reply[i + 1].isspace()))
    assert 1 <= ends <= 2, reply
    assert generated < 300, generated  # stopped well before --max-tokens


def test_sentence_budget_cuts_after_the_nth_sentence() -> None:
    budget = SentenceBudget(2)
    pieces = ["Hi", " there.", " Pi is 3.14 and", " e.g. more!", " Third one.", " Fourth."]
    said = "".join(budget.take(p) for p in pieces)
    assert said.rstrip() == "Hi there. Pi is 3.14 and e.g. more!" and budget.done and budget.sentences == 2
    assert SentenceBudget(0).take("One. Two. Three. ") == "One. Two. Three. "
    quoted = SentenceBudget(1)
    assert quoted.take('He said "stop." Then') == 'He said "stop." ' and quoted.done
