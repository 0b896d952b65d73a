"""Our own okay_nabu verifier (satellite/wake_verifier.py) in the wake word cascade: real models, real speech.

The clips in tests/audio are Kokoro speech: af_heart (a training voice of the verifier) and
bf_alice (a held-out voice until session 7; a training voice since session 8, though not this clip: both
shipped models miss it); am_eric's "Okay, Napoli." (a near miss microWakeWord is sure of).
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
    assert verifier.window == 16 and verifier.w1.shape[1:] == (16 * 96, verifier.b1.shape[-1])
    assert WEIGHTS["okay_nabu"].stat().st_size < 300_000 * len(verifier.w1)  # small enough to ship in the repo
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

    config = wake_config(build_parser().parse_args(["--wake-verifier", "either", "--no-wake-verify-all"]))
    assert config.verifier == "either" and not config.verify_all
    default = wake_config(build_parser().parse_args([]))
    assert default.verifier == "ours" and default.verify_all  # session 8: near misses microWakeWord is sure of
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


def test_a_near_miss_microwakeword_is_sure_of_is_not_a_detection_by_default() -> None:
    """"Okay, Napoli." (am_eric, from bench/wake_false_accepts.py's material, not a training clip): microWakeWord
    alone scores it 0.98 and fires; with the defaults (our verifier checks every detection) nothing is detected."""
    audio = clip("am_eric_okay_napoli.wav")
    alone = WakeGate(WakeConfig(cascade=False), SECONDS)
    default = WakeGate(WakeConfig(), SECONDS)
    try:
        assert len(detections(alone, audio)) == 1
        assert detections(default, audio) == []
        assert isinstance(default.detector, CascadeDetector) and default.detector.candidates == 1
    finally:
        asyncio.run(alone.stop())
        asyncio.run(default.stop())


def test_a_wake_word_right_after_start_up_is_verified() -> None:
    """The mic has run for less than one verifier window (~2 s) when the word ends: the verification must not
    wait for a full window that never comes (the ring buffer is padded with silence)."""
    gate = WakeGate(WakeConfig(), SECONDS)  # the defaults: our verifier checks every detection
    try:
        assert len(detections(gate, bytes(8000) + speak("Okay Nabu.") + bytes(64000))) == 1
    finally:
        asyncio.run(gate.stop())


def test_a_file_of_several_networks_scores_the_mean_of_theirs(tmp_path: Path) -> None:
    """``bench/wake_verifier_train.py --ensemble``: networks stacked on a leading axis vote by their mean."""
    from bench.wake_verifier_train import ensemble

    with np.load(WEIGHTS["okay_nabu"]) as data:
        other = {k: data[k] for k in data.files}
    other["b2"] = np.asarray(other["b2"]) + 2.0  # a second network that is surer of everything
    np.savez(tmp_path / "other.npz", **other)
    ensemble([WEIGHTS["okay_nabu"], tmp_path / "other.npz"], tmp_path / "both.npz")
    x = np.random.default_rng(3).standard_normal((5, 16 * 96)).astype(np.float32)
    one, two = EmbeddingVerifier(WEIGHTS["okay_nabu"]).scores(x), EmbeddingVerifier(tmp_path / "other.npz").scores(x)
    both = EmbeddingVerifier(tmp_path / "both.npz")
    assert both.cutoff == EmbeddingVerifier(WEIGHTS["okay_nabu"]).cutoff
    np.testing.assert_allclose(both.scores(x), (one + two) / 2, rtol=1e-5)
    assert not np.allclose(one, two)
