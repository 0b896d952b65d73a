"""Process memory: keep a long-running service's RSS from creeping (glibc malloc settings).

A service that runs for months allocates and frees large buffers on every request (audio,
mel features, model outputs: hundreds of KiB each) from several worker threads. With glibc's
defaults two things make its resident size creep up for hours before it levels off:

* each new worker thread may get its own malloc arena (up to 8 per core), and freed memory
  in one arena is not reused by another;
* the threshold above which an allocation gets its own mmap (and is handed back to the
  kernel when freed) rises on its own up to 32 MiB, so after a while large buffers are
  carved from the heap and the freed space stays resident.

:func:`tune_malloc` caps the arenas and fixes the mmap/trim thresholds, the same knobs as the
``MALLOC_ARENA_MAX`` / ``MALLOC_MMAP_THRESHOLD_`` environment variables, set from inside the
process (where the environment is too late: glibc reads it before ``main``). It is a no-op
where the C library is not glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

_LOGGER = logging.getLogger(__name__)

# mallopt parameters (glibc malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8

ARENA_MAX = 2
MMAP_THRESHOLD = 256 * 1024  # bytes: larger blocks are mmapped and returned on free
TRIM_THRESHOLD = 1024 * 1024  # bytes of free heap top kept before it is returned


def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.gnu_get_libc_version.restype = ctypes.c_char_p
        libc.gnu_get_libc_version()
    except (OSError, AttributeError):
        return None
    return libc


def tune_malloc(*, arena_max: int = ARENA_MAX, mmap_threshold: int = MMAP_THRESHOLD,
                trim_threshold: int = TRIM_THRESHOLD) -> bool:
    """Apply the settings above; True if they took effect (glibc), False elsewhere."""
    libc = _glibc()
    if libc is None:
        return False
    ok = all(libc.mallopt(param, value) == 1 for param, value in (
        (M_ARENA_MAX, arena_max), (M_MMAP_THRESHOLD, mmap_threshold), (M_TRIM_THRESHOLD, trim_threshold)))
    _LOGGER.debug("malloc arena_max=%d mmap_threshold=%d trim_threshold=%d applied=%s",
                  arena_max, mmap_threshold, trim_threshold, ok)
    return ok

