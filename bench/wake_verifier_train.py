"""Train the satellite's own ``okay_nabu`` verifier (``satellite/wake_verifier.py``), offline.

1. The corpus of ``bench/wake_verifier_data.py`` (many synthetic voices saying "Okay Nabu" and
   near misses; no held-out voice of any wake bench), each clip put in ``--variants`` random
   conditions: a lead of background, level −20…0 dB, none / pink noise / music-like / another
   clip as babble underneath, sometimes a little reverb, often played up to 12 % faster or slower (another vocal tract).
2. openWakeWord's embeddings (its shipped mel + embedding models, as the satellite computes them:
   a fresh front end without its 8 s of zero padding), one per 80 ms.
3. Windows of ``WINDOW`` embeddings. A wake clip's windows that end from 0.05 s before to 0.6 s
   after the end of the wake phrase are positives, those ending 0.35 s or more before it are
   negatives ("okay" alone); every window of a near miss, a sentence or pure background is a
   negative.
4. A one-hidden-layer network in numpy (Adam, class-balanced cross-entropy, weight decay), with
   ``--val-speakers`` speakers kept out as a validation set (early stopping, the cutoff).

Writes ``satellite/wake_verifier_okay_nabu.npz`` and a JSON summary. Same seed, same weights.

    python bench/wake_verifier_train.py [--cache /tmp/wake-cache] [--out satellite/wake_verifier_okay_nabu.npz]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.wake_bench import RATE, music, noise, pcm, resample, wake_offset  # noqa: E402
from bench.wake_verifier_data import Clip, build  # noqa: E402

WINDOW = 16  # embeddings (16 × 80 ms + 0.775 s ≈ 2 s): openWakeWord's own window
HIDDEN = 32
POS_FROM, POS_TO, NEG_BEFORE = -0.05, 0.6, 0.35  # s around the end of the wake phrase


class Embedder:
    def __init__(self) -> None:
        from pyopen_wakeword import OpenWakeWordFeatures

        self.features = OpenWakeWordFeatures.from_builtin()

    def __call__(self, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Embeddings (n × 96) and the audio time each one ends at (s), from a fresh front end."""
        self.features.reset()
        self.features.new_audio_samples = 0  # as satellite.wake_cascade.Verifier.start
        data, embs, ends = pcm(audio), [], []
        step = 2560  # 80 ms
        for pos in range(0, len(data) - step + 1, step):
            for emb in self.features.process_streaming(data[pos:pos + step]):
                embs.append(np.asarray(emb, dtype=np.float32).reshape(96))
                ends.append((pos + step) / 2 / RATE)
        return np.array(embs, dtype=np.float32).reshape(-1, 96), np.array(ends)


