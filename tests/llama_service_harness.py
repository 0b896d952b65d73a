"""What the tests of wyoming_llama against the real llama-server and the real SmolLM2 GGUF share
(tests/test_llama_service_*.py, test_llama_speculative.py, test_llama_prefill.py).

``llama_service``: one service process (``python -m wyoming_llama``, which starts and manages its
own llama-server) per test module (the module-scoped ``llama`` fixture of tests/conftest.py
enters it). Tests that need to look inside the handler run it in-process (``in_process``),
attached to that same llama-server.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
from helpers import Client, ServiceProcess, start_service
from wyoming.asr import Transcript
from wyoming.event import Event
from wyoming.handle import Handled, HandledChunk, HandledStart
from wyoming.info import Info

from voice_runtime.server import ServerConfig, WyomingServer
from wyoming_llama.handler import LlamaHandler, LlamaService
from wyoming_llama.history import ChatMessage, HistoryStore
from wyoming_llama.llm import GenerationSettings, LocalProvider, ReplyStats
from wyoming_llama.prefill import Prefiller

PROMPT_NOW = dt.datetime(2026, 3, 14, 15, 9)  # the clock the in-process service tells the model
MAX_TOKENS = 64  # every reply of the shared service is exactly this long (ignore_eos)


@contextlib.asynccontextmanager
async def llama_service(*extra: str) -> AsyncIterator[ServiceProcess]:
    """The service a test module shares (tests/conftest.py's ``llama``), with ``extra`` flags."""
    service = await start_service(
        "wyoming_llama", "--threads", "1", "--context-size", "2048", "--max-tokens", str(MAX_TOKENS),
        "--temperature", "0", "--llm-option", "ignore_eos=true", "--health-interval", "1",
        "--health-timeout", "3", "--restart-delay", "0.2", "--max-sentences", "0",  # long replies on purpose
        "--warm-up-slots", "1",  # not 4: each (re)start's warm-up competes with the test (1 thread)
        *extra,
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
    """Returns once a 1-token request has been answered. With llama-server's --parallel slots (4 by
    default) it may be answered in another slot while a cancelled request still holds its own: to
    wait for that, :func:`wait_released`."""
    async with httpx.AsyncClient(timeout=120) as http:
        response = await http.post(f"{url}/v1/chat/completions",
                                   json={"messages": [{"role": "user", "content": "x"}], "max_tokens": 1})
    assert response.status_code == 200


async def wait_released(url: str, timeout: float = 120.0) -> None:
    """Returns once no slot of llama-server is processing a request. A request whose HTTP client
    has gone is released (and its generated tokens counted in the metrics) only when llama-server
    notices the closed connection; at load 13 that came after a 1-token request had been answered
    in another slot, and a disconnect test counted 0 tokens (session 23)."""
    async with asyncio.timeout(timeout):
        # llama-server (another process) has no event to wait on: its metrics are polled.
        while await metric(url, "requests_processing") > 0:  # noqa: ASYNC110
            await asyncio.sleep(0.05)


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
async def in_process(
    url: str, settings: GenerationSettings, *, slots: int | None = None,
    now: Callable[[], dt.datetime] = lambda: PROMPT_NOW, prefiller: Callable[[LocalProvider], Prefiller] | None = None,
) -> AsyncIterator[tuple[WyomingServer, LlamaService, RecordingProvider]]:
    """The handler in this process, attached to ``url``'s llama-server; ``prefiller`` makes the service's
    prefiller from the real provider (closed with it)."""
    provider = RecordingProvider(LocalProvider(url=url, slots=slots))
    service = LlamaService(provider=provider, info=Info, system_prompt="Answer briefly.",
                           settings=settings, context_size=2048, history=HistoryStore(max_turns=10),
                           now=now, prefiller=prefiller(provider.inner) if prefiller is not None else None)
    server = WyomingServer(ServerConfig(uri="tcp://127.0.0.1:0"),
                           lambda r, w: LlamaHandler(r, w, service=service))
    await server.start()
    try:
        yield server, service, provider
    finally:
        await server.stop()
        if service.prefiller is not None:
            await service.prefiller.aclose()
        await provider.aclose()


def uncached(provider: RecordingProvider) -> int:
    """The prompt tokens the last request evaluated (not found in llama-server's cache)."""
    stats = provider.stats[-1]
    assert stats.prompt_tokens is not None and stats.cached_tokens is not None
    return stats.prompt_tokens - stats.cached_tokens


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



def not_running(pid: int) -> bool:
    """Gone, or a zombie waiting for init to reap it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] in ("Z", "X")
    except FileNotFoundError:
        return True
