"""Offline: does a second Whisper model (``base``) hear the end-of-turn corpus better than tiny.en,
for every final or only as a SECOND OPINION on a final that tiny.en is unsure of?

Each corpus request is streamed room-like as ``bench/eot_sure_probe.py`` does it (room noise
before and after the clip, ``--prerolls`` start phases) and its final transcript is made as the
server makes it (:class:`bench.whisper_turn.ServerTurn`: Silero's region with the endpointing pad,
beam 5, the loop retry). Then the same final region is decoded by every other option
(``--options``: model and beam, ``nr3``: no_repeat_ngram_size 3) and stored with its text, scores
(avg_logprob, no_speech_prob, compression ratio of the text) and decode time
(``--save``; ``--decodes``: reuse a stored run).

The report replays the second opinion (:mod:`wyoming_whisper.second`) on the stored decodes at
several thresholds: below it tiny.en's final asks the second model, whose text (``prefer``) is then
the transcript, and whose decode time is added. Per split (tune tunes, held only reports): requests
heard whole (``bench.turn_bench.is_whole``: 75 % of the words), word for word, WER (numbers as
digits), turns fired on and their added decode time. Decode times: ``tiny.en (main)`` is the whole
``ServerTurn`` call (Silero over the stream, the decode, any loop retry); the others the decode.

    nice -n 10 .venv/bin/python bench/whisper_second_probe.py [--decodes F] [--out F]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.eot_lead_probe import streamed  # noqa: E402
from bench.turn_bench import comparable, pct  # noqa: E402
from bench.turn_corpus import build, norm_words  # noqa: E402
from wyoming_whisper.engine import Decoded  # noqa: E402
from wyoming_whisper.second import asks_second, prefer  # noqa: E402

OPTIONS = "tiny.en:1,base:5,base:1,tiny.en:5:nr3"
THRESHOLDS = (-0.2, -0.3, -0.4, -0.5, -0.6, -0.8)  # second opinion below this avg_logprob of tiny.en's


def said_words(text: str) -> list[str]:
    """The words compared: the corpus's numbers as digits, a number's pieces joined ("7:30", "730")."""
    out: list[str] = []
    for word in comparable(norm_words(text.replace("%", " percent"))):
        if out and word.isdigit() and out[-1].isdigit():
            out[-1] += word
        else:
            out.append(word)
    return out


def errors(ref: list[str], hyp: list[str]) -> int:
    d = np.zeros((len(ref) + 1, len(hyp) + 1), dtype=int)
    d[:, 0] = range(len(ref) + 1)
    d[0, :] = range(len(hyp) + 1)
    for i in range(1, len(ref) + 1):
        for j in range(1, len(hyp) + 1):
            d[i, j] = min(d[i - 1, j] + 1, d[i, j - 1] + 1, d[i - 1, j - 1] + (ref[i - 1] != hyp[j - 1]))
    return int(d[len(ref), len(hyp)])


def compression_ratio(text: str) -> float:
    raw = text.encode()
    return len(raw) / len(zlib.compress(raw)) if raw else 0.0


def _decode(engine: Any, audio: np.ndarray[Any, Any], beam: int, nr: int) -> dict[str, Any]:
    from wyoming_whisper.engine import Decoded

    started = time.perf_counter()
    if nr:  # no_repeat_ngram_size is not a server option: faster-whisper's own transcribe
        frames = engine._frames(audio)
        engine._model.encoder_frames = frames if frames < 3000 else None
        segments, _ = engine._model.transcribe(audio, language=engine.resolve_language("en"), beam_size=beam,
                                               temperature=0.0, condition_on_previous_text=False,
                                               without_timestamps=True, vad_filter=False,
                                               no_repeat_ngram_size=nr)
        found = list(segments)
        text = " ".join(w for s in found if (w := s.text.strip()))
        d = Decoded(text, min((s.avg_logprob for s in found), default=None),
                    max((s.no_speech_prob for s in found), default=None))
    else:
        d = engine.transcribe(audio, "en", beam_size=beam)
    return {"text": d.text, "decode_s": round(time.perf_counter() - started, 3), "avg_logprob": d.avg_logprob,
            "no_speech_prob": d.no_speech_prob, "compression_ratio": round(compression_ratio(d.text), 3)}


def decode_all(prerolls: list[float], options: list[str], limit: int) -> dict[str, Any]:
    from bench.whisper_turn import ServerTurn
    from voice_runtime.models import resolve_whisper
    from wyoming_whisper.engine import EngineConfig, WhisperEngine

    engines: dict[str, Any] = {}
    for option in ["tiny.en", *options]:
        name = option.split(":")[0]
        if name not in engines:
            engines[name] = WhisperEngine(EngineConfig(model_dir=resolve_whisper(name), language="en"))
            engines[name].transcribe(np.zeros(16000, dtype=np.float32))
    turn = ServerTurn(engines["tiny.en"])
    corpus = build()[: limit or None]
    started, load = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), [os.getloadavg()[0]]
    streams = []
    for preroll in prerolls:
        for i, r in enumerate(corpus):
            x = streamed(r, preroll, None, i, True)
            pcm = (np.clip(x, -1, 1) * 32767).astype("<i2").tobytes()
            t = time.perf_counter()
            heard = turn(pcm)
            main_s = time.perf_counter() - t
            record: dict[str, Any] = {"id": r.id, "split": r.split, "preroll": preroll, "said": r.text,
                                      "pause_after": r.pause_after, "condition": r.condition, "options": {}}
            if heard.region is None:
                record["region"] = None
                streams.append(record)
                continue
            # the samples the server decodes: the stream as 16-bit PCM
            audio = np.frombuffer(pcm, "<i2")[heard.region[0]: heard.region[1]].astype(np.float32) / 32768
            main = _decode(engines["tiny.en"], audio, 5, 0)  # the scores of the text the server sent
            main["decode_s"] = round(main_s, 3)  # with the VAD and any loop retry, as measured
            main["text"] = heard.text
            record.update(region=[round(v / 16000, 3) for v in heard.region], looped=heard.looped, main=main)
            for option in options:
                name, beam, *more = option.split(":")
                nr = int(more[0][2:]) if more else 0
                record["options"][option] = _decode(engines[name], audio, int(beam), nr)
            streams.append(record)
        load.append(os.getloadavg()[0])
        print(f"pre-roll {preroll}: {len(streams)} streams, load {os.getloadavg()[0]:.2f}", flush=True)
    return {"started": started, "ended": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            "load_1min": [round(min(load), 2), round(max(load), 2)], "options": options, "streams": streams}


class _Said:
    def __init__(self, stream: dict[str, Any]) -> None:
        self.text, self.pause_after = stream["said"], stream["pause_after"]

    def words_after_pause(self) -> list[str]:
        from bench.turn_corpus import norm_words

        return norm_words(self.text)[self.pause_after:] if self.pause_after else []


def whole(stream: dict[str, Any], text: str) -> bool:
    from bench.turn_bench import is_whole

    return bool(is_whole(_Said(stream), text))  # type: ignore[arg-type]


Pick = Callable[[dict[str, Any]], tuple[dict[str, Any], float]]  # stream -> (the decode used, added s)


def always(option: str) -> Pick:
    def pick(s: dict[str, Any]) -> tuple[dict[str, Any], float]:
        return s["options"][option], float(s["options"][option]["decode_s"]) - float(s["main"]["decode_s"])

    return pick


def _decoded(d: dict[str, Any]) -> Decoded:
    return Decoded(d["text"], d["avg_logprob"], d["no_speech_prob"])


def second(option: str, below: float, guarded: bool = True) -> Pick:
    """tiny.en's final, or ``option``'s decode when tiny.en's scored below ``below``
    (``guarded``: :func:`wyoming_whisper.second.prefer` picks the text, else the second's always)."""
    def pick(s: dict[str, Any]) -> tuple[dict[str, Any], float]:
        m, o = s["main"], s["options"][option]
        if not asks_second(_decoded(m), below):
            return m, 0.0
        text = prefer(_decoded(m), _decoded(o)).text if guarded else o["text"]
        return {**o, "text": text}, float(o["decode_s"])

    return pick


def summarise(streams: list[dict[str, Any]], pick: Pick) -> dict[str, Any]:
    wrong = words = heard = exact = fired = 0
    added: list[float] = []
    times: list[float] = []
    changed: list[str] = []
    for s in streams:
        used, extra = pick(s)
        ref, hyp = said_words(s["said"]), said_words(used["text"])
        wrong += errors(ref, hyp)
        words += len(ref)
        heard += whole(s, used["text"])
        exact += ref == hyp
        times.append(float(s["main"]["decode_s"]) + max(0.0, extra))
        if used is not s["main"]:
            fired += 1
            added.append(extra)
            if used["text"] != s["main"]["text"]:
                before = ref == said_words(s["main"]["text"])
                mark = "=" if (ref == hyp) == before else "+" if ref == hyp else "-"
                changed.append(f"{mark} {s['id']}@{s['preroll']}: {s['main']['text']!r} -> {used['text']!r}")
    return {"n": len(streams), "whole": heard, "exact": exact, "wer": round(100 * wrong / max(1, words), 2),
            "fired": fired, "added_p50": round(statistics.median(added), 3) if added else None,
            "added_p95": round(pct(added, 0.95) or 0.0, 3) if added else None,
            "final_p50": round(statistics.median(times), 3), "final_p95": round(pct(times, 0.95) or 0.0, 3),
            "changed": changed}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--decodes", type=Path, help="a stored decode JSON (this script's --save)")
    parser.add_argument("--save", type=Path, default=Path("/tmp/whisper_second_decodes.json"))
    parser.add_argument("--prerolls", default="0.3,0.5,0.7")
    parser.add_argument("--options", default=OPTIONS)
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "s24_second.json")
    args = parser.parse_args()
    if args.decodes:
        data = json.loads(args.decodes.read_text())
    else:
        data = decode_all([float(p) for p in args.prerolls.split(",")], args.options.split(","), args.limit)
        args.save.write_text(json.dumps(data) + "\n")
    streams = [s for s in data["streams"] if s.get("region")]
    picks: dict[str, Pick] = {"tiny.en (main)": lambda s: (s["main"], 0.0)}
    for option in data["options"]:
        picks[f"{option} every final"] = always(option)
    for option in [o for o in data["options"] if o.startswith("base")]:
        for below in THRESHOLDS:
            picks[f"{option} second opinion below {below}"] = second(option, below)
        picks[f"{option} second opinion below -0.4, unguarded"] = second(option, -0.4, guarded=False)
    out: dict[str, Any] = {k: data[k] for k in ("started", "ended", "load_1min")}
    out["summary"] = {}
    print(f"decoded {data['started']} - {data['ended']}, load {data['load_1min']}, {len(streams)} streams")
    print("| option | split | whole | word for word | WER % | fired | added s p50/p95 | final s p50/p95 |")
    print("|---|---|---|---|---|---|---|---|")
    for name, pick in picks.items():
        for split in ("tune", "held"):
            s = summarise([x for x in streams if x["split"] == split], pick)
            out["summary"][f"{name} | {split}"] = s
            print(f"| {name} | {split} | {s['whole']}/{s['n']} | {s['exact']}/{s['n']} | {s['wer']} | {s['fired']} | "
                  f"{s['added_p50']} / {s['added_p95']} | {s['final_p50']} / {s['final_p95']} |")
            if name in ("base:5 every final", "base:5 second opinion below -0.4"):
                for line in s["changed"]:
                    print("   ", line)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
