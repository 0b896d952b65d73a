"""Replay a session's client side against a live server and compare the answers.

Comparison rules (``CompareRules``):

* Event types must arrive in the recorded order. A run of consecutive ``audio-chunk``,
  ``transcript-chunk``, ``handled-chunk`` or ``synthesize-chunk`` events counts as one item
  (how a stream is chunked varies from run to run).
* Text fields of ``transcript``, ``handled``, ``synthesize`` and ``error`` (``text``) and the
  ``code`` of ``error`` are compared by ``text`` rule: ``exact``, ``normalized`` (case,
  punctuation and white space ignored; the default) or ``ignore``.
* Audio between ``audio-start`` and ``audio-stop`` must have the same rate/width/channels
  and a total duration within ``audio_tolerance`` (a fraction, default 0.25) of the recorded
  one.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlparse

from wyoming.event import Event, async_read_event, async_write_event

from ..tasks import cancel_and_wait, race
from .format import RecordedEvent, Session

STREAM_CHUNKS = frozenset({"audio-chunk", "transcript-chunk", "handled-chunk", "synthesize-chunk"})
TEXT_EVENTS = frozenset({"transcript", "handled", "synthesize", "error", "not-handled"})
TextRule = Literal["exact", "normalized", "ignore"]


@dataclass(frozen=True)
class CompareRules:
    text: TextRule = "normalized"
    audio_tolerance: float = 0.25
    ignore_types: frozenset[str] = frozenset({"pong", "info"})


@dataclass
class ReplayReport:
    ok: bool
    differences: list[str]
    received: list[Event] = field(default_factory=list)

    def describe(self) -> str:
        if self.ok:
            return f"OK: {len(self.received)} events matched"
        return "MISMATCH:\n" + "\n".join(f"  - {d}" for d in self.differences)


def normalize_text(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


@dataclass
class _Item:
    type: str
    event: Event
    count: int = 1
    audio_seconds: float = 0.0
    audio_format: tuple[int, int, int] | None = None


def _continues(previous: str | None, event_type: str) -> bool:
    """Whether an event of ``event_type`` after one of ``previous`` belongs to the same item."""
    return event_type in STREAM_CHUNKS and event_type == previous


def _collapse(events: Iterable[Event], rules: CompareRules) -> list[_Item]:
    items: list[_Item] = []
    fmt: tuple[int, int, int] | None = None
    for event in events:
        if event.type in rules.ignore_types:
            continue
        if event.type == "audio-start":
            fmt = (int(event.data.get("rate", 0)), int(event.data.get("width", 0)),
                   int(event.data.get("channels", 0)))
        if items and _continues(items[-1].type, event.type):
            item = items[-1]
            item.count += 1
        else:
            item = _Item(event.type, event)
            items.append(item)
        if event.type == "audio-chunk":
            chunk_fmt = (int(event.data.get("rate", 0)), int(event.data.get("width", 0)),
                         int(event.data.get("channels", 0)))
            item.audio_format = item.audio_format or chunk_fmt or fmt
            rate, width, channels = chunk_fmt
            if rate and width and channels and event.payload:
                item.audio_seconds += len(event.payload) / (rate * width * channels)
    return items


class _ItemCounter:
    """Counts comparable items as they arrive, the way :func:`_collapse` groups them."""

    def __init__(self, rules: CompareRules) -> None:
        self.rules = rules
        self.items = 0
        self._last: str | None = None

    def add(self, event: Event) -> None:
        if event.type in self.rules.ignore_types:
            return
        if not _continues(self._last, event.type):
            self.items += 1
        self._last = event.type


def _texts_differ(expected: str, actual: str, rule: TextRule) -> bool:
    if rule == "ignore":
        return False
    if rule == "exact":
        return expected != actual
    return normalize_text(expected) != normalize_text(actual)


def _runs(types: list[str]) -> str:
    """``[a, b, b, b]`` as ``a, b ×3``: a server answering every event with an error is one line."""
    runs: list[tuple[str, int]] = []
    for kind in types:
        if runs and runs[-1][0] == kind:
            runs[-1] = (kind, runs[-1][1] + 1)
        else:
            runs.append((kind, 1))
    return "[" + ", ".join(f"{kind} ×{count}" if count != 1 else kind for kind, count in runs) + "]"


def compare(expected: Iterable[Event], actual: Iterable[Event], rules: CompareRules | None = None) -> list[str]:
    """The differences between two server-side event streams (empty when they match)."""
    rules = rules or CompareRules()
    exp, act = _collapse(expected, rules), _collapse(actual, rules)
    diffs: list[str] = []
    exp_types, act_types = [i.type for i in exp], [i.type for i in act]
    if exp_types != act_types:
        diffs.append(f"event order differs: expected {_runs(exp_types)}, got {_runs(act_types)}")
        first_error = next((i.event for i in act if i.type == "error" and i.type not in exp_types), None)
        if first_error is not None:
            diffs.append(f"the server answered error {first_error.data.get('code')!r}: "
                         f"{first_error.data.get('text')!r}")
    for index, (want, got) in enumerate(zip(exp, act, strict=False)):
        if want.type != got.type:
            break
        where = f"#{index} {want.type}"
        if want.type in TEXT_EVENTS:
            for key in ("text", "code"):
                w, g = str(want.event.data.get(key, "")), str(got.event.data.get(key, ""))
                rule: TextRule = "exact" if key == "code" else rules.text
                if _texts_differ(w, g, rule):
                    diffs.append(f"{where}: {key} expected {w!r}, got {g!r}")
        if want.type == "audio-chunk":
            if want.audio_format != got.audio_format:
                diffs.append(f"{where}: audio format expected {want.audio_format}, got {got.audio_format}")
            if want.audio_seconds > 0:
                ratio = got.audio_seconds / want.audio_seconds
                if abs(ratio - 1.0) > rules.audio_tolerance:
                    diffs.append(
                        f"{where}: audio duration expected {want.audio_seconds:.2f}s, got {got.audio_seconds:.2f}s"
                    )
    return diffs


async def _open(uri: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    parsed = urlparse(uri)
    if parsed.scheme == "tcp" and parsed.hostname and parsed.port:
        return await asyncio.open_connection(parsed.hostname, parsed.port, limit=64 * 1024 * 1024)
    if parsed.scheme == "unix":
        return await asyncio.open_unix_connection(parsed.path, limit=64 * 1024 * 1024)
    raise ValueError(f"cannot replay against {uri!r}: use tcp://HOST:PORT or unix://PATH")


async def replay_session(
    session: Session,
    uri: str,
    *,
    rules: CompareRules | None = None,
    realtime: bool = False,
    settle: float = 10.0,
    timeout: float = 120.0,
) -> ReplayReport:
    """Send the recorded client events to ``uri`` and compare the server's answers.

    After the last client event it waits until the recorded number of comparable items has
    arrived, ending in the recorded last event type (or the server closes), then 0.3 s more
    for anything extra; a session with no recorded answers waits ``settle`` seconds.
    ``realtime`` keeps the recorded gaps between client events.
    """
    rules = rules or CompareRules()
    reader, writer = await _open(uri)
    received: list[Event] = []
    expected = [e.event for e in session.server_events()]
    want_items = len(_collapse(expected, rules))
    got_enough = asyncio.Event()

    async def pump() -> None:
        while (event := await async_read_event(reader)) is not None:
            received.append(event)
            if event.type == "error" and not any(e.type == "error" for e in expected):
                got_enough.set()  # the server gave up where the recording did not: compare now
            elif len(_collapse(received, rules)) >= want_items and expected and \
                    _collapse(received, rules)[-1].type == _collapse(expected, rules)[-1].type:
                got_enough.set()

    reading = asyncio.create_task(pump(), name="replay reader")
    timed_out = False
    try:
        async with _timeout_noted(timeout) as deadline:
            start = time.monotonic()
            for item in session.client_events():
                if realtime:
                    delay = item.t - (time.monotonic() - start)
                    if delay > 0:
                        await asyncio.sleep(delay)
                await async_write_event(item.event, writer)
            if expected:
                await race(got_enough.wait(), reading)
            # Anything extra the server still sends counts too.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(settle if not expected else 0.3):
                    await asyncio.shield(reading)
        timed_out = deadline.expired()
    finally:
        await cancel_and_wait(reading)
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    diffs = compare(expected, received, rules)
    if timed_out:  # what did arrive is compared too: the report says where the server stopped
        diffs.insert(0, f"no complete answer within {timeout:g} s: the server sent {len(received)} events "
                        f"({', '.join(dict.fromkeys(e.type for e in received)) or 'none'}), then nothing")
    return ReplayReport(ok=not diffs, differences=diffs, received=received)


@contextlib.asynccontextmanager
async def _timeout_noted(seconds: float) -> AsyncIterator[asyncio.Timeout]:
    """``asyncio.timeout`` that ends the block instead of raising: ``expired()`` tells."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds) as deadline:
            yield deadline


