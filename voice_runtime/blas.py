"""numpy's OpenBLAS on one thread in the whisper server and the satellite (session 26).

numpy's matrix products run on OpenBLAS, which starts a thread per core and wakes them for each product,
then lets them spin. The whisper server's products are small (faster-whisper's log-mel features: the mel
filter bank times a 2-4 s power spectrum, 80 x 201 x 300), far too small to share; on the shared 2-core box
the wake-ups and the spinning next to CTranslate2's own threads cost more than the work. Paired on the
end-of-turn corpus's 65 clips decoded as speculative finals (bench/whisper_blas_probe.py, 16:45 UTC, load
11.8-12.0): features 0.024 -> 0.002 s p50, the whole decode 0.393 -> 0.333 s p50 (paired ratio 0.821), every
text and score the same. Set from inside the process through ctypes (``OPENBLAS_NUM_THREADS`` is read
when numpy loads), as :func:`voice_runtime.memory.tune_malloc` sets malloc's arenas; a no-op (None) when
numpy's BLAS is not an OpenBLAS this finds.

The satellite calls it too: its echo chain's per-frame products (the canceller's prior rows times the
mic frame, etc.) are as small. Replaying a -6 dB room_bench tap through the whole chain
(``bench.echo_replay``, 17:03 UTC, load 11) took 21.6 / 20.1 s of user CPU on OpenBLAS's default threads
and 18.9 / 17.5 s on one (paired, two runs: 0.87x), same output.
"""

from __future__ import annotations

import ctypes
import logging
import re
from pathlib import Path
from typing import Any

_LOGGER = logging.getLogger(__name__)

# numpy's wheels ship OpenBLAS with a prefix and a 64-bit-integer suffix; a system OpenBLAS has neither
_PREFIXES = ("scipy_openblas_", "openblas_")
_SUFFIXES = ("64_", "")


def _openblas() -> Any:
    """The OpenBLAS library this process loaded for numpy, or None."""
    import numpy  # noqa: F401  (loads its BLAS)

    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return None
    for path in sorted(set(re.findall(r"(/\S*openblas\S*\.so\S*)", maps))):
        try:
            return ctypes.CDLL(path)
        except OSError:
            continue
    return None


def _function(lib: Any, what: str) -> Any:
    for prefix in _PREFIXES:
        for suffix in _SUFFIXES:
            found = getattr(lib, f"{prefix}{what}{suffix}", None)
            if found is not None:
                return found
    return None


def blas_threads(count: int | None = None) -> int | None:
    """Set numpy's OpenBLAS to ``count`` threads (None: leave it) and return its thread count now; None
    when no OpenBLAS was found."""
    lib = _openblas()
    if lib is None:
        return None
    get, put = _function(lib, "get_num_threads"), _function(lib, "set_num_threads")
    if get is None or put is None:
        return None
    if count is not None:
        put(ctypes.c_int(count))
    return int(get())


def single_blas_thread() -> int | None:
    """numpy's OpenBLAS on one thread (the server's start-up); its thread count after, None if not found."""
    before = blas_threads()
    after = blas_threads(1)
    _LOGGER.info("numpy's OpenBLAS threads %s -> %s", before, after)
    return after
