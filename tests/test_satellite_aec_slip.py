"""satellite.aec_slip: the echo as the canceller's estimate heard a speaker sample or two later (or not)."""

from __future__ import annotations

import numpy as np

from satellite.aec_slip import Slip
from satellite.realign import delayed

STEP = 16000 / 22050  # one speaker sample at 16 kHz
N = 480


def _speechlike(rng: np.random.Generator, n: int) -> np.ndarray:
    """Low-passed noise at about -12 dBFS (the echo of a reply's loud frame)."""
    x = np.convolve(rng.standard_normal(n + 64), np.hanning(9), mode="same")[32 : 32 + n]
    out: np.ndarray = 8000 * x / np.sqrt(np.mean(x * x))
    return out


def _frames(
    shift: float, user: float = 0.0, seed: int = 0, scale: float = 1.0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(mic, output) of three frames: the canceller's estimate is ``scale`` times the echo; the mic holds
    the echo ``shift`` samples later (a windowed sinc) plus ``user`` (RMS) of an unrelated voice."""
    rng = np.random.default_rng(seed)
    head = 64
    echo = _speechlike(rng, head + 3 * N + 64)
    heard = delayed(echo, head + 3 * N - shift, 3 * N) if shift else echo[head : head + 3 * N]
    estimate = scale * echo[head : head + 3 * N]
    voice = _speechlike(rng, 3 * N) * (user / 8000)
    mic = np.round(heard + voice)
    out = mic - estimate
    return [(mic[i * N : (i + 1) * N], out[i * N : (i + 1) * N]) for i in range(3)]


def test_a_one_sample_slip_is_found_and_its_frame_cancelled_on_the_moved_path() -> None:
    slip = Slip(STEP)
    results = [slip.check(mic, out) for mic, out in _frames(STEP)]
    assert results[0] is None or results[0][0] == STEP  # (the first frame has no estimate before it)
    found = [r for r in results[1:] if r is not None]
    assert found, f"not found (gain {slip.gain_db:.1f} dB)"
    shift, corrected = found[0]
    assert shift == STEP
    mic, out = _frames(STEP)[1]
    before = 10 * np.log10(np.dot(mic, mic) / np.dot(out, out))
    after = 10 * np.log10(np.dot(mic, mic) / np.dot(corrected, corrected))
    assert after >= before + 10, f"cancelled {before:.1f} dB as it was, {after:.1f} dB on the moved path"


def test_no_slip_on_an_echo_on_its_path_nor_on_a_voice_over_a_slipped_one() -> None:
    slip = Slip(STEP)  # on its path but underrated: 10 dB left, as a slip leaves, but no shift explains it
    assert [slip.check(mic, out) for mic, out in _frames(0.0, scale=0.7)] == [None, None, None]
    assert slip.gain_db < 1.0
    # A user as loud as the echo over a slipped one: the shift takes out only the small residue, not the voice.
    slip = Slip(STEP)
    assert [slip.check(mic, out) for mic, out in _frames(STEP, user=8000.0, seed=1)] == [None, None, None]
