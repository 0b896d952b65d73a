"""An announcement's trailing near-silence is not played: `played` follows its last audible sample.

Home Assistant 2026.2.3 returns ``assist_satellite.announce`` when the satellite sends ``played``
(or after the audio's length + 0.5 s). TTS ends each announcement with 0.1-0.2 s of near-silence
(Piper: 0.10-0.18 s below -50 dBFS); the listener hears the end at the last audible sample.
Same harness as test_satellite_announce (frames fed by hand, ManualClock).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from satellite_harness import CONFIG, attach, feed, running
from state_harness import state
from test_satellite_announce import HA_RATE, a_turn_replied, announce, sine

from satellite.announce import AnnounceConfig
from satellite.playback import quiet_tail
from satellite.state import TurnState

NO_CHIME = dataclasses.replace(CONFIG, announce=AnnounceConfig(chime=False))


def hiss(seconds: float, level: int, rate: int = HA_RATE) -> bytes:
    rng = np.random.default_rng(1)
    return rng.integers(-level, level + 1, int(seconds * rate)).astype("<i2").tobytes()


def test_quiet_tail_counts_only_the_trailing_quiet_samples_up_to_the_cap() -> None:
    loud = np.full(100, 5000, "<i2").tobytes()
    assert quiet_tail(loud + bytes(60), 104, 1000) == 60
    assert quiet_tail(loud + hiss(0.001, 100, 16000), 104, 1000) == 32  # 16 samples of -50 dBFS hiss
    assert quiet_tail(loud + bytes(600), 104, 400) == 400  # capped
    assert quiet_tail(loud, 104, 400) == 0
    assert quiet_tail(b"", 104, 400) == 0


async def test_played_follows_the_last_audible_sample_not_the_trailing_silence() -> None:
    async with running(NO_CHIME) as sat:
        link = await attach(sat)
        await announce(sat, link, sine(440.0, 0.3, level=0.3) + hiss(0.3, 40))  # 0.3 s tone, 0.3 s at -58 dBFS
        frames = 0
        while state(sat) == TurnState.ANNOUNCING and frames < 40:
            feed(sat, ".")
            frames += 1
        assert state(sat) == TurnState.LISTENING
        assert frames <= 11, frames  # 0.3 s of tone = 10 frames (+1 for the resampler's tail), not 20
        await sat.flush()
        assert link.types() == ["played"]


async def test_quiet_audio_inside_an_announcement_is_played_and_the_cap_holds() -> None:
    async with running(NO_CHIME) as sat:
        link = await attach(sat)
        pcm = sine(440.0, 0.15) + bytes(int(0.3 * HA_RATE) * 2) + sine(440.0, 0.15) + bytes(int(1.0 * HA_RATE) * 2)
        await announce(sat, link, pcm)
        frames = 0
        while state(sat) == TurnState.ANNOUNCING and frames < 80:
            feed(sat, ".")
            frames += 1
        # 0.6 s up to the last tone sample (the pause inside is played), then 1.0 s of silence of which
        # at most 0.5 s is dropped: 1.1 s = 37 frames
        assert 36 <= frames <= 38, frames
        await sat.flush()
        assert link.types() == ["played"]


async def test_an_announcement_waiting_behind_a_reply_loses_its_quiet_tail_too() -> None:
    async with running(NO_CHIME) as sat:
        link = await attach(sat)
        await a_turn_replied(sat, link)
        await announce(sat, link, sine(600.0, 0.3) + bytes(int(0.3 * HA_RATE) * 2))
        assert state(sat) == TurnState.SPEAKING and sat.announcements.waiting == 1
        frames = 0
        while state(sat) != TurnState.ANNOUNCING and frames < 10:
            feed(sat, ".")
            frames += 1
        frames = 0
        while state(sat) == TurnState.ANNOUNCING and frames < 40:
            feed(sat, ".")
            frames += 1
        assert state(sat) == TurnState.LISTENING and frames <= 11, frames
        await sat.flush()
        assert link.types()[-2:] == ["played", "played"]
