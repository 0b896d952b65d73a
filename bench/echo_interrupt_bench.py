"""Offline: questions spoken over the reply, as the orchestrator hears them (interrupting WER).

Each question (the end-of-turn corpus's clean requests, 6 voices, ``bench/turn_corpus.py``: its
``tune`` split to tune on, ``held`` only to report; ``room``: the room bench's five sentences) is
spoken over a reply at ``--onsets`` seconds into it, at each ``--levels`` echo level, through the
satellite's real mic chain and turn logic (``bench/echo_interrupt_room.py``: speex, the echo judge,
the VAD, the hold, the pre-roll). What the satellite streams is decoded as the whisper server
decodes a turn: Silero's speech region (0.5 s lead or its reach, the endpointing's 0.1 s pad) then
tiny.en beam 5 (``region``), and whole as ``bench/room_bench.py``'s judge does (``whole``).

Variants of each turn (to find where the words go):

- ``stream``: what the satellite streams;
- ``span``: the user's own voice + the room's noise over exactly the stream's samples (no echo,
  no canceller): what the stream's span alone costs;
- ``lead``: the stream with the cleaned mic of the 0.5 s before it in front;
- ``lead_muted``: the same, its frames the judge held back as echo 30 dB down.

``floor``: the clean question with 0.6 s of the room's noise either side (the recogniser's own).
WER = word errors / reference words over the turns (a turn never streamed counts all its words).

    nice -n 10 .venv/bin/python bench/echo_interrupt_bench.py --split tune [--levels 0 -6] [--out F]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "tests"))  # speech.speak (Piper), as bench/room_bench.py

from bench.aec_bench import pcm, wer  # noqa: E402
from bench.echo_interrupt_room import FRAME, RATE, Room, Turn  # noqa: E402

ONSETS = (0.6, 1.5, 2.6, 3.7)  # s into the reply: in a word, after "Here is the forecast", the sentence gap, mid-word
MUTE_DB = -30.0
VARIANTS = ("stream", "span", "lead", "lead_muted")


class Decoder:
    """tiny.en beam 5 as the whisper server decodes (``region``) and whole (``whole``); cached."""

    def __init__(self) -> None:
        from voice_runtime.models import resolve_whisper, silero_vad
        from wyoming_whisper.__main__ import DEFAULT_MODEL
        from wyoming_whisper.engine import EngineConfig, WhisperEngine
        from wyoming_whisper.policy import ENDPOINT_PAD_SECONDS
        from wyoming_whisper.vad import WINDOW, SileroVad, VadPolicy

        self.engine = WhisperEngine(EngineConfig(resolve_whisper(DEFAULT_MODEL)))
        self.vad = SileroVad(silero_vad())
        self.policy = VadPolicy(pad_windows=round(ENDPOINT_PAD_SECONDS * RATE / WINDOW))
        self.cache: dict[tuple[str, str], str] = {}

    def region(self, audio: bytes) -> tuple[int, int] | None:
        from wyoming_whisper.vad import speech_region

        x = (np.frombuffer(audio, "<i2") / 32768).astype(np.float32)
        stream = self.vad.stream()
        stream.feed(x)
        stream.finish()
        return speech_region(stream.probs, len(x), self.policy, stream.half_probs, stream.levels)

    def __call__(self, audio: bytes, how: str) -> str:
        key = (hashlib.sha1(audio).hexdigest(), how)
        if key not in self.cache:
            span = (0, len(audio) // 2) if how == "whole" else self.region(audio)
            if span is None:
                self.cache[key] = ""
            else:
                x = (np.frombuffer(audio[span[0] * 2 : span[1] * 2], "<i2") / 32768).astype(np.float32)
                self.cache[key] = self.engine.transcribe(x, "en").text
        return self.cache[key]


def questions(split: str) -> list[tuple[str, str, np.ndarray[Any, Any]]]:
    """(text, voice, 16 kHz float samples) of the split's questions."""
    if split == "room":
        from speech import speak

        from bench.room_bench import INTERRUPTION, QUESTIONS

        return [(q, "piper", np.frombuffer(speak(q), "<i2").astype(np.float64)) for q in [INTERRUPTION, *QUESTIONS]]
    from bench.turn_corpus import build

    return [(r.text, r.voice, np.frombuffer(r.clean, "<i2").astype(np.float64)) for r in build() if r.split == split]


def variants(t: Turn) -> dict[str, bytes]:
    if t.start is None:
        return {}
    lead = np.frombuffer(t.lead, "<i2").astype(np.float64).copy()
    for i, echo in enumerate(t.lead_echo):
        if echo:
            lead[i * FRAME : (i + 1) * FRAME] *= 10 ** (MUTE_DB / 20)
    return {"stream": t.stream, "span": t.user_span, "lead": t.lead + t.stream, "lead_muted": pcm(lead) + t.stream}


