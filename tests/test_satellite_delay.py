"""The echo delay meter (satellite/delay.py) on a fixed synthetic sequence: its verdicts.

Real speech (tests/audio) is the playback; the mic hears it through an echo path whose delay
changes after a restart, a user alone (no echo path yet) and a user over the echo (double talk).
The verdicts (each delay returned and when; the frames judged double talk or unexplained) were
recorded with the code before its windows became in-place rings (session 9): the rings must not
change one of them (the old and new code were also compared value for value, every attribute of
every frame, at 10, 20 and 30 ms frames: identical).
"""

from __future__ import annotations

import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from satellite.delay import EchoDelay, Window

AUDIO = Path(__file__).parent / "audio"
RATE = 16000


def _speech(name: str) -> np.ndarray:
    with wave.open(str(AUDIO / name), "rb") as wav:
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16).astype(np.float64)


def sequence(frame: int) -> Iterator[tuple[np.ndarray, np.ndarray, bool]]:
    """(mic, playback, restart before this frame) per frame of ``frame`` samples."""
    a, b, c = (_speech(n) for n in ("af_heart_okay_nabu.wav", "am_eric_okay_napoli.wav",
                                    "bf_alice_okay_nabu_time.wav"))
    quiet = np.zeros(int(0.3 * RATE))
    # (playback, user, echo delay in ms or None for no echo path, restart at its start)
    parts = [(quiet, quiet, None, False), (a, c[: len(a)], None, False), (np.concatenate([c, a]), None, 120, False),
             (np.concatenate([a, b]), None, 260, True), (b, a[: len(b)], 260, False),
             (np.zeros(RATE // 2), None, 260, False)]
    play = np.concatenate([p for p, _, _, _ in parts])
    mic = np.random.default_rng(7).normal(0.0, 30.0, len(play))
    restarts = set()
    at = 0
    for playback, user, delay_ms, restart in parts:
        end = at + len(playback)
        if delay_ms is not None:
            lag = RATE * delay_ms // 1000
            src = np.concatenate([np.zeros(lag), play])[at:end]
            mic[at:end] += 0.5 * src
        if user is not None:
            mic[at:at + len(user)] += user
        if restart:
            restarts.add(at // frame)
        at = end
    mic16 = np.clip(mic, -32768, 32767).astype(np.int16)
    play16 = play.astype(np.int16)
    for i in range(len(play16) // frame):
        yield mic16[i * frame:(i + 1) * frame], play16[i * frame:(i + 1) * frame], i in restarts
# --- end of sequence ---


def verdicts(frame: int) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    meter = EchoDelay(RATE)
    returned: list[tuple[int, int]] = []
    double_talk: list[int] = []
    unexplained: list[int] = []
    for i, (mic, ref, restart) in enumerate(sequence(frame)):
        if restart:
            meter.restart()
        if (lag := meter.push(mic, ref)) is not None:
            returned.append((i, lag))
        if meter.double_talk:
            double_talk.append(i)
        if meter.unexplained:
            unexplained.append(i)
    return returned, double_talk, unexplained


def frames(*spans: tuple[int, int]) -> list[int]:
    return [i for first, last in spans for i in range(first, last + 1)]


# 20 ms frames: 120 ms (1920 samples) measured in the echo part, 260 ms (4160) after the restart;
# double talk while the user speaks with no echo path and over the echo; unexplained (loud, no
# delay ever measured) while the user speaks alone. Session 12: before any delay is measured,
# double talk only once the playback was audible for the longest delay + min_audible (the room's
# first reply: its echo was called double talk 0.1 s into it), so with no echo path from frame
# 48, not 23 (the user is the satellite's from frame 38 on, as unexplained).
RECORDED = ([(98, 1920), (291, 4160)], frames((48, 82), (408, 433)), frames((38, 42), (58, 82)))


def test_the_verdicts_on_the_recorded_sequence_are_unchanged() -> None:
    assert verdicts(320) == RECORDED


def test_the_window_keeps_the_last_samples_in_order_across_the_wrap() -> None:
    window = Window(5)
    seen: list[int] = []
    for start in range(0, 23, 3):  # frames of 3 into a ring of 5: every offset of the wrap
        frame = np.arange(start, start + 3, dtype=np.int16)
        window.push(frame)
        seen.extend(frame.tolist())
        expected = ([0] * 5 + seen)[-5:]
        assert window.array().tolist() == expected
    window.push(np.arange(100, 107, dtype=np.int16))  # a frame longer than the ring
    assert window.array().tolist() == [102, 103, 104, 105, 106]
    window.clear()
    assert window.array().tolist() == [0] * 5
