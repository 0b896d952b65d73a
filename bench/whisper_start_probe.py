"""Offline: where the decoded audio starts, and how the recogniser reads it (issue 17, interrupting WER).

The whisper server decodes a turn's Silero region (0.5 s lead, or its reach back, the endpointing's
0.1 s pad). In the room the satellite streams from ~150 ms before the onset (its pre-roll), so the
region starts at the stream's first sample, and tiny.en reads the clean "Will it rain on Thursday?"
right or wrong depending on where the decoded audio starts (bench/results/s22_echo.md). Each
``--leads`` rule changes the start of the audio the engine decodes: ``none`` (main), ``zeros:S``
(S s of digital silence before the region), ``noise:S`` (S s of noise at the region's quietest
32 ms window's level, fixed seed), ``cut:K:S`` (the region from K Silero windows before its first
speech window, or its own start if later, then S s of zeros), ``best:S`` (decoded as it is and
after S s of zeros, the one that does not repeat a phrase and scores the higher avg_logprob).
Every final is decoded again with 0.2 s more audio when it repeats a phrase, as the server does
(``Utterance.loop_retry``).
Results: bench/results/s23_wer.md (none of these rules was kept).

Two corpora, each rule on the same audio:

* ``interrupt``: the interrupting questions (``bench/echo_interrupt_room.py``'s chain, as
  ``bench/echo_interrupt_bench.py`` runs it: per echo level and onset), the satellite's streams
  cached in ``--streams`` (built once, then reused); decoded as the server decodes a turn.
  WER per level and onset, misheard turns.
* ``corpus``: the end-of-turn corpus streamed room-like (``bench/eot_sure_probe.py``'s streams:
  5 start phases), every speculative final decoded as the server does; per split: first word
  kept, heard whole, WER (the last decode), pause cuts (the ``now`` end-of-turn replay), decode
  time p50 / p95.

    nice -n 10 .venv/bin/python bench/whisper_start_probe.py interrupt --split tune --streams F.npz
    nice -n 10 .venv/bin/python bench/whisper_start_probe.py corpus [--prerolls 0.3,0.5,0.7]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "tests"))  # speech.speak (Piper), as bench/room_bench.py

from wyoming_whisper.engine import SAMPLE_RATE, Decoded, FloatArray  # noqa: E402

RATE = SAMPLE_RATE


def zeros_lead(audio: FloatArray, seconds: float) -> FloatArray:
    """``audio`` after ``seconds`` of digital silence."""
    return np.concatenate([np.zeros(int(round(seconds * RATE)), dtype=np.float32), audio.astype(np.float32)])


def noise_lead(audio: FloatArray, seconds: float) -> FloatArray:
    """``audio`` after ``seconds`` of white noise at its quietest 512-sample window's RMS."""
    n = len(audio) // 512
    rms = min(float(np.sqrt(np.mean(audio[i * 512 : (i + 1) * 512] ** 2))) for i in range(n)) if n else 0.0
    noise = np.random.default_rng(0).standard_normal(int(round(seconds * RATE))).astype(np.float32) * rms
    return np.concatenate([noise, audio.astype(np.float32, copy=False)])