def floor_audio(voice: np.ndarray[Any, Any], rng: np.random.Generator) -> bytes:
    from bench.echo_interrupt_room import voiced_span

    a, b = voiced_span(voice)
    quiet = int(0.6 * RATE)
    x = np.concatenate([np.zeros(quiet), voice[a:b], np.zeros(quiet)])
    return pcm(x + rng.standard_normal(len(x)) * 32768 * 1e-3)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from speech import speak

    from bench.room_bench import REPLY

    decode = Decoder()
    reply = speak(REPLY)
    qs = questions(args.split)[: args.limit or None]
    rng = np.random.default_rng(5)
    rows: list[dict[str, Any]] = []
    floors = {}
    for text, voice, x in qs:
        audio = floor_audio(x, rng)
        floors[(text, voice)] = {how: decode(audio, how) for how in ("region", "whole")}
    for level in args.levels:
        for onset in args.onsets:
            room = Room(reply, level, shadow=args.shadow)
            room.warm_up(args.warm_up)
            if args.twin:
                room.twin = Room(reply, level, shadow=args.shadow)
                room.twin.warm_up(args.warm_up)
            for text, voice, x in qs:
                t = room.turn(text, x, onset)
                row: dict[str, Any] = {
                    "question": text, "voice": voice, "echo_db": level, "onset_s": onset,
                    "hold_ms": None if t.hold is None else round((t.hold - t.onset) / 16),
                    "start_ms": None if t.start is None else round((t.start - t.onset) / 16),
                    "residual_db": t.residual_db, "erle_before_db": t.erle_before_db,
                    "floor": floors[(text, voice)],
                }
                for name, audio in variants(t).items():
                    if name not in args.variants:
                        continue
                    hows = ("region", "whole") if name == "stream" else ("region",)
                    row[name] = {how: decode(audio, how) for how in hows}
                rows.append(row)
                if args.verbose:
                    print(json.dumps(row), flush=True)
    return {"split": args.split, "questions": len(qs), "voices": sorted({v for _, v, _ in qs}),
            "rows": rows, "summary": summary(rows, args.variants)}


_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
         "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def _spelled(n: int) -> str:
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10 - 2] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    return f"{_spelled(n // 100)} {_spelled(n % 100)}"  # "730": seven thirty (a time)


def _norm(text: str) -> str:
    text = re.sub(r"(\d+):(\d\d)", r"\1\2", text.replace("%", " percent"))
    return re.sub(r"\d+", lambda m: " " + _spelled(int(m.group())) + " ", text)


def turn_wer(said: str, heard: str | None) -> float:
    """WER with numbers spelled out ("15" is "fifteen"), at most 1 (a looped decode counts once)."""
    return 1.0 if heard is None else min(1.0, wer(_norm(said), _norm(heard)))


def summary(rows: list[dict[str, Any]], names: list[str]) -> dict[str, Any]:
    """Corpus WER (errors / words) per echo level, variant and decoder; the floor beside it."""
    out: dict[str, Any] = {}
    for level in sorted({r["echo_db"] for r in rows}):
        mine = [r for r in rows if r["echo_db"] == level]
        words = sum(len(r["question"].split()) for r in mine)

        def score(get: Any, mine: list[dict[str, Any]] = mine, words: int = words) -> float:
            errors = sum(len(r["question"].split()) * turn_wer(r["question"], get(r)) for r in mine)
            return round(errors / words, 4)

        level_out: dict[str, Any] = {
            "turns": len(mine), "words": words,
            "never_streamed": sum(r.get("stream") is None for r in mine),
            "hold_ms_p50": _p(mine, "hold_ms", 50), "start_ms_p50": _p(mine, "start_ms", 50),
            "floor_region": score(lambda r: r["floor"]["region"]), "floor_whole": score(lambda r: r["floor"]["whole"]),
            "misheard_turns": sum(turn_wer(r["question"], (r.get("stream") or {}).get("region")) > 0 for r in mine),
        }
        for name in names:
            for how in ("region", "whole") if name == "stream" else ("region",):
                level_out[f"{name}_{how}"] = score(lambda r, n=name, h=how: (r.get(n) or {}).get(h))
        for part in ("first_0.3s", "rest"):
            vals = [r["residual_db"][part] for r in mine if part in r["residual_db"]]
            level_out[f"residual_db_{part}_p50"] = round(float(np.median(vals)), 1) if vals else None
        out[str(level)] = level_out
    return out


def _p(rows: list[dict[str, Any]], key: str, q: float) -> float | None:
    vals = [r[key] for r in rows if r[key] is not None]
    return round(float(np.percentile(vals, q)), 1) if vals else None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=("tune", "held", "room"), default="tune")
    parser.add_argument("--levels", type=float, nargs="+", default=[0.0, -6.0])
    parser.add_argument("--onsets", type=float, nargs="+", default=list(ONSETS))
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--warm-up", type=float, default=8.0, help="s of uninterrupted replies before the first turn")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--shadow", action=argparse.BooleanOptionalAction, default=True,
                        help="the held shadow canceller (satellite.aec_shadow); --no-shadow: as main")
    parser.add_argument("--twin", action="store_true",
                        help="also run each turn without the user (held alike): the residual echo without double talk")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--rescore", type=Path, help="only summarise an earlier --out file's rows again")
    args = parser.parse_args(argv)
    if args.rescore:
        print(json.dumps(summary(json.loads(args.rescore.read_text())["rows"], args.variants), indent=1))
        return
    t0 = time.time()
    result = run(args)
    result.update({"seconds": round(time.time() - t0), "load_avg": os.getloadavg(),
                   "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "onsets": args.onsets})
    print(json.dumps(result["summary"], indent=1))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
