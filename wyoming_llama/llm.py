"""LLM providers behind one small protocol: stream the reply text of a chat.

* :class:`LocalProvider`: llama.cpp's ``llama-server`` (managed or attached by URL), its
  ``/v1/chat/completions`` read as server-sent events with httpx.
* :class:`~.cloud.OpenAICompatibleProvider` (in :mod:`.cloud`): any OpenAI-compatible endpoint
  (DeepSeek by default) through the ``openai`` package; the API key is passed to the client, never logged.

The model runs in another process, so there is no thread here: the stream is an async
iterator over the HTTP response, and closing it (or cancelling the task reading it) closes
the connection, which makes llama-server stop generating.

Failures are :class:`LlmError` with a code for the client; ``transient`` ones (connection
refused or cut, timeouts, 429/5xx) may be retried by the caller while nothing has been said.

Slots: llama-server keeps what it evaluated for a prompt in the slot that ran it, and picks a
slot for a new request by the longest shared prefix. Every conversation shares the system
prompt, so without help every conversation lands in the one slot used first and each evicts
the previous one, whose whole history is evaluated again on its next turn (measured: 3
alternating conversations, first token 0.07 → 1.3 s by their 5th turn). :class:`SlotMap` gives
each conversation a slot of its own (``id_slot``), the least recently used one when all are
taken.

Warm-up: a fresh llama-server evaluates the whole system prompt (~110 tokens with the default
prompt) on the first turn of each slot, and its first requests are slower per token than later
ones (measured: the room's first LLM turn 154 uncached prompt tokens, 3.6 s of prompt evaluation;
later turns ~40 tokens, 0.06-0.3 s). :meth:`LocalProvider.warm_up` evaluates the system prompt into
every slot once when the server is ready (also after a restart), before anyone asks, so the first
turn of every conversation evaluates only its own question.
"""

from __future__ import annotations

import json
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from .history import ChatMessage
from .priority import FirstClause, Phase, ServerPriority
from .process import LlamaServerProcess, LlamaUnavailable

_LOGGER = logging.getLogger(__name__)
TRANSIENT_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class LlmError(Exception):
    def __init__(self, code: str, text: str, *, transient: bool = False) -> None:
        super().__init__(text)
        self.code = code
        self.text = text
        self.transient = transient


class TransientLlmError(LlmError):
    """A failure worth retrying (before anything has been said)."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(code, text, transient=True)


@dataclass(frozen=True)
class GenerationSettings:
    max_tokens: int = 256
    temperature: float = 0.7
    model: str | None = None  # the request's "model" field (required by cloud APIs)
    extra: Mapping[str, Any] = field(default_factory=dict)  # more request fields (llama.cpp sampling options)


@dataclass
class ReplyStats:
    """Filled in while a reply streams (whatever the provider reports)."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int | None = None
    finish_reason: str | None = None
    tokens_per_second: float | None = None
    prompt_ms: float | None = None  # llama-server's prompt evaluation of this request (the uncached part)
    chunks: int = 0


class Provider(Protocol):
    name: str

    def stream(
        self, messages: list[ChatMessage], settings: GenerationSettings, stats: ReplyStats, *,
        conversation: str | None = None,
    ) -> AsyncIterator[str]:
        """Text pieces of the reply as they are generated (``conversation``: whose history this is)."""
        ...


class SlotMap:
    """Which llama-server slot keeps which conversation (pure; see the module's "Slots")."""

    def __init__(self, slots: int) -> None:
        self.slots = max(1, slots)
        self._owner: OrderedDict[str, int] = OrderedDict()  # least recently used first
        self._busy: dict[int, int] = {}  # requests in flight per slot

    def acquire(self, conversation: str) -> int:
        """The conversation's slot: its own, else a free one, else the least recently used
        conversation's (one not generating, if there is one)."""
        slot = self._owner.pop(conversation, None)
        if slot is None:
            taken = set(self._owner.values())
            free = [s for s in range(self.slots) if s not in taken]
            if free:
                slot = free[0]
            else:
                victim = next((c for c, s in self._owner.items() if not self._busy.get(s)), next(iter(self._owner)))
                slot = self._owner.pop(victim)
        self._owner[conversation] = slot
        self._busy[slot] = self._busy.get(slot, 0) + 1
        return slot

    def release(self, slot: int) -> None:
        self._busy[slot] = max(0, self._busy.get(slot, 0) - 1)

    def owns(self, conversation: str) -> bool:
        """Whether ``conversation`` still has a slot (its prompt is cached there, unless evicted)."""
        return conversation in self._owner

    async def aclose(self) -> None: ...


