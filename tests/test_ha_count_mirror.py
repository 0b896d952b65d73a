"""Home Assistant's own end of the command on what our satellite streams (``--end-of-turn-uri``).

HA 2026.2.3 ends a Wyoming satellite's command with MicroVad (pymicro-vad 1.0.1, its pin) and its
``VoiceCommandSegmenter``; ``satellite/ha_vad.py`` is that logic, and ``satellite/ha_gate.py`` now runs
it on exactly what it sends. These tests use the real MicroVad and Piper speech, the request the real
rig cut in sessions 17 and 19 ("Turn on the fan, ... in the bedroom, ... for an hour.", commas
stretched to 0.9 s of measured silence: ``bench/ha_eot_audio.py``, as ``bench/ha_end_of_turn.py``
plays it), through the satellite's own VAD and gate (``bench/ha_count_offline.simulate``). The
fan request is a stored clip (tests/audio/README.md): Piper's voice varies from one process to the
next, and so does how much of the resumed "in the bedroom" MicroVad scores as silence (0.06-0.54 s
of HA's count in 26 clips, session 21), which a clip synthesised each run turned into a flaky margin. No Home
Assistant here; the rig (``bench/ha_end_of_turn.py --tap``) measured what HA heard and where it ended.
"""

from __future__ import annotations

import sys
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from bench.ha_count_offline import simulate  # noqa: E402
from bench.ha_eot_audio import REQUESTS, mic_audio  # noqa: E402
from satellite.ha_turn import EndOfTurnConfig  # noqa: E402
from satellite.ha_vad import HaSegmenter  # noqa: E402

CONFIG = EndOfTurnConfig(uri="tcp://127.0.0.1:9")


def run(segmenter: HaSegmenter, *spans: tuple[float, float]) -> bool:
    """Feed (probability, seconds) spans in 10 ms windows; whether the command is still going."""
    going = True
    for probability, seconds in spans:
        for _ in range(round(seconds / 0.01)):
            going = segmenter.process(0.01, probability)
    return going


def test_home_assistants_count_adds_pauses_up_until_a_second_of_speech() -> None:
    # 0.4 s of pause, 0.6 s of speech, 0.4 s of pause: 0.8 s counted, over HA's 0.7 s
    assert not run(HaSegmenter(), (0.9, 0.5), (0.0, 0.4), (0.9, 0.6), (0.0, 0.4))
    # ... 1.1 s of speech between them restores the count
    assert run(HaSegmenter(), (0.9, 0.5), (0.0, 0.4), (0.9, 1.1), (0.0, 0.4))
    # a window MicroVad scores 0.5 or under inside the words counts too, and starts the 1.0 s over
    assert not run(HaSegmenter(), (0.9, 0.5), (0.0, 0.4), *[(0.9, 0.25), (0.4, 0.05)] * 4, (0.0, 0.15))


AUDIO = Path(__file__).parent / "audio"


def stored_fan(name: str) -> bytes:
    """A stored "fan-2x0.9-aligned" clip (tests/audio/README.md) as ``mic_audio`` made it: its 8 s of
    trailing silence (zeros) were cut off for storage and are put back."""
    with wave.open(str(AUDIO / name), "rb") as wav:
        assert (wav.getframerate(), wav.getsampwidth(), wav.getnchannels()) == (16000, 2, 1)
        stored: bytes = wav.readframes(wav.getnframes())
    return stored + bytes(8 * 16000 * 2)


@pytest.fixture(scope="module")
def fan() -> bytes:
    """The median of 26 Piper syntheses (HA's count at its lowest: 0.47 s left in both scenarios)."""
    return stored_fan("fan_bedroom_hour_paused_median.wav")


@pytest.mark.parametrize("scenario", ["finished", "never"])
def test_home_assistant_does_not_cut_the_fan_request(fan: bytes, scenario: str) -> None:
    """Old gate (an estimate of HA's count from the pause frames it sent), our whisper reading each pause as
    finished: HA ended the command 0.7 s into "in the bedroom" (the rig: 0.2 s into it, 4 runs of 4).
    MicroVad hears "Turn on the fan" late (nothing for its first 0.75 s of audio) and the resumed words as
    silence at first; the gate now sees that count and sends no pause past it."""
    outcome = simulate(fan, None, scenario, verdict_after=0.3, config=CONFIG)
    assert not outcome.cut, outcome
    # with room to spare (old gate: 0.03 s of HA's count left even when no pause read finished)
    assert outcome.min_silence_left_s >= 0.15, outcome


@pytest.mark.parametrize("scenario", ["finished", "never"])
def test_home_assistant_does_not_cut_the_worst_fan_clip(scenario: str) -> None:
    """The worst of the 26 syntheses: MicroVad scored 0.54 s of the resumed "in the bedroom" (loud
    vowels included) 0.5 or under, after the gate had sent HA only 0.03 s of the first pause; the
    0.6 s the gate keeps for exactly that held (0.13 s left), and HA does not cut."""
    outcome = simulate(stored_fan("fan_bedroom_hour_paused_worst.wav"), None, scenario, verdict_after=0.3,
                       config=CONFIG)
    assert not outcome.cut, outcome


def test_the_stored_fan_clip_is_the_request_as_the_bench_makes_it() -> None:
    """The stored clip is ``mic_audio``'s shape: 1 s of silence, then the request with two pauses of
    0.9 s (measured below -40 dBFS, 10 ms windows), then silence (a guard for the stored file)."""
    from bench.ha_eot_audio import LEAD, measured_pauses

    pcm = stored_fan("fan_bedroom_hour_paused_median.wav")
    samples = np.frombuffer(pcm, "<i2")
    assert not samples[: int(LEAD * 16000)].any()
    assert measured_pauses((samples / 32768).astype(np.float32), 2) == [0.9, 0.9]
    assert REQUESTS["fan-2x0.9-aligned"][1] == 0.9


