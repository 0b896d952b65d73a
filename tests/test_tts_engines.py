"""The TTS engines' ONNX sessions give their memory arena back after each run (real models),
and calls to one engine are served earliest deadline first.

Without it onnxruntime keeps its CPU arena at the largest size any input needed; the soak
(`bench/soak_bench.py`) saw the TTS process grow 100 MB before it levelled off.
"""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from voice_runtime.models import resolve_kokoro_model, resolve_kokoro_voices, resolve_piper
from wyoming_kokoro.engine import ShrinkingSession
from wyoming_kokoro.kokoro_engine import KokoroEngine
from wyoming_kokoro.pipeline import DeadlineGate, Synthesizer
from wyoming_kokoro.piper_engine import PiperEngine

SHRINK = "memory.enable_memory_arena_shrinkage"


def test_piper_voice_runs_with_arena_shrinkage_and_still_speaks() -> None:
    engine = PiperEngine({"joe": resolve_piper()})
    session = engine.load("joe").session
    assert isinstance(session, ShrinkingSession)
    assert session.run_options.get_run_config_entry(SHRINK) == "cpu:0"
    audio = np.concatenate(list(engine.synthesize("The kitchen light is on.", "joe")))
    assert audio.size > engine.sample_rate // 2 and float(np.abs(audio).max()) > 0.05


def test_kokoro_runs_with_arena_shrinkage_and_still_speaks() -> None:
    engine = KokoroEngine(resolve_kokoro_model(), resolve_kokoro_voices())
    assert isinstance(engine.session, ShrinkingSession)
    assert engine.session.run_options.get_run_config_entry(SHRINK) == "cpu:0"
    audio = np.concatenate(list(engine.synthesize("Hello there.", "af_heart")))
    assert audio.size > 12000 and float(np.abs(audio).max()) > 0.05


# --- scheduling: one engine, many replies ------------------------------------------------------
async def _until_waiting(gate: DeadlineGate, count: int) -> None:
    while gate.waiting < count:  # yields to the loop until the callers have queued (no timer)
        await asyncio.sleep(0)


async def test_engine_calls_wait_earliest_deadline_first() -> None:
    """While Piper speaks one reply, a later sentence of a long reply (due in 5 s) queues first
    and a new reply's first words (due now) second: the first words are spoken first."""
    synth = Synthesizer(PiperEngine({"joe": resolve_piper()}))
    done: list[str] = []

    async def say(text: str, deadline: float) -> None:
        await synth.speak(text, "joe", deadline=deadline)
        done.append(text)

    now = time.monotonic()
    holding = asyncio.create_task(say("This sentence keeps the engine busy for a moment.", now))
    while not synth.gate.busy:
        await asyncio.sleep(0)
    later = asyncio.create_task(say("The third sentence of a long answer.", now + 5.0))
    await _until_waiting(synth.gate, 1)
    first = asyncio.create_task(say("Turned on the kitchen lights.", now + 0.1))
    await _until_waiting(synth.gate, 2)
    await asyncio.gather(holding, later, first)
    assert done == ["This sentence keeps the engine busy for a moment.", "Turned on the kitchen lights.",
                    "The third sentence of a long answer."]
    assert not synth.gate.waiting


async def test_a_cancelled_waiter_gives_the_gate_to_the_next() -> None:
    gate = DeadlineGate()
    await gate.acquire(0.0)
    cancelled = asyncio.create_task(gate.acquire(1.0))
    served = asyncio.create_task(gate.acquire(2.0))
    await _until_waiting(gate, 2)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    gate.release()
    await asyncio.wait_for(served, 10)  # granted though an earlier deadline was queued
    assert gate.waiting == 0
    gate.release()
    await asyncio.wait_for(gate.acquire(3.0), 10)  # free again: acquired at once
