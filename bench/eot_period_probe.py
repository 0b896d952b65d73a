"""Offline: which speculative finals lack a final period, and what would end them sooner?

Issue 17's intents p95 (from the room's end-of-speech mark) is set by complete commands that
tiny.en wrote without a final ``.`` ("next song", "Switch off the Bedroom lamp"): a *weak*
verdict (:mod:`wyoming_whisper.endpoint`), which waits ``ENDPOINT_WEAK_SECONDS`` (1.2 s with
``default``) because the same kind of text also comes at a pause mid-request ("turn on the
kitchen ... lights"). This replays the end-of-turn corpus (``bench/turn_corpus.py``, generation 2)
through the server's own :class:`wyoming_whisper.stream.Utterance` (Silero VAD on both grids,
the ``default`` sensitivity's policy, partials off as ``serve`` asks) and decodes every
speculative final it starts, once per prompt variant (``--prompts``: ``none`` or a text given
to Whisper as ``context.initial_prompt``), recording per decode:

* where it is: at a pause (speech follows; the silence the VAD counts before it) or at the end;
* the text, its verdict (finished / weak / unfinished) and ``avg_logprob``;
* ``p_end``: tiny.en's probability that the text ends here, i.e. that the next token after it
  is a final ``.`` ``?`` ``!`` (or end of text): one decoder step with the text forced as the
  prefix, on the same encoder output (a cue from the audio: the voice falling).

Rows go to ``--out`` (JSON); ``--summary`` prints, per prompt variant and split, complete
requests whose end verdict is weak or unfinished (with voice and condition) and paused requests
with a finished or weak verdict at a pause, and prices a weak-ends-sooner rule at thresholds of
``p_end`` (cuts at pauses it would add; weak ends it would shorten).

    nice -n 10 python bench/eot_period_probe.py --out /tmp/p.json [--prompts none,"Turn on the light. Next song."]
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

from wyoming.asr import Transcribe  # noqa: E402

from bench.turn_bench import is_whole  # noqa: E402
from bench.turn_corpus import build, with_noise_after  # noqa: E402
from voice_runtime.models import resolve_whisper, silero_vad  # noqa: E402
from wyoming_whisper.endpoint import judge  # noqa: E402
from wyoming_whisper.engine import SAMPLE_RATE, EngineConfig, WhisperEngine  # noqa: E402
from wyoming_whisper.policy import request_policy  # noqa: E402
from wyoming_whisper.stream import UNSURE_LOGPROB, StreamPolicy, Utterance  # noqa: E402
from wyoming_whisper.vad import WINDOW, SileroVad, VadPolicy  # noqa: E402

CHUNK = 1024  # samples per audio chunk fed (the satellite's 64 ms)


def server_policy() -> StreamPolicy:
    """The whisper server's defaults (``--speech-pad 0.3``, ``--endpoint-max-silence 1.5``) with
    what ``serve`` asks for (``default`` sensitivity, no partials)."""
    pad = round(0.3 * SAMPLE_RATE / WINDOW)
    base = StreamPolicy(
        vad=VadPolicy(pad_windows=pad), settle_windows=pad, endpoint_max_windows=round(1.5 * SAMPLE_RATE / WINDOW)
    )
    return request_policy(base, Transcribe(vad_sensitivity="default", context={"partial_transcripts": False}))


def p_end(engine: WhisperEngine, audio: np.ndarray, text: str, prompt: str | None) -> tuple[float, float]:
    """tiny.en's probabilities that the token after ``text`` (forced after the prompt) is a final
    . ? ! and that it is the end of text."""
    from faster_whisper.audio import pad_or_trim
    from faster_whisper.tokenizer import Tokenizer
    from faster_whisper.transcribe import get_ctranslate2_storage

    model = engine._model
    frames = engine._frames(audio)
    mel = model.feature_extractor(audio)
    features = pad_or_trim(mel[:, : mel.shape[-1] - 1])[:, :frames]
    tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language="en")
    prompt_tokens = list(tokenizer.encode(" " + prompt.strip())) if prompt else []
    ids = model.get_prompt(tokenizer, prompt_tokens, without_timestamps=True)
    body = text.strip().rstrip(".?!").rstrip()
    body_ids = list(tokenizer.encode(" " + body))
    encoded = model.model.encode(get_ctranslate2_storage(np.ascontiguousarray(features[None])), to_cpu=False)
    # The tokens after the prompt's special tokens are a forced prefix: the logits of step k predict
    # the sequence's token k, so step len(body_ids) is the token after the text.
    result = model.model.generate(
        encoded,
        [ids + body_ids],
        beam_size=1,
        max_length=model.max_length,
        return_logits_vocab=True,
        suppress_blank=False,
        suppress_tokens=[],
    )[0]
    steps = result.logits[0] if result.logits else []
    if len(steps) <= len(body_ids):
        return float("nan"), float("nan")
    logits = np.array(steps[len(body_ids)], dtype=np.float64)
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    marks = {i for mark in (".", "?", "!") for i in tokenizer.encode(mark)}
    return float(sum(probs[i] for i in marks if i < probs.size)), float(probs[tokenizer.eot])


def end_probs(engine: WhisperEngine, clip: np.ndarray, text: str, prompt: str | None) -> dict[str, float | None]:
    if not text.strip():
        return {"p_end": None, "p_eot": None}
    punct, eot = p_end(engine, clip, text, prompt)
    return {"p_end": round(punct, 4), "p_eot": round(eot, 4)}


def replay(
    engine: WhisperEngine, vad: SileroVad, policy: StreamPolicy, audio: np.ndarray, prompts: list[str | None]
) -> list[dict[str, Any]]:
    """Every speculative final the server starts on ``audio``: its region and, per prompt, its
    decode; the silence after it (to the next speech window, or the end of the audio)."""
    utterance = Utterance(vad.stream(), policy)
    pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()
    jobs = []
    for start in range(0, len(pcm), CHUNK * 2):
        utterance.add(pcm[start : start + CHUNK * 2])
        job = utterance.next_job(model_busy=False)
        if job is not None and job.kind == "final":
            jobs.append(job)
    probs = utterance._vad.probs
    threshold = policy.vad.threshold
    out = []
    for job in jobs:
        last = job.region[1] // WINDOW  # past the region's end: find the last speech window before it
        speech = [i for i in range(min(last, len(probs))) if probs[i] >= threshold]
        end_window = speech[-1] if speech else 0
        following = next((i for i in range(end_window + 1, len(probs)) if probs[i] >= threshold), None)
        silence = ((following if following is not None else len(probs)) - end_window - 1) * WINDOW / SAMPLE_RATE
        clip = job.audio()
        decodes = []
        for prompt in prompts:
            t = time.perf_counter()
            decoded = engine.transcribe(clip, prompt=prompt)
            took = time.perf_counter() - t
            verdict = judge(decoded.text)
            unsure = verdict.finished and decoded.avg_logprob is not None and decoded.avg_logprob < UNSURE_LOGPROB
            decodes.append(
                {
                    "prompt": prompt or "none",
                    "text": decoded.text,
                    "avg_logprob": decoded.avg_logprob,
                    "finished": verdict.finished and not unsure,
                    "weak": verdict.weak or unsure,
                    "reason": "unsure" if unsure else verdict.reason,
                    **end_probs(engine, clip, decoded.text, prompt),
                    "decode_s": round(took, 3),
                }
            )
        out.append(
            {
                "region_end_s": round(job.region[1] / SAMPLE_RATE, 3),
                "silence_after_s": round(silence, 3),
                "speech_follows": following is not None,
                "decodes": decodes,
            }
        )
    return out


def summary(rows: list[dict[str, Any]], weak_wait: float = 1.2, base: float = 0.25) -> None:
    prompts = sorted({d["prompt"] for r in rows for p in r["points"] for d in p["decodes"]})
    for prompt in prompts:
        for split in ("tune", "held"):
            mine = [r for r in rows if r["split"] == split]
            ends: list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = []
            pauses: list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = []
            for r in mine:
                for point in r["points"]:
                    d = next(d for d in point["decodes"] if d["prompt"] == prompt)
                    (pauses if point["speech_follows"] else ends).append((r, point, d))
            weak_end = [(r, d) for r, _, d in ends if d["weak"]]
            open_end = [(r, d) for r, _, d in ends if not d["weak"] and not d["finished"]]
            cut = [(r, p, d) for r, p, d in pauses if d["finished"] and p["silence_after_s"] >= base]
            weak_pause = [(r, p, d) for r, p, d in pauses if d["weak"]]
            whole = sum(d["whole"] for _, _, d in ends)
            print(
                f"[{prompt[:40]}] {split}: {len(ends)} ends ({whole} whole), weak at the end {len(weak_end)}, "
                f"unfinished at the end {len(open_end)}; finished at a pause (a cut) {len(cut)}, weak at a pause "
                f"{len(weak_pause)}"
            )
            for r, d in weak_end + open_end:
                print(
                    f"   end   {r['id']} {r['voice']:12s} {r['condition']:10s} {d['text']!r} {d['reason']} "
                    f"lp={d['avg_logprob']:.2f} p_end={d['p_end']} p_eot={d['p_eot']}"
                )
            for r, p, d in cut + weak_pause:
                print(
                    f"   pause {r['id']} {r['voice']:12s} {r['condition']:10s} {p['silence_after_s']:.2f}s "
                    f"{d['text']!r} {d['reason']} p_end={d['p_end']} p_eot={d['p_eot']}"
                )


def price_command_end(rows: list[dict[str, Any]], prompt: str = "none", base: float = 0.25) -> None:
    """The orchestrator's end of turn on weak texts that are whole commands
    (:func:`orchestrator.command_end.complete_command`, no home connected as in the room): weak
    ends it makes fast, and weak texts at pauses it would cut (the pause outlasts the base)."""
    from orchestrator.command_end import complete_command
    from orchestrator.intents import IntentRecognizer

    intents = IntentRecognizer()
    fast: list[tuple[str, str]] = []
    slow: list[tuple[str, str]] = []
    cuts: list[tuple[str, str]] = []
    kept: list[tuple[str, str]] = []
    for r in rows:
        for point in r["points"]:
            d = next(d for d in point["decodes"] if d["prompt"] == prompt)
            if not d["weak"]:
                continue
            whole = complete_command(intents, d["text"])
            if point["speech_follows"]:
                (cuts if whole and point["silence_after_s"] >= base else kept).append((r["id"], d["text"]))
            else:
                (fast if whole else slow).append((r["id"], d["text"]))
    print(f"[{prompt[:40]}] command end: weak ends made fast {len(fast)} {fast}; still waiting {len(slow)} {slow}")
    print(f"[{prompt[:40]}] command end: weak texts at pauses cut {len(cuts)} {cuts}; kept {len(kept)} {kept}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prompts", default="none", help="comma-separated: none or a prompt text ('|' for ',')")
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--summary", type=Path, help="print the summary of a rows file and stop")
    args = parser.parse_args()
    if args.summary:
        rows = json.loads(args.summary.read_text())["rows"]
        summary(rows)
        price_command_end(rows)
        return 0
    prompts: list[str | None] = [None if p == "none" else p.replace("|", ",") for p in args.prompts.split(",")]
    engine = WhisperEngine(EngineConfig(model_dir=resolve_whisper(args.model), cpu_threads=2))
    engine.transcribe(np.zeros(SAMPLE_RATE, dtype=np.float32))
    vad = SileroVad(silero_vad())
    policy = server_policy()
    rng = np.random.default_rng(1)
    load = [os.getloadavg()[0]]
    rows = []
    corpus = build()
    for r in corpus[: args.limit or len(corpus)]:
        points = replay(engine, vad, policy, with_noise_after(r, rng), prompts)
        for point in points:
            for d in point["decodes"]:
                d["whole"] = is_whole(r, d["text"])
        rows.append(
            {
                "id": r.id,
                "split": r.split,
                "text": r.text,
                "voice": r.voice,
                "condition": r.condition,
                "pause": r.pause,
                "pause_kind": r.pause_kind,
                "points": points,
            }
        )
        print(r.id, [[d["text"] for d in p["decodes"]] for p in points], flush=True)
        load.append(os.getloadavg()[0])
    out = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "model": args.model,
        "load": [min(load), max(load)],
        "rows": rows,
    }
    if args.out:
        args.out.write_text(json.dumps(out, indent=1) + "\n")
    summary(rows)
    price_command_end(rows)
    print("load", out["load"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
