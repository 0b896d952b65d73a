"""wyoming_llama against the real llama-server and the real SmolLM2 GGUF.

One service process (``python -m wyoming_llama``, which starts and manages its own
llama-server) is shared by the whole module; tests that need to look inside the handler
run it in-process, attached to that same llama-server. The tests that kill processes run
last, in file order.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import re
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from helpers import Client, ServiceProcess, connected, start_service
from wyoming.asr import Transcript
from wyoming.error import Error
from wyoming.event import Event
from wyoming.handle import Handled, HandledChunk, HandledStart
from wyoming.info import Describe, Info

from voice_runtime.server import ServerConfig, WyomingServer
from wyoming_llama.handler import EMPTY_TRANSCRIPT_REPLY, LlamaHandler, LlamaService
from wyoming_llama.history import ChatMessage, HistoryStore
from wyoming_llama.llm import GenerationSettings, LocalProvider, ReplyStats
from wyoming_llama.spoken import SentenceBudget

PROMPT_NOW = dt.datetime(2026, 3, 14, 15, 9)  # the clock the in-process service tells the model
MAX_TOKENS = 64  # every reply of the shared service is exactly this long (ignore_eos)


@pytest.fixture(scope="module")
async def llama() -> AsyncIterator[ServiceProcess]:
    service = await start_service(
        "wyoming_llama", "--threads", "1", "--context-size", "2048", "--max-tokens", str(MAX_TOKENS),
        "--temperature", "0", "--llm-option", "ignore_eos=true", "--health-interval", "1",
        "--health-timeout", "3", "--restart-delay", "0.2", "--max-sentences", "0",  # long replies on purpose
        "--warm-up-slots", "1",  # not 4: each (re)start's warm-up competes with the test (1 thread)
    )
    try:
        yield service
    finally:
        await service.stop()


def llama_child(service: ServiceProcess) -> tuple[int, str]:
    """The pid and base URL of the llama-server our service runs (its only child)."""
    children = []
    for task in Path(f"/proc/{service.pid}/task").iterdir():
        children += (task / "children").read_text().split()
    assert len(children) == 1, children
    pid = int(children[0])
    args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    port = args[args.index(b"--port") + 1].decode()
    return pid, f"http://127.0.0.1:{port}"


async def ask(client: Client, text: str, conversation: str | None = None) -> list[Event]:
    context = {"conversation_id": conversation} if conversation else None
    await client.send(Transcript(text=text, context=context))
    return await client.recv_until("handled-stop", timeout=180)


async def ready_url(llama: ServiceProcess) -> str:
    """The managed llama-server's URL once it is ready and its first prompt-cache warm-up (1 slot,
    in the background, after /health answered) is over: it counts in the metrics. A test that
    restarts llama-server waits for the new one itself. (This asked "Hi" and waited for the
    reply: 64 tokens written on one thread before every test.)"""
    assert await llama.wait_log("warm-up: system prompt evaluated into 1 slot(s)", timeout=180)
    return llama_child(llama)[1]


async def metric(url: str, name: str) -> float:
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"{url}/metrics")).text
    match = re.search(rf"^llamacpp:{name} (\S+)$", text, re.MULTILINE)
    assert match, text
    return float(match.group(1))


async def wait_idle(url: str) -> None:
    """Returns once llama-server has finished every task queued before it (one slot)."""
    async with httpx.AsyncClient(timeout=120) as http:
        response = await http.post(f"{url}/v1/chat/completions",
                                   json={"messages": [{"role": "user", "content": "x"}], "max_tokens": 1})
    assert response.status_code == 200


class RecordingProvider:
    """Delegates to the real provider and records exactly what was sent to the model."""

    def __init__(self, inner: LocalProvider) -> None:
        self.inner = inner
        self.name = inner.name
        self.sent: list[list[ChatMessage]] = []
        self.stats: list[ReplyStats] = []  # what llama-server reported for each request

    async def stream(self, messages: list[ChatMessage], settings: GenerationSettings,
                     stats: ReplyStats, *, conversation: str | None = None) -> AsyncIterator[str]:
        self.sent.append([dict(m) for m in messages])  # type: ignore[misc]
        self.stats.append(stats)
        async for piece in self.inner.stream(messages, settings, stats, conversation=conversation):
            yield piece

    async def aclose(self) -> None:
        await self.inner.aclose()


@contextlib.asynccontextmanager
async def in_process(url: str, settings: GenerationSettings) -> AsyncIterator[tuple[WyomingServer, LlamaService,
                                                                                  RecordingProvider]]:
    provider = RecordingProvider(LocalProvider(url=url))
    service = LlamaService(provider=provider, info=Info, system_prompt="Answer briefly.",
                           settings=settings, context_size=2048, history=HistoryStore(max_turns=10),
                           now=lambda: PROMPT_NOW)
    server = WyomingServer(ServerConfig(uri="tcp://127.0.0.1:0"),
                           lambda r, w: LlamaHandler(r, w, service=service))
    await server.start()
    try:
        yield server, service, provider
    finally:
        await server.stop()
        await provider.aclose()


def check_reply(events: list[Event], conversation: str | None) -> str:
    types = [e.type for e in events]
    assert types[0] == "handled-start" and types[-2:] == ["handled", "handled-stop"], types
    assert set(types[1:-2]) == {"handled-chunk"}, types
    chunks = [HandledChunk.from_event(e).text for e in events[1:-2]]
    final = Handled.from_event(events[-2])
    assert final.text == "".join(chunks)
    expected = {"conversation_id": conversation} if conversation else None
    assert HandledStart.from_event(events[0]).context == expected
    assert final.context == expected
    return final.text


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
        await wait_idle(url)
        generated = await metric(url, "tokens_predicted_total") - predicted - 1  # minus wait_idle's token
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
        await wait_idle(url)
        generated = await metric(url, "tokens_predicted_total") - predicted - 1
    assert 1 <= generated < 100, generated


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


async def test_sigkill_of_llama_server_mid_reply_then_automatic_restart(llama: ServiceProcess) -> None:
    await ready_url(llama)
    old_pid, _ = llama_child(llama)
    async with connected(llama.port) as client:
        await client.send(Transcript(text="Tell me a long story.", context={"conversation_id": "k"}))
        await client.recv_until("handled-chunk")
        os.kill(old_pid, signal.SIGKILL)
        events = await client.recv_until("error", timeout=60)
        assert "handled" not in [e.type for e in events]
        assert Error.from_event(events[-1]).code.startswith("llm-")  # type: ignore[union-attr]
        after = await ask(client, "What is two plus two?", "k")
    assert check_reply(after, "k").strip()
    new_pid, _ = llama_child(llama)
    assert new_pid != old_pid
    assert any("restarting llama-server, attempt 1/5" in line for line in llama.log)
    # the new llama-server's prompt cache is warmed again (the first start's warm-up was the first)
    assert await llama.wait_log("warm-up: system prompt evaluated into 1 slot(s)", count=2)


async def test_hung_llama_server_is_restarted(llama: ServiceProcess) -> None:
    await ready_url(llama)
    old_pid, _ = llama_child(llama)
    os.kill(old_pid, signal.SIGSTOP)  # alive but not answering: only the health check can tell
    try:
        async with connected(llama.port) as client:
            events = await ask(client, "Hello again.", "hang")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(old_pid, signal.SIGCONT)
    assert check_reply(events, "hang").strip()
    assert llama_child(llama)[0] != old_pid
    assert any("hung; killing and restarting" in line for line in llama.log)


async def test_sigkill_of_our_server_leaves_no_orphan(llama: ServiceProcess) -> None:
    await ready_url(llama)
    child, _ = llama_child(llama)
    pidfd = os.pidfd_open(child)
    try:
        exited: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

        def readable() -> None:
            if not exited.done():
                exited.set_result(True)

        asyncio.get_running_loop().add_reader(pidfd, readable)
        try:
            await llama.stop(signal.SIGKILL)
            await asyncio.wait_for(exited, 30)
        finally:
            asyncio.get_running_loop().remove_reader(pidfd)
    finally:
        os.close(pidfd)
    assert not_running(child)


def not_running(pid: int) -> bool:
    """Gone, or a zombie waiting for init to reap it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] in ("Z", "X")
    except FileNotFoundError:
        return True

