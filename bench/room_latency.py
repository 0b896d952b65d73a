"""Where the time goes from the end of the user's speech to the first reply sound, per turn, in
the room (a kept ``bench/room_turns_bench.py`` run folder).

Every step is placed on the room's scenario clock (seconds; the room's ``result.json``):

* ``speech end``: the last voiced 10 ms block of the request (the room, from the clean WAV);
* ``Silero's speech end``: where Silero VAD (the whisper server's, threshold 0.45), run over the
  room's ``mic.wav``, first hears 3 windows (96 ms) without speech after the request: the rest of
  the last word, reverberation or noise it still takes for speech (the satellite's cleaned stream,
  which whisper hears, differs a little: an estimate of the server's own speech end);
* ``whisper's speculative final decode starts``: its log (monotonic), once ~0.1 s of silence
  followed the speech (the decode time, start to text, is a row of its own);
* ``whisper's speculative final decoded``: the decode of the speech plus 0.1 s of silence that
  the end-of-turn rules read (its log, monotonic): from here a reply could be prepared;
* ``whisper end of turn``: the whisper server sent ``voice-stopped`` (its log, CLOCK_MONOTONIC,
  ``end of turn: speech ended at S, audio received A``; A - S is the silence whisper had heard);
* ``whisper transcript``: the final transcript went out (its log, monotonic);
* ``satellite told``: the satellite logged "end of speech found by the controller" (wall clock,
  ms); the orchestrator's turn clock starts within a few ms of it;
* ``prep``: the orchestrator started the prepared reply that was used ("preparing a reply to",
  its log; only turns with "prepared reply used": ``hit`` says which);
* ``text``: the intent's answer or the LLM's first token; ``tts``: the first TTS audio chunk;
  ``sent``: the first reply chunk written to the satellite (orchestrator ``--debug``: ``latency
  mark stage=... mono=...``; without it, the turn line's offsets from ``satellite told``);
* ``satellite reply``: the satellite's "waiting -> speaking on reply-start" (first reply audio in);
* ``speaker``: the first audible reply block at the room's speaker (> -40 dBFS).

The room places the speech end at the last 10 ms block over a level relative to the clip's own
noise (10 dB over its 10th percentile): in the corpus's noisy clips the last words can be under
it, and then "the end of speech" falls early (held-50, far+noise: 1.06 s before its last word
ended; tune-22: 2.57 s). The corpus clips end at their last voiced sample, so the table also
gives the first sound from the clip's end (``clip end``: the WAV's start + its length).

    python bench/room_latency.py /tmp/room-turns-held-on-p1of2 [--whisper-log FILE] [--json OUT]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
import wave
from pathlib import Path
from typing import Any

import numpy as np

STEPS = ["vad", "start", "spec", "eot", "asr", "told", "prep", "text", "tts", "sent", "sat", "speaker"]
TITLES = {
    "vad": "Silero's speech end (on the room's mic.wav; whisper's VAD threshold)",
    "start": "whisper's speculative final decode starts (~0.1 s of silence heard)",
    "spec": "whisper's speculative final decoded (the text a reply could start on)",
    "eot": "whisper end of turn",
    "asr": "whisper transcript",
    "told": "satellite told (end of speech)",
    "prep": "prepared reply started (preemptive.py; LLM turns whose prepared reply was used)",
    "text": "intent answer / LLM first token",
    "tts": "first TTS audio",
    "sent": "first chunk sent to the satellite",
    "sat": "satellite has the reply",
    "speaker": "first sound at the speaker",
}
_TS = re.compile(r"^ts=(\S+) ")
_MARK = re.compile(r"latency mark stage=(\w+) mono=([\d.]+)")


def wall(ts: str) -> float:
    return dt.datetime.fromisoformat(ts).timestamp()


def text_log(path: Path) -> list[tuple[float, str]]:
    """(wall seconds, message) of a key=value log."""
    out = []
    if path.exists():
        for line in path.read_text(errors="replace").splitlines():
            if m := _TS.match(line):
                out.append((wall(m.group(1)), line))
    return out


def json_log(path: Path) -> list[tuple[float, str]]:
    out = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
            out.append((wall(entry["ts"]), entry["msg"]))
        except (ValueError, KeyError, TypeError):
            continue
    return out


def silero_ends(folder: Path, result: dict[str, Any]) -> list[float | None]:
    """Per utterance, Silero's speech end on the room's mic (scenario seconds), None without mic.wav:
    the first of 3 windows in a row under the threshold from 0.1 s before the room's offset on."""
    path = folder / "mic.wav"
    if not path.exists():
        return [None] * len(result["utterances"])
    from voice_runtime.models import silero_vad
    from wyoming_whisper.vad import WINDOW, SileroVad, VadPolicy

    with wave.open(str(path)) as w:
        if w.getframerate() != 16000 or w.getnchannels() != 1 or w.getsampwidth() != 2:
            return [None] * len(result["utterances"])
        mic = (np.frombuffer(w.readframes(w.getnframes()), "<i2") / 32768).astype(np.float32)
    vad, threshold, shift = SileroVad(silero_vad()), VadPolicy().threshold, result["wav_offset_s"]
    ends: list[float | None] = []
    for u in result["utterances"]:
        begin = u["onset"] - 0.3  # scenario seconds; mic.wav starts wav_offset_s earlier
        stream = vad.stream()
        stream.feed(mic[int((begin + shift) * 16000) : int((u["offset"] + 2.0 + shift) * 16000)])
        probs = stream.probs
        first = max(0, int((u["offset"] - 0.1 - begin) * 16000 / WINDOW))
        k = next((k for k in range(first, len(probs) - 2) if max(probs[k : k + 3]) < threshold), None)
        ends.append(None if k is None else begin + k * WINDOW / 16000)
    return ends


