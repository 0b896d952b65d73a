"""A fourth held-out split for the wake word, made (session 11) before any tuning of that session.

Sessions 7-10 measured ``fresh-held-out`` (``bench/wake_verifier_data.FRESH_HELD_OUT``) and
``held-out-3`` (``bench/wake_held_out_3.py``) and looked at their misses, so session 11 tunes on
them. Every English Kokoro voice is used by some split or by training, and so are 17 of its
non-English ones; this split takes seven of the nine that nothing has used (``HELD_OUT_4``),
speaking English, four with British phonemes (there is no unused native British voice: the
British-phoneme speakers stand in), each at its own speaking rate (0.85-1.15, seed 19), so that a
rate the first stage dislikes shows up. Same design as the other splits (``bench/wake_splits.lay_out``):
the four phrasings of ``bench/wake_bench.WAKE_TEXTS`` × 0/−10/−20 dB × clean/noisy = 24
utterances a voice, 168 in all. Measured once, at the end of the session.

Written once into ``--cache`` (``held4.npy`` + ``held4.json``); read by
``bench/wake_verifier_eval.py --groups held4`` and ``bench/wake_policy.py record --group held4``.

    python bench/wake_held_out_4.py --cache /tmp/wake-eval
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.wake_held_out_3 import HELD_OUT_3  # noqa: E402
from bench.wake_splits import cached_split, kokoro_split, split_main  # noqa: E402
from bench.wake_verifier_more import ACCENTED  # noqa: E402

# (voice, phonemes); chosen before session 11 tuned anything, never used by training or a bench
HELD_OUT_4 = (("jf_gongitsune", "en-gb"), ("zf_xiaoyi", "en-gb"), ("zf_xiaoxiao", "en-us"), ("pm_santa", "en-gb"),
              ("zm_yunyang", "en-us"), ("jm_kumo", "en-gb"), ("zm_yunjian", "en-us"))
SPLIT = "held-out-4"
SEED = 19

assert not {v for v, _ in HELD_OUT_4} & {*ACCENTED, *(v for v, _ in HELD_OUT_3)}


def speeds(seed: int = SEED) -> list[float]:
    rng = np.random.default_rng(seed)
    return [round(float(rng.uniform(0.85, 1.15)), 2) for _ in HELD_OUT_4]


def build(seed: int = SEED) -> tuple[np.ndarray, list[dict[str, Any]]]:
    return kokoro_split(((voice, lang, speed) for (voice, lang), speed in zip(HELD_OUT_4, speeds(seed), strict=True)),
                        seed, SPLIT)


def load(cache: Path) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """(audio, items), synthesised into ``cache`` the first time."""
    return cached_split(cache, "held4", build)


if __name__ == "__main__":
    split_main(__doc__, load)
