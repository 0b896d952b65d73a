"""A short word over the reply's first moments is followed to its soft end after the hold (issue 17).

The room, session 30's quiet runs: held-55 "Lock the front door | please." and room_cont cont-01 "Please."
were held over the reply's first 0.2-0.4 s as the user going on, the hold killed the speaker, and then
the word's soft end ("-ease", the "z" and its decay) was let go: after the kill the judge followed the
user's voice only while the raw mic stayed within 6 dB of the last frame the gates had let through
(:mod:`satellite.killed_echo`), and the vowel's end fell 7.3 dB (cont-01: -24.5 -> -31.8 dBFS) and
10.1 dB (held-55: -22.6 -> -32.7) in one frame. The VAD heard 3-4 voiced frames, short of a continuation's
six: the hold lapsed (``frames=vvv.......``), the reply resumed and the word was lost. Replayed
(``bench/echo_replay_cont.py``), cont-01's tail reached 11 voiced frames once the word was followed at
the user's level (``satellite.going_on``: within 6 dB under the question's).

The satellite itself and the simulated room of ``test_satellite_cont_killed_echo`` (speex, the echo
judge, WebRTC's VAD, the hold rules; a sound command that drops what it holds when killed; a 0.2 s
reverb), the run's first reply (the canceller unproven). The word is Piper's "Please." over the reply's
start, each 30 ms frame at one level: the first 0.15 s 6 dB over the question's voice level, the rest 8 dB
lower (a vowel that ends softly). Its loud frames are let through as sound the playback does not explain
(``not_echo``), which the judge now also follows after the kill (before: nothing to follow from).
"""

from __future__ import annotations

import numpy as np
from satellite_harness import attach
from speech import speak
from test_satellite_cont_killed_echo import FRAME, RATE, REPLY_TEXT, Scene, reply, voiced

from satellite.going_on import voice_level

LOUD_S = 0.15  # the word's loud part ...
LOUD_DB = 6.0  # ... this far over the question's voice level (satellite.going_on.voice_level) ...
DROP_DB = 8.0  # ... then this much softer (one frame's fall: more than killed_echo's 6 dB; the question's - 2 dB)
WORD_S = 0.36


def soft_ended_word(level: float) -> np.ndarray:
    """Piper's "please" (its voiced 0.36 s), each 30 ms frame scaled to one level (Piper's own envelope
    aside): the first LOUD_S at ``level`` (RMS) + LOUD_DB, the rest DROP_DB under that."""
    word = voiced(speak("Please."))[: int(WORD_S * RATE)].copy()
    loud = int(LOUD_S * RATE)
    for i in range(0, len(word), FRAME):
        target = level * 10 ** ((LOUD_DB - (0.0 if i < loud else DROP_DB)) / 20)
        word[i: i + FRAME] *= target / max(float(np.sqrt(np.mean(word[i: i + FRAME] ** 2))), 1.0)
    return word


async def word_at_the_reply_start(with_word: bool) -> Scene:
    """A question, and at its reply's start the soft-ended word (or nothing): the run's first reply, the
    canceller unproven (the going-on window hears the user, as over held-55's suspended canceller)."""
    scene = Scene()
    sat = scene.sat
    link = await attach(sat, "orchestrator")
    scene.quiet(0.5)
    question = voiced(speak("Lock the front door.")) * 0.5
    scene.say(question, 0.3)
    await reply(scene, link, REPLY_TEXT)
    scene.quiet(0.3)
    if with_word:
        level = voice_level(np.round(question).astype("<i2").tobytes(), 960) * 32768  # (RMS, 16-bit)
        scene.say(soft_ended_word(level))
    scene.quiet(1.0)
    return scene


async def test_the_soft_end_of_a_held_word_is_followed_and_continues_the_question() -> None:
    """Held, the speaker killed, the word's soft end (8 dB under its start, at the user's level) is followed:
    a continuation. Before: let go at the fall, 3-5 voiced frames, the hold lapsed and the reply resumed."""
    scene = await word_at_the_reply_start(True)
    history = [(a.value, t.value, b.value) for a, t, b in scene.sat.machine.history]
    assert scene.speaker.kills >= 1, history  # held
    assert ("barge-in", "speech-lapsed", "speaking") not in history, history
    assert ("barge-in", "continued", "streaming") in history, history


async def test_the_echo_alone_is_never_held() -> None:
    """The same reply with nobody speaking: no hold, no turn but the question's."""
    scene = await word_at_the_reply_start(False)
    history = [(a.value, t.value, b.value) for a, t, b in scene.sat.machine.history]
    assert scene.speaker.kills == 0, history
    assert sum(1 for h in history if h[2] == "streaming") == 1, history
