"""Why the early final decode (``wyoming_whisper.early``) so rarely runs in the room: at every end of
the user's speech in a kept ``bench/room_turns_bench.py --tap`` run, the whisper server's Silero
(``VadStream``, both grids) over the satellite's raw mic, and what ``early.py`` decides there.

Per speech end (a run of 3 or more windows at or over the threshold followed by 8 quiet windows; ends
while the reply plays, or within ``--after-reply`` seconds of it, are left out: the echo, not the user):

* the scores of the first quiet windows (both grids) and their levels (dBFS);
* ``gate``: the early decode would start (:func:`early.may_start`: the first quiet window under
  ``EARLY_GATE``); ``reuse``: its text would stand for the whole region (:func:`early.adds_no_word`);
* with ``--texts``, tiny.en (the server's engine and decode: greedy first, the last word aligned) on
  the speech plus 1, 2 and 3 quiet windows (3: the regular speculative final's pad), from 0.5 s before
  the request's first speech window: which texts a sooner start would have had instead.

The raw mic is not the cleaned stream whisper heard (the canceller's output), but no reply plays
at these ends, so the two differ by the canceller's residual only. The whisper log's own count of
adopted early decodes is printed too (``speculative final: the early decode``).

    .venv/bin/python bench/room_early_probe.py RUN [RUN ...] [--texts] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from wyoming_whisper import early  # noqa: E402
from wyoming_whisper.policy import ENDPOINT_PAD_SECONDS  # noqa: E402
from wyoming_whisper.vad import WINDOW, SileroVad, VadPolicy  # noqa: E402

MIC_RATE = 16000
TICK = 480  # mic samples per satellite tick (30 ms)
QUIET_AFTER = 8  # quiet windows after a speech run for it to count as an end
NEW_REQUEST = 40  # windows of silence (1.3 s) before speech that starts a new request
LEAD = 16  # windows kept before the first speech window (the server's lead_windows)


def reply_ticks(tap: Path) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Per satellite tick: whether the speaker frame written then was audible (> -50 dBFS)."""
    meta = [line.split("\t") for line in (tap / "meta.tsv").read_text().splitlines() if line]
    ref = np.fromfile(tap / "ref.raw", dtype="<i2").astype(np.float64) / 32768.0
    loud, at = [], 0
    for row in meta:
        n = int(row[1]) // 2
        frame = ref[at : at + n]
        at += n
        loud.append(bool(frame.size) and 10 * np.log10(np.mean(frame**2) + 1e-12) > -50.0)
    return np.array(loud, dtype=bool)


def speech_ends(probs: list[float], threshold: float) -> list[tuple[int, int]]:
    """(first window of the request, last speech window) at each end of speech."""
    ends, start, last_end, i = [], None, -NEW_REQUEST - 1, 0
    while i < len(probs):
        if probs[i] < threshold:
            i += 1
            continue
        if start is None or i - last_end > NEW_REQUEST:
            start = i
        j = i
        while j + 1 < len(probs) and probs[j + 1] >= threshold:
            j += 1
        after = probs[j + 1 : j + 1 + QUIET_AFTER]
        if j - i + 1 >= 3 and (len(after) < QUIET_AFTER or max(after) < threshold):
            ends.append((start, j))
        last_end, i = j, j + 1
    return ends


def probe(run: Path, *, texts: bool, after_reply: float) -> dict[str, Any]:
    from voice_runtime.models import resolve_whisper, silero_vad

    pcm = np.fromfile(run / "tap" / "mic.raw", dtype="<i2").astype(np.float32) / 32768.0
    stream = SileroVad(silero_vad()).stream()
    for at in range(0, pcm.size, TICK):
        stream.feed(pcm[at : at + TICK])
    probs, half, levels = stream.probs, stream.half_probs or [], stream.levels
    policy = VadPolicy()
    pad = round(ENDPOINT_PAD_SECONDS * MIC_RATE / WINDOW)  # the pad with endpointing (.policy): 3 windows
    loud = reply_ticks(run / "tap")
    engine = None
    if texts:
        from wyoming_whisper.engine import EngineConfig, WhisperEngine

        engine = WhisperEngine(EngineConfig(resolve_whisper("tiny.en")))
    rows = []
    for start, last in speech_ends(probs, policy.threshold):
        tick = last * WINDOW // TICK
        if loud[max(0, tick - int(after_reply * MIC_RATE / TICK)) : tick + 4].any():
            continue
        row: dict[str, Any] = {
            "at_s": round(last * WINDOW / MIC_RATE, 2),
            "quiet": [round(p, 3) for p in probs[last + 1 : last + 4]],
            "quiet_half": [round(p, 3) for p in half[last + 1 : last + 3]],
            "db": [round(v, 1) for v in levels[last - 1 : last + 4]],
            "gate": early.may_start(probs, last, 1, pad, pad),
            "reuse": early.adds_no_word(probs, half, last, pad),
        }
        if engine is not None:
            begin = max(0, start - LEAD) * WINDOW
            row["texts"] = {str(k): engine.transcribe(pcm[begin : (last + 1 + k) * WINDOW], word_end=True).text
                            for k in (1, 2, 3)}
        rows.append(row)
    log = run / "whisper.log"
    adopted = log.read_text(errors="replace").count("speculative final: the early decode") if log.exists() else None
    return {"run": str(run), "ends": rows, "whisper_log_adopted": adopted}


def summary(result: dict[str, Any]) -> str:
    rows = result["ends"]
    out = [f"{result['run']}: {len(rows)} user speech ends; early decode would start at "
           f"{sum(r['gate'] for r in rows)}, stand for the region at {sum(r['gate'] and r['reuse'] for r in rows)}; "
           f"the whisper log's adopted early decodes: {result['whisper_log_adopted']}"]
    first = sorted(r["quiet"][0] for r in rows if r["quiet"])
    if first:
        out.append(f"  first quiet window's score p50 {np.median(first):.3f}, under {early.EARLY_GATE}: "
                   f"{sum(p < early.EARLY_GATE for p in first)}/{len(first)}")
    if rows and "texts" in rows[0]:
        for k in ("1", "2"):
            differ = [r for r in rows if r["texts"][k] != r["texts"]["3"]]
            out.append(f"  speech + {k} quiet window(s) vs + 3 (the pad): {len(differ)}/{len(rows)} texts differ")
            out += [f"    {r['at_s']} s {r['quiet']}: {r['texts'][k]!r} vs {r['texts']['3']!r}" for r in differ]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--texts", action="store_true", help="decode each end with 1, 2 and 3 quiet windows")
    parser.add_argument("--after-reply", type=float, default=2.0,
                        help="leave out ends within this many seconds of audible reply audio (default 2)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = [probe(run, texts=args.texts, after_reply=args.after_reply) for run in args.runs]
    for result in results:
        print(summary(result))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
