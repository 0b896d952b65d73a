"""The openai-compatible provider (DeepSeek) against a local fake speaking the real streaming format.

``FakeOpenAIServer`` is a plain HTTP/1.1 server on loopback that answers
``POST /v1/chat/completions`` with ``text/event-stream`` in chunked encoding, exactly as the
OpenAI/DeepSeek APIs do: ``data: {chat.completion.chunk}`` events, a final usage chunk and
``data: [DONE]``. Each request takes the next scripted :class:`FakeReply`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from helpers import Client, connected, start_service
from wyoming.asr import Transcript
from wyoming.error import Error
from wyoming.event import Event
from wyoming.handle import Handled, HandledChunk
from wyoming.info import Info

from voice_runtime.clock import Clock, ManualClock
from voice_runtime.retry import RetryPolicy
from voice_runtime.server import ServerConfig, WyomingServer
from wyoming_llama.cloud import OpenAICompatibleProvider
from wyoming_llama.handler import LLM_TRANSIENT_RETRY, LlamaHandler, LlamaService
from wyoming_llama.llm import (
    GenerationSettings,
    LocalProvider,
    TransientLlmError,
)

API_KEY = "sk-fake-0123456789abcdef"


@dataclass
class FakeReply:
    pieces: list[str] = field(default_factory=lambda: ["Hello", " there", "!"])
    status: int = 200
    cut_after: int | None = None  # drop the connection after this many pieces
    hold_after: int | None = None  # send this many pieces, then wait for the client to hang up
    # after this many pieces: end the body cleanly with this raw SSE text instead of the rest
    # (llama-server's mid-stream error forms; b"" is a body that just stops, no [DONE])
    end_after: int | None = None
    end_with: bytes = b""
    check: Any = None  # called with the FakeRequest: an assert about what the client sent


@dataclass
class FakeRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class FakeOpenAIServer:
    def __init__(self) -> None:
        self.replies: deque[FakeReply] = deque()
        self.requests: list[FakeRequest] = []
        self.hung_up = asyncio.Event()  # a held stream was closed by the client
        # A failure inside the fake (an assert of a check, a bug) cancels test_task at once
        # (in_process sets it) and is raised as the test's failure, not left to a timeout.
        self.failures: list[BaseException] = []
        self.test_task: asyncio.Task[Any] | None = None
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        await self._server.wait_closed()
        if self.failures and self.test_task is None:  # not raised by in_process already
            raise AssertionError(f"FakeOpenAIServer failed: {self.failures[0]!r}") from self.failures[0]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except Exception as err:
            self.failures.append(err)
            if len(self.failures) == 1 and self.test_task is not None and not self.test_task.done():
                self.test_task.cancel("FakeOpenAIServer failed")  # once: retries may fail again
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request_line = (await reader.readline()).decode()
        headers: dict[str, str] = {}
        while (line := (await reader.readline()).decode().strip()):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        body = json.loads(await reader.readexactly(int(headers.get("content-length", "0"))) or b"{}")
        self.requests.append(FakeRequest(request_line.split()[1], headers, body))
        reply = self.replies.popleft() if self.replies else FakeReply()
        if reply.check is not None:
            reply.check(self.requests[-1])
        if reply.status != 200:
            error = json.dumps({"error": {"message": "fake failure", "type": "server_error"}}).encode()
            writer.write(f"HTTP/1.1 {reply.status} Error\r\nContent-Type: application/json\r\n"
                         f"Content-Length: {len(error)}\r\nConnection: close\r\n\r\n".encode() + error)
            await writer.drain()
            return
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                     b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
        model = body.get("model", "deepseek-chat")
        created = int(time.time())
        send = _sender(writer, model, created)
        await send({"role": "assistant", "content": ""}, None)
        for index, piece in enumerate(reply.pieces):
            if reply.cut_after is not None and index == reply.cut_after:
                writer.transport.abort()
                return
            if reply.end_after is not None and index == reply.end_after:
                if reply.end_with:
                    await _chunk(writer, reply.end_with)
                await _chunk(writer, b"")
                return
            if reply.hold_after is not None and index == reply.hold_after:
                await reader.read()  # returns at EOF: the client closed the stream
                self.hung_up.set()
                return
            await send({"content": piece}, None)
        await send({}, "stop")
        usage = {"prompt_tokens": 12, "completion_tokens": len(reply.pieces), "total_tokens": 12 + len(reply.pieces)}
        await _chunk(writer, _event({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": created,
                                     "model": model, "choices": [], "usage": usage}))
        await _chunk(writer, b"data: [DONE]\n\n")
        await _chunk(writer, b"")


def _event(payload: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(payload)}\n\n".encode()


async def _chunk(writer: asyncio.StreamWriter, data: bytes) -> None:
    writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
    await writer.drain()


def _sender(writer: asyncio.StreamWriter, model: str, created: int) -> Any:
    async def send(delta: dict[str, Any], finish: str | None) -> None:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        await _chunk(writer, _event({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": created,
                                     "model": model, "system_fingerprint": "fp_fake", "choices": [choice]}))
    return send


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAIServer]:
    server = FakeOpenAIServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@contextlib.asynccontextmanager
async def in_process(
    fake: FakeOpenAIServer, *, local: bool = False, retry: RetryPolicy | None = None, clock: Clock | None = None,
) -> AsyncIterator[tuple[Client, LlamaService]]:
    """The service in this process on the fake: as the cloud provider, or (``local``) as the
    llama-server provider attached by URL (``--llm-url``)."""
    provider: LocalProvider | OpenAICompatibleProvider = (LocalProvider(url=f"http://127.0.0.1:{fake.port}") if local
                          else OpenAICompatibleProvider(base_url=fake.url, api_key=API_KEY))
    service = LlamaService(
        provider=provider, info=Info, system_prompt="Be brief.",
        settings=GenerationSettings(max_tokens=64, temperature=0.2, model="deepseek-chat"),
        retry=retry or RetryPolicy(delays=(0.0, 0.0, 0.0), retry_on=(TransientLlmError,)), clock=clock,
    )
    server = WyomingServer(ServerConfig(uri="tcp://127.0.0.1:0"), lambda r, w: LlamaHandler(r, w, service=service))
    await server.start()
    fake.test_task = asyncio.current_task()
    try:
        async with connected(server.port or 0) as client:
            yield client, service
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if fake.failures and task is not None and task.cancelling():
            task.uncancel()
            raise AssertionError(f"FakeOpenAIServer failed: {fake.failures[0]!r}") from fake.failures[0]
        raise
    finally:
        await server.stop()
        await provider.aclose()


def reply_text(events: list[Event]) -> str:
    assert [e.type for e in events][0] == "handled-start" and events[-1].type == "handled-stop"
    chunks = "".join(HandledChunk.from_event(e).text for e in events if e.type == "handled-chunk")
    final = Handled.from_event(events[-2]).text
    assert final == chunks
    return final


async def test_service_streams_from_the_fake_and_never_logs_the_key(fake: FakeOpenAIServer) -> None:
    fake.replies.append(FakeReply(pieces=["The sky", " is blue", " because of scattering."]))
    service = await start_service("wyoming_llama", "--provider", "openai-compatible", "--base-url", fake.url,
                                  "--debug", env={"DEEPSEEK_API_KEY": API_KEY})
    try:
        async with connected(service.port) as client:
            await client.send(Transcript(text="Why is the sky blue today?", context={"conversation_id": "d"}))
            events = await client.recv_until("handled-stop", timeout=60)
    finally:
        await service.stop()
    assert reply_text(events) == "The sky is blue because of scattering."
    (request,) = fake.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.body["model"] == "deepseek-chat" and request.body["stream"] is True
    assert request.body["messages"][0]["role"] == "system"
    last = request.body["messages"][-1]
    # the newest user message starts with the real clock (wyoming_llama.handler.clock_line) when the
    # question may need it ("today": handler.needs_clock; tests/test_llama_clock_when_asked.py)
    assert last["role"] == "user"
    clock = r"It is \d{1,2}:\d\d [AP]M, \w+day, \w+ \d{1,2}, \d{4}\."
    assert re.fullmatch(clock + r"\n\nWhy is the sky blue today\?", last["content"]), last["content"]
    assert service.log and not any(API_KEY in line for line in service.log)


async def test_transient_failure_is_retried_before_the_first_token(fake: FakeOpenAIServer) -> None:
    fake.replies.extend([FakeReply(status=503), FakeReply(status=429), FakeReply(pieces=["Fine."])])
    async with in_process(fake) as (client, _):
        await client.send(Transcript(text="How are you?"))
        events = await client.recv_until("handled-stop")
    assert reply_text(events) == "Fine."
    assert len(fake.requests) == 3


async def test_no_retry_after_the_first_token_and_history_keeps_what_was_said(fake: FakeOpenAIServer) -> None:
    fake.replies.extend([FakeReply(pieces=["One", " two", " three"], cut_after=2), FakeReply()])
    async with in_process(fake) as (client, service):
        await client.send(Transcript(text="Count.", context={"conversation_id": "cut"}))
        events = await client.recv_until("error")
        turns = service.history.turns("cut")
    assert [e.type for e in events] == ["handled-start", "handled-chunk", "handled-chunk", "error"]
    assert Error.from_event(events[-1]).code == "llm-connection"
    assert len(fake.requests) == 1
    assert [(t.user, t.assistant, t.cut) for t in turns] == [("Count.", "One two", True)]


async def test_a_cut_off_reply_is_not_shown_to_the_model_again(fake: FakeOpenAIServer) -> None:
    """The unfinished start of a cut reply stays out of later prompts (the small model copied it);
    the question it answered stays, and a whole reply is shown as it was said."""
    fake.replies.extend([FakeReply(pieces=["One", " two", " three"], cut_after=2), FakeReply(pieces=["Red."]),
                         FakeReply()])
    async with in_process(fake) as (client, _):
        for question in ("Count.", "A colour?", "And now?"):
            await client.send(Transcript(text=question, context={"conversation_id": "k"}))
            await client.recv_until("error" if question == "Count." else "handled-stop")
    shown = [(m["role"], m["content"].split("\n\n")[-1]) for m in fake.requests[-1].body["messages"][1:]]
    assert shown == [("user", "Count."), ("user", "A colour?"), ("assistant", "Red."), ("user", "And now?")]


async def test_auth_failure_is_not_retried(fake: FakeOpenAIServer) -> None:
    fake.replies.append(FakeReply(status=401))
    async with in_process(fake) as (client, _):
        await client.send(Transcript(text="Hello"))
        events = await client.recv_until("error")
    assert [e.type for e in events] == ["error"]
    error = Error.from_event(events[0])
    assert error.code == "llm-auth" and API_KEY not in (error.text or "")
    assert len(fake.requests) == 1


async def test_barge_in_closes_the_cloud_stream(fake: FakeOpenAIServer) -> None:
    fake.replies.extend([FakeReply(pieces=["A", " long", " answer"], hold_after=1), FakeReply(pieces=["Sure."])])
    async with in_process(fake) as (client, service):
        await client.send(Transcript(text="Talk a lot today.", context={"conversation_id": "b"}))
        await client.recv_until("handled-chunk")
        await client.send(Transcript(text="Stop. Say sure now.", context={"conversation_id": "b"}))
        events = await client.recv_until("handled-stop")
        await asyncio.wait_for(fake.hung_up.wait(), 10)
        turns = service.history.turns("b")
    assert reply_text(events[events.index(next(e for e in events if e.type == "handled-start")):]) == "Sure."
    assert [(t.user, t.assistant) for t in turns] == [("Talk a lot today.", "A"), ("Stop. Say sure now.", "Sure.")]
    # the earlier question is repeated exactly as it was asked, clock line included ("today", "now":
    # handler.needs_clock), so a local llama-server's prompt cache covers it; the newest question
    # carries the clock of its own turn
    first_asked = fake.requests[0].body["messages"][-1]
    sent = fake.requests[1].body["messages"][1:]
    assert first_asked["content"].startswith("It is ") and first_asked["content"].endswith("\n\nTalk a lot today.")
    # (the cut reply's start "A" is not shown again: test_a_cut_off_reply_is_not_shown_to_the_model_again)
    assert sent[:1] == [first_asked]
    assert len(sent) == 2 and sent[1]["role"] == "user"
    assert sent[1]["content"].startswith("It is ") and sent[1]["content"].endswith("\n\nStop. Say sure now.")


def test_default_retry_is_the_seed_table_for_transient_failures_only() -> None:
    assert LLM_TRANSIENT_RETRY.delays == (1.0, 2.0, 4.0)
    assert LLM_TRANSIENT_RETRY.retry_on == (TransientLlmError,)


LLAMA_ERROR = b'{"code": 500, "message": "Context size has been exceeded.", "type": "server_error"}'


@pytest.mark.parametrize(("end_with", "code"), [
    (b"error: " + LLAMA_ERROR + b"\n\n", "llm-failed"),  # older llama-server builds
    (b'data: {"error": ' + LLAMA_ERROR + b"}\n\n", "llm-failed"),  # current llama-server
    (b"event: error\ndata: " + LLAMA_ERROR + b"\n\n", "llm-failed"),  # standard SSE error event
    (b"", "llm-incomplete"),  # the body ends cleanly, without [DONE]
])
async def test_llama_server_mid_stream_error_ends_the_reply_with_an_error(
    fake: FakeOpenAIServer, end_with: bytes, code: str
) -> None:
    fake.replies.append(FakeReply(pieces=["Paris", " is", " the", " capital."], end_after=2, end_with=end_with))
    async with in_process(fake, local=True) as (client, service):
        await client.send(Transcript(text="Capital of France?", context={"conversation_id": "e"}))
        events = await client.recv_until("error")
        turns = service.history.turns("e")
    assert [e.type for e in events] == ["handled-start", "handled-chunk", "handled-chunk", "error"]
    error = Error.from_event(events[-1])
    assert error.code == code, error
    if code == "llm-failed":
        assert "Context size has been exceeded" in (error.text or "")
    assert len(fake.requests) == 1  # something was said: no retry
    # what was said is remembered as said (like a barge-in), never as the whole answer
    assert [(t.user, t.assistant) for t in turns] == [("Capital of France?", "Paris is")]


async def test_llama_server_stream_cut_before_the_first_token_is_retried(fake: FakeOpenAIServer) -> None:
    fake.replies.extend([FakeReply(pieces=["x"], end_after=0), FakeReply(pieces=["Fine."])])
    async with in_process(fake, local=True) as (client, _):
        await client.send(Transcript(text="How are you?"))
        events = await client.recv_until("handled-stop")
    assert reply_text(events) == "Fine." and len(fake.requests) == 2


async def test_llm_retry_schedule_is_1_2_4_seconds(fake: FakeOpenAIServer) -> None:
    """The default policy on the service's clock: 4 attempts, 1, 2 and 4 s apart, then an error."""
    fake.replies.extend([FakeReply(status=503) for _ in range(4)])
    clock = ManualClock()
    async with in_process(fake, local=True, retry=LLM_TRANSIENT_RETRY, clock=clock) as (client, _):
        await client.send(Transcript(text="Hello"))
        for n, expected in enumerate((1.0, 2.0, 4.0), start=1):
            assert await asyncio.wait_for(clock.next_sleep(), 60) == expected
            assert len(fake.requests) == n  # the failed attempt came before the wait
            clock.advance(expected / 2)
            assert clock.sleeping == 1  # not a moment early
            clock.advance(expected / 2)
        events = await client.recv_until("error")
    assert [e.type for e in events] == ["error"] and Error.from_event(events[0]).code == "llm-unavailable"
    assert len(fake.requests) == 4 and clock.slept == [1.0, 2.0, 4.0] and clock.now() == 7.0


async def test_an_assert_inside_the_fake_fails_the_test_at_once(fake: FakeOpenAIServer) -> None:
    """Not after recv_until's 120 s: the fake's failure cancels the waiting test and is its cause."""

    def wrong_model(request: FakeRequest) -> None:
        assert request.body.get("model") == "another-model", request.body.get("model")

    fake.replies.append(FakeReply(check=wrong_model))
    with pytest.raises(AssertionError, match="deepseek-chat"):
        async with in_process(fake) as (client, _):
            await client.send(Transcript(text="Hello"))
            await client.recv_until("handled-stop")
