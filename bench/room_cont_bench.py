"""The rest of a request spoken over the reply's first words: is it heard, merged, answered once?

"Lock the front door ... please": the end of turn comes at the pause (the words can end the
request), the reply starts, and the user's trailing word lands over it. The satellite holds
the reply and, right after the question's end, takes a short word as the user going on
(``satellite/held.py``: a continuation hold, confirmed by ``continuation_min_seconds`` of voice);
the orchestrator joins the new turn to the question (``orchestrator/continuation.py``).
``bench/room_turns_bench.py``'s corpus never made this happen live (the word came before the
reply). Here each request is spoken in two parts: the head at a fixed time, the trailing short
word ("please", "now", "thanks", "in the kitchen") ``--delays`` seconds after the reply to the
head starts (the room's ``after_reply_starts``; so the pause is whatever the stack takes to
answer plus the delay). Voices: five Kokoro voices and Piper (``bench/turn_corpus.py``'s),
clean / far (-12 dB) / noisy (white noise at -40 dBFS) in turn. The whole stack as
``room_turns_bench.py`` runs it (our three engines, ``serve``, the satellite; same machinery).

Per request, from the room (timeline), the satellite's log and the orchestrator's log:

* whole: the last transcript answered for it has the head (>= 75 % of its words) and every word
  of the tail; for a command that acts (a timer) the design is different: the tail is heard on
  its own and the command's reply is said again (``after acting``), counted apart;
* the holds over its replies: kind (continuation / barge-in), seconds after the question's end
  and of the reply heard, the VAD's frames (``frames=v..v``); continued (the short-word rule
  fired), resumed (a hold released: a stutter, or the word lost);
* answers: turns answered (1 expected; 2 = a double answer), the replies' starts and cuts;
* the tail's real delay (its onset - the reply's start at the speaker) and the first reply
  audio after the tail's end.

    flock /tmp/hearth-rt.lock .venv/bin/python bench/room_cont_bench.py --label s20-cont-1 \\
        --keep /tmp/p20/cont-run1 [--echo-db -6] [--limit N] [--tap]

``--tap``: the satellite records its echo chain (``bench/sat_tap.py``, KEEP/tap) so a hold, or a word
never held, can be replayed frame by frame (``python -m bench.echo_replay KEEP/tap --features F``).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
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
sys.path.insert(0, str(ROOT))

from bench import run_until_signalled  # noqa: E402
from bench.room_turns_bench import ECHO, log_events, run_split  # noqa: E402
from bench.turn_bench import comparable, recall  # noqa: E402
from bench.turn_corpus import Voices, norm_words  # noqa: E402
from voice_runtime.audio import PCM16_MONO_16K, write_wav  # noqa: E402
from voice_runtime.models import cache_dir  # noqa: E402
from voice_runtime.procs import ServiceProcess, start_service  # noqa: E402

RATE = 16000
RESULTS = ROOT / "bench" / "results" / "room_cont"
# (head, trailing words, kind): "intent" answered at once (no home: the honest no-home reply, which
# acted on nothing, so it is merged), "acting" (a timer: the tail is heard alone). No LLM questions:
# on the shared box (load 7-8) their replies came 11 s late or never within a slot, and the tail then
# fell over the next request's reply (the first run, s20-cont-1, had "Tell me a joke" and "Tell me
# about the moon")
PAIRS = [
    ("Lock the front door", "please", "intent"),
    ("Turn on the kitchen lights", "please", "intent"),
    ("What time is it", "now", "intent"),
    ("Turn off the lights", "in the kitchen", "intent"),
    ("Pause the music", "now", "intent"),
    ("Open the garage door", "now", "intent"),
    ("Turn off the fan", "in the bedroom", "intent"),
    ("Switch on the fan", "in the kitchen", "intent"),
    ("Close the blinds", "please", "intent"),
    ("Set a timer for five minutes", "thanks", "acting"),
]
DELAYS = [0.05, 0.15, 0.25, 0.35, 0.45, 0.6]
CONDITIONS = [("clean", 0.0, None), ("far", -12.0, None), ("noisy", 0.0, -40.0)]


def render(
    voices: Voices | None, text: str, voice_index: int, folder: Path
) -> tuple[np.ndarray[Any, Any], Voices | None]:
    """``text`` in the corpus's voice ``voice_index`` (16 kHz float, trimmed), cached."""
    key = hashlib.sha1(f"{text}|{voice_index}".encode()).hexdigest()[:16]
    path = folder / f"{key}.raw"
    if not path.exists():
        voices = voices or Voices()
        x = voices.speak(text + ".", voices.names[voice_index])
        path.write_bytes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())
        (folder / f"{key}.json").write_text(json.dumps({"text": text, "voice": voices.names[voice_index]}))
    return np.frombuffer(path.read_bytes(), "<i2").astype(np.float32) / 32768, voices