def test_a_complete_request_still_gives_home_assistants_stt_its_pause() -> None:
    """A guard (passes on the old gate too): the finished slice stays: HA's STT (our whisper) decodes in the
    final pause before audio-stop (needs more than its 0.3 s speech pad), because MicroVad still scores a
    word's end as speech for a while."""
    parts, pause, _ = REQUESTS["off"]
    pcm, _ = mic_audio(parts, pause)
    outcome = simulate(pcm, None, "finished", verdict_after=0.3, config=CONFIG)
    assert not outcome.cut
    assert outcome.final_slice_s >= 0.33, outcome


def test_the_gates_view_of_home_assistant_hears_the_pre_roll() -> None:
    """The turn's pre-roll goes to HA outside the gate (core.py); HA's VAD hears it, so the gate's copy must."""
    from satellite.core import SatelliteConfig
    from satellite.ha_turn import HaEndOfTurn
    from satellite.vad import SpeechDetector, VadConfig

    class Turn(HaEndOfTurn):
        def __init__(self) -> None:
            self.config = SatelliteConfig(end_of_turn=EndOfTurnConfig(uri="tcp://127.0.0.1:9"))
            self.detector = SpeechDetector(VadConfig())
            self.turns, self._mic_ms = 1, 0.0

    turn = Turn()
    preroll = np.zeros(9600, "<i2").tobytes()  # 0.6 s
    turn._eot_begin(preroll)
    assert turn._eot_gate is not None
    assert turn._eot_gate.ha.windows == 60
    turn._eot_stop()


# Moved from tests/test_satellite_ha_end_of_turn.py (session 19): the gate with a FAKE view of HA.
def ha_counts_to_the_end(sent: list[tuple[bytes, bool]], frame_seconds: float, lag: float = 0.0) -> bool:
    """Whether Home Assistant's ``VoiceCommandSegmenter`` (HA 2026.2.3, default 0.7 s) would end the
    question on the frames it got: silence adds up until 1.0 s of speech restores the count. Its VAD
    is a FAKE: every frame of a pause is silence to it (``lag``: the first ``lag`` s after speech are
    not; on the real rig it counted even a word's quiet tail, session 17)."""
    silence_left, reset_left, quiet = 0.7, 1.0, 0.0
    for _, voiced in sent:
        quiet = 0.0 if voiced else quiet + frame_seconds
        if voiced or quiet <= lag + 1e-9:
            reset_left -= frame_seconds
            if reset_left <= 0:
                silence_left, reset_left = 0.7, 1.0
        else:
            reset_left = 1.0
            silence_left -= frame_seconds
            if silence_left <= 1e-9:
                return True
    return False


class EnergyVad:
    """A FAKE MicroVad for the gate's view of HA: speech when a 10 ms window is over about -40 dBFS, at once
    (the real one is late and uneven: tests/test_ha_count_mirror.py), as :func:`ha_counts_to_the_end` hears."""

    def Process10ms(self, audio: bytes) -> float:
        return 1.0 if np.sqrt(np.mean(np.frombuffer(audio, "<i2").astype(np.float64) ** 2)) > 300 else 0.0


def test_the_gate_keeps_home_assistants_added_up_count_under_its_end() -> None:
    """ "Turn off the lights ... in the kitchen ... and the hall ... right now": pauses of 0.9 s after
    words our whisper reads as finished, 0.66 s of speech apart. Each finished pause used to give HA
    0.4 s + the 0.15 s preroll, which its count adds up: HA ended the question in the second pause
    while our whisper still waited (session 16's lights-2x0.6 ended at the same moment in both modes).
    The gate sends no more of a pause than keeps HA's count (its view of HA hears what HA hears: here the
    fake's VAD) within ``ha_silence_seconds`` of its 0.7 s."""
    from satellite.ha_gate import SilenceGate
    from satellite.ha_turn import EndOfTurnConfig
    from satellite.ha_vad import HaVad

    def run(config: EndOfTurnConfig) -> list[tuple[bytes, bool]]:
        """What HA gets of 4 parts with 3 pauses between them, up to the end of the last part."""
        gate = SilenceGate(0.03, config, HaVad(vad=EnergyVad()))
        gate.holding = True
        voiced_of: dict[bytes, bool] = {}
        sent: list[bytes] = []

        def frame(voiced: bool) -> bytes:
            samples = np.full(480, 3000 if voiced else 0, "<i2")
            samples[0] = len(voiced_of)  # each frame its own
            out = samples.tobytes()
            voiced_of[out] = voiced
            return out

        for part in range(4):
            if part:
                for i in range(30):  # 0.9 s of pause; our whisper reads it finished after 0.1 s + its decode
                    sent += gate.feed(frame(False), voiced=False)
                    if i == 7:
                        sent += gate.finished()
            for _ in range(22):  # 0.66 s of speech
                sent += gate.feed(frame(True), voiced=True)
        return [(f, voiced_of[f]) for f in sent]

    assert ha_counts_to_the_end(run(EndOfTurnConfig(ha_silence_seconds=10.0)), 0.03)  # no limit: cut
    gated = run(EndOfTurnConfig(ha_silence_seconds=0.6))
    assert not ha_counts_to_the_end(gated, 0.03)
    voiced = [v for _, v in gated[22:]]
    assert voiced.index(True) == round(0.54 / 0.03), voiced  # the first pause: the 0.39 s slice + the 0.15 s preroll
    assert not ha_counts_to_the_end(run(EndOfTurnConfig()), 0.03)  # the default (0.1 s) sends less still
