"""Shared by the wake benches: one split's layout, Kokoro's extra voices, cached splits, training-clip generation.

- :func:`lay_out`: clips → one stream: every clip at 0/−10/−20 dB (``GAINS_DB``), clean and noisy
  (noise at −50 + gain/2 dBFS), 0.5 s of silence before it and a 2.5 s gap after, with an item per
  utterance (start, end of the wake word, split). ``bench/wake_cascade.new_held_out``,
  ``bench/wake_held_out_3.py`` and ``bench/wake_held_out_4.py`` lay out their splits with it.
- :func:`kokoro_split`, :func:`split_main`: a held-out split of such voices and its command line
  (``bench/wake_held_out_3.py``, ``bench/wake_held_out_4.py``); ``bench/wake_bench.positives``
  lays out its corpus with :func:`lay_out` too.
- :func:`kokoro_js_styles`: Kokoro voices that ``kokoro-onnx``'s voice file lacks (the non-English
  ones), from the kokoro-js package in the download cache.
- :func:`cached_split`: a split written once into ``cache`` (``NAME.npy`` int16 + ``NAME.json``).
- :func:`generate`: the training rounds' loop (``bench/wake_verifier_more.py``, ``..._round3.py``):
  every job's clip synthesised once into ``cache`` and turned at once into training windows in
  ``feat``, split between ``--part i/n`` processes, stopping at ``--until``.
"""

from __future__ import annotations

import argparse
import json
import tarfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from bench.wake_bench import GAINS_DB, RATE, WAKE_TEXTS, noise, wake_offset

KOKORO_JS = Path.home() / ".cache" / "hearth" / "downloads" / "kokoro-js-1.2.1.tgz"


def lay_out(clips: Iterable[tuple[np.ndarray, str, str]], rng: np.random.Generator, split: str | Callable[[str], str]
            ) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """``clips``: (audio at 16 kHz, voice label, text). Returns (stream, items).

    ``split``: the split's name (items' voice is ``split:label``), or a function naming each clip's
    split from its label (items' voice is the label; ``bench/wake_bench.positives``)."""
    stream, items, pos = [], [], 0
    gap = np.zeros(int(2.5 * RATE))
    for audio, voice, text in clips:
        end = wake_offset(audio, text)  # on the clean clip: quieter copies end at the same time
        for gain in GAINS_DB:
            for noisy in (False, True):
                x = audio * 10 ** (gain / 20)
                if noisy:
                    x = x + noise(len(x), -50 + gain / 2, rng)
                lead = np.zeros(int(0.5 * RATE))
                seg = np.concatenate([lead, x])
                begin = (pos + len(lead)) / RATE
                items.append({"voice": f"{split}:{voice}" if isinstance(split, str) else voice, "text": text,
                              "gain_db": gain, "noisy": noisy, "start": begin,
                              "split": split if isinstance(split, str) else split(voice), "wake_end": begin + end,
                              "end": (pos + len(seg)) / RATE})
                stream += [seg, gap]
                pos += len(seg) + len(gap)
    return np.concatenate(stream), items


def kokoro_js_styles(names: Iterable[str], required: bool = True) -> dict[str, np.ndarray]:
    """Style vectors (510 × 1 × 256 float32) of these voices from the kokoro-js package;
    ``required=False``: {} when the package is not cached, and missing voices skipped."""
    if not required and not KOKORO_JS.exists():
        return {}
    out = {}
    with tarfile.open(KOKORO_JS) as tar:
        for name in names:
            member = tar.extractfile(f"package/voices/{name}.bin")
            if member is None:
                assert not required, name
                continue
            out[name] = np.frombuffer(member.read(), dtype=np.float32).reshape(510, 1, 256).copy()
    return out


