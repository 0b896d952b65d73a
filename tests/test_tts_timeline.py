"""Home Assistant's streamed request to a real wyoming_kokoro server (Piper): the first audio goes
out once the first phrase is made, not after the whole text, and ``--debug`` logs the reply's
timeline (each event, each engine call with its gate wait and run time) to show where time goes.

HA 2026.2.3 sends ``synthesize-start``, one ``synthesize-chunk`` with the whole message, the
``synthesize`` copy and ``synthesize-stop`` within a millisecond (bench/ha_announce.py).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from helpers import ServiceProcess, connected, start_service
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop

MESSAGE = "Dinner is ready. Please come to the kitchen."


@pytest.fixture
async def server() -> AsyncIterator[ServiceProcess]:
    service = await start_service("wyoming_kokoro", "--provider", "piper", "--engines", "piper", "--debug",
                                  "--cache-mb", "0")
    try:
        yield service
    finally:
        await service.stop()


def timeline(log: list[str], client: str) -> list[str]:
    """The reply's steps for one client, in order (the part after ``t=...s``)."""
    pattern = re.compile(rf"client={re.escape(client)} t=[\d.]+s (.*?)\"?$")
    return [m.group(1) for line in log if (m := pattern.search(line))]


async def test_home_assistant_stream_sends_the_first_phrase_before_the_rest_is_made(server: ServiceProcess) -> None:
    async with connected(server.port) as client:
        await client.send(SynthesizeStart())
        await client.send(SynthesizeChunk(text=MESSAGE))
        await client.send(Synthesize(text=MESSAGE))  # the compatibility copy: ignored
        await client.send(SynthesizeStop())
        events = await client.recv_until("synthesize-stopped")
        host, port = client.writer.get_extra_info("sockname")[:2]
    name = f"{host}:{port}"
    types = [e.type for e in events if e.type != "audio-chunk"]
    assert types == ["audio-start", "audio-stop", "synthesize-stopped"]
    assert sum(e.type == "audio-chunk" for e in events) > 10
    assert await server.wait_log(f"client={name} voice=")  # the reply's summary: its timeline is logged
    steps = timeline(server.log, name)
    assert steps[:2] == ["synthesize-start received", "synthesize-chunk received"], steps
    # The first sentence is an engine call of its own, and its audio goes out before the second is made.
    assert "call 1: 1 piece(s), 16 chars" in steps, steps
    first = steps.index("first audio-chunk sent")
    assert first < next(i for i, s in enumerate(steps) if s.startswith("call 2 done")), steps
    assert "synthesize received: the stream's copy, ignored" in steps
    assert steps[-1] == "audio-stop sent", steps
    # Each engine call: how long it waited for the engine and how long the engine ran.
    assert sum("engine=piper chars=" in line and "gate_wait=" in line and " run=" in line for line in server.log) >= 2


async def test_llm_stream_first_engine_call_is_the_subject(server: ServiceProcess) -> None:
    """An LLM's reply token by token: the first engine call is the sentence's subject ("The capital
    of Australia,", before its verb), not the whole sentence (Piper's time grows with its audio)."""
    reply = "The capital of Australia is Canberra. It is a planned city."
    async with connected(server.port) as client:
        await client.send(SynthesizeStart())
        for token in re.findall(r"\s*\S+", reply):
            await client.send(SynthesizeChunk(text=token))
        await client.send(SynthesizeStop())
        await client.recv_until("synthesize-stopped")
        host, port = client.writer.get_extra_info("sockname")[:2]
    name = f"{host}:{port}"
    assert await server.wait_log(f"client={name} voice=")
    steps = timeline(server.log, name)
    assert f"call 1: 1 piece(s), {len('The capital of Australia,')} chars" in steps, steps