def clip_end(folder: Path, utterance: dict[str, Any]) -> float | None:
    """The scenario second the utterance's WAV ends (None without it in the folder)."""
    path = folder / str(utterance.get("wav"))
    if not path.is_file():
        return None
    with wave.open(str(path)) as w:
        return float(utterance["at"]) + float(w.getnframes()) / float(w.getframerate())


def breakdown(folder: Path, whisper_log: Path | None = None) -> list[dict[str, Any]]:
    result = json.loads((folder / "result.json").read_text())
    scenario_mono = result["t0_monotonic"] + result["wav_offset_s"]
    # the scenario clock started when the start file appeared (the room polls it every 10 ms)
    scenario_wall = (folder / "go").stat().st_mtime
    sat = [(t - scenario_wall, msg) for t, msg in text_log(folder / "run.log")]
    orch = [(t - scenario_wall, msg) for t, msg in json_log(folder / "orchestrator.log")]
    marks = [(m.group(1), float(m.group(2)) - scenario_mono) for _, msg in orch if (m := _MARK.search(msg))]
    whisper_path = whisper_log or folder / "whisper.log"
    wlog = text_log(whisper_path) if whisper_path.exists() else []
    eots = [
        (float(m.group(3)) - scenario_mono, float(m.group(2)) - float(m.group(1)))
        for _, line in wlog
        if (m := re.search(r"end of turn: speech ended at ([\d.]+)s, audio received ([\d.]+)s mono=([\d.]+)", line))
    ]
    specs = [
        float(m.group(1)) - scenario_mono
        for _, line in wlog
        if (m := re.search(r"speculative final decoded mono=([\d.]+)", line))
    ]
    starts = [
        float(m.group(1)) - scenario_mono
        for _, line in wlog
        if (m := re.search(r"speculative final decode starts mono=([\d.]+)", line))
    ]
    finals = [
        float(m.group(1)) - scenario_mono
        for _, line in wlog
        if "transcript=" in line and (m := re.search(r" mono=([\d.]+)\"?$", line))
    ]
    judged = [
        (t - scenario_wall, m.group(1) == "True", m.group(2), m.group(3))
        for t, line in wlog
        if (m := re.search(r"end of turn\? finished=(True|False) \((.*?)\) text='(.*)'", line))
    ]
    told = [t for t, msg in sat if "end of speech found by the controller" in msg]
    sat_reply = [t for t, msg in sat if "speaking on reply-start" in msg]
    preparing = [t for t, msg in orch if msg.startswith("preparing a reply to")]
    used = [t for t, msg in orch if msg.startswith("prepared reply used")]
    turn_lines = [(t, msg) for t, msg in orch if re.match(r"turn (ok|cancelled|\S+) conversation=", msg)]
    utts, replies = result["utterances"], result["replies"]
    vad_ends = silero_ends(folder, result)
    rows = []
    for i, u in enumerate(utts):
        nxt = utts[i + 1]["onset"] if i + 1 < len(utts) else float("inf")
        spk = first_reply(u, nxt, replies)
        if spk is None:
            continue

        def last(times: list[float], lo: float = u["onset"], hi: float = spk) -> float | None:
            inside = [t for t in times if lo <= t <= hi]
            return inside[-1] if inside else None

        row: dict[str, Any] = {"utterance": i, "wav": u.get("wav"), "offset": u["offset"], "speaker": spk}
        row["before_mark"] = spk < u["offset"]
        told_t = last(told)
        row["told"] = told_t
        row["vad"] = vad_ends[i]
        row["clip_end"] = clip_end(folder, u)
        row["eot"] = last([t for t, _ in eots])
        row["eot_silence"] = next((s for t, s in eots if t == row["eot"]), None)
        row["asr"] = last(finals)
        row["spec"] = last(specs, u["onset"], row["eot"]) if row["eot"] is not None else None
        row["start"] = last(starts, u["onset"], row["spec"]) if row["spec"] is not None else None
        row["decode"] = None if row["start"] is None else round(row["spec"] - row["start"], 3)
        row["after_vad"] = None if row["start"] is None or row["vad"] is None else round(row["start"] - row["vad"], 3)
        row["sat"] = last(sat_reply)
        hit = last(used, u["onset"])
        row["hit"] = hit is not None
        row["prep"] = last(preparing, u["onset"], hit) if hit is not None else None
        line = next(((t, msg) for t, msg in turn_lines if row["sat"] is not None and t >= row["sat"]), None)
        row["intent"] = None
        if line is not None:
            im = re.search(r"intent=(\S+)", line[1])
            row["intent"] = im.group(1) if im else None
        for step, names in (
            ("text", ("intent", "first_token")),
            ("tts", ("first_tts_audio",)),
            ("sent", ("first_audio_sent",)),
        ):
            found = [t for name, t in marks if name in names]
            value = last(found, told_t - 0.05 if told_t is not None else u["onset"])
            if value is None and line is not None and told_t is not None:  # no --debug: the turn line's offsets
                offs = [float(m.group(2)) / 1000 for m in re.finditer(r"(\w+)=(\d+)ms", line[1]) if m.group(1) in names]
                value = told_t + offs[0] if offs else None
            row[step] = value
        for step in STEPS:
            row[f"{step}_s"] = None if row.get(step) is None else round(row[step] - u["offset"], 3)
        ce = row["clip_end"]
        row["speaker_clip_s"] = None if ce is None else round(spk - ce, 3)
        row["offset_early_s"] = None if ce is None else round(ce - u["offset"], 3)
        row["cause"] = slow_cause(row, [j for j in judged if u["onset"] <= j[0] <= spk])
        rows.append(row)
    return rows