def received_as_recorded(events: list[Event]) -> list[RecordedEvent]:
    return [RecordedEvent(0.0, "out", e) for e in events]


async def replay_as_server(
    session: Session,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    rules: CompareRules | None = None,
    started: asyncio.Future[int] | None = None,
    step_timeout: float = 60.0,
) -> ReplayReport:
    """Play the *server* side of a session to one client that connects (e.g. the orchestrator
    connecting to a recorded satellite) and compare what that client sends with the recording.

    Causality is kept: each recorded server event is sent only once the client has sent as
    many comparable items as it had sent before that point in the recording, a run of stream
    chunks counting as one item (how a reply is chunked varies from run to run). Pings are
    answered live (recorded pongs are not replayed), as the recorded peer would have.
    ``started`` receives the listening port.
    """
    rules = rules or CompareRules()
    connected: asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = \
        asyncio.get_running_loop().create_future()

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not connected.done():
            connected.set_result((reader, writer))
        else:
            writer.close()

    server = await asyncio.start_server(accept, host, port, limit=64 * 1024 * 1024)
    if started is not None:
        started.set_result(int(server.sockets[0].getsockname()[1]))
    received: list[Event] = []
    got = _ItemCounter(rules)
    progress = asyncio.Condition()
    writer: asyncio.StreamWriter | None = None
    reading: asyncio.Task[None] | None = None
    try:
        async with asyncio.timeout(step_timeout):
            reader, client_writer = await connected
        writer = client_writer

        async def pump() -> None:
            while (event := await async_read_event(reader)) is not None:
                if event.type == "ping":
                    await async_write_event(Event("pong", {"text": event.data.get("text")}), client_writer)
                async with progress:
                    received.append(event)
                    got.add(event)
                    progress.notify_all()
            async with progress:
                progress.notify_all()

        reading = asyncio.create_task(pump(), name="replay-as-server reader")
        seen_in = _ItemCounter(rules)
        for item in session.events:
            if item.dir == "in":
                seen_in.add(item.event)
                continue
            if item.event.type == "pong":
                continue

            def enough(need: int = seen_in.items) -> bool:
                return got.items >= need or (reading is not None and reading.done())

            async with asyncio.timeout(step_timeout), progress:
                await progress.wait_for(enough)
            await async_write_event(item.event, client_writer)

        def complete() -> bool:
            return got.items >= seen_in.items or bool(reading is not None and reading.done())

        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(step_timeout), progress:
                await progress.wait_for(complete)
    finally:
        if reading is not None:
            await cancel_and_wait(reading)
        if writer is not None:
            writer.close()
        server.close()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2):
                await server.wait_closed()
    expected = [e.event for e in session.events if e.dir == "in"]
    diffs = compare(expected, received, rules)
    return ReplayReport(ok=not diffs, differences=diffs, received=received)
