"""The speaker→mic delay, found by cross-correlating the playback with the raw mic.

Pure and synchronous. The echo canceller models the echo path up to its tail; when the delay
changes under it (a restarted sound command starts with another buffer level, a frame the
sink dropped), speex needs 3–6 s to adapt again. :class:`EchoDelay` measures the delay
(GCC-PHAT over the last ``window_ms`` of audio, every ``every_ms`` while the playback is
audible) so that :class:`satellite.aec.AudioFrontend` can delay the reference by the bulk of
it: the canceller then always sees the same short delay, whatever the device did.

Cost: one 32768-point real FFT pair every 0.25 s while a reply plays (~1 ms).
"""

from __future__ import annotations

from typing import Any

import numpy as np

Pcm = np.ndarray[Any, np.dtype[np.int16]]


class EchoDelay:
    def __init__(self, rate: int = 16000, *, window_ms: int = 750, max_lag_ms: int = 480, every_ms: int = 250,
                 min_dbfs: float = -50.0, min_sharpness: float = 20.0) -> None:
        self.window = rate * window_ms // 1000
        self.max_lag = rate * max_lag_ms // 1000
        self.every = rate * every_ms // 1000
        self._mic = np.zeros(self.window, dtype=np.float32)
        self._ref = np.zeros(self.window + self.max_lag, dtype=np.float32)
        self._min_power = float((32768.0 * 10 ** (min_dbfs / 20)) ** 2)
        self._min_sharpness = min_sharpness
        self._since = 0
        self._n = 1 << int(np.ceil(np.log2(self.window + self.max_lag)))
        self.lag: int | None = None  # the last confident estimate (samples)
        self.sharpness = 0.0

    def push(self, mic: Pcm, ref: Pcm) -> int | None:
        """Add one frame of each (same length); returns a new confident estimate when one is made."""
        k = len(mic)
        self._mic = np.concatenate([self._mic[k:], mic.astype(np.float32)])
        self._ref = np.concatenate([self._ref[k:], ref.astype(np.float32)])
        self._since += k
        if self._since < self.every:
            return None
        self._since = 0
        return self._estimate()

    def _estimate(self) -> int | None:
        ref_now = self._ref[self.max_lag:]  # the playback of the same window as the mic
        if float(np.mean(ref_now * ref_now)) < self._min_power or float(np.mean(self._mic * self._mic)) < 1e-3 * \
                self._min_power:
            return None
        spec = np.conj(np.fft.rfft(self._mic, self._n)) * np.fft.rfft(self._ref, self._n)
        corr = np.fft.irfft(spec / (np.abs(spec) + 1e-9), self._n)[: self.max_lag + 1]
        # corr[k] = sum mic[t] * ref[t + k]; the echo of ref[t'] is heard at mic time t' + lag,
        # i.e. at k = max_lag - lag.
        k = int(np.argmax(corr))
        self.sharpness = float(corr[k] / (np.mean(np.abs(corr)) + 1e-12))
        if self.sharpness < self._min_sharpness:
            return None
        self.lag = self.max_lag - k
        return self.lag
