"""Frames made to order for the echo judge's tests (satellite.echojudge): a playback, a voice the
playback does not explain, and 16-bit PCM of them. Shared by the judge's tests so each states only
the echo it is about."""

from __future__ import annotations

import numpy as np

FRAME = 480
RATE = 16000
ERLE_DB = 21.0  # what the tests' canceller takes out of the playback's echo
T = np.arange(FRAME) / RATE
VOICE = 6000.0 * np.sin(2 * np.pi * 200.0 * T) + 250.0 * np.random.default_rng(1).standard_normal(FRAME)
OTHER = np.random.default_rng(2).standard_normal(FRAME)  # a voice the playback does not explain


def pcm(x: np.ndarray) -> bytes:
    return bytes(np.clip(np.round(x), -32768, 32767).astype("<i2").tobytes())
