"""Home Assistant's "finished speaking detection" set to aggressive (0.25 s; session 20).

HA 2026.2.3 sends its satellite's setting to neither the satellite nor the STT server. The gate of
``--end-of-turn-uri`` (satellite/ha_gate.py) mirrored HA's count at its default 0.7 s, so with HA set
to aggressive the pauses it let through ended HA's count: on the real rig (bench/ha_end_of_turn.py
--ha-sensitivity aggressive --wake) "How far away ... is the moon from the earth?" (a 0.9 s pause)
was cut by HA at the pause in mode ours. Now the satellite is told the setting
(``--ha-finished-speaking``) and the pauses spend the same share of that count (1/7).

Real MicroVad (pymicro-vad 1.0.1, HA's pin) and Piper speech through the satellite's own VAD and gate
(bench/ha_count_offline.simulate); our whisper reads the pause as finished (its worst case).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pytest  # noqa: E402

from bench.ha_count_offline import simulate  # noqa: E402
from bench.ha_eot_audio import REQUESTS, mic_audio  # noqa: E402
from satellite.ha_gate import HA_SECONDS, SilenceGate  # noqa: E402
from satellite.ha_turn import EndOfTurnConfig  # noqa: E402


@pytest.mark.parametrize("name", ["moon-0.9", "fan-2x0.9-aligned"])
def test_home_assistant_set_to_aggressive_does_not_cut_a_paused_request(name: str) -> None:
    parts, pause, _ = REQUESTS[name]
    pcm, _ = mic_audio(parts, pause, aligned=name.endswith("-aligned"))
    config = EndOfTurnConfig(uri="tcp://127.0.0.1:9", ha_sensitivity="aggressive")
    outcome = simulate(pcm, None, "finished", verdict_after=0.3, config=config, ha_seconds=HA_SECONDS["aggressive"])
    assert not outcome.cut, outcome


def test_the_gate_keeps_home_assistants_count_by_its_setting() -> None:
    """The floor under HA's count: its setting's seconds less the same share of them (0.1 s of the default 0.7;
    0.1 s of HA's 0.25 s still cut "How far away ... is the moon", offline: MicroVad scores resumed words as
    silence for 0.2 s and more)."""
    floors = {
        told: SilenceGate(0.03, EndOfTurnConfig(uri="tcp://127.0.0.1:9", ha_sensitivity=told)).floor
        for told in HA_SECONDS
    }
    assert floors == pytest.approx(
        {"aggressive": 0.25 - 0.1 * 0.25 / 0.7, "default": 0.6, "relaxed": 1.25 - 0.1 * 1.25 / 0.7}
    )


def test_the_command_line_tells_the_satellite_home_assistants_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from satellite.__main__ import build_parser, configs

    monkeypatch.delenv("SATELLITE_HA_FINISHED_SPEAKING", raising=False)
    args = ["--mic-wav", "x.wav", "--end-of-turn-uri", "tcp://127.0.0.1:10300"]
    assert configs(build_parser().parse_args(args))[0].end_of_turn.ha_sensitivity == "default"
    told = configs(build_parser().parse_args([*args, "--ha-finished-speaking", "aggressive"]))[0]
    assert told.end_of_turn.ha_sensitivity == "aggressive"
    with pytest.raises(ValueError, match="sensitivities"):
        EndOfTurnConfig(ha_sensitivity="fast")
