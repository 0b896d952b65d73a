"""Round 2 of the wake verifier's training corpus: more voices and hard negatives (offline).

Added to ``bench/wake_verifier_data.py``'s corpus (its first 4 rounds, 280 clips, unchanged):

- speakers: the older held-out voices of the wake benches (``HELD_OUT_VOICES`` and
  ``NEW_HELD_OUT_VOICES``: they bring the British female voices bf_isabella and bf_alice; they
  were looked at while choosing first-stage cutoffs, so they were no clean test any more), Kokoro's
  non-English voices speaking English (``ACCENTED``, from the kokoro-js package's ``voices/*.bin``
  when it is in the download cache), ``BLENDS`` style-vector mixes (half with a British female
  voice), more Piper takes. ``FRESH_HELD_OUT`` stays out: it is the held-out test.
- texts: ``HARD_NEGATIVES`` (near misses of "Okay Nabu": "Okay, Napoli.", "Oh, can a boo.", "Hey
  Nabu." …) and ``OKAY_SENTENCES`` (everyday speech starting with "okay"), for every speaker of
  both rounds; wake phrases for the new speakers. The near misses of
  ``bench/wake_false_accepts.py`` are *not* here except the three the issue names ("Okay,
  Napoli.", "Okay, no booze.", "Okay, now then."), so that corpus keeps unseen near misses.
  "Okay, nah boo." is left out: Kokoro says it exactly as "Okay Nabu" (``nˈɑː bˈuː``).

Every clip is synthesised once into ``--cache`` (as round 1) and turned at once into the
verifier's training windows (``bench/wake_verifier_train.clip_windows``, saved per clip in
``--feat``), so generation can stop at any time and training uses what is there. Jobs are
interleaved (every speaker's first clip, then every second …) and split between ``--part i/n``
processes. Run under ``nice -n 19``.

    nice -n 19 python bench/wake_verifier_more.py --cache /tmp/wake-cache --feat /tmp/wake-feat --part 0/2
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.wake_bench import HELD_OUT_VOICES  # noqa: E402
from bench.wake_cascade import NEW_HELD_OUT_VOICES  # noqa: E402
from bench.wake_splits import generate, generation_args, kokoro_js_styles  # noqa: E402
from bench.wake_verifier_data import FRESH_HELD_OUT, SENTENCES, TRAIN_VOICES, WAKE_PHRASES, Clip, Speaker, plan  # noqa: E402

ROUND2_VOICES = (*HELD_OUT_VOICES, *NEW_HELD_OUT_VOICES)
ACCENTED = ("ff_siwis", "if_sara", "ef_dora", "pf_dora", "hf_alpha", "hf_beta", "zf_xiaobei", "jf_alpha",
            "em_alex", "im_nicola", "hm_omega", "pm_alex")
BRITISH_FEMALE = ("bf_emma", "bf_isabella", "bf_alice")
BLENDS = 30
PIPER_TAKES = 6
HARD_NEGATIVES = ("Okay, Napoli.", "Okay, no booze.", "Okay, now then.", "Oh, can a boo.", "Hey, Nabu.",
                  "Hey Nabu-ish.", "Okay, Nemo.", "Okay, Naples.", "Okay, Nevada.", "Okay, new boat.",
                  "Okay, Nala.", "Okay, Napa.", "Okay, nah.", "Okay, my view.", "Okay, Nando's.",
                  "Okay, Nebula.", "Okay, no boo.", "Okay, Noah, bye.", "Okay, Nicky.", "Okay, now, Bob.",
                  "Okay, Lulu.", "Okay, Matthew.", "Okay, Hannah, boo.", "Okay, voodoo.", "Oh, can a boot.",
                  "Okay, neighbour.", "Okay, never.", "I'm okay, Nabil.", "Okay, canoe.", "Okay, Nagoya.")
OKAY_SENTENCES = ("Okay, I'll call you later.", "Okay, I'll call you tomorrow morning.",
                  "Okay, I'll be home by six.", "Okay, now we can go.", "Okay, no worries.",
                  "Okay, not a problem.", "Okay, I'll have a look.", "Okay, next one.", "Okay, nice work.",
                  "Okay, now put it back.", "Okay, I know.", "Okay, never mind.",
                  "Okay, so the bus leaves at noon.", "Okay, I'll text you when I'm there.",
                  "Okay, now boil the water.", "Okay, no more biscuits tonight.", "Okay, let's go to bed.",
                  "Okay, I'll ring you back.", "Okay, bye for now.", "Okay, got it, thanks.")
NEW_WAKE, NEW_MISSES, OLD_MISSES = 4, 4, 3  # per speaker (each also says one okay-sentence)

assert not set(ROUND2_VOICES) & set(FRESH_HELD_OUT)
assert not set(ACCENTED) & set(FRESH_HELD_OUT)


def accented_styles() -> dict[str, np.ndarray]:
    """Kokoro's non-English voices (510 × 1 × 256 float32 each) from the kokoro-js package, if cached."""
    return kokoro_js_styles(ACCENTED, required=False)


