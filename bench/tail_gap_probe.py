"""Offline: how far the speech runs on after the last word a speculative final decoded.

The room's held-50 ("Open the garage door and ... turn on the porch light.", far+noise) lost its
quiet "and" from the decode at the pause: "Open the garage door." read as finished and the turn
ended. Silero scored the "and" 0.98 (it is speech); tiny.en left it out, and its last word ("door")
ends ~0.3 s before the speech does. This runs every request through the server's stream logic
(:class:`wyoming_whisper.stream.Utterance`, ``vad_sensitivity: default``, 30 ms chunks), decodes
each speculative final as the server does (tiny.en, beam 5, with where its last word ends) and
prints, per decode, whether it is at a pause or at the end of the request, its text, the verdict
without the tail rule and the gap: the speech's end (Silero, both grids) minus the last word's end.

Sources: the turn corpus (generation 2; its noise continues after the request) and kept room runs
(``--room DIR``, repeatable: the room's ``mic.wav`` around each clip, which the corpus names).

    python bench/tail_gap_probe.py --corpus --room /tmp/p17/lead/held1 --json /tmp/gaps.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wyoming.asr import Transcribe  # noqa: E402

from bench.turn_corpus import Request, build  # noqa: E402
from voice_runtime.models import resolve_whisper, silero_vad  # noqa: E402
from wyoming_whisper.endpoint import judge  # noqa: E402
from wyoming_whisper.engine import SAMPLE_RATE, EngineConfig, WhisperEngine  # noqa: E402
from wyoming_whisper.policy import request_policy  # noqa: E402
from wyoming_whisper.stream import StreamPolicy, Utterance  # noqa: E402
from wyoming_whisper.vad import WINDOW, SileroVad  # noqa: E402

LEAD = 0.5  # stream before the clip
FRAME = 480
BASE = StreamPolicy(
    endpoint_windows=round(0.25 * SAMPLE_RATE / WINDOW), endpoint_max_windows=round(1.5 * SAMPLE_RATE / WINDOW)
)


def decodes(
    engine: WhisperEngine, vad: SileroVad, audio: np.ndarray, speech_end: float, timed: bool = False
) -> list[dict[str, Any]]:
    """Every speculative final of ``audio`` (its speech ends ``speech_end`` s in). ``timed``: each
    decoded twice more, without and with the alignment (in turns), their times kept."""
    policy = request_policy(
        BASE, Transcribe(language="en", vad_sensitivity="default", context={"partial_transcripts": False})
    )
    utterance = Utterance(vad.stream(), policy)
    pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()
    found: list[dict[str, Any]] = []
    for i in range(0, len(pcm), FRAME * 2):
        utterance.add(pcm[i : i + FRAME * 2])
        job = utterance.next_job(model_busy=False)
        if job is None or job.kind != "final":
            continue
        decoded = engine.transcribe(job.audio(), "en", word_end=True)
        times: dict[str, float] = {}
        for aligned in (False, True) if len(found) % 2 else (True, False):
            if timed:
                began = time.perf_counter()
                engine.transcribe(job.audio(), "en", word_end=aligned)
                times["aligned" if aligned else "plain"] = round(time.perf_counter() - began, 4)
        speech = utterance._speech()  # the probe reads what judge reads
        assert speech is not None
        end = (speech[1] + 1) * WINDOW / SAMPLE_RATE
        gap = None if decoded.last_word_end is None else end - (job.region[0] / SAMPLE_RATE + decoded.last_word_end)
        found.append(
            {
                "at": "end" if end > speech_end - 0.3 else "pause",
                "text": decoded.text,
                "finished": judge(decoded.text).finished,
                "logprob": decoded.avg_logprob,
                "gap": None if gap is None else round(gap, 3),
                "speech_end": round(end, 3),
                **times,
            }
        )
    return found


def room_clips(folder: Path, corpus: dict[str, Request], lead: float) -> list[tuple[str, np.ndarray, float]]:
    result = json.loads((folder / "result.json").read_text())
    with wave.open(str(folder / "mic.wav")) as w:
        mic = (np.frombuffer(w.readframes(w.getnframes()), "<i2") / 32768).astype(np.float32)
    clips = []
    for u in result["utterances"]:
        rid = Path(str(u.get("wav"))).stem
        if rid not in corpus:
            continue
        at = u["at"] + result["wav_offset_s"]
        end = corpus[rid].speech_end
        audio = mic[int((at - lead) * SAMPLE_RATE) : int((at + end + 0.4) * SAMPLE_RATE)]
        clips.append((f"{folder.name}/{rid}", audio, lead + end))
    return clips


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", action="store_true", help="the turn corpus (generation 2)")
    parser.add_argument("--room", type=Path, action="append", default=[], help="a kept room_turns folder")
    parser.add_argument("--json", type=Path, help="write every decode here")
    parser.add_argument("--only", default="", help="clips whose name contains this")
    parser.add_argument("--time", action="store_true", help="time each decode without and with the alignment")
    parser.add_argument("--leads", default="0", help="ms more before each clip, comma-separated (grid phases)")
    args = parser.parse_args()
    corpus = {r.id: r for r in build()}
    engine = WhisperEngine(EngineConfig(model_dir=resolve_whisper("tiny.en")))
    vad = SileroVad(silero_vad())
    clips: list[tuple[str, np.ndarray, float]] = []
    for more in (int(m) / 1000 for m in args.leads.split(",")):
        if args.corpus:
            rng = np.random.default_rng(0)
            for r in corpus.values():
                x = np.frombuffer(r.pcm, "<i2").astype(np.float32) / 32768
                noise = r.noise_dbfs if r.noise_dbfs is not None else -90.0
                pad = [
                    rng.standard_normal(int(s * SAMPLE_RATE)).astype(np.float32) * 10 ** (noise / 20)
                    for s in (0.2 + more, 0.6)
                ]
                clips.append(
                    (f"corpus/{r.id}+{more * 1000:.0f}", np.concatenate([pad[0], x, pad[1]]), 0.2 + more + r.speech_end)
                )
        for folder in args.room:
            clips += [(f"{n}+{more * 1000:.0f}", a, e) for n, a, e in room_clips(folder, corpus, LEAD + more)]
    clips = [c for c in clips if args.only in c[0]]
    rows = []
    for name, audio, end in clips:
        for d in decodes(engine, vad, audio, end, args.time):
            rows.append({"clip": name, **d})
            print(f"{name:28s} {d['at']:5s} {'F' if d['finished'] else 'u'} gap={d['gap']} {d['text']!r}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    extra = [r["aligned"] - r["plain"] for r in rows if "aligned" in r]
    if extra:
        plain = [r["plain"] for r in rows if "plain" in r]
        print(
            f"decode p50 {np.median(plain):.4f} s; the alignment adds p50 {np.median(extra):.4f} "
            f"p95 {np.percentile(extra, 95):.4f} s (n={len(extra)})"
        )
    for at in ("end", "pause"):
        gaps = sorted(r["gap"] for r in rows if r["at"] == at and r["finished"] and r["gap"] is not None)
        if gaps:
            print(
                f"finished at the {at}: n={len(gaps)} gap p50 {np.median(gaps):.3f} p95 "
                f"{np.percentile(gaps, 95):.3f} max {gaps[-1]:.3f}; top 5 {gaps[-5:]}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
