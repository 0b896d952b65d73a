"""Offline: the decoded region's start reaching back over a request's quiet-scored first words
(``wyoming_whisper.vad.VadPolicy.reach_rise_db``) against the old start (0.5 s before Silero's first
speech window), on the whole end-of-turn corpus, tune and held apart.

Each corpus request (``bench/turn_corpus.py``) is streamed as the satellite sends it: ``--prerolls``
seconds (each a start phase) of the clip's own noise before it (the satellite's pre-roll; -60 dBFS
room noise under everything), 2.5 s of noise after it (``--room``: room noise alone before and after
the clip, its own noise starting with it, as the room simulator plays a corpus clip: room held-54's
case), and again with ``--extra-db`` more white noise over all of it (the first words then score
lower). Silero runs on both grids with levels, as the server does. At every point where the server
starts a speculative final decode (0.1 s of silence after the speech, once per pause) and at the
end, the region of each policy is decoded (tiny.en int8 beam 5; a region both policies share is
decoded once). Reported per policy, split and noise: the final text's first word kept (the
reference's first word among the text's first three), word errors / reference words, requests heard
whole, and the end of turn replayed as ``bench/eot_unsure_probe.py`` does it (rule ``loop-weak``:
the code's rules, ``default`` timing): pauses cut, whole, end of turn p50/p95.

Then what the reach does where nobody addresses the assistant or someone else talks first:
``bench/turn_background.py``'s background clips (far talker, TV, babble) alone at ``--bg-levels``
dB under the corpus's clean requests (the final transcript's words, per policy) and under the tune
requests from 1 s before them (extra words in the final transcript). White noise alone finds no
speech under either policy (the reach only moves the start of speech already found).

    nice -n 10 .venv/bin/python bench/eot_lead_probe.py [--limit N] [--out bench/results/eot_lead.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.eot_decode_probe import wer  # noqa: E402
from bench.eot_unsure_probe import replay  # noqa: E402
from bench.turn_background import (  # noqa: E402
    alone_audio,
    backgrounds,
    extra_words,
    reference_db,
    under_audio,
)
from bench.turn_bench import comparable, is_whole, pct  # noqa: E402
from bench.turn_corpus import RATE, Request, build, norm_words  # noqa: E402
from voice_runtime.models import resolve_whisper, silero_vad  # noqa: E402
from wyoming_whisper.engine import EngineConfig, WhisperEngine  # noqa: E402
from wyoming_whisper.vad import WINDOW, SileroVad, VadPolicy, end_pad, speech_region, speech_windows  # noqa: E402

W = WINDOW / RATE
PAD = 3  # the endpointing pad (0.1 s), as the server runs with vad_sensitivity
POLICIES = {"old": VadPolicy(pad_windows=PAD, reach_rise_db=None), "reach": VadPolicy(pad_windows=PAD)}
ROOM_DBFS = -60.0


class Decoder:
    def __init__(self) -> None:
        self.engine = WhisperEngine(EngineConfig(model_dir=resolve_whisper("tiny.en")))
        self.engine.transcribe(np.zeros(RATE, dtype=np.float32))
        self.cache: dict[tuple[int, tuple[int, int]], dict[str, Any]] = {}
        self.decodes = 0

    def __call__(self, key: int, audio: np.ndarray[Any, Any], region: tuple[int, int]) -> dict[str, Any]:
        if (key, region) not in self.cache:
            t = time.perf_counter()
            decoded = self.engine.transcribe(audio[region[0] : region[1]], beam_size=5)
            self.decodes += 1
            self.cache[(key, region)] = {
                "text": decoded.text,
                "decode_s": round(time.perf_counter() - t, 3),
                **decoded.confidence(),
            }
        return self.cache[(key, region)]


def scores(vad: SileroVad, x: np.ndarray[Any, Any]) -> tuple[list[float], list[float], list[float]]:
    stream = vad.stream()
    stream.feed(x.astype(np.float32))
    stream.finish()
    assert stream.half_probs is not None
    return stream.probs, stream.half_probs, stream.levels


def streamed(r: Request, preroll: float, extra_db: float | None, seed: int, room: bool) -> np.ndarray[Any, Any]:
    """The request as the satellite streams it (see the module doc); ``room``: the clip's noise
    only under the clip, room noise before and after it (as the room simulator plays it)."""
    rng = np.random.default_rng(seed)
    clip = np.frombuffer(r.pcm, "<i2").astype(np.float32) / 32768
    own = 0.0 if room else 10 ** ((r.noise_dbfs if r.noise_dbfs is not None else -90.0) / 20)
    pre = rng.standard_normal(int(preroll * RATE)).astype(np.float32) * own
    tail = rng.standard_normal(int(2.5 * RATE)).astype(np.float32) * own
    x = np.concatenate([pre, clip, tail])
    x += rng.standard_normal(len(x)).astype(np.float32) * 10 ** (ROOM_DBFS / 20)
    if extra_db is not None:
        level = (r.noise_dbfs if r.noise_dbfs is not None else -50.0) + extra_db
        x += rng.standard_normal(len(x)).astype(np.float32) * 10 ** (level / 20)
    out: np.ndarray[Any, Any] = np.clip(x, -1, 1).astype(np.float32)
    return out


def points(probs: list[float], half: list[float], levels: list[float], policy: VadPolicy) -> list[int]:
    """Window counts at which the server starts a speculative final (both grids, levels)."""
    out: list[int] = []
    fired_for: int | None = None
    for n in range(1, len(probs) + 1):
        found = speech_windows(probs[:n], policy, half[: n - 1], levels[:n])
        if found is None:
            continue
        last = found[1]
        if n - 1 - last >= max(PAD, end_pad(probs[:n], last, policy)) and fired_for != last:
            out.append(n)
            fired_for = last
    return out


def first_kept(reference: str, text: str) -> bool:
    ref = comparable(norm_words(reference))
    return bool(ref) and ref[0] in comparable(norm_words(text))[:3]


def run_request(
    decode: Decoder, vad: SileroVad, r: Request, key: int, x: np.ndarray[Any, Any], *, shift: float
) -> dict[str, Any]:
    probs, half, levels = scores(vad, x)
    out: dict[str, Any] = {}
    for name, policy in POLICIES.items():
        found = []
        for n in points(probs, half, levels, policy):
            region = speech_region(probs[:n], n * WINDOW, policy, half[: n - 1], levels[:n])
            speech = speech_windows(probs[:n], policy, half[: n - 1], levels[:n])
            assert region is not None and speech is not None
            resume = next((i for i in range(n, len(probs)) if probs[i] >= policy.threshold), None)
            found.append(
                {
                    "at": round(n * W, 3),
                    "speech_end": round((speech[1] + 1) * W, 3),
                    "gap": None if resume is None else round((resume - speech[1] - 1) * W, 3),
                    "start": round(region[0] / RATE, 3),
                    **decode(key, x, region),
                }
            )
        final = speech_region(probs, len(x), policy, half, levels)
        text = "" if final is None else decode(key, x, final)["text"]
        errors, total = wer(r.text, text)
        said = {
            "id": r.id,
            "split": r.split,
            "text": r.text,
            "pause": r.pause,
            "pause_after": r.pause_after,
            "condition": r.condition,
            "voice_end": round(r.speech_end + shift, 3),
        }
        ended = replay(said, found, "loop-weak", None) if found else None
        out[name] = {
            "final": text,
            "start": None if final is None else round(final[0] / RATE - shift, 3),
            "first_kept": first_kept(r.text, text),
            "errors": errors,
            "words": total,
            "whole": is_whole(r, text),
            "cut": bool(ended and ended["cut"]),
            "eot_whole": ended["eot"] if ended and ended["whole"] else None,
            "points": [p["text"] for p in found],
        }
    return out


def summary(rows: list[dict[str, Any]], name: str) -> dict[str, Any]:
    got = [row[name] for row in rows]
    lat = [g["eot_whole"] for g in got if g["eot_whole"] is not None]
    return {
        "n": len(got),
        "first_kept": sum(g["first_kept"] for g in got),
        "wer": round(sum(g["errors"] for g in got) / max(1, sum(g["words"] for g in got)), 3),
        "whole_final": sum(g["whole"] for g in got),
        "cut": sum(g["cut"] for g in got),
        "eot_p50": round(statistics.median(lat), 3) if lat else None,
        "eot_p95": round(pct(lat, 0.95) or 0.0, 3) if lat else None,
    }


def rooms(decode: Decoder, vad: SileroVad, dirs: list[Path], preroll: float) -> list[dict[str, Any]]:
    """The final region's decode, per policy, of every corpus clip the room simulator played in the
    kept run dirs (``bench/room_turns_bench.py --keep``): its mic.wav from ``preroll`` s before the
    clip to 2 s after its speech (the room's own audio, not the satellite's AEC'd stream)."""
    import wave

    corpus = {r.id: r for r in build()}
    out: list[dict[str, Any]] = []
    for key, folder in enumerate(dirs):
        result = json.loads((folder / "result.json").read_text())
        with wave.open(str(folder / "mic.wav")) as wav:
            mic = np.frombuffer(wav.readframes(wav.getnframes()), "<i2").astype(np.float32) / 32768
        shift = float(result["wav_offset_s"])
        for u in result["utterances"]:
            r = corpus.get(Path(u["wav"]).stem)
            if r is None:
                continue
            a, b = int((u["at"] + shift - preroll) * RATE), int((u["offset"] + shift + 2.0) * RATE)
            x = mic[max(0, a) : b]
            probs, half, levels = scores(vad, x)
            row: dict[str, Any] = {"run": folder.name, "id": r.id, "split": r.split}
            for name, policy in POLICIES.items():
                region = speech_region(probs, len(x), policy, half, levels)
                text = "" if region is None else decode(1_000_000 + key * 100 + len(out), x, region)["text"]
                errors, total = wer(r.text, text)
                row[name] = {
                    "final": text,
                    "first_kept": first_kept(r.text, text),
                    "errors": errors,
                    "words": total,
                    "whole": is_whole(r, text),
                    "cut": False,
                    "eot_whole": None,
                    "points": [],
                    "start": None if region is None else round(region[0] / RATE - preroll, 3),
                }
            if row["old"]["final"] != row["reach"]["final"]:
                print(f"room {folder.name} {r.id}: {row['old']['final']!r} -> {row['reach']['final']!r}", flush=True)
            out.append(row)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--prerolls", default="0.5", help="comma list of pre-roll seconds (start phases)")
    parser.add_argument("--room", action="store_true", help="room noise before/after the clip, not its own")
    parser.add_argument("--extra-db", default="none,8", help="comma list: none or dB of extra noise")
    parser.add_argument("--bg-levels", default="-10,-15,-20")
    parser.add_argument("--no-background", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "eot_lead.json")
    parser.add_argument("--reach", default="", help="VadPolicy reach_* overrides, e.g. lead_windows=0,gap_windows=4")
    parser.add_argument("--split", default="", help="only this split (tune to tune; held only to report)")
    parser.add_argument("--rooms", default="", help="comma list of kept room run dirs: their mic only")
    args = parser.parse_args()
    if args.reach:
        fields: dict[str, Any] = {}
        for k, v in (kv.split("=") for kv in args.reach.split(",")):
            fields[f"reach_{k}"] = float(v) if k == "rise_db" else int(v)
        POLICIES["reach"] = replace(POLICIES["reach"], **fields)
    if args.rooms:
        vad, decode = SileroVad(silero_vad()), Decoder()
        got = rooms(decode, vad, [Path(d) for d in args.rooms.split(",")], 0.5)
        args.out.write_text(json.dumps(got, indent=1) + "\n")
        for name in POLICIES:
            s = summary(got, name)
            print(f"room mics {name}: first word kept {s['first_kept']}/{s['n']}, WER {s['wer']}, ", end="")
            print(f"whole {s['whole_final']}/{s['n']}")
        return 0
    corpus = [r for r in build() if not args.split or r.split == args.split][: args.limit or None]
    vad = SileroVad(silero_vad())
    decode = Decoder()
    load = [os.getloadavg()[0]]
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    rows: list[dict[str, Any]] = []
    key = 0
    for extra, preroll in ((e, float(p)) for e in args.extra_db.split(",") for p in args.prerolls.split(",")):
        extra_db = None if extra == "none" else float(extra)
        for i, r in enumerate(corpus):
            key += 1
            x = streamed(r, preroll, extra_db, i, args.room)
            row = {
                "id": r.id,
                "split": r.split,
                "noise": extra,
                "preroll": preroll,
                **run_request(decode, vad, r, key, x, shift=preroll),
            }
            rows.append(row)
            if row["old"]["final"] != row["reach"]["final"] or row["old"]["cut"] != row["reach"]["cut"]:
                print(
                    f"{r.id} +{extra} pre {preroll}: {row['old']['final']!r} -> {row['reach']['final']!r} "
                    f"(start {row['old']['start']} -> {row['reach']['start']}, cut {row['old']['cut']} -> "
                    f"{row['reach']['cut']})",
                    flush=True,
                )
        load.append(os.getloadavg()[0])
    table = {
        f"{name} | {split} | noise {extra}": summary(
            [r for r in rows if r["split"] == split and r["noise"] == extra], name
        )
        for extra in args.extra_db.split(",")
        for split in ("tune", "held")
        for name in POLICIES
    }
    background: dict[str, Any] = {}
    if not args.no_background:
        full = build()
        ref = reference_db(full)
        bgs = backgrounds()
        tune = [r for r in full if r.split == "tune"]
        for level in (float(v) for v in args.bg_levels.split(",")):
            alone = {n: 0 for n in POLICIES}
            grew = 0
            under = {n: 0 for n in POLICIES}
            for k, bg in enumerate(bgs):
                key += 1
                x = alone_audio(bg, ref + level, k)
                probs, half, levels = scores(vad, x)
                texts = {}
                for n, p in POLICIES.items():
                    region = speech_region(probs, len(x), p, half, levels)
                    texts[n] = "" if region is None else decode(key, x, region)["text"]
                    alone[n] += len(norm_words(texts[n]))
                grew += len(norm_words(texts["reach"])) > len(norm_words(texts["old"]))
            for k, r in enumerate(tune):
                key += 1
                x = under_audio(r, bgs[k % len(bgs)], ref + level, k)
                probs, half, levels = scores(vad, x)
                for n, p in POLICIES.items():
                    region = speech_region(probs, len(x), p, half, levels)
                    text = "" if region is None else decode(key, x, region)["text"]
                    under[n] += extra_words(r.text, text)
            background[f"{level:g} dB"] = {
                "alone_n": len(bgs),
                "alone_words": alone,
                "alone_grew": grew,
                "under_n": len(tune),
                "under_extra_words": under,
            }
            print(f"background {level:g} dB: {background[f'{level:g} dB']}", flush=True)
            load.append(os.getloadavg()[0])
    out = {
        "started": started,
        "ended": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "load_1min": [round(min(load), 2), round(max(load), 2)],
        "decodes": decode.decodes,
        "summary": table,
        "background": background,
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print(f"{started} - {out['ended']}, load {out['load_1min']}")
    print("| policy | split | noise | first word kept | WER | whole (final) | pauses cut | eot p50 / p95 |")
    print("|---|---|---|---|---|---|---|---|")
    for label, t in table.items():
        print(f"| {label.replace(' | noise ', ' | ')} | {t['first_kept']}/{t['n']} | {t['wer']} | ", end="")
        print(f"{t['whole_final']}/{t['n']} | {t['cut']}/{t['n']} | {t['eot_p50']} / {t['eot_p95']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
