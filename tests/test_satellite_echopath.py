"""The echo path moving under the canceller (satellite.speaker_path) on synthetic echo of real TTS.

What the room showed (issue 17): barge-ins missed after a speaker restart (the canceller was
not trusted again in time), false holds right after the satellite fell behind its mic (the
speaker ran dry, the echo came later from then on, the canceller was still trusted), and turns
opened on the tail of a reply (its echo outlasts the judge's 300 ms window when the speaker's
buffer is deep). Each scene: a Piper reply played three times with 1 s gaps through an echo
path like the room's (delay, 0.2 s reverb, −60 dBFS noise); the satellite's per-frame chain
(speex with delay compensation, the echo judge, WebRTC VAD) wired by the satellite's own
:class:`satellite.speaker_path.SpeakerPath`, with the mic frames' arrival times on a simulated
clock (a stall is frames read late).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from speech import speak

from bench.aec_bench import FRAME, SPEAKER_RATE, echo_path, noise, pcm, played_frames, samples
from satellite.aec import AudioFrontend, FrontendConfig
from satellite.audio_io import MemorySink
from satellite.bargetrace import BargeTrace
from satellite.echo import EchoConfig
from satellite.echojudge import EchoJudge
from satellite.lag import MicLag
from satellite.playback import Playback
from satellite.speaker_path import SpeakerPath
from satellite.speex import load_library
from satellite.vad import SpeechDetector, VadConfig, VadEvent

RATE = 16000
REPLY = "Here is the forecast for this week. Tomorrow will be sunny and warm, with a light breeze from the south."
USER = "Stop. What time is it?"
LEAD_IN = 0.36  # s of silence before the reply's first word (the TTS's)
pytestmark = pytest.mark.skipif(load_library() is None, reason="libspeexdsp1 is not installed")


class Chain(SpeakerPath):
    """The satellite's mic chain for one frame at a time, wired as the satellite wires it."""

    def __init__(self) -> None:
        self.frontend = AudioFrontend(FrontendConfig(), SPEAKER_RATE)
        self.guard = EchoJudge(EchoConfig(), FRAME / RATE, cancels_echo=True)
        self.detector = SpeechDetector(VadConfig())
        self.speaker = MemorySink(SPEAKER_RATE)
        self.playback = Playback(SPEAKER_RATE, 30)
        self.trace = BargeTrace()
        self.lag = MicLag(FRAME / RATE)
        self._stalled = self._double_talk = False
        self._span_frames = 0
        self._span_adapted = False
        self._mic_ms = 0.0
        self._wire_echo_path()

    def frame(self, raw: bytes, played: bytes, arrival: float) -> bool:
        """True when the satellite would hold the reply (or start a turn) on this frame."""
        self.trace.read = arrival
        self._check_lag()
        cleaned, allow = self._judge(raw, played)
        return self.detector.process(cleaned, allow) == VadEvent.START or self.guard.onset

    def first_start(self, played: list[bytes], mic: np.ndarray,
                    before_frame: Callable[[int], None] | None = None) -> int:
        """The mic sample where the detector's first START ends (``before_frame(i)`` runs before frame i)."""
        for i, out in enumerate(played):
            if before_frame is not None:
                before_frame(i)
            self.trace.read = (i + 1) * FRAME / RATE
            self._check_lag()
            cleaned, allow = self._judge(pcm(mic[i * FRAME : (i + 1) * FRAME]), out)
            if self.detector.process(cleaned, allow) == VadEvent.START:
                return (i + 1) * FRAME
        pytest.fail("the user was never heard")