class Engine:
    """tiny.en int8 beam 5 (the server's default) with a start rule that can be switched."""

    def __init__(self) -> None:
        from voice_runtime.models import resolve_whisper
        from wyoming_whisper.__main__ import DEFAULT_MODEL
        from wyoming_whisper.engine import EngineConfig, WhisperEngine

        self.engine = WhisperEngine(EngineConfig(resolve_whisper(DEFAULT_MODEL)))
        self.engine.transcribe(np.zeros(RATE, dtype=np.float32))
        self.lead, self.seconds = zeros_lead, 0.0

    def use(self, rule: str) -> None:
        kind, _, seconds = rule.partition(":")
        seconds = seconds.partition(":")[2] if kind == "cut" else seconds
        self.lead = noise_lead if kind == "noise" else zeros_lead
        self.seconds = 0.0 if kind == "none" else float(seconds)
        self.best = kind == "best"

    def transcribe(self, audio: FloatArray, language: str, **kw: Any) -> Decoded:
        """The engine's decode of ``audio`` with the rule's lead before it; its last word's end
        in ``audio``'s time. ``best:S``: decoded as it is and with S s of zeros before it, the
        decode that does not repeat a phrase and has the higher avg_logprob kept."""
        if self.seconds <= 0 or not audio.size:
            return self.engine.transcribe(audio, language, **kw)
        d = self.engine.transcribe(self.lead(audio, self.seconds), language, **kw)
        end = None if d.last_word_end is None else max(0.0, d.last_word_end - self.seconds)
        led = Decoded(d.text, d.avg_logprob, d.no_speech_prob, end)
        if not self.best:
            return led
        from wyoming_whisper.endpoint import repeats, words

        plain = self.engine.transcribe(audio, language, **kw)
        return max((plain, led), key=lambda x: (not repeats(words(x.text)), x.avg_logprob or -99.0))


def final_text(engine: Any, x: FloatArray, a: int, b: int, first: Any = None) -> tuple[str, float | None]:
    """The server's final text of ``x[a:b]`` (``first``: its decode, if made) and its avg_logprob:
    decoded again with up to 0.2 s more audio when it repeats a phrase (``Utterance.loop_retry``)."""
    from wyoming_whisper.endpoint import repeats, words
    from wyoming_whisper.stream import LOOP_RETRY_SECONDS

    d = engine.transcribe(x[a:b], "en") if first is None else first
    end = min(len(x), b + int(LOOP_RETRY_SECONDS * RATE))
    if repeats(words(d.text)) and end > b:
        d = engine.transcribe(x[a:end], "en")
    return str(d.text), d.avg_logprob


def cut(rule: str, region: tuple[int, int], first: int) -> tuple[int, int]:
    """The span ``rule`` decodes of ``region`` whose first speech window is ``first``."""
    if not rule.startswith("cut:"):
        return region
    from wyoming_whisper.vad import WINDOW

    windows = int(rule.split(":")[1])
    return max(region[0], (first - windows) * WINDOW), region[1]


def region_of(vad: Any, x: FloatArray) -> tuple[tuple[int, int], int] | None:
    """The span the server decodes at the end of the turn (endpointing's 0.1 s pad), its first
    speech window."""
    from wyoming_whisper.policy import ENDPOINT_PAD_SECONDS
    from wyoming_whisper.vad import WINDOW, VadPolicy, speech_region, speech_windows

    stream = vad.stream()
    stream.feed(x)
    stream.finish()
    policy = VadPolicy(pad_windows=round(ENDPOINT_PAD_SECONDS * RATE / WINDOW))
    region = speech_region(stream.probs, len(x), policy, stream.half_probs, stream.levels)
    found = speech_windows(stream.probs, policy, stream.half_probs, stream.levels)
    return None if region is None or found is None else (region, found[0])


# -- the interrupting questions -------------------------------------------------------------------
def build_streams(split: str, levels: list[float], onsets: list[float], path: Path, limit: int) -> None:
    from speech import speak

    from bench.echo_interrupt_bench import questions
    from bench.echo_interrupt_room import Room
    from bench.room_bench import REPLY

    reply = speak(REPLY)
    qs = questions(split)[: limit or None]
    meta: list[dict[str, Any]] = []
    arrays: dict[str, Any] = {}
    for level in levels:
        for onset in onsets:
            room = Room(reply, level)
            room.warm_up(8.0)
            for text, voice, x in qs:
                t = room.turn(text, x, onset)
                key = f"s{len(meta)}"
                arrays[key] = np.frombuffer(t.stream, "<i2")
                meta.append({"key": key, "question": text, "voice": voice, "echo_db": level, "onset_s": onset,
                             "streamed": t.start is not None,
                             "start_ms": None if t.start is None else round((t.start - t.onset) / 16)})
            print(f"streams: {split} {level} dB onset {onset}: {len(meta)}, load {os.getloadavg()[0]:.2f}", flush=True)
    np.savez_compressed(path, meta=np.array(json.dumps(meta)), **arrays)


