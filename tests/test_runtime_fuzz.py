"""Property-based fuzzing of the frame reader and of a live server (the fast part; see RELIABILITY)."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator

import pytest
from helpers import connected
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_runtime_server import INFO
from wyoming.error import Error
from wyoming.event import Event, async_read_event
from wyoming.info import Describe

from voice_runtime.handler import ServiceHandler
from voice_runtime.limits import Limits
from voice_runtime.protocol import ProtocolError, read_frame
from voice_runtime.server import ServerConfig, WyomingServer

LIMITS = Limits(max_header_bytes=4096, max_data_bytes=4096, max_payload_bytes=65536)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)


def header_bytes(draw: st.DrawFn) -> bytes:
    choice = draw(st.integers(0, 3))
    if choice == 0:
        return draw(st.binary(max_size=200)).replace(b"\n", b" ") + b"\n"
    header: dict[str, object] = {}
    if draw(st.booleans()):
        header["type"] = draw(st.text(max_size=12) | st.integers())
    if draw(st.booleans()):
        header["data"] = draw(json_values)
    if draw(st.booleans()):
        header["data_length"] = draw(st.integers(-5, 5000) | st.text(max_size=3))
    if draw(st.booleans()):
        header["payload_length"] = draw(st.integers(-5, 70000) | st.none())
    body = json.dumps(header).encode() + b"\n"
    if choice == 3:
        body = body[: draw(st.integers(0, len(body)))]  # cut short
    return body


@st.composite
def streams(draw: st.DrawFn) -> bytes:
    parts = [header_bytes(draw) + draw(st.binary(max_size=300)) for _ in range(draw(st.integers(1, 5)))]
    return b"".join(parts)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams())
def test_reader_only_ever_returns_events_or_protocol_errors(data: bytes) -> None:
    async def consume() -> int:
        reader = asyncio.StreamReader(limit=LIMITS.max_header_bytes + 1)
        reader.feed_data(data)
        reader.feed_eof()
        frames = 0
        while frames < 100:
            try:
                event = await read_frame(reader, LIMITS)
            except ProtocolError as err:
                assert err.code in {"bad-json", "bad-frame", "frame-too-large", "truncated"}
                if err.fatal:
                    return frames
                continue
            if event is None:
                return frames
            assert isinstance(event.type, str) and isinstance(event.data, dict)
            assert event.payload is None or len(event.payload) <= LIMITS.max_payload_bytes
            frames += 1
        return frames

    asyncio.run(consume())


class Echo(ServiceHandler):
    async def handle_event(self, event: Event) -> bool:
        if event.type == "echo":
            await self.write_event(Event("echo", event.data))
            return True
        return await super().handle_event(event)


@pytest.fixture
async def echo_server() -> AsyncIterator[WyomingServer]:
    srv = WyomingServer(ServerConfig(uri="tcp://127.0.0.1:0", limits=LIMITS),
                        lambda r, w: Echo(r, w, info=lambda: INFO, limits=LIMITS))
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


async def test_garbage_from_many_clients_while_a_good_client_is_served(echo_server: WyomingServer) -> None:
    """Each attacker mixes garbage lines with valid echoes. Every frame is complete, so none is
    fatal: each attacker must get, in order, an ``error`` (bad-json/bad-frame) for each bad
    frame and its own echo for each good one, then the end of the stream."""
    rng = random.Random(1234)
    port = echo_server.port or 0

    async def attacker(seed: int) -> None:
        r = random.Random(seed)
        expected: list[tuple[str, object]] = []  # ("error", None) or ("echo", data)
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        try:
            for _ in range(200):
                kind = r.randrange(4)
                if kind == 0:
                    frame = bytes(r.randrange(256) for _ in range(r.randrange(1, 80))).replace(b"\n", b"") + b"\n"
                elif kind == 1:
                    data = {"k": r.random(), "seed": seed}
                    frame = json.dumps({"type": "echo", "data": data}).encode() + b"\n"
                elif kind == 2:
                    frame = json.dumps({"type": r.choice(["x", "", 5]), "data": [1]}).encode() + b"\n"
                else:
                    frame = b'{"type": "echo", "data_length": 3}\n{}}'
                expected.append(("echo", data) if kind == 1 else ("error", None))
                writer.write(frame)
            await writer.drain()
            writer.write_eof()
            received: list[tuple[str, object]] = []
            while (event := await asyncio.wait_for(async_read_event(reader), 30)) is not None:
                if event.type == "error":
                    assert Error.from_event(event).code in {"bad-json", "bad-frame"}, event
                    received.append(("error", None))
                else:
                    received.append((event.type, event.data))
        finally:
            writer.close()
        assert received == expected

    async def good_client() -> list[int]:
        answered: list[int] = []
        async with connected(port) as client:
            for i in range(50):
                await client.send(Event("echo", {"i": i}))
                event = await client.recv(timeout=10)
                assert event is not None and event.type == "echo"
                answered.append(event.data["i"])
            await client.send(Describe())
            info = await client.recv(timeout=10)
            assert info is not None and info.type == "info"
        return answered

    results = await asyncio.gather(*(attacker(rng.randrange(10**6)) for _ in range(8)), good_client())
    assert results[-1] == list(range(50))
    # Every attacker connection has been cleaned up.
    await asyncio.wait_for(echo_server.wait_connections(0), 10)
    assert echo_server.connections == 0
