"""A pinned text stays in the TTS cache however many other texts pass through its LRU.

The clock's answer is warmed every minute (``orchestrator.warm_replies.keep_clock_warm``) with
``synthesize``'s context ``{"hearth_cache_pin": slot}``: the slot keeps that one text, outside the
least-recently-used budget, until the next pin to the same slot. Unit tests of
:class:`wyoming_kokoro.synthesizer.AudioCache`, real Piper under :class:`Synthesizer`, and a real
server (``--debug`` logs each call: " cached" or "gate_wait=").
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np
import pytest
from test_tts_engines import recording_piper as _recording_piper
from wyoming.audio import AudioStop
from wyoming.error import Error
from wyoming.event import Event

from orchestrator.services import Connection
from orchestrator.warm_replies import synthesize_once
from voice_runtime.procs import ServiceProcess, start_service
from wyoming_kokoro.pipeline import PIN_DEFER, Reply, ReplyOptions
from wyoming_kokoro.synthesizer import PIN_SLOTS, AudioCache, Synthesizer

SECOND = np.ones(1000, dtype=np.float32)  # 4,000 bytes


def test_a_pinned_text_outlives_the_lru_and_the_next_pin_to_its_slot_replaces_it() -> None:
    cache = AudioCache(max_bytes=10_000)
    cache.pin("clock-0", "v", None, "It is 4:18 PM.", SECOND)
    for k in range(10):  # 40,000 bytes through a 10,000-byte LRU
        cache.put("v", None, f"reply {k}", SECOND)
    assert cache.get("v", None, "It is 4:18 PM.") is not None
    assert cache.get("v", None, "reply 0") is None and cache.size_bytes == 8000  # the LRU's budget is its own
    cache.pin("clock-1", "v", None, "It is 4:19 PM.", SECOND)  # the other slot: both kept
    assert cache.get("v", None, "It is 4:18 PM.") is not None
    cache.pin("clock-0", "v", None, "It is 4:20 PM.", SECOND)  # 4:18's slot again: 4:18 goes
    assert cache.get("v", None, "It is 4:18 PM.") is None
    assert cache.get("v", None, "It is 4:19 PM.") is not None and cache.get("v", None, "It is 4:20 PM.") is not None
    assert (cache.pinned("clock-0"), cache.pinned("clock-1"), cache.pinned_bytes) == (
        "It is 4:20 PM.", "It is 4:19 PM.", 8000)
    assert cache.get("v", "speaker 2", "It is 4:20 PM.") is None  # another speaker is another key


def test_a_text_the_lru_holds_moves_to_the_slot_and_slots_are_bounded() -> None:
    cache = AudioCache(max_bytes=10_000)
    cache.put("v", None, "It is 4:18 PM.", SECOND)
    cache.pin("clock-0", "v", None, "It is 4:18 PM.", SECOND)
    assert len(cache) == 0 and cache.size_bytes == 0 and cache.pinned_bytes == 4000  # not kept twice
    for k in range(1, PIN_SLOTS):
        cache.pin(f"slot {k}", "v", None, f"text {k}", SECOND)
    cache.pin("one too many", "v", None, "extra", SECOND)  # no fifth slot: an ordinary LRU entry
    assert cache.pinned("one too many") is None and len(cache) == 1
    off = AudioCache(max_bytes=0)
    off.pin("clock-0", "v", None, "It is 4:18 PM.", SECOND)
    assert off.get("v", None, "It is 4:18 PM.") is None and off.pinned("clock-0") is None


async def test_a_pinned_synthesis_is_served_from_its_slot_after_the_lru_has_turned_over() -> None:
    engine, calls = _recording_piper()
    synth = Synthesizer(engine, AudioCache(max_bytes=200_000))  # room for ~1-2 short lines
    pinned = await synth.speak("It is 4:18 PM.", "joe", pin="clock-0")
    for text in ("Turned on the kitchen lights.", "Turned off the kitchen lights.", "Timer set for five minutes."):
        await synth.speak(text, "joe")
    again = await synth.speak("It is 4:18 PM.", "joe")
    assert calls.count("It is 4:18 PM.") == 1 and np.array_equal(pinned, again)
    await synth.speak("Turned on the kitchen lights.", "joe")
    assert calls.count("Turned on the kitchen lights.") == 2  # (the LRU did turn over)


@pytest.fixture(scope="module")
async def tts() -> AsyncIterator[ServiceProcess]:
    proc = await start_service("wyoming_kokoro", "--provider", "piper", "--engines", "piper", "--no-warmup", "--debug",
                               "--cache-mb", "0.2")
    try:
        yield proc
    finally:
        await proc.stop()


def _count(proc: ServiceProcess, text: str, what: str) -> int:
    return sum(1 for line in proc.log if what in line and f"chars={len(text)} " in line)


async def test_the_server_pins_a_text_whose_synthesize_asks_for_a_slot(tts: ServiceProcess) -> None:
    """Over the wire: the warm-up's context names the slot; other replies then fill the 0.2 MB LRU
    several times over, and the pinned line is still answered from the cache."""
    line = "It is 11:58 PM."
    await synthesize_once(tts.uri, line, None, pin="clock-0")
    others = [f"The {room} light is on now." for room in ("kitchen", "hall", "study", "garage", "porch", "attic")]
    for text in others:
        await synthesize_once(tts.uri, text, None)
    cached_before = sum(1 for line_ in tts.log if " cached" in line_)
    await synthesize_once(tts.uri, line, None)  # the turn's request
    assert await tts.wait_lines(lambda line_: " cached" in line_, cached_before + 1, timeout=10)
    assert any("pinned=clock-0" in line_ for line_ in tts.log)
    runs = sum(1 for line_ in tts.log if "gate_wait=" in line_)
    await synthesize_once(tts.uri, others[0], None)  # the LRU did turn over: the first other line is gone
    assert await tts.wait_lines(lambda line_: "gate_wait=" in line_, runs + 1, timeout=10)


async def test_a_warm_up_reply_waits_at_the_engine_behind_a_listener_asked_later() -> None:
    """A pinned reply (the warm-up) asked first still goes after a listener's reply asked a moment later
    while the engine was busy: its deadline is PIN_DEFER after its request."""
    engine, calls = _recording_piper()
    synth = Synthesizer(engine, AudioCache(max_bytes=1_000_000))
    voice = engine.voices()[0]

    async def write(event: Event) -> None:
        pass

    async def no_error(code: str, text: str) -> None:
        raise AssertionError(f"{code}: {text}")

    def reply(pin: str | None) -> Reply:
        return Reply(synth, voice, None, streaming=False, write=write, send_error=no_error, options=ReplyOptions(),
                     pin=pin)

    arrived: asyncio.Queue[float] = asyncio.Queue()  # each call's deadline as it queues at the gate
    acquire = synth.gate.acquire

    async def noting(deadline: float) -> None:
        arrived.put_nowait(deadline)
        await acquire(deadline)

    synth.gate.acquire = noting  # type: ignore[method-assign]
    await acquire(0.0)  # the engine is busy with someone
    warm, listener = reply("clock-0"), reply(None)
    await warm.feed("It is 4:18 PM.")
    await warm.finish()
    warm_due = await arrived.get()
    await listener.feed("Turned on the kitchen lights.")
    await listener.finish()
    assert await arrived.get() < warm_due
    assert synth.gate.waiting == 2
    synth.gate.release()
    await asyncio.gather(warm.wait(), listener.wait())
    assert calls == ["Turned on the kitchen lights.", "It is 4:18 PM."]
    assert synth.cache.pinned("clock-0") == "It is 4:18 PM." and len(synth.cache) == 1
    assert PIN_DEFER >= 30.0


async def test_a_context_that_is_not_an_object_is_spoken_and_pins_nothing(tts: ServiceProcess) -> None:
    conn = await Connection.open(tts.uri)
    try:
        await conn.send(Event(type="synthesize", data={"text": "The garden light is on now.", "context": ["clock-1"]}))
        while not AudioStop.is_type((event := await conn.recv(timeout=30)).type):
            assert not Error.is_type(event.type), event
    finally:
        await conn.close()
    assert not any("pinned=clock-1" in line for line in tts.log)
