"""Our own okay_nabu verifier (satellite/wake_verifier.py) in the wake word cascade: real models, real speech.

The clips in tests/audio are Kokoro speech: af_heart (a training voice of the verifier) and
bf_alice (a held-out voice, never in its training: both shipped models miss this clip).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from speech import speak

from satellite.vad import VadConfig
from satellite.wake import MicroDetector, WakeConfig, WakeGate
from satellite.wake_cascade import CascadeDetector
from satellite.wake_verifier import WEIGHTS, EmbeddingVerifier
from voice_runtime.audio import read_wav

AUDIO = Path(__file__).parent / "audio"
FRAME = VadConfig().frame_bytes
SECONDS = VadConfig().frame_seconds


def detections(gate: WakeGate, audio: bytes) -> list[float]:
    audio = audio + bytes(-len(audio) % FRAME)
    found = []
    drain = getattr(gate.detector, "drain", None)
    for i in range(0, len(audio), FRAME):
        if gate.process(audio[i:i + FRAME]) is not None:
            found.append((i + FRAME) / 32000)
        if drain is not None:
            drain()  # audio time: wait for the verifier thread after every frame
    return found


def cascade(who: str) -> WakeGate:
    def make(config: WakeConfig) -> CascadeDetector:
        return CascadeDetector(MicroDetector(config.names, ()), list(config.names), who=who)

    return WakeGate(WakeConfig(), SECONDS, detector_factory=make)


def clip(name: str) -> bytes:
    return bytes(32000) + read_wav(str(AUDIO / name))[0] + bytes(64000)


def test_the_shipped_weights_load_and_fit_openwakeword_embeddings(tmp_path: Path) -> None:
    verifier = EmbeddingVerifier.for_word("okay_nabu")
    assert verifier.window == 16 and verifier.w1.shape == (16 * 96, len(verifier.b1))
    assert WEIGHTS["okay_nabu"].stat().st_size < 300_000  # small enough to ship in the repo
    assert [verifier.push(np.zeros(96)) for _ in range(15)] == [None] * 15
    assert 0.0 <= (verifier.push(np.zeros((1, 1, 1, 96))) or -1.0) <= 1.0
    bad = tmp_path / "bad.npz"
    with np.load(WEIGHTS["okay_nabu"]) as data:
        np.savez(bad, **{k: data[k] for k in data.files if k != "window"}, window=8)
    with pytest.raises(ValueError, match="do not fit"):
        EmbeddingVerifier(bad)


def test_our_verifier_hears_a_held_out_voice_both_shipped_models_miss() -> None:
    """bf_alice's "Okay Nabu, what time is it?": microWakeWord peaks at 0.34, openWakeWord's model says no."""
    audio = clip("bf_alice_okay_nabu_time.wav")
    results = {}
    for who in ("open", "ours"):
        gate = cascade(who)
        try:
            results[who] = (detections(gate, audio), getattr(gate.detector, "candidates", 0))
        finally:
            asyncio.run(gate.stop())
    assert results["open"] == ([], 1)  # microWakeWord made it a candidate; openWakeWord said no
    assert len(results["ours"][0]) == 1 and results["ours"][1] == 1


def test_our_verifier_rejects_near_misses_microwakeword_makes_candidates() -> None:
    """Not in the verifier's training: "Okay, Mabel.", "Okay, Nairobi." (Piper)."""
    gate = cascade("ours")
    try:
        for text in ("Okay, Mabel.", "Okay, Nairobi."):
            before = gate.detector.candidates if isinstance(gate.detector, CascadeDetector) else -1
            assert detections(gate, bytes(32000) + speak(text) + bytes(64000)) == [], text
            assert isinstance(gate.detector, CascadeDetector) and gate.detector.candidates > before, text
    finally:
        asyncio.run(gate.stop())


def test_a_word_our_verifier_confirmed_first_does_not_fire_again_when_microwakeword_catches_up() -> None:
    """Piper's "Okay Nabu.": ours confirms the candidate before microWakeWord passes its own cutoff."""
    audio = bytes(32000) + speak("Okay Nabu.") + bytes(64000)
    no_refractory = WakeConfig(refractory_seconds=0.0)
    alone = detections(WakeGate(WakeConfig(refractory_seconds=0.0, cascade=False), SECONDS), audio)
    gate = WakeGate(no_refractory, SECONDS)  # the default cascade, no refractory period to hide a second one
    try:
        found = detections(gate, audio)
        assert len(alone) > 1 and len(found) == 1 and found[0] <= alone[0]
        assert isinstance(gate.detector, CascadeDetector) and gate.detector.by_verifier == 1
    finally:
        asyncio.run(gate.stop())


def test_flags_choose_the_verifier_and_verify_all() -> None:
    from satellite.__main__ import build_parser, wake_config

    config = wake_config(build_parser().parse_args(["--wake-verifier", "ours", "--wake-verify-all"]))
    assert config.verifier == "ours" and config.verify_all
    assert wake_config(build_parser().parse_args([])).verifier == "either"
    with pytest.raises(ValueError, match="unknown wake verifier"):
        WakeConfig(verifier="both")


def test_verify_all_sends_microwakewords_own_detections_to_the_verifier() -> None:
    audio = bytes(32000) + speak("Okay Nabu.") + bytes(64000)
    gate = WakeGate(WakeConfig(verify_all=True), SECONDS)
    try:
        assert len(detections(gate, audio)) == 1
        assert isinstance(gate.detector, CascadeDetector)
        assert (gate.detector.by_micro, gate.detector.by_verifier) == (0, 1)
    finally:
        asyncio.run(gate.stop())


def test_a_full_verifier_queue_does_not_stop_later_verifications() -> None:
    """The worker falls far behind (a 4-job queue, frames fed without waiting): the end of that verification
    is dropped with the frames, and must be sent again, or no candidate is ever verified after it."""
    def make(config: WakeConfig) -> CascadeDetector:
        return CascadeDetector(MicroDetector(config.names, ()), list(config.names), who="ours", max_jobs=4)

    gate = WakeGate(WakeConfig(), SECONDS, detector_factory=make)
    try:
        burst = bytes(32000) + speak("Okay, Mabel.") + bytes(64000)
        for i in range(0, len(burst) - FRAME + 1, FRAME):
            gate.process(burst[i:i + FRAME])  # no waiting: the queue overflows
        assert isinstance(gate.detector, CascadeDetector) and gate.detector.candidates == 1
        gate.detector.drain()
        assert len(detections(gate, clip("bf_alice_okay_nabu_time.wav"))) == 1
    finally:
        asyncio.run(gate.stop())