def interrupt(args: argparse.Namespace) -> dict[str, Any]:
    from bench.echo_interrupt_bench import turn_wer
    from voice_runtime.models import silero_vad
    from wyoming_whisper.vad import SileroVad

    if not args.streams.exists():
        build_streams(args.split, args.levels, args.onsets, args.streams, args.limit)
    data = np.load(args.streams)
    meta = json.loads(str(data["meta"]))
    vad = SileroVad(silero_vad())
    engine = Engine()
    audio: dict[str, tuple[FloatArray, tuple[int, int], int] | None] = {}
    for m in meta:
        x = (data[m["key"]].astype(np.float32) / 32768).astype(np.float32)
        found = region_of(vad, x) if m["streamed"] and len(x) else None
        audio[m["key"]] = None if found is None else (x, *found)
    out: dict[str, Any] = {"split": args.split, "rules": {}}
    for rule in args.leads:
        engine.use(rule)
        t0, times, rows = time.time(), [], []
        for m in meta:
            got = audio[m["key"]]
            logprob = None
            if got is None:
                heard = None
            else:
                x, region, first = got
                a, b = cut(rule, region, first)
                t = time.perf_counter()
                heard, logprob = final_text(engine, x, a, b)
                times.append(time.perf_counter() - t)
            rows.append({**m, "heard": heard, "wer": turn_wer(m["question"], heard), "avg_logprob": logprob})
        summary: dict[str, Any] = {"decode_s": _p5095(times), "load": os.getloadavg()[0],
                                   "when": time.strftime("%H:%M:%S", time.gmtime()), "seconds": round(time.time() - t0)}
        for level in sorted({m["echo_db"] for m in meta}):
            mine = [r for r in rows if r["echo_db"] == level]
            summary[str(level)] = _wer(mine) | {
                str(o): _wer([r for r in mine if r["onset_s"] == o]) for o in sorted({r["onset_s"] for r in mine})}
        out["rules"][rule] = {"summary": summary, "rows": rows}
        print(rule, json.dumps(summary), flush=True)
    return out


def _wer(rows: list[dict[str, Any]]) -> dict[str, Any]:
    words = sum(len(r["question"].split()) for r in rows)
    errors = sum(len(r["question"].split()) * r["wer"] for r in rows)
    return {"turns": len(rows), "words": words, "wer": round(errors / words, 4) if words else None,
            "misheard": sum(r["wer"] > 0 for r in rows)}


def _p5095(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0}
    return {"n": len(values), "p50": round(statistics.median(values), 3),
            "p95": round(float(np.percentile(values, 95)), 3)}


