"""A third held-out split for the wake word, made (session 10) before any tuning of that session.

Session 7's ``fresh-held-out`` split (``bench/wake_verifier_data.FRESH_HELD_OUT``) was measured
at the end of sessions 7-9 and its misses were looked at in session 10 (``bench/wake_diagnose.py``),
so it is no clean test any more. Every English Kokoro voice is used by some split or by training,
so this one takes five of Kokoro's non-English voices that nothing has used (training used twelve
others, ``bench/wake_verifier_more.ACCENTED``), speaking English with American or British
phonemes: ``HELD_OUT_3``. Same design as the other splits: the four phrasings of
``bench/wake_bench.WAKE_TEXTS`` × 0/−10/−20 dB × clean/noisy = 24 utterances a voice, 120 in all,
with 2.5 s gaps (``bench/wake_splits.lay_out``), seed 17.

The voices' style vectors come from the kokoro-js package in the download cache (as
``bench/wake_verifier_more.py``'s accented voices). Written once into ``--cache``
(``held3.npy`` + ``held3.json``), read by ``bench/wake_verifier_eval.py --held-out-3`` and
``bench/wake_policy.py record --group held3``.

    python bench/wake_held_out_3.py --cache /tmp/wake-eval
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.wake_splits import cached_split, kokoro_split, split_main  # noqa: E402
from bench.wake_verifier_more import ACCENTED  # noqa: E402

# (voice, phonemes); chosen before session 10 tuned anything, never used by training or a bench
HELD_OUT_3 = (("jf_nezumi", "en-gb"), ("zf_xiaoni", "en-us"), ("hm_psi", "en-gb"), ("em_santa", "en-us"),
              ("zm_yunxi", "en-gb"))
SPLIT = "held-out-3"

assert not {v for v, _ in HELD_OUT_3} & set(ACCENTED)


def build(seed: int = 17) -> tuple[np.ndarray, list[dict[str, Any]]]:
    return kokoro_split(((voice, lang, 1.0) for voice, lang in HELD_OUT_3), seed, SPLIT)


def load(cache: Path) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """(audio, items), synthesised into ``cache`` the first time."""
    return cached_split(cache, "held3", build)


if __name__ == "__main__":
    split_main(__doc__, load)