def build(count: int) -> list[dict[str, Any]]:
    """``count`` requests: pairs, voices, conditions and delays in turn (fixed order)."""
    folder = cache_dir() / "cont_corpus"
    folder.mkdir(parents=True, exist_ok=True)
    voices: Voices | None = None
    out = []
    for n in range(count):
        head, tail, kind = PAIRS[n % len(PAIRS)]
        voice = (n + n // len(PAIRS)) % 6  # (delays and conditions cross: see below)
        condition, gain, noise = CONDITIONS[n % len(CONDITIONS)]
        parts = []
        for i, text in enumerate((head, tail)):
            x, voices = render(voices, text, voice, folder)
            lead = np.zeros(int(0.3 * RATE) if i == 0 else 0, np.float32)  # the tail's delay is to its first sample
            x = np.concatenate([lead, x * 10 ** (gain / 20)])
            if noise is not None:
                rng = np.random.default_rng(n * 2 + i)
                x = x + rng.standard_normal(len(x)).astype(np.float32) * 10 ** (noise / 20)
            parts.append((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())
        meta = json.loads((folder / f"{hashlib.sha1(f'{head}|{voice}'.encode()).hexdigest()[:16]}.json").read_text())
        out.append({"id": f"cont-{n:02d}", "head": head, "tail": tail, "kind": kind, "voice": meta["voice"],
                    "condition": condition, "delay": DELAYS[(n + n // len(DELAYS)) % len(DELAYS)], "pcm": parts})
    return out


def write_scenario(out: Path, requests: list[dict[str, Any]], gap: float) -> tuple[Path, float]:
    out.mkdir(parents=True, exist_ok=True)
    events: list[dict[str, Any]] = []
    at = 2.0
    for r in requests:
        for part, pcm in zip(("head", "tail"), r["pcm"], strict=True):
            write_wav(str(out / f"{r['id']}-{part}.wav"), pcm, PCM16_MONO_16K)
        events.append({"at": round(at, 3), "wav": f"{r['id']}-head.wav"})
        # min_reply 0: the reply's first audible block anchors the tail (the room's default waits 0.3 s)
        events.append({"after_reply_starts": r["delay"], "min_reply": 0.0, "wav": f"{r['id']}-tail.wav"})
        at += len(r["pcm"][0]) / 32000 + gap
    scen = out / "scenario.json"
    scen.write_text(json.dumps({"duration": round(at + 2.0, 1), "noise_db": -60, "events": events}))
    return scen, at


def sat_events(text: str, scenario_wall: float) -> list[tuple[float, str]]:
    found = []
    for line in text.splitlines():
        if (m := re.match(r"ts=(\S+) .*?msg=\"(.*)\"$", line)) is not None:
            found.append((dt.datetime.fromisoformat(m.group(1)).timestamp() - scenario_wall, m.group(2)))
    return found


def words_in(reference: str, heard: str) -> float:
    return recall(comparable(norm_words(reference)), comparable(norm_words(heard)))


def judge(requests: list[dict[str, Any]], run: dict[str, Any]) -> list[dict[str, Any]]:
    result = run["result"]
    scenario_wall = result["t0_monotonic"] + result["wav_offset_s"] + run["mono_to_wall"]
    orch = log_events(run["log"], scenario_wall)
    sat = sat_events(run["satlog"], scenario_wall)
    utts = {u["wav"]: u for u in result["utterances"]}
    heads = [utts[f"{r['id']}-head.wav"]["at"] for r in requests]
    rows = []
    for i, r in enumerate(requests):
        lo, hi = heads[i], heads[i + 1] if i + 1 < len(heads) else float("inf")
        head, tail = utts[f"{r['id']}-head.wav"], utts.get(f"{r['id']}-tail.wav")
        replies = [p for p in result["replies"] if lo <= p["start"] < hi]
        first = next((p for p in replies if p["start"] > head["offset"]), None)
        mine = [msg for t, _, msg in orch if lo <= t < hi]
        answered = [m.group(1) for msg in mine
                    if (m := re.search(r"^turn \d+ answered transcript=(.*) continued=", msg))]
        final = answered[-1].strip("'\"") if answered else ""
        holds = []
        for t, msg in ((t, msg) for t, msg in sat if lo <= t < hi):
            if m := re.match(r"hold \((\S+)\): ([\d.]+)s after the end of the question, ([\d.]+)s of the reply", msg):
                holds.append({"t": round(t, 3), "kind": m.group(1), "after": float(m.group(2)),
                              "heard": float(m.group(3))})
            elif holds and (m := re.match(r"barge-in after [\d.]+s of speech( \(a continuation\))? frames=(\S*)", msg)):
                holds[-1].update(verdict="continued" if m.group(1) else "barge-in", frames=m.group(2))
            elif holds and (m := re.match(r"hold \(\S+\) over: (\d+) voiced frames.* frames=(\S*)", msg)):
                holds[-1].update(verdict="resumed", frames=m.group(2), voiced=int(m.group(1)))
            elif holds and holds[-1].get("verdict") == "continued" and (
                    m := re.match(r"the question's speech: (\d+) voiced frames", msg)):
                holds[-1].setdefault("speech_frames", int(m.group(1)))  # the continued speech's whole voice
        merges = sum("new speech after turn" in m and ": continuation (" in m for m in mine)
        # the tail started a turn of its own (the reply was cut and the tail is answered alone: a double answer)
        alone = [msg for t, _, msg in orch if tail is not None and tail["onset"] - 0.2 <= t <= tail["offset"] + 1.0
                 and re.search(r"new speech after turn \d+: new turn \(", msg)]
        after_acting = sum(": new turn after acting" in m for m in mine)
        tail_on = tail["onset"] if tail else None
        over_tail = [h for h in holds if tail is not None and tail["onset"] - 0.1 <= h["t"] <= tail["offset"] + 0.3]
        rows.append({
            "id": r["id"], "head": r["head"], "tail": r["tail"], "kind": r["kind"], "voice": r["voice"],
            "condition": r["condition"], "delay_asked": r["delay"], "answered": answered,
            "whole": bool(final) and words_in(r["head"], final) >= 0.75 and words_in(r["tail"], final) == 1.0,
            "tail_heard": bool(final) and words_in(r["tail"], final) == 1.0,
            "merges": merges, "after_acting": after_acting, "turns_answered": len(answered),
            "tail_alone": len(alone),
            # the tail's onset - the first reply's start at the speaker (the room's real delay)
            "delay": round(tail_on - first["start"], 3) if tail_on is not None and first else None,
            "pause": round(tail_on - head["offset"], 3) if tail_on is not None else None,
            "reply_to_head_s": round(first["start"] - head["offset"], 3) if first else None,
            "tail_over_reply": bool(first and tail_on is not None and first["start"] <= tail_on),
            "holds": holds, "holds_over_tail": over_tail,
            "continued": any(h.get("verdict") == "continued" for h in over_tail),
            "stutters": [h for h in holds if h.get("verdict") == "resumed" and h not in over_tail],
            "replies": [{k: p[k] for k in ("start", "played_s", "end_kind")} for p in replies],
            "first_audio_after_tail_s": next((round(p["start"] - tail["offset"], 3) for p in replies
                                              if tail and p["start"] > tail["offset"]), None),
        })
    return rows


def summary(rows: list[dict[str, Any]]) -> list[str]:
    over = [r for r in rows if r["tail_over_reply"]]
    merged_kind = [r for r in over if r["kind"] != "acting"]
    lines = [f"requests {len(rows)}; tail over the reply {len(over)} (delay p50 "
             f"{np.median([r['delay'] for r in over]) if over else float('nan'):.3f} s)"]
    lines.append(f"non-acting, tail over the reply: whole {sum(r['whole'] for r in merged_kind)}/{len(merged_kind)}, "
                 f"short-word rule fired {sum(r['continued'] for r in merged_kind)}, merged "
                 f"{sum(r['merges'] > 0 for r in merged_kind)}, tail a turn of its own (a double answer) "
                 f"{sum(r['tail_alone'] > 0 for r in merged_kind)}")
    acting = [r for r in over if r["kind"] == "acting"]
    lost = sum(any(h.get("verdict") == "resumed" for h in r["holds_over_tail"]) for r in rows)
    acted = sum(r["after_acting"] > 0 for r in acting)
    lines.append(f"acting, tail over the reply: after-acting {acted}/{len(acting)}")
    lines.append(f"stutters (holds resumed, not over a tail) {sum(len(r['stutters']) for r in rows)}; "
                 f"tails lost to a resumed hold {lost}")
    for r in rows:
        hs = " ".join(f"[{h['kind']} a={h['after']} h={h['heard']} {h.get('verdict', '?')} {h.get('frames', '')}]"
                      for h in r["holds"])
        lines.append(f"{r['id']} {r['kind']:6} {r['condition']:5} delay={r['delay']} pause={r['pause']} "
                     f"{'WHOLE' if r['whole'] else 'miss '} merges={r['merges']} alone={r['tail_alone']} "
                     f"{r['answered'][-1] if r['answered'] else ''} {hs}")
    return lines


async def run(args: argparse.Namespace) -> int:
    requests = await asyncio.to_thread(build, args.count)
    engines: dict[str, ServiceProcess] = {}
    load_start = os.getloadavg()
    folder = Path(args.keep or f"/tmp/room-cont-{args.label}")
    try:
        engines["whisper"] = await start_service("wyoming_whisper")
        engines["llama"] = await start_service("wyoming_llama", "--max-sentences", "1")
        engines["tts"] = await start_service("wyoming_kokoro")
        args.window, args.echo = None, ECHO[:2] + ["--echo-gain-db", str(args.echo_db)] + ECHO[4:]
        scen = await asyncio.to_thread(write_scenario, folder, requests, args.gap)
        ran = await run_split(args, [], engines, folder, scenario=scen)
    finally:
        for name, proc in engines.items():
            await proc.stop()
            (folder / f"{name}.log").write_text("\n".join(proc.log) + "\n")
    rows = judge(requests, ran)
    data = {"label": args.label, "echo_db": args.echo_db, "gap": args.gap,
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "loadavg_start": load_start,
            "loadavg_end": os.getloadavg(), "mono_to_wall": ran["mono_to_wall"], "room": ran["room_line"],
            "room_stats": ran["result"].get("stats"),
            "rows": rows}
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{args.label}.json"
    path.write_text(json.dumps(data, indent=1) + "\n")
    print("\n".join(summary(rows)))
    print(f"wrote {path}; load {load_start} -> {os.getloadavg()}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--label", default="cont")
    parser.add_argument("--keep", help="folder for the room's files (default /tmp/room-cont-LABEL)")
    parser.add_argument("--count", type=int, default=33, help="requests (pairs, voices, delays in turn)")
    parser.add_argument("--gap", type=float, default=9.5, help="seconds from one head's end to the next head")
    parser.add_argument("--echo-db", type=float, default=-6.0)
    parser.add_argument("--tap", action="store_true", help="with --keep: record the satellite's mic and speaker "
                        "frames (bench/sat_tap.py, KEEP/tap) for bench/echo_replay.py")
    parser.add_argument("--rejudge", action="store_true", help="judge the kept --keep folder again")
    args = parser.parse_args()
    if args.rejudge:
        return rejudge(args)
    return run_until_signalled(run(args))


def rejudge(args: argparse.Namespace) -> int:
    folder = Path(args.keep)
    path = RESULTS / f"{args.label}.json"
    data = json.loads(path.read_text())
    ran = {"result": json.loads((folder / "result.json").read_text()),
           "log": (folder / "orchestrator.log").read_text(errors="replace"),
           "satlog": (folder / "run.log").read_text(errors="replace"), "mono_to_wall": data["mono_to_wall"]}
    requests = [{**{k: row[k] for k in ("id", "head", "tail", "kind", "voice", "condition")},
                 "delay": row["delay_asked"]} for row in data["rows"]]  # (as run: the pairs may have changed since)
    data["rows"] = judge(requests, ran)
    path.write_text(json.dumps(data, indent=1) + "\n")
    print("\n".join(summary(data["rows"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
