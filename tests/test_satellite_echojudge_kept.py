"""After a speaker restart the canceller's kept filter is trusted as soon as it cancels as before
(satellite.echojudge ``_kept_proven``; issue 17, session 21).

The room (session 21's first cont run, replayed with bench/echo_replay.py): every reply after a hold
plays on a restarted speaker; the canceller, its filter kept, cancelled from ~0.3 s of the reply and
took >= 12 dB out from ~0.34 s, but the judge trusted it only at 0.8-0.92 s (240 ms of echo, then
10 frames in a row). Until then a user had to be 6 dB louder than the whole echo: the rest of a
request said over the reply's first 0.6 s ("Lock the front door ... please") was heard late, and a
far voice not at all. The scenes of tests/test_satellite_echopath.py (a Piper reply, the room's echo
path, the satellite's own chain): a reply held 1.5 s in and resumed on a restarted speaker.
"""

from __future__ import annotations

import numpy as np
import pytest
from speech import speak
from test_satellite_echopath import RATE, REPLY, USER, run, scene

from bench.aec_bench import echo_path, samples
from satellite.speex import load_library

pytestmark = pytest.mark.skipif(load_library() is None, reason="libspeexdsp1 is not installed")


def add_soft_user(s: dict, at: float, below_echo_db: float) -> int:
    """The user ``below_echo_db`` under the echo's level, ``at`` s after the reply resumed; the onset."""
    user = samples(speak(USER))
    echo_rms = float(np.sqrt(np.mean(echo_path(samples(speak(REPLY)), delay_ms=70, gain_db=s["gain_db"]) ** 2)))
    user *= echo_rms / float(np.sqrt(np.mean(user[np.abs(user) > 30] ** 2))) * 10 ** (-below_echo_db / 20)
    pos = s["resumed"] + int(at * RATE)
    s["mic"][pos:pos + len(user)] += user[: len(s["mic"]) - pos]
    n = len(user) // 160
    e = 10 * np.log10(np.mean(np.square(user[: n * 160].reshape(n, 160)), axis=1) + 1e-12)
    return pos + int(np.nonzero(e > e.max() - 35)[0][0]) * 160


@pytest.mark.parametrize("gain_db", [-6.0, 0.0])
def test_a_soft_user_right_after_a_restart_is_heard_at_once(gain_db: float) -> None:
    """A user 6 dB under the echo, 0.4 s after the reply resumed on a restarted speaker (the same
    delay): held 0.24 s after the onset. Old code: 0.72 s at both levels (once trusted, 10 frames
    after its 240 ms of echo). (At 0.1 s after the resume both take 0.42 s: the canceller waits for
    the echo delay; at 0.25 s 0.24-0.30 s, old 0.27-0.36.)"""
    s = scene(gain_db, restart=(1.5, 0.3, 70.0))
    onset = add_soft_user(s, 0.4, 6.0)
    held = [p for p in run(s) if p > s["resumed"]]
    assert held and held[0] > onset, "the user was not heard over the reply, or the echo was"
    assert (held[0] - onset) / RATE <= 0.3, (held[0] - onset) / RATE


@pytest.mark.parametrize("gain_db", [-6.0, 0.0])
def test_echo_alone_after_a_restart_still_never_holds(gain_db: float) -> None:
    """The same scene with nobody speaking: no hold (the kept filter trusted early lets no echo by)."""
    s = scene(gain_db, restart=(1.5, 0.3, 70.0))
    assert run(s) == []


def test_a_moved_path_is_not_trusted_early() -> None:
    """Resumed 100 ms later than before (another buffer level): the kept filter is off its path,
    cancels little, and is not trusted early: echo alone never holds."""
    s = scene(0.0, restart=(1.5, 0.3, 170.0))
    assert run(s) == []
