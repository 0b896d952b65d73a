"""After a barge-in hold, the user who caused it must still be heard (satellite.speaker_path).

The whole-stack room run (bench/room_stack_barge.py, quiet box) showed interruptions spoken
over a reply silenced within 0.08-0.15 s, and then lost: the satellite held the reply on the
onset, killed the speaker, and from that moment judged the echo path unknown (a restarted
speaker may have another delay). The echo judge then expected the loudest echo of the last
~1 s from the playback that was no longer playing, the canceller stopped cancelling until a
new delay was measured, and the user's first words did not pass: the onset lapsed after
0.3 s ("onset not confirmed as speech: the reply resumes") and the question was lost or lost
its first words ("How many days are in a week?" for "Sorry, how many days are in a week?").

Here: the satellite's chain (test_satellite_echopath.Chain) over three replies with their
echo; the user speaks over the third at the reply's own level (as in the room), the chain
holds, the speaker is killed (what was written in the last delay never plays), and the
satellite's held-state logic decides: the barge-in must be confirmed (0.4 s of speech the
judge lets through) before the onset lapses.
"""

from __future__ import annotations

import numpy as np
import pytest
from speech import speak
from test_satellite_echopath import LEAD_IN, REPLY, USER, Chain

from bench.aec_bench import FRAME, echo_path, noise, pcm, played_frames, samples
from satellite.echo import EchoConfig
from satellite.speex import load_library
from satellite.vad import VadEvent

RATE = 16000
DELAY_MS = 70.0
pytestmark = pytest.mark.skipif(load_library() is None, reason="libspeexdsp1 is not installed")


def _barge(gain_db: float, at: float) -> tuple[str, float]:
    """The user ``at`` s into the second reply; returns what the held reply came to ("confirmed",
    "lapsed", "cough" or "never held") and the seconds from the hold to it."""
    reply = samples(speak(REPLY))
    written = np.concatenate([np.zeros(RATE), reply, np.zeros(RATE), reply, np.zeros(RATE)])
    n = len(played_frames(written)) * FRAME
    written = written[:n]
    user = samples(speak(USER))  # at the reply's own level, as the room plays a user (the echo is gain_db below)
    pos = RATE + len(reply) + RATE + int((LEAD_IN + at) * RATE)
    voice = np.zeros(n)
    voice[pos:pos + len(user)] = user[: n - pos]
    room = noise(n, -60.0) + voice
    mic = room + echo_path(written, delay_ms=DELAY_MS, gain_db=gain_db)
    played = played_frames(written)
    chain, config = Chain(), EchoConfig()
    hold: int | None = None
    for i in range(len(played)):
        chain.trace.read = (i + 1) * FRAME / RATE
        chain._check_lag()
        cleaned, allow = chain._judge(pcm(mic[i * FRAME:(i + 1) * FRAME]), played[i])
        event = chain.detector.process(cleaned, allow)
        if hold is None:
            if event == VadEvent.START or chain.guard.onset:
                assert (i + 1) * FRAME > pos, "echo alone held the reply"
                hold = i
                chain._abort_speaker("hold")  # the speaker is killed: what was written in the last delay never plays
                kill = (i + 1) * FRAME
                heard = written.copy()
                heard[kill - int(DELAY_MS * RATE / 1000):] = 0
                mic = room + echo_path(heard, delay_ms=DELAY_MS, gain_db=gain_db)
                played = played[:i + 1] + [bytes(len(p)) for p in played[i + 1:]]
            continue
        after = (i - hold) * FRAME / RATE
        if event == VadEvent.END:
            return "cough", after
        if chain.detector.voiced_seconds >= 0.4:
            return "confirmed", after
        if not chain.detector.in_speech and after * 1000 >= config.onset_confirm_ms:
            return "lapsed", after
    return ("lapsed", 9.9) if hold is not None else ("never held", 0.0)


def test_the_user_whose_onset_held_the_reply_is_heard_through_the_speaker_restart() -> None:
    """Over 0 dB echo. Before: held on the onset, then the judge closed on the user for ~1 s (the
    echo path unknown after the restart): confirmed 1.11 s after the hold (-6 dB: 1.26 s; with a
    third reply first the VAD ended the speech as a cough). Now the echo still arriving is judged
    on the path it was played on, and the new path is measured once the speaker plays again:
    0.51 s (-6 dB: 0.45 s)."""
    outcome, after = _barge(0.0, 1.2)
    assert outcome == "confirmed", (outcome, after)
    assert after <= 0.8, after
