"""libspeexdsp's acoustic echo canceller (MDF, a frequency-domain adaptive filter) over ctypes.

The native library is Debian's ``libspeexdsp1`` (Raspberry Pi OS too; ``brew install
speexdsp`` on macOS; ``SPEEXDSP_LIB=/path/libspeexdsp.so`` to point at another build). Its
C API has been stable since 2008. Pure and synchronous.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from typing import Any

import numpy as np

_SET_SAMPLING_RATE = 24  # speex_echo.h SPEEX_ECHO_SET_SAMPLING_RATE
_GET_IMPULSE_RESPONSE_SIZE = 27
_GET_IMPULSE_RESPONSE = 29
_I16P = ctypes.POINTER(ctypes.c_int16)
QUIET_DBFS = -55.0  # a mic frame this quiet holds no echo worth cancelling: the output never exceeds it


def load_library() -> Any:
    """The loaded libspeexdsp, or None when it is not installed."""
    names = [
        os.environ.get("SPEEXDSP_LIB", ""),
        "libspeexdsp.so.1",
        ctypes.util.find_library("speexdsp") or "",
        "libspeexdsp.dylib",
    ]
    for name in filter(None, names):
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        if hasattr(lib, "speex_echo_state_init"):
            lib.speex_echo_state_init.restype = ctypes.c_void_p
            lib.speex_echo_state_init.argtypes = [ctypes.c_int, ctypes.c_int]
            lib.speex_echo_ctl.restype = ctypes.c_int
            lib.speex_echo_ctl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
            lib.speex_echo_cancellation.restype = None
            lib.speex_echo_cancellation.argtypes = [ctypes.c_void_p, _I16P, _I16P, _I16P]
            lib.speex_echo_state_reset.restype = None
            lib.speex_echo_state_reset.argtypes = [ctypes.c_void_p]
            lib.speex_echo_state_destroy.restype = None
            lib.speex_echo_state_destroy.argtypes = [ctypes.c_void_p]
            return lib
    return None


def _energy(frame: np.ndarray[Any, np.dtype[np.int16]]) -> int:
    return int(np.dot(frame.astype(np.int64), frame.astype(np.int64)))


class SpeexEchoCanceller:
    """Cancels ``far`` (the playback) from ``near`` (the mic), 16-bit mono, ``frame_size`` at a time.

    A quiet mic frame (at most ``QUIET_DBFS``) that the canceller made louder is passed through as
    it is: it holds no echo worth cancelling, and the output is the filter's prediction of an echo
    that is not there. (Only quiet frames: over a loud echo a filter still adapting may add more
    than it takes for a moment, and the echo judge needs its output then.) With no echo path (a
    speaker the mic cannot hear) speex adapts on the user's words spoken over the playback and
    learns such an echo; on a digitally silent mic (a muted or very quiet one) the next tone or
    reply then came out at -50 to -59 dBFS as "speech" of its own, and the VAD, with a noise floor
    of zero, opened turns on it (tests/test_satellite_aec_silence.py).
    """

    def __init__(self, lib: Any, rate: int, frame_size: int, tail_ms: int) -> None:
        self._lib = lib
        self.frame_size = frame_size
        self._state = lib.speex_echo_state_init(frame_size, max(frame_size, rate * tail_ms // 1000))
        if not self._state:
            raise RuntimeError("speex_echo_state_init failed")
        value = ctypes.c_int(rate)
        lib.speex_echo_ctl(self._state, _SET_SAMPLING_RATE, ctypes.byref(value))
        self._out = np.zeros(frame_size, dtype=np.int16)
        self._quiet = frame_size * int(32768 * 10 ** (QUIET_DBFS / 20)) ** 2  # a frame's energy at QUIET_DBFS

    def process(
        self, near: np.ndarray[Any, np.dtype[np.int16]], far: np.ndarray[Any, np.dtype[np.int16]]
    ) -> np.ndarray[Any, np.dtype[np.int16]]:
        """``near`` and ``far`` of the same length, a multiple of ``frame_size``."""
        near = np.ascontiguousarray(near, dtype=np.int16)
        far = np.ascontiguousarray(far, dtype=np.int16)
        out = np.empty_like(near)
        n = self.frame_size
        for start in range(0, len(near) - n + 1, n):
            rec, play = near[start : start + n], far[start : start + n]
            self._lib.speex_echo_cancellation(
                self._state, rec.ctypes.data_as(_I16P), play.ctypes.data_as(_I16P), self._out.ctypes.data_as(_I16P)
            )
            mic = _energy(rec)
            out[start : start + n] = rec if mic <= self._quiet and _energy(self._out) > mic else self._out
        return out

    def impulse_response(self) -> np.ndarray[Any, np.dtype[np.float64]]:
        """The echo path the filter has learned (its length is the tail; arbitrary scale)."""
        size = ctypes.c_int(0)
        self._lib.speex_echo_ctl(self._state, _GET_IMPULSE_RESPONSE_SIZE, ctypes.byref(size))
        out = (ctypes.c_int32 * max(size.value, 0))()
        self._lib.speex_echo_ctl(self._state, _GET_IMPULSE_RESPONSE, out)
        return np.array(out[:], dtype=np.float64)

    def reset(self) -> None:
        self._lib.speex_echo_state_reset(self._state)

    def close(self) -> None:
        if self._state:
            self._lib.speex_echo_state_destroy(self._state)
            self._state = None

    def __del__(self) -> None:
        self.close()
