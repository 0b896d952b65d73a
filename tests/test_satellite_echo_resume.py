"""Speex resumes after a recheck's wait with the shadow's path standing in for its tail (satellite.aec_delay).

Issue 17, session 29's lead quiet room_bench, 0 dB, echo only (kept tap /tmp/p29/quiet/rb/echo+0dB/tap): three
times the satellite fell behind its mic (62-112 ms) and the speaker ran dry; the canceller waited for the delay
measured again (50-80 ms later) and resumed on it with speex's history of the reference from before the wait, at
the old delay: its first frames were made 21.7 and 7.4 dB LOUDER than the mic (it predicted the echo of what had
played before), then 11.5 dB: those replies' ERLE 22.7 / 22.7 / 18.8 dB, against 32-38 for the others (the
session's "min 18.8 dB"; not a cold reply). The room did not change, only the delay: now for speex's tail the
shadow canceller's path, frozen, on the reference at the new delay stands in (as the kept path after a restart).
Replayed on that tap: 35.8 / 33.1 / 37.4 dB. Here: the scene of test_satellite_echopath.py (Piper's reply through a
room-like path) with the satellite 112 ms late 2 s into the third reply and the speaker 80 ms dry.
"""

from __future__ import annotations

import pytest
from test_satellite_echopath import Chain, scene

from bench.aec_bench import FRAME, SPEAKER_RATE, pcm
from bench.echo_replay import TapAhead
from satellite.echo import frame_rms, ratio_to_db

RATE = 16000


def _resumed(gain_db: float) -> list[float]:
    """dB the chain took out of each of the first 8 loud frames after the canceller resumed (<0: made louder)."""
    s = scene(gain_db, gap=(2.0, 80.0))
    chain = Chain()
    assert chain.frontend is not None
    ahead = TapAhead(SPEAKER_RATE)  # the speaker's write-ahead as the satellite sees it: its underruns
    chain.speaker.ahead = ahead  # type: ignore[attr-defined]
    first = (s["third"] + 2 * RATE) // FRAME
    late = {first + k: 0.112 - k * FRAME / RATE for k in range(round(0.112 * RATE / FRAME))}
    waited = False
    taken: list[float] = []
    for i, played in enumerate(s["played"]):
        raw = pcm(s["mic"][i * FRAME : (i + 1) * FRAME])
        ahead.underruns = int(i >= first + len(late))  # it ran dry during the stall (the room's 80 ms)
        chain.trace.read = (i + 1) * FRAME / RATE + late.get(i, 0.0)
        chain._check_lag()
        cleaned, _ = chain._judge(raw, played)
        waited = waited or (i > first and not chain.frontend.cancelling)
        if waited and chain.frontend.cancelling and ratio_to_db(frame_rms(raw)) > -45 and len(taken) < 8:
            taken.append(round(ratio_to_db(frame_rms(raw)) - ratio_to_db(frame_rms(cleaned)), 1))
    assert waited, "the canceller never waited for the delay (no recheck)"
    return taken


@pytest.mark.parametrize("gain_db", [-6.0, 0.0])
def test_the_first_frames_after_a_recheck_wait_are_cancelled(gain_db: float) -> None:
    taken = _resumed(gain_db)
    assert len(taken) == 8
    assert min(taken[:2]) >= 20.0, taken  # main: 3.0 and 17.4 dB (here 31.9, 29.7 at -6 dB)
    assert min(taken) >= 10.0, taken
