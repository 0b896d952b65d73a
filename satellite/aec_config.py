"""The mic front end's settings (:mod:`satellite.aec`): the echo canceller, noise suppression, auto gain."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ENGINES = ("speex", "webrtc")


@dataclass(frozen=True)
class FrontendConfig:
    aec: bool = True
    aec_engine: str = "speex"
    aec_tail_ms: int = 500  # speex: speaker buffer + room delay + reverberation the filter covers
    aec_shadow: bool = True  # speex: the held shadow canceller over the user's words (satellite.aec_shadow)
    # speex fed the mic it waited on after a dry speaker (satellite.aec_catchup): off by default since session 27,
    # its replay lost a clean user's continuation that main holds (bench/results/room.md, session 27 lead)
    aec_catch_up: bool = False
    state_dir: str = ""  # the echo path kept here for the next process (satellite.aec_state); '': not kept
    noise_suppression: int = 0  # 0 off, 1..4 (WebRTC NS levels: about 6/12/18/21 dB less noise)
    auto_gain_dbfs: int = 0  # 0 off; else AGC2 with this headroom below 0 dBFS (wyoming-satellite: 0..31)

    def __post_init__(self) -> None:
        if self.aec_engine not in ENGINES:
            raise ValueError(f"unknown echo canceller {self.aec_engine!r}; available: {', '.join(ENGINES)}")
        if not 0 <= self.noise_suppression <= 4:
            raise ValueError("noise suppression must be 0 (off) .. 4")
        if not 0 <= self.auto_gain_dbfs <= 31:
            raise ValueError("auto gain must be 0 (off) .. 31 dBFS")
        if not 10 <= self.aec_tail_ms <= 2000:
            raise ValueError("the echo tail must be 10 .. 2000 ms")

    @property
    def active(self) -> bool:
        return self.aec or self.noise_suppression > 0 or self.auto_gain_dbfs > 0


def pywebrtc() -> Any:
    try:
        import pywebrtc_audio
    except ImportError as err:  # pragma: no cover - the satellite extra installs it
        raise RuntimeError(
            "the mic front end needs pywebrtc-audio: pip install 'hearth-voice[satellite]' "
            "(or run with --no-aec --noise-suppression 0 --auto-gain 0)"
        ) from err
    return pywebrtc_audio