class LocalProvider:
    """llama-server's OpenAI-compatible chat endpoint, streamed."""

    name = "local"

    def __init__(
        self,
        *,
        url: str | None = None,
        process: LlamaServerProcess | None = None,
        ready_timeout: float = 120.0,
        read_timeout: float = 60.0,
        slots: int | None = None,
        priority: ServerPriority | None = None,
    ) -> None:
        if (url is None) == (process is None):
            raise ValueError("give either a URL or a managed process")
        # llama-server's --parallel, when known: each conversation gets a slot of its own
        self.slot_map = SlotMap(slots) if slots else None
        self.url = url.rstrip("/") if url else None
        self.process = process
        self.ready_timeout = ready_timeout
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(read_timeout, connect=5.0))
        self.warmed: str | None = None  # the server (base URL) the system prompt was last evaluated on
        self.priority = priority  # llama-server's nice by what it does (priority.py): a reply's tail gives way

    async def evaluate(self, base: str, messages: list[ChatMessage], slot: int | None) -> httpx.Response:
        """Evaluate ``messages`` into llama-server's prompt cache (of ``slot``), generating one token:
        the warm-up and the post-reply prefill (:mod:`.prefill`)."""
        body: dict[str, Any] = {"messages": messages, "max_tokens": 1, "temperature": 0.0, "cache_prompt": True}
        if slot is not None:
            body["id_slot"] = slot
        return await self._client.post(f"{base}/v1/chat/completions", json=body)

    async def warm_up(self, system_prompt: str, slots: int | None = None) -> None:
        """Evaluate ``system_prompt`` into every slot, or into the first ``slots`` of them (the ones
        :class:`SlotMap` hands out first; 0: none); see the module's "Warm-up". A failure is logged
        and otherwise ignored (the first turn then pays the evaluation, as without it)."""
        if not system_prompt or slots == 0:
            return
        try:
            base = await self._base_url()
        except LlmError as err:
            _LOGGER.warning("warm-up skipped: %s", err.text)
            return
        # The prompt of every turn starts like this one: the system prompt, then a user message.
        messages: list[ChatMessage] = [{"role": "system", "content": system_prompt}, {"role": "user", "content": ""}]
        started, evaluated = time.monotonic(), 0
        warmed: list[int | None] = [None]
        if self.slot_map is not None:
            warmed = list(range(self.slot_map.slots if slots is None else min(slots, self.slot_map.slots)))
        try:
            for slot in warmed:
                response = await self.evaluate(base, messages, slot)
                if response.status_code != 200:
                    _LOGGER.warning("warm-up of slot %s: HTTP %d", slot, response.status_code)
                    return
                timings = response.json().get("timings")
                if isinstance(timings, dict):
                    evaluated += int(timings.get("prompt_n") or 0)
        except (httpx.HTTPError, ValueError) as err:
            _LOGGER.warning("warm-up failed: %s", type(err).__name__)
            return
        self.warmed = base
        _LOGGER.info("warm-up: system prompt evaluated into %d slot(s), %d prompt tokens in %.0f ms",
                     len(warmed), evaluated, (time.monotonic() - started) * 1000)

    async def _base_url(self) -> str:
        if self.process is None:
            assert self.url is not None
            return self.url
        try:
            return await self.process.wait_ready(self.ready_timeout)
        except LlamaUnavailable as err:
            raise LlmError("llm-unavailable", str(err)) from err

    async def stream(
        self, messages: list[ChatMessage], settings: GenerationSettings, stats: ReplyStats, *,
        conversation: str | None = None,
    ) -> AsyncIterator[str]:
        base = await self._base_url()
        slot = None
        if self.slot_map is not None and conversation is not None:
            slot = self.slot_map.acquire(conversation)
        try:
            async for piece in self._stream(base, messages, settings, stats, slot):
                yield piece
        finally:
            if slot is not None and self.slot_map is not None:
                self.slot_map.release(slot)

    async def _stream(
        self, base: str, messages: list[ChatMessage], settings: GenerationSettings, stats: ReplyStats,
        slot: int | None,
    ) -> AsyncIterator[str]:
        body: dict[str, Any] = {
            **settings.extra,
            "messages": messages,
            "stream": True,
            "max_tokens": settings.max_tokens,
            "temperature": settings.temperature,
            "cache_prompt": True,
            "stream_options": {"include_usage": True},
        }
        if settings.model:
            body["model"] = settings.model
        if slot is not None:
            body["id_slot"] = slot
        if self.process is not None:
            self.process.note_progress()  # from here the prompt is being evaluated
        lease = self.priority.lease(Phase.HEAD) if self.priority is not None else None
        first_clause = FirstClause()
        try:
            async with self._client.stream("POST", f"{base}/v1/chat/completions", json=body) as response:
                if response.status_code != 200:
                    detail = (await response.aread()).decode(errors="replace")[:300]
                    _raise_status(response.status_code, detail)
                events = SseReader()
                async for line in response.aiter_lines():
                    if self.process is not None:
                        self.process.note_progress()
                    data = events.feed(line)
                    if data is None:
                        continue
                    if data == "[DONE]":
                        return
                    piece = _parse_chunk(json.loads(data), stats)
                    if piece:
                        stats.chunks += 1
                        if lease is not None and first_clause.feed(piece):
                            lease.back()  # the first clause is out: the rest gives way to its voice
                        yield piece
                # The body ended without "[DONE]": llama-server ends a stream that way after an
                # error, and a proxy or a dying server may cut it cleanly too. Not a success.
                raise TransientLlmError(
                    "llm-incomplete",
                    f"llama-server ended the reply without finishing it (after {stats.chunks} chunks)",
                )
        except httpx.TimeoutException as err:
            raise TransientLlmError("llm-timeout", f"llama-server timed out: {type(err).__name__}") from err
        except httpx.TransportError as err:
            raise TransientLlmError("llm-connection", f"llama-server connection failed: {err}") from err
        except json.JSONDecodeError as err:
            raise LlmError("llm-bad-response", f"llama-server sent invalid JSON: {err}") from err
        finally:
            if lease is not None:
                lease.release()

    async def aclose(self) -> None:
        await self._client.aclose()


