"""Offline: what hears short home commands best on this CPU, whole clips, options paired (session 31).

Each clip is decoded whole as the whisper server decodes a final (``WhisperEngine.transcribe`` with
``word_end``: greedy first, beam 5, tiny.en int8) by every option in ``--options``, one clip at a time,
the options in turn (their order reversed at every other clip), so load hits them alike:

* ``main``: the server's default final;
* ``commands``: ``--short-commands on`` (:mod:`wyoming_whisper.commands`);
* ``prompt``: the default final with a prompt of short command words (``PROMPT``);
* ``beam``: beam 5 always (``--greedy-sure off``);
* ``second``: ``main`` then base (multilingual, int8, beam 5) as the second opinion below -0.4, as the
  server's ``--second-opinion-model base`` (:mod:`wyoming_whisper.second`);
* ``base``: base alone.

Sets: ``fresh2`` (bench/fresh2_corpus.py, 48, every request whole, the probe set: may be tuned on),
``turn`` (bench/turn_corpus.py tune + held, 80 clips), ``fresh`` (bench/fresh_corpus.py probe +
sealed, 64: never tuned on), ``everyq`` (room_bench's every-question clips, ``--everyq DIR``: q0-q3).
A clip is a ``command`` when its text has at most 4 words and no "?", else a ``question``/``long``.
Per set, kind and option: exact (WER 0), WER mean, whole (``turn_bench.is_whole``), decode time p50 /
p95 and CPU seconds p50 (process time: both cores); every engine with the server's ``--cpu-threads``
default (min(4, cores)).

    nice -n 5 .venv/bin/python bench/asr_bench.py --options main,commands --out bench/results/s31_asr/x.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import wave
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.turn_bench import is_whole, word_error_rate  # noqa: E402
from bench.turn_corpus import Request, norm_words  # noqa: E402
from wyoming_whisper.commands import SHORT_COMMANDS  # noqa: E402
from wyoming_whisper.engine import Decoded, EngineConfig, WhisperEngine  # noqa: E402
from wyoming_whisper.second import asks_second, prefer  # noqa: E402

PROMPT = "Stop. Pause. Resume. Next. Skip this. Mute. Louder. Quieter. Volume up. Cancel that. Lights off. Thanks."
EVERYQ = {"q0.wav": "What is the weather like this week?", "q1.wav": "Tell me about the forecast.",
          "q2.wav": "Will it rain on Thursday?", "q3.wav": "How warm will it be tomorrow?"}
Clip = tuple[str, str, str, np.ndarray[Any, np.dtype[np.float32]]]  # (set, id, text, audio)


def kind(text: str) -> str:
    return "command" if len(norm_words(text)) <= 4 and "?" not in text else "question/long"


def _audio(r: Request) -> np.ndarray[Any, np.dtype[np.float32]]:
    return (np.frombuffer(r.pcm, dtype="<i2") / 32768).astype(np.float32)


def clips(sets: list[str], everyq: Path | None) -> list[Clip]:
    out: list[Clip] = []
    if "fresh2" in sets:
        from bench.fresh2_corpus import build as fresh2

        out += [("fresh2", r.id, r.text, _audio(r)) for r in fresh2()]
    if "turn" in sets:
        from bench.turn_corpus import build as turn

        out += [("turn", f"{r.id}", r.text, _audio(r)) for r in turn()]
    if "fresh" in sets:
        from bench.fresh_corpus import build as fresh

        out += [("fresh", r.id, r.text, _audio(r)) for r in fresh()]
    if "everyq" in sets and everyq is not None:
        for name, text in EVERYQ.items():
            with wave.open(str(everyq / name), "rb") as w:
                assert w.getframerate() == 16000 and w.getnchannels() == 1 and w.getsampwidth() == 2
                pcm = w.readframes(w.getnframes())
            out.append(("everyq", name, text, (np.frombuffer(pcm, dtype="<i2") / 32768).astype(np.float32)))
    return out


def final(engine: WhisperEngine, audio: np.ndarray[Any, Any]) -> Decoded:
    """``audio``'s final as the server decodes it."""
    return engine.transcribe(audio, "en", word_end=True)