def scene(gain_db: float, delay_ms: float = 70.0, *, restart: tuple[float, float, float] | None = None,
          gap: tuple[float, float] | None = None) -> dict[str, Any]:
    """Three replies, their echo ``delay_ms`` late. ``restart`` (s into the third reply, hold s,
    new delay ms): the reply is held there (the speaker restarted) and resumes on another delay.
    ``gap`` (s into the third reply, ms): the speaker ran dry that long there, so the rest of
    the reply plays that much later."""
    reply = samples(speak(REPLY))
    parts = [np.zeros(RATE), reply, np.zeros(RATE), np.zeros(RATE), reply, np.zeros(RATE), np.zeros(RATE)]
    third = sum(len(x) for x in parts)
    cut = third + int(restart[0] * RATE) if restart else len(reply) + third
    hold = np.zeros(int(restart[1] * RATE)) if restart else np.zeros(0)
    far = np.concatenate([*parts, reply, np.zeros(RATE)])
    far = np.concatenate([far[:cut], hold, far[cut:]])
    played = played_frames(far)
    n = len(played) * FRAME
    far = far[:n]
    resumed = min(cut + len(hold), n)
    before, after = far.copy(), far.copy()
    before[resumed:] = 0
    after[:resumed] = 0
    if gap is not None:
        at = third + int(gap[0] * RATE)
        before = np.concatenate([before[:at], np.zeros(int(gap[1] * RATE / 1000)), before[at:]])[:n]
    mic = noise(n, -60.0) + echo_path(before, delay_ms=delay_ms, gain_db=gain_db)
    if restart:
        mic += echo_path(after, delay_ms=restart[2], gain_db=gain_db)
    return {"mic": mic, "played": played, "third": third, "resumed": resumed, "reply_end": cut + len(hold) +
            (len(reply) - (cut - third) if restart else 0), "restarts": [cut // FRAME] if restart else [],
            "gain_db": gain_db}


def add_user(s: dict[str, Any], at: float) -> int:
    """The user, as loud as the echo, ``at`` s after the third reply resumed (or its first word); returns
    the onset."""
    user = samples(speak(USER))
    echo_rms = float(np.sqrt(np.mean(echo_path(samples(speak(REPLY)), delay_ms=70, gain_db=s["gain_db"]) ** 2)))
    user *= echo_rms / float(np.sqrt(np.mean(user[np.abs(user) > 30] ** 2)))
    pos: int = (s["resumed"] if s["restarts"] else s["third"] + int(LEAD_IN * RATE)) + int(at * RATE)
    s["mic"][pos:pos + len(user)] += user[: len(s["mic"]) - pos]
    n = len(user) // 160
    e = 10 * np.log10(np.mean(np.square(user[: n * 160].reshape(n, 160)), axis=1) + 1e-12)
    return pos + int(np.nonzero(e > e.max() - 35)[0][0]) * 160


def run(s: dict[str, Any], *, stall: tuple[float, float] | None = None) -> list[int]:
    """Sample positions (frame ends) where the satellite would hold the reply. ``stall``: (s into
    the third reply, seconds): the satellite reads the frames of that moment that late."""
    chain = Chain()
    stall_frames: dict[int, float] = {}
    if stall is not None:
        first = (s["third"] + int(stall[0] * RATE)) // FRAME
        for k in range(round(stall[1] * RATE / FRAME)):  # read in a burst once the stall is over
            stall_frames[first + k] = stall[1] - k * FRAME / RATE
    holds = []
    for i, played in enumerate(s["played"]):
        arrival = (i + 1) * FRAME / RATE + stall_frames.get(i, 0.0)
        if chain.frame(pcm(s["mic"][i * FRAME:(i + 1) * FRAME]), played, arrival):
            holds.append((i + 1) * FRAME)
        if i in s["restarts"]:
            chain._abort_speaker("hold")  # the speaker restarted: another buffer level
    return holds


@pytest.mark.parametrize("gain_db", [-6.0, 0.0])
def test_after_a_hold_restarts_the_speaker_a_user_soon_after_the_reply_resumes_is_heard(gain_db: float) -> None:
    """1.5 s into the reply an onset holds it for 0.3 s (the speaker is restarted), it resumes
    170 ms late instead of 70. Before: the next estimate came from a window still full of the
    old path, the canceller resumed on the old delay and was not trusted again for seconds, so
    the user (as loud as the echo) was missed. Now as quick as in a reply without a restart."""
    s = scene(gain_db, restart=(1.5, 0.3, 170.0))
    onset = add_user(s, 0.9)
    held = [p for p in run(s) if p > s["resumed"]]
    assert held and held[0] > onset, "the user was not heard over the reply, or the echo was"
    assert held[0] - onset <= 7 * FRAME  # measured: 6.2 frames (before the fix: 8.2)


@pytest.mark.parametrize("gain_db", [-6.0, 0.0])
def test_echo_alone_never_holds_when_the_satellite_stalls_and_the_speaker_runs_dry(gain_db: float) -> None:
    """2 s into the third reply the satellite reads its mic 120 ms late; the speaker ran dry for
    60 ms meanwhile and plays the rest of the reply 60 ms later. Before: the canceller stayed
    trusted on the old path and its residual (the whole echo) held the reply."""
    s = scene(gain_db, gap=(2.0, 60.0))
    assert run(s, stall=(2.0, 0.12)) == []


def test_the_end_of_a_reply_and_its_tail_are_not_taken_for_the_user_on_a_deep_speaker_buffer() -> None:
    """The reply is held and resumes 0.8 s before its end, 400 ms late (a deep speaker buffer; the
    room saw up to 449 ms): the canceller waits for the new delay, and the raw echo of the last
    words is heard up to ~0.5 s after they were played. Before: the judge expected echo from
    the last 300 ms of playback only, and the echo of the last words held the reply 0.25 s
    before its end (the same gap let the room's self-turns on "...connected." through). Now it
    expects echo for the delay plus the echo path's tail."""
    s = scene(0.0, restart=(len(samples(speak(REPLY))) / RATE - 0.8, 0.3, 400.0))
    end = s["reply_end"]
    assert [p for p in run(s) if end - RATE // 2 <= p <= end + RATE] == []


@pytest.mark.parametrize("stall", [None, (0.45, 0.2)])
def test_with_no_echo_path_a_user_speaking_as_the_reply_begins_is_heard(stall: tuple[float, float] | None) -> None:
    """The mic does not hear the speaker at all (a satellite playing into a file): no echo delay
    is ever measured. Before: while the canceller waited for one, the residual gate kept its
    initial coupling, so the user had to be 8 dB louder than the playback itself, and a user
    speaking as the reply began was not heard (test_full_stack's interruption). Now the mic's
    sound, which the playback explains at no delay, is the user's. Also when the satellite
    stalls 0.2 s as the user starts (test_full_stack: 177-292 ms behind the mic just then; the
    re-measure emptied the playback window and the verdict was off for 1.2 s: not heard)."""
    far = np.concatenate([np.zeros(RATE), samples(speak(REPLY)), np.zeros(RATE)])
    played = played_frames(far)
    mic = np.zeros(len(played) * FRAME)  # digital silence, as a test's mic FIFO gives
    user = samples(speak(USER))
    at = RATE + int(0.2 * RATE)  # the user's first word 0.15 s after the reply's
    mic[at:at + len(user)] += user
    n = len(user) // 160
    e = 10 * np.log10(np.mean(np.square(user[: n * 160].reshape(n, 160)), axis=1) + 1e-12)
    onset = at + int(np.nonzero(e > e.max() - 35)[0][0]) * 160
    held = [p for p in run({"mic": mic, "played": played, "restarts": [], "third": RATE}, stall=stall) if p > onset]
    assert held and held[0] - onset <= 6 * FRAME, (held[:1], onset)  # measured: 4.7 / 4.7 frames (before: never)


@pytest.mark.parametrize("gain_db", [-6.0, 0.0])
def test_a_user_over_the_first_reply_is_heard_before_the_canceller_is_proven(gain_db: float) -> None:
    """A fresh satellite, its canceller not yet converged (ERLE ~0 dB half a second in), the user
    as loud as the reply (6 dB over the echo at -6 dB) 0.5 s into the first one. Before: the
    raw gate learned the user's first words as echo and both gates had to agree: never held at
    -6 dB, 5 s late at 0 dB (the room missed the first interruption at both levels). Now the
    double-talk detector (the playback explains little of the mic) lets the VAD decide."""
    far = np.concatenate([np.zeros(RATE), samples(speak(REPLY)), np.zeros(RATE)])
    played = played_frames(far)
    far = far[:len(played) * FRAME]
    mic = noise(len(far), -60.0) + echo_path(far, delay_ms=70.0, gain_db=gain_db)
    user = samples(speak(USER))
    at = RATE + int(0.5 * RATE)
    mic[at:at + len(user)] += user
    n = len(user) // 160
    e = 10 * np.log10(np.mean(np.square(user[: n * 160].reshape(n, 160)), axis=1) + 1e-12)
    onset = at + int(np.nonzero(e > e.max() - 35)[0][0]) * 160
    held = run({"mic": mic, "played": played, "restarts": []})
    assert held and held[0] > onset, (held, onset)  # nothing before the user: echo alone never held
    assert held[0] - onset <= 12 * FRAME, (held[:1], onset)  # measured: 9.7 frames at both levels
