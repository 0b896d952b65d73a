"""``vad_sensitivity: relaxed`` (what our satellite asks for in Home Assistant's runs, where nothing
merges a cut back): pauses of 0.6-0.9 s of measured silence after words that read finished do not
end the turn; a finished request still ends well before Home Assistant's own relaxed (1.25 s).

Recorded sequences: what tiny.en wrote at each pause of the requests of
``bench/ha_end_of_turn.py``'s ``CLOSE_PAUSES`` with Piper's voice, each part synthesised alone (final
intonation at every pause) and the pauses 0.9 s below -40 dBFS (``bench/ha_eot_offline.py``,
``bench/results/ha_eot_offline.json``: split-jazz-2x-0.9-joe, split-weather-2x-0.9-joe,
split-lights-2x-0.75-joe). The real Silero VAD counts the silence; the verdicts are from those texts.
"""

from __future__ import annotations

import numpy as np
import pytest
from speech import speak
from wyoming.asr import Transcribe

from wyoming_whisper.engine import SAMPLE_RATE
from wyoming_whisper.policy import request_policy
from wyoming_whisper.stream import StreamPolicy, Utterance
from wyoming_whisper.vad import WINDOW, SileroVad

FRAME = 960  # bytes: the satellite's 30 ms frames
# (part spoken, what tiny.en wrote for the speech so far at the pause after it), the pause (s)
SEQUENCES = [
    (
        [
            ("Play some jazz", "Play some jazz."),
            ("in the kitchen", "Play some jazz in the kitchen."),
            ("at low volume.", "Play some jazz in the kitchen at low volume."),
        ],
        0.9,
    ),
    (
        [
            ("What's the weather", "What's the weather?"),
            ("in Paris", "What's the weather? In Paris."),
            ("tomorrow?", "What's the weather? In Paris. Tomorrow."),
        ],
        0.9,
    ),
    (
        [
            ("Turn off the lights", "Turn off the lights."),
            ("in the kitchen", "Turn off the lights in the kitchen."),
            ("and the hall.", "Turn off the lights in the kitchen and the hall."),
        ],
        0.75,
    ),
]


def words_only(text: str) -> bytes:
    """Piper's ``text`` from its first to its last 10 ms window above -40 dBFS (a pause after it
    is then the silence added, as measured)."""
    pcm = np.frombuffer(speak(text), "<i2")
    n = len(pcm) // 160
    loud = np.flatnonzero(np.sqrt(np.mean(pcm[: n * 160].reshape(n, 160).astype(np.float64) ** 2, axis=1)) > 328)
    return pcm[loud[0] * 160 : (loud[-1] + 1) * 160].tobytes()


def silence(seconds: float) -> bytes:
    return bytes(int(seconds * SAMPLE_RATE) * 2)


def relaxed() -> StreamPolicy:
    """The policy the satellite's request makes of the server's defaults (cap 1.5 s, pad 0.3 s)."""
    base = StreamPolicy(endpoint_max_windows=round(1.5 * SAMPLE_RATE / WINDOW))
    return request_policy(base, Transcribe(vad_sensitivity="relaxed", context={"speculative_transcripts": True}))


@pytest.mark.parametrize(("parts", "pause"), SEQUENCES, ids=["jazz-0.9", "weather-0.9", "lights-0.75"])
def test_relaxed_keeps_pauses_after_words_that_read_finished(
    vad: SileroVad, parts: list[tuple[str, str]], pause: float
) -> None:
    utterance = Utterance(vad.stream(), relaxed())
    events: list[str] = []
    after_end = 0.0  # seconds of silence fed after the last part when the turn ended
    for i, (part, heard) in enumerate(parts):
        last = i == len(parts) - 1
        audio = words_only(part) + silence(2.0 if last else pause)
        for at in range(0, len(audio), FRAME):
            utterance.add(audio[at : at + FRAME])
            events += [kind for kind, _ in utterance.voice_events()]
            region = utterance.verdict_due()
            if region is not None:
                assert utterance.judge(region, heard).finished  # every pause reads finished
                events += [kind for kind, _ in utterance.voice_events()]
            if "stopped" in events:
                break
        if not last:
            assert "stopped" not in events, f"cut after {part!r} ({pause} s pause)"
        else:
            after_end = (len(audio[: at + FRAME]) - len(words_only(part))) / 2 / SAMPLE_RATE
    assert events == ["started", "stopped"]
    # ended 1.0 s after the speech (+ the VAD's own lag): well before HA's relaxed 1.25 s of silence
    assert 0.95 <= after_end <= 1.2, after_end


def test_relaxed_waits_longer_only_where_asked() -> None:
    """aggressive and default keep their waits (the orchestrator's turns); relaxed is the longest
    of the three and still shorter than Home Assistant's relaxed, 1.25 s of silence alone."""
    base = StreamPolicy(endpoint_max_windows=round(1.5 * SAMPLE_RATE / WINDOW))
    waits = {}
    for name in ("aggressive", "default", "relaxed"):
        endpoint = request_policy(base, Transcribe(vad_sensitivity=name)).endpoint()
        assert endpoint is not None
        waits[name] = endpoint.base
    assert waits["aggressive"] == pytest.approx(0.2, abs=0.02)
    assert waits["default"] == pytest.approx(0.25, abs=0.02)
    assert waits["relaxed"] == pytest.approx(1.0, abs=0.02)