# -- the end-of-turn corpus -----------------------------------------------------------------------
def corpus(args: argparse.Namespace) -> dict[str, Any]:
    import bench.eot_sure_probe as sure
    from bench.echo_interrupt_bench import turn_wer
    from bench.eot_lead_probe import first_kept, streamed
    from bench.turn_corpus import build
    from voice_runtime.models import silero_vad
    from wyoming_whisper.vad import SileroVad

    policy = sure.POLICY
    vad = SileroVad(silero_vad())
    engine = Engine()
    requests = build()[: args.limit or None]
    prepared = []  # (request, preroll, stream audio, [(n, region, speech, gap)])
    for preroll in [float(p) for p in args.prerolls.split(",")]:
        for i, r in enumerate(requests):
            x = streamed(r, preroll, None, i, True)
            found = [(n, region, speech, None if resume is None else (resume - speech[1] - 1) * 512 / RATE)
                     for n, region, speech, resume in sure.end_points(vad, x, policy)]
            prepared.append((r, preroll, x, found))
    last: tuple[FloatArray, int, int, Any] | None = None
    from orchestrator.command_end import complete_command
    from orchestrator.intents import IntentRecognizer

    intents = IntentRecognizer()
    rule = sure.make_rule("now", lambda text: complete_command(intents, text))
    out: dict[str, Any] = {"rules": {}}
    for name in args.leads:
        engine.use(name)
        t0, times = time.time(), []
        streams: list[dict[str, Any]] = []
        for r, preroll, x, found in prepared:
            pts: list[dict[str, Any]] = []
            for n, region, speech, gap in found:
                a, b = cut(name, region, speech[0])
                t = time.perf_counter()
                d = engine.transcribe(x[a:b], "en", beam_size=5, word_end=True)
                times.append(time.perf_counter() - t)
                last = (x, a, b, d)
                pts.append({"at": round(n * 512 / RATE, 3), "speech_end": round((speech[1] + 1) * 512 / RATE, 3),
                            "gap": None if gap is None else round(gap, 3), "region_start": round(a / RATE, 3),
                            "text": d.text, "decode_s": 0.09, "avg_logprob": d.avg_logprob,
                            "last_word_end": d.last_word_end})
            final, logprob = ("", None) if not pts or last is None else final_text(engine, *last)
            streams.append({"id": r.id, "split": r.split, "preroll": preroll, "text": r.text, "pause": r.pause,
                            "pause_after": r.pause_after, "pause_kind": r.pause_kind, "condition": r.condition,
                            "voice_end": round(r.speech_end + preroll, 3), "points": pts, "final": final,
                            "avg_logprob": logprob})
        summary: dict[str, Any] = {"decode_s": _p5095(times), "load": os.getloadavg()[0],
                                   "when": time.strftime("%H:%M:%S", time.gmtime()), "seconds": round(time.time() - t0)}
        per: list[dict[str, Any]] = []
        for s in streams:
            if not s["points"]:
                per.append({"id": s["id"], "preroll": s["preroll"], "split": s["split"], "text": "", "first": False,
                            "whole_last": False, "wer": 1.0, "cut": False, "whole": False})
                continue
            heard = s["final"]
            end = sure.replay(s, rule)
            per.append({"id": s["id"], "preroll": s["preroll"], "split": s["split"], "text": heard,
                        "first": first_kept(s["text"], heard), "whole_last": sure.is_whole_text(s, heard),
                        "wer": turn_wer(s["text"], heard), "cut": end["cut"], "whole": end["whole"],
                        "avg_logprob": s["avg_logprob"]})
        for split in ("tune", "held"):
            mine = [p for p in per if p["split"] == split]
            ref: dict[tuple[str, float], str] = {(s["id"], s["preroll"]): s["text"] for s in streams}
            words = sum(len(ref[(p["id"], p["preroll"])].split()) for p in mine)
            errors = sum(len(ref[(p["id"], p["preroll"])].split()) * p["wer"] for p in mine)
            summary[split] = {"n": len(mine), "first_word_kept": sum(p["first"] for p in mine),
                              "heard_whole_last": sum(p["whole_last"] for p in mine),
                              "wer": round(errors / words, 4), "pause_cuts": sum(p["cut"] for p in mine),
                              "whole_at_end_of_turn": sum(p["whole"] for p in mine)}
        out["rules"][name] = {"summary": summary, "streams": per}
        print(name, json.dumps(summary), flush=True)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("interrupt", "corpus"))
    parser.add_argument("--leads", nargs="+", default=["none", "zeros:0.1", "zeros:0.2", "zeros:0.3", "noise:0.2"])
    parser.add_argument("--split", choices=("tune", "held", "room"), default="tune")
    parser.add_argument("--levels", type=float, nargs="+", default=[0.0, -6.0])
    parser.add_argument("--onsets", type=float, nargs="+", default=[0.6, 1.5, 2.6, 3.7])
    parser.add_argument("--streams", type=Path, default=Path("/tmp/whisper_start_streams.npz"))
    parser.add_argument("--prerolls", default="0.3,0.4,0.5,0.6,0.7")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    result = interrupt(args) if args.what == "interrupt" else corpus(args)
    result["when"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