def kokoro_split(speakers: Iterable[tuple[str, str, float]], seed: int, split: str
                 ) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """A held-out split of Kokoro voices missing from ``kokoro-onnx`` (:func:`kokoro_js_styles`), each
    ``(voice, phonemes, speed)`` saying the four ``WAKE_TEXTS``, laid out by :func:`lay_out` (``seed``)."""
    from bench.wake_verifier_data import Speaker, Synth

    speakers = list(speakers)
    synth = Synth()
    synth.styles.update(kokoro_js_styles(voice for voice, _, _ in speakers))
    clips = ((synth.say(Speaker(voice, lang, speed, voice), text, seed), f"{voice}/{lang}@{speed}", text)
             for voice, lang, speed in speakers for text in WAKE_TEXTS)
    return lay_out(clips, np.random.default_rng(seed), split)


def split_main(doc: str | None, load: Callable[[Path], tuple[np.ndarray, list[dict[str, Any]]]]) -> None:
    """A held-out split script's command line: ``--cache DIR`` (default /tmp/wake-eval); builds it once."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/wake-eval"))
    args = parser.parse_args()
    audio, items = load(args.cache)
    print(f"{len(items)} utterances, {len(audio) / RATE / 60:.1f} min")


def cached_split(cache: Path, name: str, build: Callable[[], tuple[np.ndarray, list[dict[str, Any]]]]
                 ) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """(audio, items), built and written into ``cache`` the first time."""
    audio_path, items_path = cache / f"{name}.npy", cache / f"{name}.json"
    if not items_path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        audio, items = build()
        np.save(audio_path, np.clip(np.round(audio), -32768, 32767).astype(np.int16))
        items_path.write_text(json.dumps(items) + "\n")
    return np.load(audio_path).astype(np.float64), json.loads(items_path.read_text())


def generation_args(doc: str | None, feat: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/wake-cache"))
    parser.add_argument("--feat", type=Path, default=Path(feat))
    parser.add_argument("--part", default="0/1")
    parser.add_argument("--variants", type=int, default=4)
    parser.add_argument("--until", help="stop at this UTC time (HH:MM)")
    return parser.parse_args()


def generate(args: argparse.Namespace, jobs: list[Any], seed_base: int, styles: Callable[[], dict[str, np.ndarray]]
             ) -> None:
    """Synthesise and embed ``jobs`` ((speaker, text, label)) as a training round does (see module doc)."""
    from bench.wake_verifier_data import Clip, Synth, plan
    from bench.wake_verifier_more import clip_path
    from bench.wake_verifier_train import Embedder, clip_windows

    part, parts = (int(v) for v in args.part.split("/"))
    args.cache.mkdir(parents=True, exist_ok=True)
    args.feat.mkdir(parents=True, exist_ok=True)
    babble = [c.path for c in (Clip(s.name, t, y, clip_path(args.cache, s, t)) for s, t, y in plan(5, 4))
              if c.label == 0 and c.path.exists()]
    synth, embed, t0, done = None, Embedder(), time.monotonic(), 0
    for i, (speaker, text, label) in enumerate(jobs):
        if i % parts != part:
            continue
        if args.until and time.strftime("%H:%M", time.gmtime()) >= args.until:
            print(f"stopping at {args.until} UTC", flush=True)
            break
        path = clip_path(args.cache, speaker, text)
        if not path.exists():
            if synth is None:
                synth = Synth()
                synth.styles.update(styles())
            np.save(path, synth.say(speaker, text, seed_base + i).astype(np.float32))
        feat = args.feat / f"{path.stem}.npz"
        if not feat.exists():
            rng = np.random.default_rng(int(path.stem[:8], 16))
            x, y = clip_windows(Clip(speaker.name, text, label, path), args.variants, rng, embed, babble)
            np.savez(feat, x=x.astype(np.float16), y=y)
        done += 1
        if done % 10 == 0:
            print(f"{time.strftime('%H:%M:%S', time.gmtime())} job {i + 1}/{len(jobs)} ({done} done here, "
                  f"{done / (time.monotonic() - t0) * 60:.1f}/min) {speaker.name} {text!r}", flush=True)
    print(f"done: {done} clips", flush=True)
