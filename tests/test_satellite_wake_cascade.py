"""The wake-word cascade (microWakeWord, verified by openWakeWord) on real speech, and what the
satellite streams after the wake word. Moved unchanged from test_satellite_wake.py (over 400 lines).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from speech import speak
from test_satellite_wake import VAD, detections, frames

from satellite.wake import WakeConfig, WakeGate
from satellite.wake_cascade import CascadeDetector
from voice_runtime.audio import read_wav

AUDIO = Path(__file__).parent / "audio"


def test_the_cascade_accepts_a_voice_microwakeword_alone_misses() -> None:
    """Kokoro af_heart's "Okay Nabu." (tests/audio, synthesised with Kokoro): microWakeWord peaks ~0.2."""
    clip = bytes(32000) + read_wav(str(AUDIO / "af_heart_okay_nabu.wav"))[0] + bytes(32000)
    assert detections(WakeGate(WakeConfig(cascade=False), VAD.frame_seconds), clip) == []
    gate = WakeGate(WakeConfig(), VAD.frame_seconds)
    try:
        assert isinstance(gate.detector, CascadeDetector)
        found = detections(gate, clip)
        assert [n for n, _ in found] == ["okay_nabu"] and gate.detector.candidates == 1
        assert found[0][1] < 1.0 + 1.232 + 0.6  # within the verifier's window after the word
    finally:
        asyncio.run(gate.stop())


def test_the_cascade_rejects_a_near_miss_it_verified() -> None:
    """Candidates (microWakeWord over the 0.2 low bar, under its cutoff) that openWakeWord turns down."""
    gate = WakeGate(WakeConfig(), VAD.frame_seconds)
    try:
        for text in ("Okay, Mabel.", "Okay, Nairobi."):
            before = gate.detector.candidates if isinstance(gate.detector, CascadeDetector) else -1
            assert detections(gate, bytes(32000) + speak(text) + bytes(64000)) == [], text
            assert isinstance(gate.detector, CascadeDetector) and gate.detector.candidates == before + 1, text
    finally:
        asyncio.run(gate.stop())


def test_a_late_confirmation_of_a_word_microwakeword_caught_does_not_fire_again() -> None:
    """Piper's "Okay Nabu." passes 0.2 (a verification starts) before microWakeWord fires on its own
    (``--no-wake-verify-all``: microWakeWord's cutoff is trusted)."""
    clip = bytes(32000) + speak("Okay Nabu.") + bytes(64000)
    alone = detections(WakeGate(WakeConfig(refractory_seconds=0.0, cascade=False), VAD.frame_seconds), clip)
    gate = WakeGate(WakeConfig(refractory_seconds=0.0, verifier="open", verify_all=False),  # no refractory period
                    VAD.frame_seconds)
    try:
        assert detections(gate, clip) == alone and alone
        assert isinstance(gate.detector, CascadeDetector) and gate.detector.candidates == 1
    finally:
        asyncio.run(gate.stop())


@pytest.mark.parametrize("wake, gap, request_text", [("Okay Nabu", 0, "set a timer for five minutes."),
                                                     ("Okay Nabu.", 9600, "Set a timer for three seconds.")])
def test_what_is_streamed_after_the_wake_word_holds_the_request_and_not_the_wake_word(
        wake: str, gap: int, request_text: str) -> None:
    """microWakeWord fires before the word's audio ends: a 0.3 s pre-roll sent "Nabu" on to the STT
    ("I'll boot. Set a timer …", and Home Assistant's intents then understood nothing)."""
    from speech import transcribe

    audio = bytes(16000) + speak(wake) + bytes(gap) + speak(request_text) + bytes(16000)
    gate = WakeGate(WakeConfig(), VAD.frame_seconds)
    drain = getattr(gate.detector, "drain", None)
    streamed = None
    try:
        for frame in frames(audio):
            if streamed is not None:
                streamed += frame
            elif gate.process(frame) is not None:
                streamed = bytearray(gate.take_preroll())
            if drain is not None:
                drain()
    finally:  # its models closed now (left to the garbage collector, a .tflite file stayed open under load)
        asyncio.run(gate.stop())
    assert streamed is not None
    heard = transcribe(bytes(streamed)).lower().strip(" .")
    assert heard.startswith("set a timer"), heard
