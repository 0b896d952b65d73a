"""What Whisper gets for a short word over the reply (a room_cont run): the merged turn, rebuilt and decoded.

``bench/room_cont_bench.py`` scores the transcript the stack answered; a trailing "now" heard "No." (tiny.en) can
be the word's own audio, the canceller's leftover echo over it, or its start lost to the hold's pre-roll. Here,
per request whose trailing word started a continuation turn, the merged stream the orchestrator sends Whisper
(``orchestrator.continuation.HeardAudio``: the question's audio from its turn's start to its ``audio-stop``, then
the continuation turn's from its pre-roll on, joined by the satellite's mic times, a gap put as silence (at most
0.3 s)) is rebuilt from the tap (``--tap``) and decoded with the server's engine (tiny.en, beam 5,
greedy first) in variants that change one thing each:

* ``sent``: the canceller's output (the replay's: it follows the live chain until their decisions differ), the
  pre-roll the live log says (``turn N local run-pipeline preroll_ms=P``);
* ``pre600``: the same with the continuation's pre-roll 0.6 s (a first syllable the hold's start left out);
* ``raw``: the raw mic over the same spans (no canceller: the reply's echo whole);
* ``clean``: the corpus's own head and tail wavs, 0.3 s of silence between (what the voices say, no room).

Times: the tap's mic clock; turn starts are wall times in ``run.log``, mapped through the ``audio-stop`` lines
(each has both clocks). The live transcript is the one the satellite logged for that turn.

    python -m bench.cont_words KEEP [--only cont-14,cont-25] [--json OUT]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import wave
from pathlib import Path
from typing import Any

import numpy as np

from bench.echo_replay import FRAME, RATE, ReplayChain, Tick, replay, room_times
from satellite.echo import EchoConfig

JOIN_GAP_MS, MAX_GAP_S = 0.5, 0.3  # as HeardAudio.add: a gap over this (ms) is put as at most that much silence


def turns(run_log: str) -> list[dict[str, Any]]:
    """Each local turn: its start (mic ms, pre-roll included) and end (audio-stop, mic ms), its transcript."""
    out: list[dict[str, Any]] = []
    offsets: list[tuple[float, float]] = []  # (wall, wall - mic) at each audio-stop
    for line in run_log.splitlines():
        m = re.match(r'ts=(\S+) .*?msg="(.*)"$', line)
        if m is None:
            continue
        wall = dt.datetime.fromisoformat(m.group(1)).timestamp()
        if s := re.match(r"turn (\d+) local run-pipeline preroll_ms=(\d+)", m.group(2)):
            out.append({"turn": int(s.group(1)), "wall": wall, "preroll_ms": int(s.group(2))})
        elif (a := re.match(r"audio-stop to the controller at mic ([\d.]+)s", m.group(2))) and out:
            out[-1]["end_ms"] = float(a.group(1)) * 1000
            offsets.append((wall, wall - float(a.group(1))))
        elif (x := re.match(r"transcript='(.*)'", m.group(2))) and out:
            out[-1]["transcript"] = x.group(1)
    for t in out:  # the turn's start on the mic clock: the offset of its own audio-stop (the next one)
        off = next((o for w, o in offsets if w >= t["wall"]), offsets[-1][1] if offsets else 0.0)
        t["start_ms"] = (t["wall"] - off) * 1000
    return [t for t in out if "end_ms" in t]


def joined(parts: list[np.ndarray[Any, Any]], spans: list[tuple[float, float]]) -> np.ndarray[Any, Any]:
    """The parts (each over its mic span, ms) as HeardAudio joins them."""
    out, end = [parts[0]], spans[0][1]
    for audio, (start, stop) in zip(parts[1:], spans[1:], strict=True):
        if start >= end and start - end > JOIN_GAP_MS:
            out.append(np.zeros(int(min((start - end) / 1000, MAX_GAP_S) * RATE), dtype=np.int16))
        out.append(audio[int((end - start) * RATE / 1000):] if start < end else audio)
        end = max(end, stop)
    return np.concatenate(out)


def read_wav(path: Path) -> np.ndarray[Any, Any]:
    with wave.open(str(path)) as w:
        assert w.getframerate() == RATE and w.getnchannels() == 1 and w.getsampwidth() == 2, path
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)


def analyse(keep: Path, only: set[str] | None = None) -> list[dict[str, Any]]:
    from voice_runtime.models import resolve_whisper
    from wyoming_whisper.engine import EngineConfig, WhisperEngine, pcm16_to_float

    room = room_times(keep / "tap")
    assert room is not None, "the room's result.json beside the tap"
    t0, utterances, _ = room
    cleaned: list[bytes] = []
    raw: list[bytes] = []
    ends: list[float] = []  # mic ms at each frame's end
    reads: list[float] = []

    def after(i: int, t: Tick, chain: ReplayChain, out: bytes) -> None:
        cleaned.append(out)
        raw.append(t.mic)
        ends.append(t.mic_ms)
        reads.append(t.read - t0)

    replay(keep / "tap", EchoConfig(), quiet=True, after_frame=after)
    clean_pcm, raw_pcm = np.frombuffer(b"".join(cleaned), np.int16), np.frombuffer(b"".join(raw), np.int16)
    first_ms = ends[0] - FRAME * 1000 / RATE

    def span(pcm: np.ndarray[Any, Any], a: float, b: float) -> np.ndarray[Any, Any]:
        lo, hi = (max(0, int((x - first_ms) * RATE / 1000)) for x in (a, b))
        return pcm[lo:hi]

    def mic_at(room_t: float) -> float:
        return ends[min(int(np.searchsorted(np.asarray(reads), room_t)), len(ends) - 1)]

    engine = WhisperEngine(EngineConfig(model_dir=resolve_whisper("tiny.en")))
    all_turns = turns((keep / "run.log").read_text(errors="replace"))
    rows = []
    for u in utterances:
        name = str(u["wav"]).removesuffix("-tail.wav")
        if not str(u["wav"]).endswith("-tail.wav") or (only and name not in only):
            continue
        onset, offset = mic_at(u["onset"]), mic_at(u["offset"])
        k = next((i for i, t in enumerate(all_turns) if i and onset - 500 <= t["start_ms"] <= offset + 1000), None)
        if k is None:
            rows.append({"name": name, "continuation": None})
            continue
        head, cont = all_turns[k - 1], all_turns[k]
        h_span = (head["start_ms"] - head["preroll_ms"], head["end_ms"])
        variants: dict[str, np.ndarray[Any, Any]] = {}
        for label, pcm, pre in (("sent", clean_pcm, cont["preroll_ms"]), ("pre600", clean_pcm, 600),
                                ("raw", raw_pcm, cont["preroll_ms"])):
            c_span = (cont["start_ms"] - pre, cont["end_ms"])
            variants[label] = joined([span(pcm, *h_span), span(pcm, *c_span)], [h_span, c_span])
        head_wav, tail_wav = read_wav(keep / f"{name}-head.wav"), read_wav(keep / f"{name}-tail.wav")
        variants["clean"] = np.concatenate([head_wav, np.zeros(int(MAX_GAP_S * RATE), np.int16), tail_wav])
        texts = {label: engine.transcribe(pcm16_to_float(a.tobytes())).text for label, a in variants.items()}
        rows.append({"name": name, "live": cont.get("transcript"), "preroll_ms": cont["preroll_ms"],
                     "cont_start_after_onset_ms": round(cont["start_ms"] - cont["preroll_ms"] - onset), **texts})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("keep", type=Path, help="a room_cont run's folder (tap/, run.log, result.json, the wavs)")
    parser.add_argument("--only", help="comma-separated request names (cont-14,cont-25)")
    parser.add_argument("--json", type=Path, help="write the rows here")
    args = parser.parse_args()
    rows = analyse(args.keep, set(args.only.split(",")) if args.only else None)
    for r in rows:
        if r.get("continuation", 1) is None:
            print(f"{r['name']}: no continuation turn")
            continue
        print(f"{r['name']} pre-roll {r['preroll_ms']} ms from {r['cont_start_after_onset_ms']:+} ms of the word's "
              f"onset | live {r['live']!r} | sent {r['sent']!r} | pre600 {r['pre600']!r} | raw {r['raw']!r} "
              f"| clean {r['clean']!r}")
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
