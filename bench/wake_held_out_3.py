"""A third held-out split for the wake word, made (session 10) before any tuning of that session.

Session 7's ``fresh-held-out`` split (``bench/wake_verifier_data.FRESH_HELD_OUT``) was measured
at the end of sessions 7-9 and its misses were looked at in session 10 (``bench/wake_diagnose.py``),
so it is no clean test any more. Every English Kokoro voice is used by some split or by training,
so this one takes five of Kokoro's non-English voices that nothing has used (training used twelve
others, ``bench/wake_verifier_more.ACCENTED``), speaking English with American or British
phonemes: ``HELD_OUT_3``. Same design as the other splits: the four phrasings of
``bench/wake_bench.WAKE_TEXTS`` × 0/−10/−20 dB × clean/noisy = 24 utterances a voice, 120 in all,
with 2.5 s gaps (``bench/wake_cascade.new_held_out``'s layout), seed 17.

The voices' style vectors come from the kokoro-js package in the download cache (as
``bench/wake_verifier_more.py``'s accented voices). Written once into ``--cache``
(``held3.npy`` + ``held3.json``), read by ``bench/wake_verifier_eval.py --held-out-3`` and
``bench/wake_policy.py record --group held3``.

    python bench/wake_held_out_3.py --cache /tmp/wake-eval
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.wake_bench import GAINS_DB, RATE, WAKE_TEXTS, noise, wake_offset  # noqa: E402
from bench.wake_verifier_more import ACCENTED  # noqa: E402

# (voice, phonemes); chosen before session 10 tuned anything, never used by training or a bench
HELD_OUT_3 = (("jf_nezumi", "en-gb"), ("zf_xiaoni", "en-us"), ("hm_psi", "en-gb"), ("em_santa", "en-us"),
              ("zm_yunxi", "en-gb"))
SPLIT = "held-out-3"

assert not {v for v, _ in HELD_OUT_3} & set(ACCENTED)


def styles(names: list[str]) -> dict[str, np.ndarray]:
    import tarfile

    from bench.wake_verifier_more import KOKORO_JS

    out = {}
    with tarfile.open(KOKORO_JS) as tar:
        for name in names:
            member = tar.extractfile(f"package/voices/{name}.bin")
            assert member is not None, name
            out[name] = np.frombuffer(member.read(), dtype=np.float32).reshape(510, 1, 256).copy()
    return out


def build(seed: int = 17) -> tuple[np.ndarray, list[dict[str, Any]]]:
    from bench.wake_verifier_data import Speaker, Synth

    synth = Synth()
    synth.styles.update(styles([v for v, _ in HELD_OUT_3]))
    rng = np.random.default_rng(seed)
    stream, items, pos = [], [], 0
    gap = np.zeros(int(2.5 * RATE))
    for voice, lang in HELD_OUT_3:
        for text in WAKE_TEXTS:
            audio = synth.say(Speaker(voice, lang, 1.0, voice), text, seed)
            end = wake_offset(audio, text)
            for gain in GAINS_DB:
                for noisy in (False, True):
                    x = audio * 10 ** (gain / 20)
                    if noisy:
                        x = x + noise(len(x), -50 + gain / 2, rng)
                    lead = np.zeros(int(0.5 * RATE))
                    seg = np.concatenate([lead, x])
                    begin = (pos + len(lead)) / RATE
                    items.append({"voice": f"{SPLIT}:{voice}/{lang}@1.0", "text": text, "gain_db": gain,
                                  "noisy": noisy, "start": begin, "split": SPLIT, "wake_end": begin + end,
                                  "end": (pos + len(seg)) / RATE})
                    stream += [seg, gap]
                    pos += len(seg) + len(gap)
    return np.concatenate(stream), items


def load(cache: Path) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """(audio, items), synthesised into ``cache`` the first time."""
    audio_path, items_path = cache / "held3.npy", cache / "held3.json"
    if not items_path.exists():
        audio, items = build()
        np.save(audio_path, np.clip(np.round(audio), -32768, 32767).astype(np.int16))
        items_path.write_text(json.dumps(items) + "\n")
    return np.load(audio_path).astype(np.float64), json.loads(items_path.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/wake-eval"))
    args = parser.parse_args()
    audio, items = load(args.cache)
    print(f"{len(items)} utterances, {len(audio) / RATE / 60:.1f} min")


if __name__ == "__main__":
    main()
