"""Offline: does the home's names as Whisper's prompt make tiny.en hear the end-of-turn corpus better?

Every corpus request (``bench/turn_corpus.py``: tune and held, 65 requests) is streamed room-like
as ``bench/eot_sure_probe.py`` streams it (``--prerolls`` start phases) and at every point where
the whisper server starts a speculative final decode (0.1 s of silence after the speech; the last
point is the request's final decode) the region is decoded as the server's final (beam 5, the last
word's end) two ways, interleaved point by point (the order swapped at each point) so the box's
load falls on both alike:

* ``none``: no prompt (what the orchestrator sends today: ``--ha-names-to-asr`` is off);
* ``names``: the test home's exposed names (``bench/home_corpus.ENTITIES`` / ``AREAS``: Kitchen
  Light, Thermostat, Garage Door, ...) as ``context.initial_prompt``, as
  :func:`orchestrator.home.asr.names_prompt` writes it for ``--ha-names-to-asr``.

Reported per split (held apart: nothing is tuned on it): the word error rate of the final decode vs
the corpus text (``bench.turn_bench.word_error_rate``; mean and how many heard exactly), the
errors on command words (the request's words that name a device, a room or a value: "thermostat",
"kitchen", "20", ...: how many of them are missing from the text), the same for the questions
(requests the intents do not answer: LLM turns) apart, and every decode's time paired (ratio of
``names`` to ``none`` per point, p50). Each way's decodes are saved in ``bench/eot_sure_probe.py``'s
``--decodes`` format (``--save-dir``/<way>.json), to replay the end of turn with the server's rules:

    nice -n 10 .venv/bin/python bench/whisper_prompt_probe.py [--prerolls 0.3,0.5] [--save-dir D]
    .venv/bin/python bench/eot_sure_probe.py --decodes D/names.json --rules now --out /tmp/x.json
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
sys.path.insert(0, str(ROOT))

from bench.eot_lead_probe import streamed  # noqa: E402
from bench.eot_sure_probe import decodes_record, end_points, stream_record  # noqa: E402
from bench.turn_bench import word_error_rate  # noqa: E402
from bench.turn_corpus import RATE, build, norm_words  # noqa: E402

WAYS = ("none", "names")
# words of the corpus that say what a command acts on or sets (a device, a room, a value)
COMMAND_WORDS = frozenset({
    "kitchen", "lights", "light", "thermostat", "bedroom", "lamp", "garage", "door", "porch", "front", "living",
    "room", "volume", "music", "song", "playlist", "blinds", "fan", "tv", "heating", "15", "20", "50", "7", "30",
    "percent", "degrees", "minutes", "alarm", "timer",
})  # fmt: skip


def home_prompt(style: str = "names") -> str:
    """The test home's names as :func:`orchestrator.home.asr.names_prompt` writes them (``names``),
    or lower case (``lower``: Whisper copies the prompt's Title Case), or in one sentence
    (``sentence``: "The kitchen light, the reading lamp, ... and the garage."; a comma list invites
    tiny.en to go on listing: "The Light, The Light, ...")."""
    from bench.home_bench import corpus_home
    from orchestrator.home.asr import names_prompt
    from orchestrator.home.entities import slot_lists

    prompt = names_prompt(slot_lists(corpus_home()))
    assert prompt is not None
    if style == "lower":
        return prompt.lower()
    if style == "sentence":
        names = [f"the {n.strip().lower()}" for n in prompt.rstrip(".").split(",")]
        return f"{', '.join(names[:-1]).capitalize()} and {names[-1]}."
    return prompt


def actions(intents: Any, said: str, point: dict[str, Any]) -> str:
    """What the bench home does with a final text: ``right`` (the said request's commands, not
    asked about), ``asked`` (asked about first), ``wrong`` (other commands, done), ``none``
    (nothing recognised: the LLM answers)."""
    from orchestrator.home.confidence import Hearing

    def key(text: str) -> list[tuple[str, list[tuple[str, str]]]]:
        def value(v: Any) -> str:  # 15 and 15.0 alike
            return f"{v:g}" if isinstance(v, int | float) and not isinstance(v, bool) else str(v).lower()

        return [(c.name, sorted((k, value(v)) for k, v in c.slots.items())) for c in intents.recognize(text)]

    text = point["text"]
    got = intents.recognize(text)
    if not got:
        return "none"
    if intents.ask_first(got, text, Hearing(point.get("avg_logprob"), None)) is not None:
        return "asked"
    return "right" if key(text) == key(said) else "wrong"


def decode(engine: Any, x: np.ndarray[Any, Any], point: Any, prompt: str | None) -> dict[str, Any]:
    """:func:`bench.eot_sure_probe.decode_point` with ``prompt``."""
    n, region, speech, resume = point
    t = time.perf_counter()
    d = engine.transcribe(x[region[0] : region[1]], beam_size=5, word_end=True, prompt=prompt)
    return {
        "at": round(n * 0.032, 3),
        "speech_end": round((speech[1] + 1) * 0.032, 3),
        "gap": None if resume is None else round((resume - speech[1] - 1) * 0.032, 3),
        "region_start": round(region[0] / RATE, 3),
        "text": d.text,
        "decode_s": round(time.perf_counter() - t, 4),
        "avg_logprob": d.avg_logprob,
        "last_word_end": d.last_word_end,
        "end_mark_prob": d.end_mark_prob,
    }


def room_both(
    engine: Any, vad: Any, folder: Path, corpus: dict[str, Any], prompt: str, *, flip: bool
) -> tuple[dict[str, list[dict[str, Any]]], bool]:
    """A kept room run's mic around each corpus clip (as ``bench/eot_cover_probe.room_streams`` cuts
    it: 0.5 s before, 2.5 s after), every speculative final decoded both ways."""
    import wave

    from bench.eot_cover_probe import THRESHOLD
    from bench.eot_lead_probe import scores

    result = json.loads((folder / "result.json").read_text())
    with wave.open(str(folder / "mic.wav")) as w:
        mic = (np.frombuffer(w.readframes(w.getnframes()), "<i2") / 32768).astype(np.float32)
    out: dict[str, list[dict[str, Any]]] = {w: [] for w in WAYS}
    for u in result["utterances"]:
        r = corpus.get(Path(str(u.get("wav"))).stem)
        if r is None:
            continue
        at = u["at"] + result["wav_offset_s"]
        x = mic[int((at - 0.5) * RATE) : int((at + r.speech_end + 2.5) * RATE)]
        clip = np.frombuffer(r.pcm, "<i2").astype(np.float32) / 32768
        zeros = np.zeros(int(2.5 * RATE), np.float32)
        probs = scores(vad, np.concatenate([np.zeros(int(0.5 * RATE), np.float32), clip, zeros]))[0]
        found: dict[str, list[dict[str, Any]]] = {w: [] for w in WAYS}
        for n, region, speech, _ in end_points(vad, x):
            resume = next((k for k in range(n, len(probs)) if probs[k] >= THRESHOLD), None)
            for way in reversed(WAYS) if flip else WAYS:
                found[way].append(decode(engine, x, (n, region, speech, resume), prompt if way == "names" else None))
            flip = not flip
        for way in WAYS:
            out[way].append(stream_record(r, 0.5, found[way], run=folder.name))
    return out, flip


def decode_both(prerolls: list[float], limit: int, prompt: str, rooms: list[Path]) -> dict[str, dict[str, Any]]:
    from voice_runtime.models import resolve_whisper, silero_vad
    from wyoming_whisper.engine import EngineConfig, WhisperEngine
    from wyoming_whisper.vad import SileroVad

    engine = WhisperEngine(EngineConfig(model_dir=resolve_whisper("tiny.en")))
    engine.transcribe(np.zeros(RATE, dtype=np.float32))
    engine.transcribe(np.zeros(RATE, dtype=np.float32), prompt=prompt)
    vad = SileroVad(silero_vad())
    corpus = build()[: limit or None]
    started, load = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), [os.getloadavg()[0]]
    streams: dict[str, list[dict[str, Any]]] = {w: [] for w in WAYS}
    flip = False
    for folder in rooms:
        got, flip = room_both(engine, vad, folder, {r.id: r for r in build()}, prompt, flip=flip)
        for way in WAYS:
            streams[way] += got[way]
        load.append(os.getloadavg()[0])
        print(f"room {folder}: {len(streams['none'])} streams, load {load[-1]:.2f}", flush=True)
    for preroll in prerolls:
        for i, r in enumerate(corpus):
            x = streamed(r, preroll, None, i, True)
            found: dict[str, list[dict[str, Any]]] = {w: [] for w in WAYS}
            for point in end_points(vad, x):
                for way in reversed(WAYS) if flip else WAYS:
                    found[way].append(decode(engine, x, point, prompt if way == "names" else None))
                flip = not flip
            for way in WAYS:
                streams[way].append(stream_record(r, preroll, found[way]))
            load.append(os.getloadavg()[0])
        print(f"pre-roll {preroll}: {len(streams['none'])} streams, load {os.getloadavg()[0]:.2f}", flush=True)
    return {w: decodes_record(started, load, s) for w, s in streams.items()}


def command_words_missed(said: str, text: str) -> tuple[int, int]:
    """(command words of ``said`` not in ``text``, command words of ``said``)."""
    from bench.turn_bench import comparable

    want = [w for w in comparable(norm_words(said)) if w in COMMAND_WORDS]
    heard = comparable(norm_words(text.replace("%", " percent")))
    return sum(w not in heard for w in want), len(want)


def report(data: dict[str, dict[str, Any]], prompt: str) -> dict[str, Any]:
    from bench.home_bench import corpus_home
    from bench.home_misheard_judge import RecordingHome
    from orchestrator.intents import IntentRecognizer

    intents = IntentRecognizer()
    home = IntentRecognizer(home=RecordingHome(corpus_home()))
    out: dict[str, Any] = {"prompt": prompt, "started": data["none"]["started"], "ended": data["none"]["ended"],
                           "load_1min": data["none"]["load_1min"], "splits": {}, "changed": []}
    from bench.eot_cover_probe import trimmed

    pairs = [(trimmed(a), trimmed(b)) for a, b in zip(data["none"]["streams"], data["names"]["streams"], strict=True)]
    for split in ("tune", "held", "room"):
        for kind in ("commands", "questions", "all"):
            rows: dict[str, list[float]] = {f"{w}_{k}": [] for w in WAYS for k in ("wer", "exact", "cmd_miss")}
            cmd_total = 0
            done: dict[str, list[str]] = {w: [] for w in WAYS}
            ratios: list[float] = []
            times: dict[str, list[float]] = {w: [] for w in WAYS}
            for a, b in pairs:
                if ("room" if "run" in a else a["split"]) != split or not a["points"]:
                    continue
                question = not intents.recognize(a["text"])
                if (kind == "commands" and question) or (kind == "questions" and not question):
                    continue
                for way, s in zip(WAYS, (a, b), strict=True):
                    text = s["points"][-1]["text"]
                    wer = word_error_rate(s["text"], text)
                    missed, total = command_words_missed(s["text"], text)
                    rows[f"{way}_wer"].append(wer)
                    rows[f"{way}_exact"].append(float(wer == 0))
                    rows[f"{way}_cmd_miss"].append(missed)
                    done[way].append(actions(home, s["text"], s["points"][-1]))
                    if way == "none":
                        cmd_total += total
                ratios += [q["decode_s"] / p["decode_s"] for p, q in zip(a["points"], b["points"], strict=True)]
                for way, s in zip(WAYS, (a, b), strict=True):
                    times[way] += [p["decode_s"] for p in s["points"]]
                if kind == "all" and a["points"][-1]["text"] != b["points"][-1]["text"]:
                    where = f"{a['id']} {a['run']}" if "run" in a else a["id"]
                    out["changed"].append({"id": where, "preroll": a["preroll"], "said": a["text"],
                                           "none": a["points"][-1]["text"], "names": b["points"][-1]["text"]})
            n = len(rows["none_wer"])
            out["splits"][f"{split} {kind}"] = {
                "n": n,
                **{f"{w}_wer_mean": round(statistics.fmean(rows[f"{w}_wer"]), 4) if n else None for w in WAYS},
                **{f"{w}_exact": int(sum(rows[f"{w}_exact"])) for w in WAYS},
                **{f"{w}_command_words_missed": int(sum(rows[f"{w}_cmd_miss"])) for w in WAYS},
                "command_words": cmd_total,
                **{f"{w}_home": {k: done[w].count(k) for k in ("right", "asked", "wrong", "none")} for w in WAYS},
                "decode_ratio_p50": round(statistics.median(ratios), 3) if ratios else None,
                "decodes": len(ratios),
                **{f"{w}_decode_p50": round(statistics.median(times[w]), 3) if times[w] else None for w in WAYS},
            }
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prerolls", default="0.3,0.5")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--save-dir", type=Path, default=Path("/tmp/whisper_prompt"))
    parser.add_argument("--reuse", action="store_true", help="report from --save-dir's stored decodes")
    parser.add_argument("--room", type=Path, action="append", default=[],
                        help="a kept bench/room_turns_bench.py run (its mic.wav, result.json): repeatable")
    parser.add_argument("--style", choices=["names", "lower", "sentence"], default="names", help="the prompt's form")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "s27_prompt.json")
    args = parser.parse_args()
    prompt = home_prompt(args.style)
    print(f"prompt: {prompt}")
    if args.reuse:
        data = {w: json.loads((args.save_dir / f"{w}.json").read_text()) for w in WAYS}
    else:
        prerolls = [float(p) for p in args.prerolls.split(",") if p]
        data = decode_both(prerolls, args.limit, prompt, args.room)
        args.save_dir.mkdir(parents=True, exist_ok=True)
        for way, record in data.items():
            (args.save_dir / f"{way}.json").write_text(json.dumps(record) + "\n")
    out = report(data, prompt)
    for name, s in out["splits"].items():
        print(f"{name}: {s}")
    for c in out["changed"]:
        print(f"  {c['id']} @{c['preroll']}: {c['said']!r}: {c['none']!r} -> {c['names']!r}")
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