def first_reply(utterance: dict[str, Any], next_onset: float, replies: list[dict[str, Any]]) -> float | None:
    """When the room first heard a reply to ``utterance`` (a reply that starts after its onset, before
    the next utterance's), None when none did. A reply that began before the room's speech end (the
    utterance's ``offset``) began while the user still spoke (a cut, or whole only by the continuation's
    merge): its first sound is that one, not the reply's restart after the hold (session 30's held-55:
    the reply at 47.51 s, cut at 47.64 by the "please" over it, played again from 47.92 s, was read as
    0.47 s from the satellite to the speaker)."""
    starts = [p["start"] for p in replies if utterance["onset"] < p["start"] < next_onset]
    return starts[0] if starts else None


WEAK_END_S = 0.6  # whisper heard more silence than this before it ended the turn: it judged the text unfinished
EARLY_MARK_S = 0.3  # the room's speech end this much before the clip's end (its level mark in a noisy clip)


def slow_cause(row: dict[str, Any], judged: list[tuple[float, bool, str, str]]) -> str:
    """Why a turn's first sound came late from the room's mark, when the log says: whisper waited
    for more speech (its last "unfinished" judgement: reason and text), or the room's mark fell
    before the clip's end."""
    causes = []
    if (silence := row.get("eot_silence")) is not None and silence > WEAK_END_S:
        unfinished = [j for j in judged if not j[1]]
        why = f" after {unfinished[-1][2]!r} on {unfinished[-1][3]!r}" if unfinished else ""
        causes.append(f"weak end: whisper heard {silence:.2f} s of silence{why}")
    if (early := row.get("offset_early_s")) is not None and early > EARLY_MARK_S:
        causes.append(f"room's mark {early:.2f} s before the clip's end")
    return "; ".join(causes)


def table(rows: list[dict[str, Any]], title: str) -> str:
    lines = [
        f"### {title}",
        "",
        "| step (from the room's speech end) | intents p50 / p95 | LLM turns p50 / p95 |",
        "|---|---|---|",
    ]
    timed = [r for r in rows if not r.get("before_mark")]  # a reply begun before the mark is a cut, not a latency
    kinds = {
        "intents": [r for r in timed if r["intent"] not in (None, "-")],
        "llm": [r for r in timed if r["intent"] == "-"],
    }

    def cell(items: list[dict[str, Any]], key: str) -> str:
        vals = [r[key] for r in items if r.get(key) is not None]
        if not vals:
            return "-"
        return f"{np.percentile(vals, 50):.3f} / {np.percentile(vals, 95):.3f} s (n={len(vals)})"

    for step in STEPS:
        lines.append(f"| {TITLES[step]} | {cell(kinds['intents'], step + '_s')} | {cell(kinds['llm'], step + '_s')} |")
    lines.append(
        f"| first sound at the speaker, from the clip's end (its last voiced sample) | "
        f"{cell(kinds['intents'], 'speaker_clip_s')} | {cell(kinds['llm'], 'speaker_clip_s')} |"
    )
    lines.append(
        f"| (the room's speech end before the clip's end) | {cell(kinds['intents'], 'offset_early_s')} | "
        f"{cell(kinds['llm'], 'offset_early_s')} |"
    )
    lines.append(
        f"| (silence whisper had heard at its end of turn) | {cell(kinds['intents'], 'eot_silence')} | "
        f"{cell(kinds['llm'], 'eot_silence')} |"
    )
    lines.append(
        f"| (its decode starts after Silero's speech end: the 96 ms pad + the audio's way) | "
        f"{cell(kinds['intents'], 'after_vad')} | {cell(kinds['llm'], 'after_vad')} |"
    )
    lines.append(
        f"| (its speculative final decode: start to text) | {cell(kinds['intents'], 'decode')} | "
        f"{cell(kinds['llm'], 'decode')} |"
    )
    return "\n".join(lines) + "\n"