def options(names: list[str]) -> dict[str, Callable[[np.ndarray[Any, Any]], Decoded]]:
    from voice_runtime.models import resolve_whisper

    made: dict[str, Callable[[np.ndarray[Any, Any]], Decoded]] = {}
    tiny = resolve_whisper("tiny.en")
    threads = min(4, os.cpu_count() or 1)  # the server's --cpu-threads default
    main = WhisperEngine(EngineConfig(tiny, cpu_threads=threads))
    base: WhisperEngine | None = None
    if {"second", "base"} & set(names):
        base = WhisperEngine(EngineConfig(resolve_whisper("base"), cpu_threads=threads))
    for name in names:
        if name == "main":
            made[name] = lambda a: main.transcribe(a, "en", word_end=True)
        elif name in ("commands", "beam"):
            config = EngineConfig(tiny, cpu_threads=threads, short_commands=SHORT_COMMANDS) if name == "commands" \
                else EngineConfig(tiny, cpu_threads=threads, greedy_sure=None)
            made[name] = partial(final, WhisperEngine(config))
        elif name == "prompt":
            made[name] = lambda a: main.transcribe(a, "en", prompt=PROMPT, word_end=True)
        elif name == "second" and base is not None:
            def second(a: np.ndarray[Any, Any], b: WhisperEngine = base) -> Decoded:
                first = main.transcribe(a, "en", word_end=True)
                return prefer(first, b.transcribe(a, "en", word_end=True)) if asks_second(first) else first
            made[name] = second
        elif name == "base" and base is not None:
            made[name] = partial(final, base)
        else:
            raise SystemExit(f"unknown option {name}")
    return made


def pct(xs: list[float], q: float) -> float | None:
    return round(float(np.percentile(xs, q)), 3) if xs else None


def summarise(rows: list[dict[str, Any]], names: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    groups = sorted({(r["set"], r["kind"]) for r in rows})
    for s, k in groups:
        part = [r for r in rows if r["set"] == s and r["kind"] == k]
        out[f"{s}/{k}"] = {name: {
            "n": len(part),
            "exact": sum(r[name]["wer"] == 0 for r in part),
            "whole": sum(r[name]["whole"] for r in part),
            "wer_mean": round(statistics.fmean(r[name]["wer"] for r in part), 3),
            "decode_p50": pct([r[name]["s"] for r in part], 50), "decode_p95": pct([r[name]["s"] for r in part], 95),
            "cpu_p50": pct([r[name]["cpu"] for r in part], 50),
        } for name in names}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--options", default="main,commands")
    parser.add_argument("--sets", default="fresh2,turn,fresh,everyq")
    parser.add_argument("--everyq", type=Path, default=Path("/tmp/p30/quiet/rb-eq"))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    names = args.options.split(",")
    made = options(names)
    todo = clips(args.sets.split(","), args.everyq if args.everyq.is_dir() else None)
    warm = todo[0][3]
    for decode in made.values():  # first decodes pay one-off costs
        decode(warm)
    load = [os.getloadavg()[0]]
    rows = []
    for n, (s, cid, text, audio) in enumerate(todo):
        row: dict[str, Any] = {"set": s, "id": cid, "text": text, "kind": kind(text)}
        for name in names if n % 2 == 0 else names[::-1]:
            t0, c0 = time.perf_counter(), time.process_time()
            d = made[name](audio)
            row[name] = {"text": d.text, "avg_logprob": None if d.avg_logprob is None else round(d.avg_logprob, 3),
                         "s": round(time.perf_counter() - t0, 4), "cpu": round(time.process_time() - c0, 4),
                         "wer": round(word_error_rate(text, d.text), 3),
                         "whole": is_whole(Request(cid, s, text, "", 0, "", 0.0, "", 0.0, None, "", b"", 0.0), d.text)}
        rows.append(row)
        changed = {row[x]["text"] for x in names}
        print(f"{s:6s} {cid:14s} {text!r:45s} " + " | ".join(f"{x}: {row[x]['text']!r}" for x in names)
              + ("" if len(changed) == 1 else "  *"), flush=True)
        load.append(os.getloadavg()[0])
    result = {"options": names, "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "load_1m": {"min": min(load), "max": max(load), "p50": statistics.median(load)},
              "summary": summarise(rows, names), "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({"load_1m": result["load_1m"], "summary": result["summary"]}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
