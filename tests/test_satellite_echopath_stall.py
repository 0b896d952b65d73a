"""Echo alone must not hold a reply while the satellite is starved of CPU (satellite.speaker_path).

The room on the loaded box (load 7-12): 16 false holds in 20 echo-only replies at -6 dB, 15 of
them within 2.1 s of a stall; the satellite's log showed stalls of 50-700 ms every few hundred
ms and the echo delay moving between 100 and 250 ms. Here a sound card is simulated as the
room's is: a queue the satellite writes one frame into per mic frame read and that plays in
real time (silence when empty: an underrun), bounded (a frame written into a full queue is
dropped, as satellite.audio_io.CommandSink does). A stall: the satellite reads no mic frame for
a while, then the backlog in a burst. So after a stall the echo has a gap (the underrun) and
skips what was dropped, and its delay moves, as in the room. The chain is the satellite's
(test_satellite_echopath.Chain: speex with delay compensation, the echo judge, WebRTC VAD).
"""

from __future__ import annotations

import numpy as np
import pytest
from speech import speak
from test_satellite_echopath import REPLY, USER, Chain

from bench.aec_bench import FRAME, echo_path, noise, pcm, played_frames, samples
from satellite.speex import load_library
from satellite.vad import VadEvent

RATE = 16000
ACOUSTIC_MS = 40.0  # speaker -> mic
MAX_QUEUE = int(0.14 * RATE)  # the device's 100 ms + the satellite's pipe (40 ms) before a frame is dropped
pytestmark = pytest.mark.skipif(load_library() is None, reason="libspeexdsp1 is not installed")


def starved(written: np.ndarray, stalls: list[tuple[float, float]]) -> tuple[np.ndarray, list[float]]:
    """What the speaker plays (16 kHz, real time) when the satellite writes ``written`` one frame
    per mic frame read, and each mic frame's read time (s). ``stalls``: (s, seconds) the
    satellite reads nothing from then, then the backlog at once (1 ms a frame)."""
    frames = len(written) // FRAME
    reads = [(i + 1) * FRAME / RATE for i in range(frames)]
    for at, length in stalls:
        first = int(at * RATE / FRAME)
        end = at + length
        for i in range(first, frames):
            if reads[i] >= end:
                break
            reads[i] = end + (i - first) * 0.001
    for i in range(1, frames):  # a later frame is never read before an earlier one
        reads[i] = max(reads[i], reads[i - 1])
    out = np.zeros(len(written) + RATE)
    queue: list[np.ndarray] = []
    level, clock = 0, 0  # samples queued; the device's position (samples of real time)
    for i in range(frames):
        now = int(reads[i] * RATE)
        while clock < now:  # the device plays until this write
            if queue:
                take = min(now - clock, len(queue[0]))
                out[clock:clock + take] = queue[0][:take]
                queue[0] = queue[0][take:]
                level -= take
                clock += take
                if not len(queue[0]):
                    queue.pop(0)
            else:
                clock = now  # an underrun: silence
        if level + FRAME <= MAX_QUEUE:
            queue.append(written[i * FRAME:(i + 1) * FRAME])
            level += FRAME
    return out[: len(written)], reads


