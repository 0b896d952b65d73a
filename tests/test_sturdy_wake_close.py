"""A stopped wake word gate keeps no model file open, whoever still holds its detector.

Session 20's CI: an fd-leak ERROR in tests/test_satellite_wake_own_words.py (pymicro_wakeword's
okay_nabu.tflite left open), not seen when rerun. ``WakeGate.stop`` closes the cascade in an
executor thread (``asyncio.to_thread(detector.close)``): the thread's work item holds the bound
``close`` (so the detector) until the thread runs on past it, which a loaded box may delay
beyond the test's end; the verifier's models were already released by its worker, the
microWakeWord model was released only when the detector was collected. Now ``close`` releases it.
"""

from __future__ import annotations

import gc
import os
from pathlib import Path

import pytest

from satellite.vad import VadConfig
from satellite.wake import WakeConfig, WakeGate


def model_files() -> set[str]:
    """The .tflite files this process has open."""
    found = set()
    for entry in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(entry)
        except OSError:
            continue
        if target.endswith(".tflite"):
            found.add(target)
    return found


@pytest.mark.parametrize("cascade", [True, False])
async def test_a_stopped_gate_keeps_no_model_file_open_while_its_detector_is_still_held(cascade: bool) -> None:
    before = model_files()
    gate = WakeGate(WakeConfig(names=("okay_nabu",), cascade=cascade), VadConfig().frame_seconds)
    opened = model_files() - before
    assert any(f.endswith("pymicro_wakeword/models/okay_nabu.tflite") for f in opened), opened
    held = gate.detector  # as the executor thread that ran its close() may still hold it
    await gate.stop()
    del gate
    gc.collect()
    assert model_files() - before == set()
    assert held.process(bytes(VadConfig().frame_bytes)) is None  # a closed detector hears nothing, quietly
