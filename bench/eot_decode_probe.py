"""Offline: the speculative final decode's settings against its time, on the end-of-turn corpus.

The whisper server's end of turn waits for the speculative final decode (the speech plus ~0.1 s
of silence, ``wyoming_whisper.policy.ENDPOINT_PAD_SECONDS``): in the room that decode is ~0.29 s
of the ~0.67 s from the end of speech to the first reply sound (bench/results/room_latency.md).
This replays the end-of-turn corpus (``bench/turn_corpus.py``) through Silero VAD as the server
does and, at every point where the server would start a speculative final (each pause and the
end), decodes the region with each configuration, interleaved per request so that the box's
load falls on all alike:

* ``pad``: seconds of silence after the speech before the decode starts (and kept in it);
* ``beam``: the final decode's beam size (the server's ``--beam-size``, 5);
* ``ctx``: the shortest encoder window in seconds (the server's ``--audio-context``, 10);
* ``weak`` (optional fourth field): after a final run of speech windows that never reaches this
  score, the decode keeps (and waits for) ``VadPolicy.weak_pad_windows`` of silence (0: off).

(Session 13 also tried a weak-tail floor here, a fourth field before ``weak``: rejected and removed
from the server in session 14; its rows are in bench/results/eot_decode.md.)

Per configuration and split (tune / held): requests heard whole at the end (the turn bench's
rule), word error rate at the end, finished-request verdicts at the end (an unfinished one makes
a finished request wait), paused requests read as finished at a pause (a cut the continuation
must repair), texts that repeat a phrase, decode time p50/p95, and the end of speech as the VAD
places it and the final decode's start (seconds after the corpus's last voiced sample, p50/p95).

    python bench/eot_decode_probe.py --configs 0.1/5/10,0.1/1/10,0.1/5/10/0.6 [--limit N] [--out F]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.turn_bench import comparable, is_whole  # noqa: E402
from bench.turn_corpus import build, norm_words, with_noise_after  # noqa: E402
from voice_runtime.models import resolve_whisper, silero_vad  # noqa: E402
from wyoming_whisper.endpoint import judge, repeats, words  # noqa: E402
from wyoming_whisper.engine import SAMPLE_RATE, EngineConfig, WhisperEngine  # noqa: E402
from wyoming_whisper.vad import WINDOW, SileroVad, VadPolicy, end_pad, speech_region, speech_windows  # noqa: E402


def points(probs: list[float], policy: VadPolicy, settle: int) -> list[int]:
    """Window counts at which the server starts a speculative final: ``settle`` windows after the
    speech's end (as :func:`speech_windows` places it on the probabilities so far), once per pause."""
    out: list[int] = []
    fired_for: int | None = None
    for n in range(1, len(probs) + 1):
        found = speech_windows(probs[:n], policy)
        if found is None:
            continue
        last = found[1]
        if n - 1 - last >= max(settle, end_pad(probs[:n], last, policy)) and fired_for != last:
            out.append(n)
            fired_for = last
    return out


