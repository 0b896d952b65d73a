"""Barge-in through echo (satellite.echojudge) on synthetic echo of real TTS speech.

The reply (Piper) plays three times with 1 s gaps, through an echo path like the room's
(70 ms: the speaker's buffer plus 40 ms of air, a 0.2 s reverb tail, −60 dBFS noise), at −6
and 0 dB. The satellite's own per-frame chain runs on it: the speex canceller, the echo judge,
WebRTC VAD. A user as loud as the echo saying "Stop. What time is it?" 1.5 s into the third
reply must hold the reply (an onset, or the VAD's speech start) within 4 frames (120 ms) of
its onset (the room simulator's rule: the first 10 ms within 35 dB of the loudest, so the
"st" counts); the echo alone must never hold it, also when the echo delay changes under the
canceller after a speaker restart.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pytest
from speech import speak

from bench.aec_bench import FRAME, SPEAKER_RATE, echo_path, noise, pcm, played_frames, samples
from satellite.aec import AudioFrontend, FrontendConfig
from satellite.echo import EchoConfig
from satellite.echojudge import EchoJudge
from satellite.speex import load_library
from satellite.vad import SpeechDetector, VadConfig, VadEvent

RATE = 16000
REPLY = "Here is the forecast for this week. Tomorrow will be sunny and warm, with a light breeze from the south."
USER = "Stop. What time is it?"
pytestmark = pytest.mark.skipif(load_library() is None, reason="libspeexdsp1 is not installed")


def onset(x: np.ndarray) -> int:
    """The first 10 ms block within 35 dB of the loudest (the room simulator's rule)."""
    n = len(x) // 160
    e = 10 * np.log10(np.mean(np.square(x[: n * 160].reshape(n, 160)), axis=1) + 1e-12)
    return int(np.nonzero(e > e.max() - 35)[0][0]) * 160


def scene(gain_db: float, *, user_at: float | None,
          delays_ms: tuple[float, float, float] = (70, 70, 70)) -> dict[str, Any]:
    reply = samples(speak(REPLY))
    starts, far = [], np.zeros(0)
    for _ in range(3):
        starts.append(len(far) + RATE)
        far = np.concatenate([far, np.zeros(RATE), reply, np.zeros(RATE)])
    played = played_frames(far)
    n = len(played) * FRAME
    far = far[:n]
    mic = noise(n, -60.0)
    bounds = [0, starts[1] - RATE // 2, starts[2] - RATE // 2, n]  # the delay changes between replies
    for i, delay in enumerate(delays_ms):
        echo = echo_path(far, delay_ms=delay, gain_db=gain_db)
        mic[bounds[i]:bounds[i + 1]] += echo[bounds[i]:bounds[i + 1]]
    user_onset = None
    if user_at is not None:
        user = samples(speak(USER))
        echo_rms = float(np.sqrt(np.mean(echo_path(reply, delay_ms=70, gain_db=gain_db) ** 2)))
        user *= echo_rms / float(np.sqrt(np.mean(user[np.abs(user) > 30] ** 2)))  # as loud as the echo
        at = starts[2] + int(user_at * RATE)
        mic[at:at + len(user)] += user[: n - at]
        user_onset = at + onset(user)
    return {"mic": mic, "played": played, "path_changes": bounds[1:3] if len(set(delays_ms)) > 1 else [],
            "onset": user_onset, "reply_starts": starts}


def holds(s: dict[str, Any], *, cancel: bool = True) -> list[int]:
    """Sample positions (frame ends) where the satellite would hold the reply: the echo judge's
    onset, or the VAD starting speech through the judge's gate."""
    frontend = AudioFrontend(FrontendConfig(aec=cancel), SPEAKER_RATE)
    judge = EchoJudge(EchoConfig(), FRAME / RATE, cancels_echo=frontend.cancels_echo)
    frontend.on_path_change = judge.path_changed  # as the satellite wires them
    vad = SpeechDetector(VadConfig())
    starts = []
    for i, played in enumerate(s["played"]):
        raw = pcm(s["mic"][i * FRAME:(i + 1) * FRAME])
        cleaned = frontend.process(raw, played)
        frontend.watch(not judge.converged)  # as the satellite's speaker_path does
        allow = judge.process(raw, cleaned, played, cancelling=frontend.cancelling, not_echo=frontend.mic_not_echo,
                              double_talk=frontend.double_talk)
        if vad.process(cleaned, allow) == VadEvent.START or judge.onset:
            starts.append((i + 1) * FRAME)
        if any(i * FRAME <= change < (i + 1) * FRAME for change in s["path_changes"]):
            judge.path_changed()  # the satellite does both when it restarts the speaker
            frontend.path_changed()
    return starts


@pytest.mark.parametrize("gain_db", [-6.0, 0.0])
def test_a_voice_as_loud_as_the_echo_holds_the_reply_within_four_frames(gain_db: float) -> None:
    s = scene(gain_db, user_at=1.5)
    held = holds(s)
    assert held and held[0] > s["onset"], "the user was not heard over the reply, or the echo was"
    assert held[0] - s["onset"] <= 4 * FRAME


def test_without_the_canceller_a_voice_as_loud_as_the_echo_is_heard_late_or_not_at_all() -> None:
    """The control: the raw energy gate alone (``--no-aec``) misses the first 4 frames at 0 dB."""
    s = scene(0.0, user_at=1.5)
    assert not [p for p in holds(s, cancel=False) if s["onset"] < p <= s["onset"] + 4 * FRAME]


@pytest.mark.parametrize("gain_db", [-6.0, 0.0])
def test_echo_alone_never_holds_the_reply(gain_db: float) -> None:
    assert holds(scene(gain_db, user_at=None)) == []


def test_echo_alone_after_the_echo_delay_changes_never_holds_the_reply() -> None:
    """A restarted speaker can change the delay under the converged canceller (70 → 100 → 40 ms)."""
    assert holds(scene(0.0, user_at=None, delays_ms=(70, 100, 40))) == []


def test_erle_is_measured_and_a_path_change_makes_the_canceller_unproven() -> None:
    s = scene(0.0, user_at=None)
    frontend = AudioFrontend(FrontendConfig(), SPEAKER_RATE)
    judge = EchoJudge(EchoConfig(), FRAME / RATE, cancels_echo=True)
    third = s["reply_starts"][2] // FRAME
    for i, played in enumerate(s["played"]):
        raw = pcm(s["mic"][i * FRAME:(i + 1) * FRAME])
        judge.process(raw, frontend.process(raw, played), played)
        if i == third:
            judge.take_reply_erle()  # from here on: the third reply, the canceller has converged
    erle, frames = judge.take_reply_erle()
    assert frames > 100 and erle is not None and erle >= 20.0
    assert judge.converged
    judge.path_changed()
    assert not judge.converged and judge.erle_db is None


def test_without_a_canceller_the_raw_gate_decides_and_the_log_says_so(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="satellite.aec"):
        frontend = AudioFrontend(FrontendConfig(aec=True), None)  # no speaker: no playback reference
    assert "no playback reference" in caplog.text and not frontend.cancels_echo
    judge = EchoJudge(EchoConfig(), FRAME / RATE, cancels_echo=frontend.cancels_echo)
    loud = pcm(noise(FRAME, -10.0))
    quiet_echo = pcm(noise(FRAME, -30.0))
    playing = pcm(noise(int(FRAME * SPEAKER_RATE / RATE), -10.0))
    assert not judge.process(quiet_echo, quiet_echo, playing)  # quieter than the playback: echo
    fresh = EchoJudge(EchoConfig(), FRAME / RATE, cancels_echo=False)
    assert fresh.process(loud, loud, bytes(len(playing)))  # nothing playing: the VAD decides
    assert not judge.onset  # onsets need a trusted canceller
    assert judge.take_reply_erle() == (None, 0)  # no canceller, no ERLE


def test_the_echo_delay_is_measured_and_the_canceller_is_back_at_once_after_it_jumps() -> None:
    """70 ms, then 170 ms after a (simulated) speaker restart: the delay is found within 1 ms and
    the canceller, fed the reference delayed by it, is at >= 20 dB again 1.5 s into the reply."""
    s = scene(0.0, user_at=None, delays_ms=(70, 170, 170))
    frontend = AudioFrontend(FrontendConfig(), SPEAKER_RATE)
    out = []
    for i, played in enumerate(s["played"]):
        out.append(samples(frontend.process(pcm(s["mic"][i * FRAME:(i + 1) * FRAME]), played)))
        if any(i * FRAME <= change < (i + 1) * FRAME for change in s["path_changes"][:1]):
            before = frontend.bulk
            frontend.path_changed()
    cleaned = np.concatenate(out)
    # The echo arrives 170 ms late (plus the front end's 10 ms lead): the reference is delayed by
    # all but 10 ms of that, 100 ms more than before the restart.
    assert abs((frontend.bulk - before) / 16 - 100.0) <= 1.0
    second = s["reply_starts"][1]
    window = slice(second + int(1.5 * RATE), second + int(3.5 * RATE))
    mic = s["mic"][window]
    assert 10 * np.log10(np.sum(mic**2) / np.sum(cleaned[window] ** 2)) >= 20.0


def test_a_path_change_mid_reply_does_not_let_the_echo_of_what_just_played_through() -> None:
    """In the room each change of the echo delay (a restart, a new bulk delay) was followed within
    10-50 ms by a false speech start: the gates forgot the playback of the last 300 ms."""
    judge = EchoJudge(EchoConfig(), FRAME / RATE, cancels_echo=True)
    loud_ref = pcm(noise(int(FRAME * SPEAKER_RATE / RATE), -12.0))
    echo = pcm(noise(FRAME, -18.0))  # -6 dB of the playback
    cleaned = pcm(noise(FRAME, -45.0))  # what the canceller leaves
    assert not any(judge.process(echo, cleaned, loud_ref) for _ in range(60))
    judge.path_changed()
    pause = bytes(len(loud_ref))  # the reply pauses: the mic still hears what played before it
    assert not any(judge.process(echo, echo, pause) for _ in range(3))  # the canceller is off its path too


def test_after_the_speaker_is_killed_what_it_never_played_is_not_expected_as_echo() -> None:
    """A hold kills the sound command: the last ~delay of playback never sounds. With the gates on
    the delayed reference (250 ms here) the user's voice right after the hold was taken for that
    echo for delay + window, so the VAD could not confirm the barge-in before the hold lapsed
    (the room, -6 dB: 0 of 15 confirmed)."""
    judge = EchoJudge(EchoConfig(), FRAME / RATE, cancels_echo=False)
    judge.set_echo_path(0.25, 0.1)
    loud_ref = pcm(noise(int(FRAME * SPEAKER_RATE / RATE), -12.0))
    echo = pcm(noise(FRAME, -18.0))
    quiet = pcm(noise(FRAME, -60.0))
    for _ in range(8):  # the echo is on its way
        judge.process(quiet, quiet, loud_ref)
    assert not any(judge.process(echo, echo, loud_ref) for _ in range(40))
    judge.speaker_dropped()
    silence = bytes(len(loud_ref))
    voice = pcm(noise(FRAME, -16.0, seed=3))  # the user, about as loud as the echo was
    heard = [judge.process(voice, voice, silence) for _ in range(15)]
    # what did play still echoes for the window (300 ms): then the user is heard (frame 10; 17 without the drop)
    assert all(heard[11:]), heard
