"""The canceller's catch-up after a dry speaker checks for the user before speex is fed (satellite.aec_catchup).

Session 27: with the catch-up on, the replayed quiet room_cont run lost a clean user's continuation
(cont-12, "now" 0.29 s into the reply): the word began in the mic kept while the canceller waited for
the new delay, before the judge (suspended over that wait) had heard anyone, so ``user_speaking`` came
too late to drop it and speex was fed the user's first words as echo. Here the real chain (speex, the
delay meter, AudioFrontend) over test_satellite_aec_catchup's 20 ms underrun scene, with a word spoken
at the echo's level over the last 0.3 s of the wait and nobody ever signalled: old code fed it.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo root: bench/

import numpy as np
import pytest
from speech import speak
from test_satellite_echo_realign import FRAME, RATE, SPEAKER, underrun_scene

from satellite.aec import AudioFrontend, FrontendConfig
from satellite.aec_catchup import echo_from
from satellite.speex import load_library

WORDS = "Please turn it down in the kitchen."
WORD_S = 0.3  # the words' voice heard before the canceller would resume with no one speaking (they go on after it)


def run(word_at: int | None) -> tuple[AudioFrontend, int]:
    """(the front end after the 20 ms underrun scene with the catch-up on, the first frame it cancels on after the
    underrun); ``word_at``: the mic frame a word at the echo's level starts on (None: echo alone). Nobody is
    ever signalled (``user_speaking`` is never called: the judge has not heard the word yet)."""
    written, mic, seen, end = underrun_scene(441)
    mic = mic.copy()
    if word_at is not None:
        word = np.frombuffer(speak(WORDS), "<i2").astype(np.float64)
        word = word[np.flatnonzero(np.abs(word) > 300)[0] :][: int(1.5 * RATE)]
        echo = mic[word_at * FRAME : word_at * FRAME + len(word)]
        word *= np.sqrt(np.mean(echo**2) / np.mean(word**2))  # as loud as the echo it is spoken over
        mic[word_at * FRAME : word_at * FRAME + len(word)] += word
    frontend = AudioFrontend(FrontendConfig(aec_catch_up=True), SPEAKER)
    resumed = -1
    for i in range(end // FRAME):
        a, b = round(i * 0.03 * SPEAKER), round((i + 1) * 0.03 * SPEAKER)
        if i == seen:
            frontend.recheck(moved=True, behind_s=0.03)  # the write-ahead saw the speaker run dry
        x = np.clip(np.round(mic[i * FRAME : (i + 1) * FRAME]), -32768, 32767).astype("<i2")
        frontend.process(x.tobytes(), np.clip(written[a:b], -32768, 32767).astype("<i2").tobytes())
        if resumed < 0 and i > seen and frontend.cancelling:
            resumed = i
    return frontend, resumed


@pytest.mark.skipif(load_library() is None, reason="libspeexdsp1 is not installed")
def test_a_word_in_the_kept_mic_is_not_fed_as_echo() -> None:
    alone, resumed = run(None)
    assert alone._catch_up.fed == 1  # echo alone: caught up as before
    word_at = resumed - round(WORD_S * RATE / FRAME)  # the words' first 0.3 s in the wait, the rest after it
    spoken, again = run(word_at)
    assert word_at < again <= word_at + round(1.2 * RATE / FRAME)  # (their double talk delays the delay's measure)
    assert spoken._catch_up.fed == 0  # old code: 1
    assert (alone._catch_up.refused, spoken._catch_up.refused) == (0, 1)


def test_echo_from_tells_a_voice_from_the_echo() -> None:
    """The kept mic against the echo predicted (any scale): echo alone (fed from 0), or a block with a voice 6 dB
    over the echo (nothing fed: None; at the kept mic's edge, fed after it), whatever the filter explains."""
    rng = np.random.default_rng(5)
    echo = rng.standard_normal(4800) * 3000.0
    mic = echo * 0.5 + rng.standard_normal(4800) * 30.0  # the echo 40 dB over the noise
    assert echo_from(mic.astype(np.int16), echo, 160, 480) == 0
    voiced = mic.copy()
    voiced[1600:2080] += rng.standard_normal(480) * 3000.0  # 30 ms of a voice 6 dB over the echo
    assert echo_from(voiced.astype(np.int16), echo, 160, 480) is None
    edge = mic.copy()
    edge[160:320] += rng.standard_normal(160) * 3000.0  # its second block: left out, the rest fed
    assert echo_from(edge.astype(np.int16), echo, 160, 480) == 320
    stale = echo * 0.5 + rng.standard_normal(4800) * 1500.0  # a filter that explains ~0 dB of it ...
    assert echo_from(stale.astype(np.int16), echo, 160, 480) == 0
    stale[1600:2080] += rng.standard_normal(480) * 9000.0  # ... and a voice 12.5 dB over that mic
    assert echo_from(stale.astype(np.int16), echo, 160, 480) is None


def test_the_catch_up_is_a_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    """Off by default; ``--aec-catch-up`` (or SATELLITE_AEC_CATCH_UP=1, for the room's runs) turns it on."""
    from satellite.__main__ import build_parser, frontend_config

    assert not frontend_config(build_parser().parse_args([])).aec_catch_up
    assert frontend_config(build_parser().parse_args(["--aec-catch-up"])).aec_catch_up
    monkeypatch.setenv("SATELLITE_AEC_CATCH_UP", "1")
    assert frontend_config(build_parser().parse_args([])).aec_catch_up
