"""A speaker that ran dry moves the echo by whole speaker samples: the canceller's reference follows
to the fraction of a 16 kHz sample (satellite.realign, satellite.aec, satellite.delay).

Issue 17: the last false holds at 0 dB came in replies after a speaker underrun, the canceller at ~25
dB of ERLE instead of 33-35. Here the real chain (speex with the delay meter, AudioFrontend) over a
reply played at 22050 Hz whose echo (resampled to the mic's 16 kHz, delayed, reverb) is heard later
by a few speaker samples from 2 s into the third reply on, as the room's sound card plays an
underrun (zeros the satellite never wrote); the write-ahead saw it (``recheck(moved=True)``).
Old code: the delay meter's whole 16 kHz samples (and its 1 ms dead band) left the canceller off its
path by 0.7-2.2 samples: 19.4 and 11.9 dB of ERLE over the rest of that reply for 1 and 3 samples dry
(22.6 for 50), 25.1 with no underrun; now 24.7, 24.8, 24.3.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo root: bench/

import numpy as np
import pytest
from speech import speak

from bench.aec_bench import echo_path, noise, pcm
from satellite.aec import AudioFrontend, FrontendConfig
from satellite.delay import EchoDelay
from satellite.realign import delayed, peak_offset, snap
from satellite.speex import load_library
from voice_runtime.audio import PCM16_MONO_16K, AudioFormat, convert

RATE = 16000
SPEAKER = 22050
FRAME = 480
REPLY = "Here is the forecast for this week. Tomorrow will be sunny and warm, with a light breeze from the south."
LONG = REPLY[:-1] + ", and rain on Thursday."  # the room bench's reply


def to_16k(x: np.ndarray) -> np.ndarray:
    pcm = np.clip(np.round(x), -32768, 32767).astype("<i2").tobytes()
    return np.frombuffer(convert(pcm, AudioFormat(SPEAKER, 2, 1), PCM16_MONO_16K), "<i2").astype(np.float64)


def underrun_scene(dry: int) -> tuple[np.ndarray, np.ndarray, int, int]:
    """(what the satellite wrote at 22050 Hz, the mic at 16 kHz, the mic frame the underrun is seen
    at, the mic sample the reply it moved ends at): three replies with a second of silence between,
    the speaker dry for ``dry`` samples 2 s into the third."""
    reply = np.frombuffer(convert(speak(REPLY), PCM16_MONO_16K, AudioFormat(SPEAKER, 2, 1)), "<i2").astype(np.float64)
    gap = np.zeros(SPEAKER)
    written = np.concatenate([gap, reply, gap, reply, gap, reply, gap])
    at = 3 * len(gap) + 2 * len(reply) + 2 * SPEAKER
    played = np.concatenate([written[:at], np.zeros(dry), written[at:]])
    far = to_16k(played)
    mic = echo_path(far, delay_ms=60.0, gain_db=0.0) + noise(len(far), -60.0)
    seen = int(at * RATE / SPEAKER) // FRAME + 1
    end = int((3 * len(gap) + 3 * len(reply)) * RATE / SPEAKER) + 60 * RATE // 1000
    return written, mic, seen, end


def erle_after(dry: int) -> float:
    """ERLE (dB) over the echo from 0.5 s after the underrun to the end of that reply."""
    written, mic, seen, end = underrun_scene(dry)
    frontend = AudioFrontend(FrontendConfig(), SPEAKER)
    ticks = len(mic) // FRAME
    out = np.zeros(ticks * FRAME)
    for i in range(ticks):
        a, b = round(i * 0.03 * SPEAKER), round((i + 1) * 0.03 * SPEAKER)
        played = np.clip(written[a:b], -32768, 32767).astype("<i2").tobytes()
        if i == seen:
            frontend.recheck(moved=True)  # the write-ahead saw the speaker run dry
        frame = np.clip(np.round(mic[i * FRAME : (i + 1) * FRAME]), -32768, 32767).astype("<i2").tobytes()
        out[i * FRAME : (i + 1) * FRAME] = np.frombuffer(frontend.process(frame, played), "<i2")
    start = (seen + 1) * FRAME + RATE // 2
    m, o = mic[start:end], out[start:end]
    loud = [
        10 * np.log10(np.mean(m[k : k + FRAME] ** 2) / max(np.mean(o[k : k + FRAME] ** 2), 1e-9))
        for k in range(0, len(m) - FRAME, FRAME)
        if np.sqrt(np.mean(m[k : k + FRAME] ** 2)) > 32768 * 10 ** (-40 / 20)
    ]
    return float(np.median(loud))


@pytest.mark.skipif(load_library() is None, reason="libspeexdsp1 is not installed")
@pytest.mark.parametrize("dry", [1, 3, 50])
def test_the_canceller_stays_on_its_path_after_the_speaker_ran_dry(dry: int) -> None:
    """1, 3, 50 speaker samples: 0.73, 2.18, 36.28 at 16 kHz. Old code 19.4, 11.9, 22.6 dB (1 and 3
    fail), no underrun 25.1; now 24.7, 24.8, 24.3."""
    assert erle_after(dry) >= erle_after(0) - 3.0


def test_the_delay_meter_finds_a_move_to_a_tenth_of_a_sample() -> None:
    """The fine estimates before and after a move of 3 speaker samples differ by 2.18 16 kHz samples
    (the whole-sample estimate says 2), and snapped to whole speaker samples they are exact."""
    rng = np.random.default_rng(5)
    far = to_16k(np.convolve(rng.standard_normal(SPEAKER * 2), np.ones(4) / 4, "same") * 6000)
    fines = []
    for shift in (0.0, 3 * RATE / SPEAKER):
        meter = EchoDelay(RATE)
        mic = delayed(np.concatenate([np.zeros(2000), far]), len(far) - 60 * 16 - shift, len(far) - 2000)
        ref = far[: len(mic)]
        for k in range(0, len(mic) - FRAME, FRAME):
            meter.push(mic[k : k + FRAME].astype(np.int16), ref[k : k + FRAME].astype(np.int16))
        fines.append(meter.fine)
    moved = fines[1] - fines[0]
    assert abs(moved - 3 * RATE / SPEAKER) < 0.1
    assert snap(moved, RATE / SPEAKER) == pytest.approx(3 * RATE / SPEAKER)


def test_a_fractional_delay_is_a_band_limited_shift() -> None:
    t = np.arange(4000)
    x = np.sin(2 * np.pi * 0.05 * t)
    assert np.allclose(delayed(x, 3000.0, 100), x[2900:3000])
    assert np.allclose(delayed(x, 3000.25, 100), np.sin(2 * np.pi * 0.05 * (np.arange(2900, 3000) + 0.25)), atol=1e-3)
    c = np.sinc(np.arange(-40, 41) - 0.4)  # a band-limited peak 0.4 past index 40
    assert peak_offset(c, 40) == pytest.approx(0.40625, abs=0.04)


class FakeAhead:
    """The speaker's write-ahead as the chain reads it (satellite.write_ahead.WriteAhead's counters)."""

    rate = SPEAKER
    trimmed = 0
    underruns = 0


def storm(seed: int, replies: int = 7) -> tuple[np.ndarray, np.ndarray, set[int]]:
    """(written at 22050 Hz, the mic at 0 dB echo, the mic frames each underrun is seen at): from the
    third reply on, each reply's speaker runs dry once, 1-79 samples at a random moment."""
    rng = np.random.default_rng(seed)
    reply = np.frombuffer(convert(speak(LONG), PCM16_MONO_16K, AudioFormat(SPEAKER, 2, 1)), "<i2").astype(np.float64)
    gap = np.zeros(SPEAKER)
    written = np.concatenate([gap] + [np.concatenate([reply, gap]) for _ in range(replies)])
    card, last, seen = [], 0, set()
    for r in range(2, replies):
        at = len(gap) + r * (len(reply) + len(gap)) + int(rng.uniform(0.3, 4.0) * SPEAKER)
        card += [written[last:at], np.zeros(int(rng.integers(1, 80)))]
        last = at
        seen.add(int(at * RATE / SPEAKER) // FRAME + 1)
    far = to_16k(np.concatenate([*card, written[last:]]))
    return written, echo_path(far, delay_ms=60.0, gain_db=0.0) + noise(len(far), -60.0), seen


@pytest.mark.skipif(load_library() is None, reason="libspeexdsp1 is not installed")
@pytest.mark.parametrize("seed", [15, 25])
def test_echo_alone_never_holds_across_speaker_underruns(seed: int) -> None:
    """The satellite's chain (test_satellite_echopath.Chain: speex, the delay meter, the judge, the VAD),
    the write-ahead's underruns signalled as live. Over 40 such scenes (200 underruns) old code held
    10 times (9 scenes; 6 of them at the same phrase's start, 22.68 s: an underrated echo as in the
    room), new code never; old code holds in these two at 22.68 s and 28.77 s."""
    from test_satellite_echopath import Chain

    written, mic, seen = storm(seed)
    chain = Chain()
    ahead = FakeAhead()
    chain.speaker.ahead = ahead  # type: ignore[attr-defined]
    holds = []
    for i in range(len(mic) // FRAME):
        a, b = round(i * 0.03 * SPEAKER), round((i + 1) * 0.03 * SPEAKER)
        ahead.underruns += i in seen
        played = np.clip(written[a:b], -32768, 32767).astype("<i2").tobytes()
        if chain.frame(pcm(mic[i * FRAME : (i + 1) * FRAME]), played, (i + 1) * FRAME / RATE):
            holds.append(round((i + 1) * FRAME / RATE, 2))
    assert holds == []
