"""The TTS engines' ONNX sessions give their memory arena back after each run (real models).

Without it onnxruntime keeps its CPU arena at the largest size any input needed; the soak
(`bench/soak_bench.py`) saw the TTS process grow 100 MB before it levelled off.
"""

from __future__ import annotations

import numpy as np

from voice_runtime.models import resolve_kokoro_model, resolve_kokoro_voices, resolve_piper
from wyoming_kokoro.engine import ShrinkingSession
from wyoming_kokoro.kokoro_engine import KokoroEngine
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