def false_holds(gain_db: float, seed: int, user_at: float | None = None) -> list[float]:
    """Three replies with 1 s gaps, the satellite stalled 50-400 ms about every 0.7 s during
    them; returns where (s) echo alone would have held the reply. ``user_at``: the user (at the
    reply's level, as the room plays a user) speaks from then (s)."""
    rng = np.random.default_rng(seed)
    reply = samples(speak(REPLY))
    written = np.concatenate([np.zeros(RATE), reply, np.zeros(RATE), reply, np.zeros(RATE), reply, np.zeros(RATE)])
    n = len(played_frames(written)) * FRAME
    written = written[:n]
    stalls, at = [], 1.0
    while at < n / RATE - 1.0:
        stalls.append((at, float(rng.uniform(0.05, 0.4))))
        at += float(rng.uniform(0.3, 1.2)) + stalls[-1][1]
    played, reads = starved(written, stalls)
    mic = noise(n, -60.0) + echo_path(played, delay_ms=ACOUSTIC_MS, gain_db=gain_db)
    if user_at is not None:
        user = samples(speak(USER))
        pos = int(user_at * RATE)
        mic[pos:pos + len(user)] += user[: n - pos]
    written_frames = played_frames(written)
    chain, holds = Chain(), []
    for i, frame in enumerate(written_frames):
        chain.trace.read = reads[i]
        chain._check_lag()
        cleaned, allow = chain._judge(pcm(mic[i * FRAME:(i + 1) * FRAME]), frame)
        if chain.detector.process(cleaned, allow) == VadEvent.START or chain.guard.onset:
            holds.append(round((i + 1) * FRAME / RATE, 2))
            chain.detector.reset()  # as if resumed
    return holds


@pytest.mark.parametrize("gain_db", [-6.0, 0.0])
def test_echo_alone_never_holds_while_the_satellite_keeps_stalling(gain_db: float) -> None:
    assert false_holds(gain_db, seed=1) == []


def test_a_user_over_a_reply_is_still_heard_while_the_satellite_keeps_stalling() -> None:
    """The stricter judgement while the path may have moved must not make the user unheard
    (measured: held 0.54 s after the WAV starts, its speech 0.3 s in; the old code also held it
    there, and twice on echo alone before). Over 0 dB echo a user in a stall storm is heard later
    than before in some seeds (not asserted: see the issue notes)."""
    holds = false_holds(-6.0, seed=1, user_at=18.0)
    assert holds and 18.3 < holds[0] < 18.9, holds


def test_a_frame_the_speaker_dropped_does_not_leave_the_canceller_misadjusted_for_the_next_reply() -> None:
    """Between two replies the speaker command drops a frame (its pipe held more than the sink's
    bound: the room at 0 dB, load ~5, with the satellite 0 ms behind its mic), so the next reply
    is heard 10 ms sooner (the room: echo delay 109.4 -> 99.3 ms). Before: the canceller kept
    running on the old delay until the new one was measured, 0.2-0.45 s into the reply, adapted
    to the shifted echo, and was off its path again once re-aligned: that reply's ERLE 13 dB here
    (the room: 10.3 dB, and a false hold and cut on echo alone). Now it waits for the new delay,
    its filter kept: 27 dB (measured; 29 dB over the replies before with no drop)."""
    reply = samples(speak(REPLY))
    parts = [np.zeros(RATE), reply, np.zeros(RATE), reply, np.zeros(RATE), reply, np.zeros(RATE)]
    written_frames = played_frames(np.concatenate(parts))
    n = len(written_frames) * FRAME
    far = np.concatenate(parts)[:n]
    drop = sum(len(x) for x in parts[:5]) - RATE // 2  # in the silence before the third reply
    before, after = far.copy(), far.copy()
    before[drop:], after[:drop] = 0.0, 0.0
    mic = noise(n, -60.0) + echo_path(before, delay_ms=70.0, gain_db=0.0) + echo_path(after, delay_ms=60.0, gain_db=0.0)
    chain, holds = Chain(), []
    chain.speaker.dropped_frames = 0  # type: ignore[attr-defined]  # as satellite.audio_io.CommandSink counts them
    for i, frame in enumerate(written_frames):
        if i == drop // FRAME:
            chain.speaker.dropped_frames = 1  # type: ignore[attr-defined]
            chain.guard.take_reply_erle()
        if chain.frame(pcm(mic[i * FRAME:(i + 1) * FRAME]), frame, (i + 1) * FRAME / RATE):
            holds.append(i)
    erle, frames = chain.guard.take_reply_erle()
    assert holds == []
    assert frames > 100 and erle is not None and erle >= 20.0, erle
