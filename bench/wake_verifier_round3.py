"""Round 3 of the wake verifier's training corpus (session 10): British voices and new near misses.

Why (``bench/wake_diagnose.py`` on session 9's fresh held-out misses): 9 of 15 misses were
candidates microWakeWord scored 0.06-0.2 that our verifier scored 0.95-0.99, under the strict
cutoff (0.99) such weak candidates need; one more was scored 0.905 (< 0.93). Most were the British
female voice bf_lily. So the verifier should be surer of "Okay Nabu" in British voices and no
surer of near misses. Added to rounds 1-2 (``bench/wake_verifier_data.py``,
``bench/wake_verifier_more.py``):

- speakers: ``BLENDS`` new style-vector mixes with a British voice first (``BRITISH``: the
  British voices training already uses; bf_lily and bm_fable stay out: the fresh held-out split)
  and any training voice second, mostly with British phonemes, plus the British voices
  themselves at new speeds (0.8-1.2);
- texts: the wake phrases (the short "Okay Nabu." / "Okay, Nabu." twice as often) and
  ``NEAR_MISSES_3``, near misses no corpus has used; the near misses of
  ``bench/wake_false_accepts.py``'s material stay out, so that corpus keeps unseen ones, and so do
  the voices of ``bench/wake_held_out_3.HELD_OUT_3``.

As round 2: every clip synthesised once into ``--cache`` and turned at once into training windows
in ``--feat`` (per clip); jobs interleaved (every speaker's first clip first) and split between
``--part i/n`` processes; ``--until HH:MM`` stops generation. Run under ``nice``.

    nice -n 10 python bench/wake_verifier_round3.py --cache /tmp/wake-cache --feat /tmp/wake-feat3 --part 0/2
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.wake_held_out_3 import HELD_OUT_3  # noqa: E402
from bench.wake_splits import generate, generation_args  # noqa: E402
from bench.wake_verifier_data import (  # noqa: E402
    FRESH_HELD_OUT,
    TRAIN_VOICES,
    WAKE_PHRASES,
    Clip,
    Speaker,
)
from bench.wake_verifier_more import OKAY_SENTENCES, ROUND2_VOICES, accented_styles, clip_path  # noqa: E402

BRITISH = ("bf_emma", "bf_isabella", "bf_alice", "bm_george", "bm_daniel", "bm_lewis")
BLENDS = 36
NEAR_MISSES_3 = ("Okay, nachos.", "Okay, Naruto.", "Okay, Nobu.", "Okay, nappy.", "Okay, Navarro.",
                 "Okay, no boots.", "Okay, Nadal.", "Okay, Nagano.", "Okay, new view.", "Okay, now, boo!",
                 "Okay, nab you.", "Okay, Nelly.", "Okay, noble.", "Okay, Noel.", "Okay, Nova.", "Okay, nanny.",
                 "Okay, Nadine.", "Okay, Norway.", "Okay, no bother.", "Okay, Anna, boo.", "Okay, nah, you.",
                 "Okay, Nando.", "Okay, Nepal.", "Okay, Nabeel's here.", "Okay, Lu, bye.", "Okay, nobody.")
WAKE_3 = ("Okay Nabu.", "Okay, Nabu.", *WAKE_PHRASES)  # the short forms twice
PER_SPEAKER = (4, 4)  # wake phrases, near misses (and one okay-sentence)

assert not set(BRITISH) & {*FRESH_HELD_OUT, *(v for v, _ in HELD_OUT_3)}
assert set(BRITISH) <= {*TRAIN_VOICES, *ROUND2_VOICES}


def speakers3(seed: int = 10) -> list[Speaker]:
    rng = np.random.default_rng(seed)
    pool = (*TRAIN_VOICES, *ROUND2_VOICES)
    out = [Speaker(v, "en-gb", float(s), v) for v in BRITISH for s in (0.82, 1.18)]
    for _ in range(BLENDS):
        a = str(rng.choice(BRITISH))
        b = str(rng.choice([v for v in pool if v != a]))
        w = float(rng.uniform(0.35, 0.85))
        lang = "en-gb" if rng.random() < 0.75 else "en-us"
        out.append(Speaker(f"blend3:{a}+{b}@{w:.2f}", lang, float(rng.uniform(0.8, 1.2)), a, b, w))
    return out


def plan3(seed: int = 10) -> list[tuple[Speaker, str, int]]:
    """Round 3's jobs, interleaved: every speaker's first clip first."""
    rng = np.random.default_rng(seed + 1)
    table: list[list[tuple[Speaker, str, int]]] = []
    for speaker in speakers3(seed):
        wake = [(speaker, str(t), 1) for t in rng.choice(WAKE_3, PER_SPEAKER[0], replace=False)]
        misses = [(speaker, str(t), 0) for t in rng.choice(NEAR_MISSES_3, PER_SPEAKER[1], replace=False)]
        mine = [job for pair in zip(wake, misses, strict=True) for job in pair]
        mine.insert(3, (speaker, str(rng.choice(OKAY_SENTENCES)), 0))
        for k, job in enumerate(mine):
            while len(table) <= k:
                table.append([])
            table[k].append(job)
    return [job for jobs in table for job in jobs]


def clips3(cache: Path, seed: int = 10) -> list[Clip]:
    """Round 3's clips that are in ``cache`` (generation may have stopped early)."""
    return [Clip(s.name, t, y, p) for s, t, y in plan3(seed) if (p := clip_path(cache, s, t)).exists()]


def main() -> None:
    generate(generation_args(__doc__, "/tmp/wake-feat3"), plan3(), 30, accented_styles)


if __name__ == "__main__":
    main()