class SseReader:
    """The ``data`` payloads of a server-sent event stream, one line at a time; errors raise.

    llama-server reports a failure after the first token (context full, decode error) in the
    stream itself, and the form depends on its version: ``data: {"error": {...}}`` (current,
    handled by :func:`_parse_chunk`), a bare ``error: {...}`` line (older builds), or a standard
    ``event: error`` event. The last two raise :class:`LlmError` here (``llm-failed``).
    """

    def __init__(self) -> None:
        self._event = ""

    def feed(self, line: str) -> str | None:
        field, sep, value = line.partition(":")
        if not sep or not field:  # a blank line ends an event; ":…" is a comment (keep-alive)
            if not line:
                self._event = ""
            return None
        value = value.removeprefix(" ")
        if field == "event":
            self._event = value.strip()
            return None
        if field == "error" or (field == "data" and self._event == "error"):
            raise LlmError("llm-failed", f"LLM endpoint error: {_error_message(value)}")
        if field != "data":
            return None
        return value.strip()


def _error_message(payload: str) -> str:
    try:
        data: Any = json.loads(payload)
    except json.JSONDecodeError:
        return payload.strip()[:300]
    if isinstance(data, dict):
        data = data.get("error", data)
        if isinstance(data, dict):
            data = data.get("message", data)
    return str(data)[:300]


def _raise_status(status: int, detail: str) -> None:
    text = f"LLM endpoint answered HTTP {status}: {detail}"
    if status in TRANSIENT_STATUS:
        raise TransientLlmError("llm-busy" if status == 429 else "llm-unavailable", text)
    if status in (401, 403):
        raise LlmError("llm-auth", f"LLM endpoint refused the credentials (HTTP {status})")
    raise LlmError("llm-failed", text)


def _parse_chunk(chunk: Mapping[str, Any], stats: ReplyStats) -> str:
    """The text of one ``chat.completion.chunk``; usage and timings go into ``stats``."""
    if "error" in chunk:
        error = chunk["error"]
        message = error.get("message", error) if isinstance(error, dict) else error
        raise LlmError("llm-failed", f"LLM endpoint error: {message}")
    usage = chunk.get("usage")
    if isinstance(usage, dict):
        stats.prompt_tokens = usage.get("prompt_tokens", stats.prompt_tokens)
        stats.completion_tokens = usage.get("completion_tokens", stats.completion_tokens)
        details = usage.get("prompt_tokens_details")
        if isinstance(details, dict):
            stats.cached_tokens = details.get("cached_tokens")
    timings = chunk.get("timings")
    if isinstance(timings, dict):
        stats.tokens_per_second = timings.get("predicted_per_second")
        stats.prompt_ms = timings.get("prompt_ms", stats.prompt_ms)
    text = ""
    for choice in chunk.get("choices") or []:
        if choice.get("finish_reason"):
            stats.finish_reason = choice["finish_reason"]
        content = (choice.get("delta") or {}).get("content")
        if content:
            text += content
    return text
