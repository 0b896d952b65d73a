"""The satellite's mic front end (satellite.aec) on synthetic echo of real TTS speech.

The reply (Piper speech) is played at the speaker's rate, as the satellite writes it, and
reaches the mic through an echo path (50 ms, −6 or 0 dB, a 0.2 s reverb tail, noise). The
cancelled signal must be ≥ 20 dB quieter than the echo after convergence (the raw signal
fails that), and a question spoken over the reply must come through.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from speech import speak

from bench.aec_bench import FRAME, SPEAKER_RATE, echo_path, erle, noise, pcm, played_frames, samples
from satellite.__main__ import build_parser, frontend_config
from satellite.aec import AudioFrontend, FrontendConfig
from satellite.speex import load_library

REPLY = ("The weather today is sunny with a high of twenty two degrees. Tomorrow brings light rain in the "
         "morning, clearing by the afternoon, with a gentle wind from the west.")
needs_speex = pytest.mark.skipif(load_library() is None, reason="libspeexdsp1 is not installed")


def cancel(config: FrontendConfig, mic: np.ndarray, played: list[bytes]) -> np.ndarray:
    frontend = AudioFrontend(config, SPEAKER_RATE)
    out = [samples(frontend.process(pcm(mic[i * FRAME:(i + 1) * FRAME]), frame)) for i, frame in enumerate(played)]
    return np.concatenate(out)


@pytest.fixture(scope="module")
def reply() -> tuple[np.ndarray, list[bytes]]:
    far = samples(speak(REPLY))
    far = np.concatenate([far, far])  # ~16 s: the canceller converges on the first half
    played = played_frames(far)
    return far[: len(played) * FRAME], played


@pytest.mark.parametrize("engine", [pytest.param("speex", marks=needs_speex), "webrtc"])
@pytest.mark.parametrize("gain_db", [-6.0, 0.0])
def test_echo_is_cancelled_after_convergence(reply: tuple[np.ndarray, list[bytes]], engine: str,
                                             gain_db: float) -> None:
    far, played = reply
    n = len(far)
    mic = echo_path(far, delay_ms=50.0, gain_db=gain_db) + noise(n, -60.0)
    raw = cancel(FrontendConfig(aec=False), mic, played)
    assert erle(mic, raw, n // 2, n) < 3.0  # without a canceller the echo is all there
    out = cancel(FrontendConfig(aec=True, aec_engine=engine), mic, played)
    assert erle(mic, out, n // 2, n) >= 20.0


@needs_speex
def test_question_over_the_reply_survives_speex(reply: tuple[np.ndarray, list[bytes]]) -> None:
    """Double talk: the user as loud as a 0 dB echo, 10 s into the reply (converged)."""
    far, played = reply
    n = len(far)
    echo = echo_path(far, delay_ms=50.0, gain_db=0.0)
    user = samples(speak("Turn off the lights in the kitchen please."))
    user *= np.sqrt(np.mean(echo**2)) / np.sqrt(np.mean(user[user != 0] ** 2))
    at = 10 * 16000
    near = np.zeros(n)
    near[at:at + len(user)] = user[: n - at]
    mic = echo + near + noise(n, -60.0)
    seg = slice(at, at + len(user))

    def sdr(out: np.ndarray) -> float:
        return float(10 * np.log10(np.sum(near[seg] ** 2) / np.sum((out[seg] - near[seg]) ** 2)))

    raw = sdr(cancel(FrontendConfig(aec=False), mic, played))
    cleaned = sdr(cancel(FrontendConfig(aec=True, aec_engine="speex"), mic, played))
    assert raw < 1.0  # the echo is as loud as the question
    assert cleaned >= 8.0  # the question is kept, the echo mostly gone


def test_no_reference_still_works_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="satellite.aec"):
        frontend = AudioFrontend(FrontendConfig(aec=True), None)
    assert not frontend.cancels_echo
    assert "no playback reference" in caplog.text
    frame = pcm(noise(FRAME, -20.0))
    assert frontend.process(frame, None) == frame  # nothing to do: the mic passes unchanged
    with caplog.at_level(logging.WARNING, logger="satellite.aec"):
        AudioFrontend(FrontendConfig(aec=False, noise_suppression=2), SPEAKER_RATE)
    assert "echo cancellation off" in caplog.text


def test_noise_suppression_lowers_steady_noise() -> None:
    frontend = AudioFrontend(FrontendConfig(aec=False, noise_suppression=3), SPEAKER_RATE)
    hiss = noise(FRAME * 200, -40.0)
    out = np.concatenate([samples(frontend.process(pcm(hiss[i:i + FRAME]))) for i in range(0, len(hiss), FRAME)])
    tail = slice(len(hiss) // 2, len(hiss))
    assert 10 * np.log10(np.sum(hiss[tail] ** 2) / np.sum(out[tail] ** 2)) >= 6.0


def test_flags_and_bad_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SATELLITE_STATE_DIR")  # tests/conftest.py sets it to '' for the satellites tests start
    args = build_parser().parse_args(["--no-aec", "--noise-suppression", "2", "--auto-gain", "5", "--state-dir", ""])
    assert frontend_config(args) == FrontendConfig(aec=False, noise_suppression=2, auto_gain_dbfs=5)
    default = frontend_config(build_parser().parse_args([])).state_dir  # kept by default, in the data folder
    assert default == str(Path(os.environ["HEARTH_DATA_DIR"]).expanduser() / "satellite")
    assert frontend_config(build_parser().parse_args([])).aec  # on by default
    with pytest.raises(ValueError, match="auto gain"):
        FrontendConfig(auto_gain_dbfs=40)
    with pytest.raises(ValueError, match="available: speex, webrtc"):
        FrontendConfig(aec_engine="magic")
    bad = subprocess.run([sys.executable, "-m", "satellite", "--noise-suppression", "9"], check=False,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "noise-suppression" in bad.stderr


@needs_speex
def test_the_canceller_does_not_adapt_on_a_barge_in_once_the_speaker_is_silent(
        reply: tuple[np.ndarray, list[bytes]]) -> None:
    """A barge-in kills the speaker: after the echo's tail the mic holds only the user, whose loud
    words (with the reply still in speex's 0.5 s of reference history) it used to adapt on, so
    the next reply began with a damaged filter (the room, 0 dB: ERLE 13-27 dB at the next
    interruption instead of 31-34, and the hold came on the vowel of "Stop", 0.19 s). Now speex
    is not fed from the tail's end until the satellite plays again: its filter is unchanged."""
    far, played = reply
    kill = 8 * 16000 // FRAME * FRAME
    frontend = AudioFrontend(FrontendConfig(aec=True, aec_engine="speex"), SPEAKER_RATE)
    echo = echo_path(far[:kill], delay_ms=50.0, gain_db=0.0)
    for i in range(kill // FRAME):
        frontend.process(pcm(echo[i * FRAME:(i + 1) * FRAME] + noise(FRAME, -60.0, seed=i)), played[i])
    frontend.speaker_dropped()
    user = samples(speak("Stop. What time is it?"))
    user *= np.sqrt(np.mean(echo**2)) / np.sqrt(np.mean(user[user != 0] ** 2))
    silent = bytes(len(played[0]))
    frames = len(user) // FRAME
    for i in range(frames):
        frontend.process(pcm(user[i * FRAME:(i + 1) * FRAME]), silent)
        if i == 20:  # 0.6 s: the echo's tail has passed
            settled = frontend._speex.impulse_response().copy()  # type: ignore[union-attr]
    assert np.array_equal(frontend._speex.impulse_response(), settled)  # type: ignore[union-attr]
    for i in range(150, 160):  # the reply plays again (past its lead-in silence): fed, adapting, as before
        frontend.process(pcm(echo[i * FRAME:(i + 1) * FRAME]), played[i])
    assert not np.array_equal(frontend._speex.impulse_response(), settled)  # type: ignore[union-attr]
