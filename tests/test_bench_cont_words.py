"""bench/cont_words.py rebuilds the merged turn Whisper got as the orchestrator joins it (HeardAudio), and finds
each turn's span on the mic clock from the satellite's log."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from wyoming.audio import AudioChunk

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo root: bench/

from bench.cont_words import joined, turns
from orchestrator.continuation import HeardAudio

RATE = 16000


Pcm = np.ndarray[Any, np.dtype[np.int16]]


def heard(parts: list[Pcm], starts_ms: list[float]) -> Pcm:
    """What HeardAudio keeps of the parts sent as chunks stamped with their mic start times (the first part one
    turn, the rest the next turn, joined to it)."""
    first = HeardAudio()
    first.add(AudioChunk(rate=RATE, width=2, channels=1, audio=parts[0].tobytes(), timestamp=round(starts_ms[0])))
    joined_turn = HeardAudio(prefix=first)
    for audio, start in zip(parts[1:], starts_ms[1:], strict=True):
        joined_turn.add(AudioChunk(rate=RATE, width=2, channels=1, audio=audio.tobytes(), timestamp=round(start)))
    return np.frombuffer(bytes(joined_turn.pcm), np.int16)


@pytest.mark.parametrize("cont_start_ms", [900.0, 1200.0, 1600.0, 3000.0])  # overlapping, near, a gap, a long gap
def test_the_rebuild_joins_as_the_orchestrator(cont_start_ms: float) -> None:
    rng = np.random.default_rng(1)
    head = rng.integers(-3000, 3000, 16000, dtype=np.int16)  # 0-1000 ms
    cont = rng.integers(-3000, 3000, 8000, dtype=np.int16)  # 500 ms from cont_start_ms
    spans = [(0.0, 1000.0), (cont_start_ms, cont_start_ms + 500.0)]
    assert np.array_equal(joined([head, cont], spans), heard([head, cont], [0.0, cont_start_ms]))


def test_turn_spans_from_the_log() -> None:
    log = "\n".join([
        'ts=2026-12-05T02:09:27.278 level=info logger=satellite.core msg="turn 25 local run-pipeline preroll_ms=600"',
        'ts=2026-12-05T02:09:28.402 level=info logger=satellite.core msg="audio-stop to the controller at mic 137.49s"',
        "ts=2026-12-05T02:09:28.404 level=info logger=satellite.core msg=\"transcript='What time is it?'\"",
        'ts=2026-12-05T02:09:29.018 level=info logger=satellite.core msg="turn 26 local run-pipeline preroll_ms=360"',
        'ts=2026-12-05T02:09:31.152 level=info logger=satellite.core msg="audio-stop to the controller at mic 140.25s"',
    ])
    got = turns(log)
    assert [t["turn"] for t in got] == [25, 26] and got[0]["transcript"] == "What time is it?"
    assert got[0]["end_ms"] == pytest.approx(137490) and got[1]["preroll_ms"] == 360
    assert got[0]["start_ms"] == pytest.approx(137490 - 1124, abs=1)  # 1.124 s of wall time before its audio-stop
    assert got[1]["start_ms"] == pytest.approx(140250 - 2134, abs=1)
