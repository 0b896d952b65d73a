"""What the llama benches that ask a real service share (bench/llama_history_bench.py,
bench/llama_prefill_bench.py): llama-server started as ``wyoming_llama`` starts it, its slots warmed
with the service's system prompt; a provider that keeps the stats of every reply; one real
``LlamaService`` + ``LlamaHandler`` (Wyoming, on loopback) per arm; and the client's measure,
transcript -> first ``handled-chunk``.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path

from wyoming.asr import Transcript

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from helpers import connected  # noqa: E402

from voice_runtime.server import ServerConfig, WyomingServer  # noqa: E402
from wyoming_llama.config import DEFAULT_SYSTEM_PROMPT  # noqa: E402
from wyoming_llama.handler import LlamaHandler, LlamaService  # noqa: E402
from wyoming_llama.history import ChatMessage  # noqa: E402
from wyoming_llama.llm import GenerationSettings, LocalProvider, ReplyStats  # noqa: E402
from wyoming_llama.prefill import Prefiller  # noqa: E402
from wyoming_llama.process import LlamaServerConfig, LlamaServerProcess  # noqa: E402


class Recording:
    """The real provider, with the stats of every reply kept."""

    def __init__(self, inner: LocalProvider) -> None:
        self.inner = inner
        self.name = inner.name
        self.stats: list[ReplyStats] = []

    async def stream(
        self, messages: list[ChatMessage], settings: GenerationSettings, stats: ReplyStats, *,
        conversation: str | None = None,
    ) -> AsyncIterator[str]:
        self.stats.append(stats)
        async for piece in self.inner.stream(messages, settings, stats, conversation=conversation):
            yield piece


def handler_for(service: LlamaService) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], LlamaHandler]:
    return lambda reader, writer: LlamaHandler(reader, writer, service=service)


@contextlib.asynccontextmanager
async def warmed_llama(config: LlamaServerConfig, *,
                       read_timeout: float = 60.0) -> AsyncIterator[tuple[LocalProvider, Prefiller]]:
    """llama-server started from ``config``, a slot per ``config.parallel``, each warmed with the
    service's system prompt; a provider (a conversation per slot) and a prefiller on it. All
    stopped on the way out, the prefiller first."""
    process = LlamaServerProcess(config)
    await process.start()
    provider = LocalProvider(process=process, slots=config.parallel, read_timeout=read_timeout)
    prefiller = Prefiller(provider)
    try:
        await provider.warm_up(DEFAULT_SYSTEM_PROMPT)
        yield provider, prefiller
    finally:
        await prefiller.aclose()
        await provider.aclose()
        await process.stop()


@contextlib.asynccontextmanager
async def served(services: Mapping[str, LlamaService]) -> AsyncIterator[dict[str, WyomingServer]]:
    """Each arm's service behind a Wyoming server of its own, on a free loopback port."""
    servers: dict[str, WyomingServer] = {}
    try:
        for name, service in services.items():
            servers[name] = WyomingServer(ServerConfig(uri="tcp://127.0.0.1:0"), handler_for(service))
            await servers[name].start()
        yield servers
    finally:
        for server in servers.values():
            await server.stop()


async def first_chunk(server: WyomingServer, question: str, conversation: str, timeout: float) -> float:
    """Seconds from sending ``question`` to the first ``handled-chunk``; returns once the reply ended."""
    async with connected(server.port or 0) as client:
        started = time.monotonic()
        await client.send(Transcript(text=question, context={"conversation_id": conversation}))
        while (event := await client.recv(timeout)) is not None and event.type != "handled-chunk":
            pass
        first = time.monotonic() - started
        await client.recv_until("handled-stop", timeout=timeout)
    return first