def wer(reference: str, text: str) -> tuple[int, int]:
    ref = comparable(norm_words(reference.replace("%", " percent")))
    hyp = comparable(norm_words(text.replace("%", " percent")))
    d = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, d[0] = d[0], i
        for j, h in enumerate(hyp, 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (r != h))
    return d[len(hyp)], len(ref)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--configs", default="0.1/5/10,0.1/1/10", help="comma-separated pad/beam/ctx[/weak] configurations"
    )
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--split", choices=("tune", "held", "all"), default="all")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--only", default="", help="comma-separated request ids")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    corpus = build()
    if args.split != "all":
        corpus = [r for r in corpus if r.split == args.split]
    if args.only:
        corpus = [r for r in corpus if r.id in args.only.split(",")]
    if args.limit:
        corpus = corpus[: args.limit]
    configs = []
    for spec in args.configs.split(","):
        pad, beam, ctx, *weak = spec.split("/")
        if len(weak) > 1:
            parser.error(f"--configs {spec!r}: pad/beam/ctx[/weak] (the weak-tail field was removed)")
        configs.append((float(pad), int(beam), float(ctx), float(weak[0]) if weak else 0.0))
    engines: dict[float, WhisperEngine] = {}
    for ctx in sorted({c[2] for c in configs}):
        engines[ctx] = WhisperEngine(EngineConfig(model_dir=resolve_whisper(args.model), audio_context=ctx))
        engines[ctx].transcribe(np.zeros(SAMPLE_RATE, dtype=np.float32))
    vad = SileroVad(silero_vad())
    rng = np.random.default_rng(1)
    rows: list[dict[str, Any]] = []
    load = [os.getloadavg()[0]]
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    for r in corpus:
        audio = with_noise_after(r, rng)
        stream = vad.stream()
        stream.feed(audio)
        probs = stream.probs
        for pad_s, beam, ctx, weak in configs:
            pad = max(1, round(pad_s * SAMPLE_RATE / WINDOW))
            policy = VadPolicy(pad_windows=pad, weak_peak=weak or None)
            found: list[dict[str, Any]] = []
            for n in points(probs, policy, pad):
                region = speech_region(probs[:n], n * WINDOW, policy)
                if region is None:
                    continue
                t = time.perf_counter()
                text = engines[ctx].transcribe(audio[region[0] : region[1]], beam_size=beam).text
                end = speech_windows(probs[:n], policy)
                assert end is not None
                found.append(
                    {
                        "at": round(n * WINDOW / SAMPLE_RATE, 3),
                        "text": text,
                        "speech_end": round((end[1] + 1) * WINDOW / SAMPLE_RATE, 3),
                        "decode_s": round(time.perf_counter() - t, 3),
                        "finished": judge(text).finished,
                        "reason": judge(text).reason,
                    }
                )
            if not found:
                continue
            last = found[-1]
            errors, n_words = wer(r.text, str(last["text"]))
            rows.append(
                {
                    "id": r.id,
                    "split": r.split,
                    "pause": r.pause,
                    "pause_kind": r.pause_kind,
                    "condition": r.condition,
                    "config": f"{pad_s}/{beam}/{ctx:g}/{weak:g}",
                    "text": last["text"],
                    "whole": is_whole(r, str(last["text"])),
                    "errors": errors,
                    "ref_words": n_words,
                    "finished_at_end": last["finished"],
                    "reason_at_end": last["reason"],
                    "decode_s": last["decode_s"],
                    "loops": repeats(words(str(last["text"]))),
                    "end_after_speech_s": round(float(last["speech_end"]) - r.speech_end, 3),
                    "start_after_speech_s": round(float(last["at"]) - r.speech_end, 3),
                    "pause_finished": [f["finished"] for f in found[:-1]],
                    "points": found,
                }
            )
        load.append(os.getloadavg()[0])
        print(
            r.id,
            " | ".join(
                f"{row['config']}: {row['text']!r} {row['finished_at_end']} {row['decode_s']}"
                for row in rows[-len(configs) :]
            ),
            flush=True,
        )
    summary: dict[str, Any] = {}
    for pad_s, beam, ctx, weak in configs:
        name = f"{pad_s}/{beam}/{ctx:g}/{weak:g}"
        for split in ("tune", "held"):
            mine = [row for row in rows if row["config"] == name and row["split"] == split]
            if not mine:
                continue
            paused = [row for row in mine if row["pause"] > 0]
            decodes = [p["decode_s"] for row in mine for p in row["points"]]
            ends = [row["end_after_speech_s"] for row in mine]
            starts = [row["start_after_speech_s"] for row in mine]
            summary[f"{name} {split}"] = {
                "requests": len(mine),
                "whole_at_end": sum(row["whole"] for row in mine),
                "wer_pct": round(100 * sum(row["errors"] for row in mine) / sum(row["ref_words"] for row in mine), 1),
                "finished_verdict_at_end": sum(row["finished_at_end"] for row in mine),
                "paused_read_finished_at_a_pause": sum(any(row["pause_finished"]) for row in paused),
                "paused": len(paused),
                "looped_at_end": sum(row["loops"] for row in mine),
                "decodes": len(decodes),
                "decode_p50_s": round(float(np.median(decodes)), 3),
                "decode_p95_s": round(float(np.percentile(decodes, 95)), 3),
                "speech_end_after_voice_p50_s": round(float(np.median(ends)), 3),
                "speech_end_after_voice_p95_s": round(float(np.percentile(ends, 95)), 3),
                "decode_start_after_voice_p50_s": round(float(np.median(starts)), 3),
                "decode_start_after_voice_p95_s": round(float(np.percentile(starts, 95)), 3),
            }
    out = {
        "started": started,
        "ended": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "model": args.model,
        "load": [min(load), max(load)],
        "summary": summary,
        "rows": rows,
    }
    print(json.dumps(summary, indent=1), "load", min(load), max(load))
    if args.out:
        args.out.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