def reverb(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    rt60 = rng.uniform(0.15, 0.5)
    t = np.arange(int(rt60 * RATE)) / RATE
    ir = rng.standard_normal(len(t)) * np.exp(-6.9 * t / rt60) * 0.3
    ir[0] = 1.0
    wet: np.ndarray = np.convolve(x, ir)[: len(x)]
    return wet / max(1e-9, float(np.max(np.abs(wet)))) * float(np.max(np.abs(x)))


def condition(x: np.ndarray, rng: np.random.Generator, babble: np.ndarray) -> tuple[np.ndarray, float]:
    """``x`` in a random room: (audio with a background lead and tail, where ``x`` starts in it (s))."""
    if rng.random() < 0.7:  # pitch, formants and tempo together: a shorter or longer vocal tract
        x = resample(x, rng.uniform(0.88, 1.13))
    if rng.random() < 0.3:
        x = reverb(x, rng)
    x = x * 10 ** (rng.uniform(-20, 0) / 20)
    lead = int(rng.uniform(0.4, 1.6) * RATE)
    out = np.concatenate([np.zeros(lead), x, np.zeros(int(0.9 * RATE))])
    level = float(np.sqrt(np.mean(x ** 2))) + 1e-9
    kind = rng.integers(0, 4)
    if kind == 1:
        out += noise(len(out), 20 * np.log10(level / 32768) - rng.uniform(5, 30), rng)
    elif kind == 2:
        bg = music(len(out) / RATE + 0.1, rng)[: len(out)]
        out += bg / (float(np.sqrt(np.mean(bg ** 2))) + 1e-9) * level * 10 ** (-rng.uniform(5, 20) / 20)
    elif kind == 3:
        bg = np.resize(babble, len(out))
        out += bg / (float(np.sqrt(np.mean(bg ** 2))) + 1e-9) * level * 10 ** (-rng.uniform(8, 20) / 20)
    return out, lead / RATE


def windows(embs: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if len(embs) < WINDOW:
        return np.zeros((0, WINDOW * 96), np.float32), np.zeros(0)
    idx = np.arange(WINDOW - 1, len(embs))
    x = np.stack([embs[i - WINDOW + 1:i + 1].reshape(-1) for i in idx])
    return x, ends[idx]


def clip_windows(clip: Clip, variants: int, rng: np.random.Generator, embed: Embedder,
                 babble: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    """One clip's training windows and labels over its random conditions (``variants``; half for a negative)."""
    clean = np.load(clip.path).astype(np.float64)
    end = wake_offset(clean, clip.text) if clip.label else 0.0
    xs, ys = [], []
    for _ in range(variants if clip.label else max(1, variants // 2)):
        under = np.load(babble[rng.integers(len(babble))]).astype(np.float64)
        audio, start = condition(clean, rng, under)
        x, t = windows(*embed(audio))
        if clip.label:
            rel = t - (start + end)
            keep = ((rel >= POS_FROM) & (rel <= POS_TO)) | (rel <= -NEG_BEFORE)
            y = ((rel >= POS_FROM) & (rel <= POS_TO)).astype(np.float32)
            x, y = x[keep], y[keep]
        else:
            y = np.zeros(len(x), np.float32)
        xs.append(x)
        ys.append(y)
    return np.concatenate(xs), np.concatenate(ys)


def dataset(clips: list[Clip], variants: int, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    embed = Embedder()
    negs = [c for c in clips if c.label == 0]
    xs, ys, groups, clip_ids = [], [], [], []
    speakers = sorted({c.speaker for c in clips})
    for n, clip in enumerate(clips):
        x, y = clip_windows(clip, variants, rng, embed, [c.path for c in negs])
        xs.append(x)
        ys.append(y)
        groups.append(np.full(len(x), speakers.index(clip.speaker)))
        clip_ids.append(np.full(len(x), n))
        if n % 50 == 0:
            print(f"features {n + 1}/{len(clips)}", flush=True)
    # pure background (music-like, noise) as negatives too
    for k in range(40):
        bg = music(6.0, rng) if k % 2 else noise(6 * RATE, rng.uniform(-60, -30), rng)
        x, _ = windows(*embed(bg))
        xs.append(x)
        ys.append(np.zeros(len(x), np.float32))
        groups.append(np.full(len(x), -1))
        clip_ids.append(np.full(len(x), -1))
    return {"x": np.concatenate(xs), "y": np.concatenate(ys), "group": np.concatenate(groups),
            "clip": np.concatenate(clip_ids), "speakers": speakers}


def train(x: np.ndarray, y: np.ndarray, xv: np.ndarray, yv: np.ndarray, *, seed: int, epochs: int = 40,
          decay: float = 1e-2, input_noise: float = 0.5, hidden: int = HIDDEN) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-3
    xs, xvs = (x - mean) / std, (xv - mean) / std
    params = {"w1": rng.standard_normal((x.shape[1], hidden)).astype(np.float32) * np.sqrt(2 / x.shape[1]),
              "b1": np.zeros(hidden, np.float32), "w2": rng.standard_normal(hidden).astype(np.float32) * 0.1,
              "b2": np.zeros(1, np.float32)}
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v2 = {k: np.zeros_like(v) for k, v in params.items()}
    pos_w = 0.5 / max(1e-9, float(y.mean()))
    neg_w = 0.5 / max(1e-9, 1 - float(y.mean()))
    step, best, best_params, lr = 0, np.inf, dict(params), 1e-3

    def forward(p: dict[str, np.ndarray], data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        h = np.maximum(0, data @ p["w1"] + p["b1"])
        return h, 1 / (1 + np.exp(-np.clip(h @ p["w2"] + p["b2"][0], -30, 30)))

    def loss(p: dict[str, np.ndarray], data: np.ndarray, target: np.ndarray) -> float:
        _, prob = forward(p, data)
        w = np.where(target > 0, pos_w, neg_w)
        return float(np.mean(-w * (target * np.log(prob + 1e-7) + (1 - target) * np.log(1 - prob + 1e-7))))

    for epoch in range(epochs):
        order = rng.permutation(len(xs))
        for b in range(0, len(order), 256):
            i = order[b:b + 256]
            data = xs[i] + rng.standard_normal((len(i), xs.shape[1])).astype(np.float32) * input_noise
            target = y[i]
            h, prob = forward(params, data)
            w = np.where(target > 0, pos_w, neg_w)
            dlogit = (w * (prob - target) / len(i)).astype(np.float32)
            dh = np.outer(dlogit, params["w2"]) * (h > 0)
            grads = {"w2": h.T @ dlogit, "b2": np.array([dlogit.sum()], np.float32),
                     "w1": data.T @ dh, "b1": dh.sum(axis=0)}
            step += 1
            for k, raw in grads.items():
                g = raw + decay * params[k] if k.startswith("w") else raw
                m[k] = 0.9 * m[k] + 0.1 * g
                v2[k] = 0.999 * v2[k] + 0.001 * g * g
                params[k] = (params[k] - lr * (m[k] / (1 - 0.9 ** step)) /
                             (np.sqrt(v2[k] / (1 - 0.999 ** step)) + 1e-8)).astype(np.float32)
        val = loss(params, xvs, yv)
        if val < best:
            best, best_params = val, {k: v.copy() for k, v in params.items()}
        if epoch % 5 == 0:
            print(f"epoch {epoch} train {loss(params, xs[:20000], y[:20000]):.4f} val {val:.4f}", flush=True)
    return {**best_params, "mean": mean.astype(np.float32), "std": std.astype(np.float32)}


def clip_recall(scores: np.ndarray, y: np.ndarray, clips: np.ndarray, cutoff: float) -> tuple[int, int]:
    pos_clips = np.unique(clips[y > 0])
    hit = sum(bool((scores[(clips == c) & (y > 0)] > cutoff).any()) for c in pos_clips)
    return hit, len(pos_clips)


def add_round2(data: dict[str, Any], texts: list[str], cache: Path, feat: Path,
               clips: list[Clip] | None = None) -> dict[str, Any]:
    """``data`` plus round 2's per-clip windows (``bench/wake_verifier_more.py``; or ``clips``, e.g.
    round 3's, ``bench/wake_verifier_round3.py``); ``texts`` grows to match."""
    from bench.wake_verifier_more import clips2

    speakers = [str(s) for s in data["speakers"]]
    xs, ys, groups, ids = [data["x"]], [data["y"]], [data["group"]], [data["clip"]]
    for clip in clips2(cache) if clips is None else clips:
        path = feat / f"{clip.path.stem}.npz"
        if not path.exists():
            continue
        with np.load(path) as f:
            x, y = f["x"].astype(np.float32), f["y"].astype(np.float32)
        if clip.speaker not in speakers:
            speakers.append(clip.speaker)
        xs.append(x)
        ys.append(y)
        groups.append(np.full(len(x), speakers.index(clip.speaker)))
        ids.append(np.full(len(x), len(texts)))
        texts.append(clip.text)
    return {"x": np.concatenate(xs), "y": np.concatenate(ys), "group": np.concatenate(groups),
            "clip": np.concatenate(ids), "speakers": np.array(speakers)}


def voices_of(speaker: str) -> set[str]:
    """The Kokoro voices a speaker is made of ("blend:a+b@w", "blend3:a+b@w" → a, b); Piper → "piper"."""
    if speaker.startswith("piper"):
        return {"piper"}
    return set(speaker.split(":", 1)[-1].split("@", maxsplit=1)[0].split("+"))


def ensemble(paths: list[Path], out: Path, cutoff: float | None = None) -> None:
    """Stack trained networks into one weights file (:class:`satellite.wake_verifier.EmbeddingVerifier`
    scores the mean of their sigmoids); the cutoff is ``cutoff`` or the first file's."""
    files = [dict(np.load(p)) for p in paths]
    if len({int(f["window"]) for f in files}) != 1:
        raise ValueError("the networks see different windows")
    keys = ("w1", "b1", "w2", "b2", "mean", "std")
    stacked: dict[str, Any] = {k: np.stack([np.asarray(f[k], np.float32) for f in files]) for k in keys}
    np.savez(out, **stacked, window=files[0]["window"], cutoff=files[0]["cutoff"] if cutoff is None else cutoff)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/wake-cache"))
    parser.add_argument("--variants", type=int, default=4)
    parser.add_argument("--val-speakers", type=int, default=8)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=99, help="each speaker's first N clips only")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--decay", type=float, default=1e-2)
    parser.add_argument("--input-noise", type=float, default=0.5, help="Gaussian noise on the standardised input")
    parser.add_argument("--hidden", type=int, default=HIDDEN)
    parser.add_argument("--features", type=Path, help="cache the windows here (.npz)")
    parser.add_argument("--more", type=Path, help="round 2's per-clip windows (bench/wake_verifier_more.py --feat)")
    parser.add_argument("--round3", type=Path, help="round 3's per-clip windows (bench/wake_verifier_round3.py --feat)")
    parser.add_argument("--val-voices", type=int, default=0,
                        help="validate on every speaker made from N random voices (voice-disjoint) instead")
    parser.add_argument("--min-recall", type=float, default=1.0,
                        help="the cutoff: the highest that finds this share of the validation wake clips found "
                             "at the lowest cutoff")
    parser.add_argument("--out", type=Path, default=ROOT / "satellite" / "wake_verifier_okay_nabu.npz")
    parser.add_argument("--net-seed", type=int, help="the network's initialisation and batch order (default: --seed)")
    parser.add_argument("--ensemble", help="a,b,...: stack these trained weight files into --out and stop")
    parser.add_argument("--ensemble-cutoff", type=float)
    args = parser.parse_args()
    if args.ensemble:
        ensemble([Path(p) for p in args.ensemble.split(",")], args.out, args.ensemble_cutoff)
        return
    t0 = time.monotonic()
    clips = build(args.cache, args.seed, args.rounds)
    if args.features and args.features.exists():
        with np.load(args.features, allow_pickle=False) as f:
            data: dict[str, Any] = {k: f[k] for k in f.files}
    else:
        data = dataset(clips, args.variants, args.seed)
        data["speakers"] = np.array(data["speakers"])
        if args.features:
            np.savez(args.features, **data)
    texts = [c.text for c in clips]
    if args.more:
        data = add_round2(data, texts, args.cache, args.more)
    if args.round3:
        from bench.wake_verifier_round3 import clips3

        data = add_round2(data, texts, args.cache, args.round3, clips3(args.cache))
    speakers = [str(s) for s in data["speakers"]]
    rng = np.random.default_rng(args.seed)
    if args.val_voices:
        from bench.wake_verifier_more import BRITISH_FEMALE

        pool = sorted(set().union(*map(voices_of, speakers)) - {"piper", *BRITISH_FEMALE})
        held = set(rng.choice(pool, args.val_voices, replace=False))
        val_names = {s for s in speakers if voices_of(s) & held}
        print(f"validation voices {sorted(held)}", flush=True)
    else:
        val_names = set(rng.choice([s for s in speakers if not s.startswith("piper")], args.val_speakers,
                                   replace=False))
    val_groups = [speakers.index(s) for s in val_names]
    is_val = np.isin(data["group"], val_groups)
    x, y = data["x"], data["y"]
    print(f"windows: {len(y)} ({int(y.sum())} positive), validation speakers {sorted(val_names)}; "
          f"{time.monotonic() - t0:.0f} s", flush=True)
    net_seed = args.seed if args.net_seed is None else args.net_seed
    params = train(x[~is_val], y[~is_val], x[is_val], y[is_val], seed=net_seed, epochs=args.epochs,
                   decay=args.decay, input_noise=args.input_noise, hidden=args.hidden)
    from satellite.wake_verifier import EmbeddingVerifier

    tmp = args.out.with_suffix(".tmp.npz")
    weights: dict[str, Any] = {k: v.astype(np.float32) for k, v in params.items() if k != "b2"}
    weights["b2"] = params["b2"][0]
    np.savez(tmp, **weights, window=WINDOW, cutoff=0.5)
    scores = EmbeddingVerifier(tmp).scores(x[is_val])
    rows: list[dict[str, Any]] = []
    clip_v, neg = data["clip"][is_val], y[is_val] == 0
    for cutoff in (0.3, 0.5, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99):
        hit, total = clip_recall(scores, y[is_val], clip_v, cutoff)
        wake_clips = {int(c) for c in clip_v[~neg]}  # a wake clip's early windows ("okay") are no false accept
        fired = sorted({int(c) for c in clip_v[neg & (scores > cutoff)]} - wake_clips)
        neg_clips = {int(c) for c in clip_v[neg] if c >= 0} - wake_clips
        rows.append({"cutoff": cutoff, "val_wake_clips_found": f"{hit}/{total}",
                     "val_negative_windows_over": int((scores[neg] > cutoff).sum()),
                     "val_negative_windows": int(neg.sum()),
                     "val_negative_clips_over": f"{len([c for c in fired if c >= 0])}/{len(neg_clips)}",
                     "val_negative_texts_over": sorted({texts[c] for c in fired if 0 <= c < len(texts)})[:12]})
        print(json.dumps(rows[-1]), flush=True)
    # the highest cutoff that still finds --min-recall of the validation wake clips that the lowest cutoff finds
    found = {r["cutoff"]: int(r["val_wake_clips_found"].split("/")[0]) for r in rows}
    cutoff = max([c for c, hit in found.items() if hit >= args.min_recall * max(found.values()) - 1e-9])
    np.savez(args.out, **weights, window=WINDOW, cutoff=cutoff)
    tmp.unlink()
    summary = {"clips": len(texts), "speakers": len(speakers), "windows": len(y), "positive_windows": int(y.sum()),
               "validation_speakers": sorted(val_names), "validation": rows, "cutoff": cutoff,
               "min_recall": args.min_recall,
               "seconds": round(time.monotonic() - t0), "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    (ROOT / "bench" / "results" / "wake_verifier_train.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