def new_speakers(seed: int = 8, accented: tuple[str, ...] = ACCENTED) -> list[Speaker]:
    rng = np.random.default_rng(seed)
    out = [Speaker(v, lang, float(rng.uniform(0.85, 1.2)), v) for v in ROUND2_VOICES for lang in ("en-us", "en-gb")]
    out += [Speaker(v, str(rng.choice(["en-us", "en-gb"])), float(rng.uniform(0.85, 1.15)), v) for v in accented]
    pool = (*TRAIN_VOICES, *ROUND2_VOICES)
    for k in range(BLENDS):
        a = str(rng.choice(BRITISH_FEMALE)) if k % 2 == 0 else str(rng.choice(pool))
        b = str(rng.choice([v for v in pool if v != a]))
        w = float(rng.uniform(0.3, 0.8))
        out.append(Speaker(f"blend:{a}+{b}@{w:.2f}", "en-gb" if a.startswith("bf") else str(rng.choice(
            ["en-us", "en-gb"])), float(rng.uniform(0.85, 1.2)), a, b, w))
    out += [Speaker(f"piper:r2-{k}", "", float(rng.uniform(0.8, 1.25))) for k in range(PIPER_TAKES)]
    return out


def plan2(seed: int = 8, accented: tuple[str, ...] = ACCENTED) -> list[tuple[Speaker, str, int]]:
    """Round 2's jobs, interleaved: every speaker's first clip first."""
    rng = np.random.default_rng(seed + 1)
    old = list(dict.fromkeys(job[0] for job in plan(5, 4)))
    table: list[list[tuple[Speaker, str, int]]] = []
    for n, speaker in enumerate([*new_speakers(seed, accented), *old]):
        fresh = n < len(new_speakers(seed, accented))
        misses = [(speaker, str(t), 0) for t in rng.choice(HARD_NEGATIVES, NEW_MISSES if fresh else OLD_MISSES,
                                                           replace=False)]
        wake = [(speaker, str(t), 1) for t in rng.choice(WAKE_PHRASES, NEW_WAKE, replace=False)] if fresh else []
        mine = [job for pair in zip(misses, wake + [None] * len(misses), strict=False) for job in pair if job]
        mine.insert(2, (speaker, str(rng.choice(OKAY_SENTENCES)), 0))
        mine += wake[len(misses):]
        if fresh and n % 5 == 0:
            mine.append((speaker, SENTENCES[n % len(SENTENCES)], 0))
        for k, job in enumerate(mine):
            while len(table) <= k:
                table.append([])
            table[k].append(job)
    return [job for jobs in table for job in jobs]


def clip_path(cache: Path, speaker: Speaker, text: str) -> Path:
    key = hashlib.sha1(json.dumps([speaker.name, speaker.lang, speaker.speed, text]).encode()).hexdigest()[:16]
    return cache / f"{key}.npy"


def clips2(cache: Path, seed: int = 8) -> list[Clip]:
    """Round 2's clips that are in ``cache`` (generation may have stopped early)."""
    out = []
    for speaker, text, label in plan2(seed):
        path = clip_path(cache, speaker, text)
        if path.exists():
            out.append(Clip(speaker.name, text, label, path))
    return out


def main() -> None:
    generate(generation_args(__doc__, "/tmp/wake-feat"), plan2(), 8, accented_styles)


if __name__ == "__main__":
    main()