_LLM = re.compile(
    r"(reply|prefill|refresh) conversation=\S+ (?:chunks=\d+ )?prompt_tokens=(\d+) cached=(\d+)"
    r"(?: prompt_eval_ms=(\d+))?(?:.*first_chunk_ms=(\d+))?"
)


def llm_lines(folder: Path) -> str:
    """What llama-server evaluated per request (the conversation server's log; ``refresh``: a prefill
    evaluated again at a new minute, wyoming_llama/prefill.py): the prompt tokens not in its cache,
    its prompt evaluation (ms, when logged) and, for replies, the first chunk."""
    path = folder / "llama.log"
    seen: dict[str, list[tuple[int, int | None, int | None]]] = {"reply": [], "prefill": [], "refresh": []}
    for line in path.read_text(errors="replace").splitlines() if path.exists() else []:
        if m := _LLM.search(line):
            seen[m.group(1)].append(
                (
                    int(m.group(2)) - int(m.group(3)),
                    int(m.group(4)) if m.group(4) else None,
                    int(m.group(5)) if m.group(5) else None,
                )
            )
    out = []
    for kind, items in seen.items():
        if items:

            def med(k: int, items: list[tuple[int, int | None, int | None]] = items) -> str:
                vals = [v for x in items if (v := x[k]) is not None]
                return f"{np.median(vals):.0f}" if vals else "-"

            out.append(
                f"llama {kind} requests: {len(items)}, uncached prompt tokens p50 {med(0)} "
                f"(all: {[x[0] for x in items]}), prompt eval ms p50 {med(1)}, first chunk ms p50 {med(2)}"
            )
    return "\n".join(out)


def tts_lines(folder: Path) -> str:
    """The TTS server's engine and default voice (``tts.log``), and its replies' first audio from
    the request (a stream's request opens before the LLM's first words: it includes that wait)."""
    path = folder / "tts.log"
    text = path.read_text(errors="replace") if path.exists() else ""
    chose = [m.group(0) for m in re.finditer(r"(provider=auto chose \S+|default voice=\S+)", text)]
    firsts = [float(m.group(2)) for m in re.finditer(r"voice=(\S+) pieces=\d+ calls=\d+ first_audio=([\d.]+)s", text)]
    voices = sorted({m.group(1) for m in re.finditer(r" voice=(\S+) pieces=", text)})
    if not (chose or firsts):
        return ""
    med = f"{np.median(firsts):.3f}" if firsts else "-"
    return f"tts: {'; '.join(chose)}; replies {len(firsts)} (voices {voices}), first audio from the request p50 {med} s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--whisper-log", type=Path)
    parser.add_argument("--json", type=Path, help="write the rows here")
    args = parser.parse_args()
    every: list[dict[str, Any]] = []
    for folder in args.folders:
        rows = breakdown(folder, args.whisper_log)
        log = (folder / "orchestrator.log").read_text(errors="replace")
        print(
            f"prepared replies (preemptive.py): started {log.count('preparing a reply to')}, "
            f"used {log.count('prepared reply used')}, "
            f"dropped {sum('prepared reply to' in x and ' dropped' in x for x in log.splitlines())}"
        )
        if lines := llm_lines(folder):
            print(lines)
        if lines := tts_lines(folder):
            print(lines)
        for r in rows:
            r["folder"] = str(folder)
        every += rows
        print(table(rows, str(folder)))
        for r in rows:
            print(
                r["wav"],
                r["intent"],
                " ".join(f"{s}={r[s + '_s']}" for s in STEPS),
                f"speaker_from_clip_end={r['speaker_clip_s']}",
                f"[{r['cause']}]" if r["cause"] else "",
            )
    if len(args.folders) > 1:
        print(table(every, "all"))
    if args.json:
        args.json.write_text(json.dumps(every, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
