"""The end-to-end bench's turns, their stage times and its report (``e2e.md/json/csv/png``);
the bench itself is ``bench/e2e_bench.py``."""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from orchestrator.intents import IntentRecognizer
from voice_runtime.latency import percentile

if TYPE_CHECKING:
    from bench.e2e_profile import Profiler

QUESTION_VOICE = "am_michael"
VOICE = "en_US-joe-medium"
STAGES = ("vad", "asr", "text", "tts", "sent", "speaker")
STAGE_LABELS = {
    "vad": "end of speech decided (satellite VAD or whisper)",
    "asr": "final transcript",
    "text": "reply text ready (intent / first LLM token; peer: whole reply)",
    "tts": "first TTS audio",
    "sent": "forwarded to satellite",
    "speaker": "at the speaker",
}
ECHO_FLAGS = ("--echo-sim-delay-ms", "60", "--echo-sim-gain-db", "-10")
TARGETS = {"p50_s": 0.8, "ratio_to_peer": 0.5, "barge_in_ms": 150.0, "false_barge_ins": 0, "p95_4_over_1": 2.0}


@dataclass
class Question:
    text: str
    wav: Path
    speech_end: float  # seconds into the WAV where the last voiced sample is


@dataclass
class Turn:
    pipeline: str
    concurrency: int
    question: str
    transcript: str = ""
    reply: str = ""
    intent: bool = False
    error: str | None = None
    perceived: float | None = None  # last voiced sample → first reply sample at the speaker
    marks: dict[str, float] = field(default_factory=dict)  # orchestrator, after audio-stop arrived
    stages: dict[str, float] = field(default_factory=dict)  # cumulative, after the last voiced sample
    false_barge_in: bool | None = None  # echo-only runs whose reply was played (or barged into)
    echo_end: str | None = None  # echo-only runs: how the turn ended at the satellite (ECHO_ENDS)
    satellite_rss_mb: float = 0.0



def stage_times(turn: Turn, vad: float, streaming: bool) -> dict[str, float]:
    m = turn.marks
    text_key = "intent" if turn.intent else ("first_token" if streaming else "reply_done")
    stages = {"vad": vad}
    for stage, key in (("asr", "transcript"), ("text", text_key), ("tts", "first_tts_audio"),
                       ("sent", "first_audio_sent")):
        if key in m:
            stages[stage] = vad + m[key]
    if turn.perceived is not None:
        stages["speaker"] = turn.perceived
    return {k: round(v, 3) for k, v in stages.items()}


def summarize(turns: list[Turn]) -> dict[str, float]:
    vals = [t.perceived for t in turns if t.perceived is not None]
    stats = {"turns": float(len(turns)), "errors": float(sum(t.error is not None for t in turns))}
    if vals:
        stats.update(p50=percentile(vals, 50), p95=percentile(vals, 95), mean=statistics.fmean(vals))
    for stage in STAGES:
        stage_vals = [t.stages[stage] for t in turns if stage in t.stages and t.error is None]
        if stage_vals:
            stats[f"{stage}_p50"] = statistics.median(stage_vals)
    return stats



def stage_deltas(s: dict[str, float]) -> dict[str, float]:
    """Median cumulative instants → the time each stage adds."""
    out, previous = {}, 0.0
    for stage in STAGES:
        value = s.get(f"{stage}_p50")
        if value is not None:
            out[stage] = round(max(0.0, value - previous), 3)
            previous = max(previous, value)
    return out


def fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def write_report(out: Path, turns: list[Turn], *, usage: dict[str, Any], barge: list[dict[str, float]],
                 questions: list[Question], args: argparse.Namespace, elapsed: float) -> dict[str, Any]:
    main_turns = [t for t in turns if t.pipeline in ("ours", "peer")]
    single = {name: summarize([t for t in main_turns if t.pipeline == name and t.concurrency == 1])
              for name in ("ours", "peer") if any(t.pipeline == name for t in main_turns)}
    kinds = {f"{name} {kind}": summarize([t for t in main_turns if t.pipeline == name and t.concurrency == 1
                                          and t.intent == (kind == "intent") and t.error is None])
             for name in single for kind in ("llm", "intent")}
    kinds = {k: v for k, v in kinds.items() if v["turns"]}
    scale = {n: summarize([t for t in turns if t.pipeline == "ours" and t.concurrency == n])
             for n in sorted({t.concurrency for t in turns if t.pipeline == "ours"})}
    echo = [t for t in turns if t.pipeline == "ours-echo"]
    echo_played = [t for t in echo if t.false_barge_in is not None]  # the others' replies never played
    false_barge = sum(bool(t.false_barge_in) for t in echo_played)
    reaction = [b["onset_to_silent_ms"] for b in barge]
    ours, peer = single.get("ours", {}), single.get("peer", {})
    ratio = ours["p50"] / peer["p50"] if "p50" in ours and peer.get("p50") else None
    ratio95 = ours["p95"] / peer["p95"] if "p95" in ours and peer.get("p95") else None
    p95_ratio = scale[4]["p95"] / scale[1]["p95"] if 4 in scale and "p95" in scale[4] and "p95" in scale.get(1, {}) \
        else None
    sat_rss = max((t.satellite_rss_mb for t in turns), default=0.0)
    targets = [
        ("user-perceived p50 (single satellite)", "≤ 0.8 s", ours.get("p50"), "s",
         None if "p50" not in ours else ours["p50"] <= TARGETS["p50_s"]),
        ("ratio to the peer, p50", "≤ 0.5", ratio, "", None if ratio is None else ratio <= TARGETS["ratio_to_peer"]),
        ("barge-in: speech onset → reply silent (median)", "≤ 150 ms",
         statistics.median(reaction) if reaction else None, "ms",
         None if not reaction else statistics.median(reaction) <= TARGETS["barge_in_ms"]),
        ("false barge-ins on echo-only runs", "0", float(false_barge) if echo_played else None,
         f" of {len(echo_played)} runs played", None if not echo_played else false_barge == 0),
        ("p95 with 4 satellites / single p95", "≤ 2", p95_ratio, "",
         None if p95_ratio is None else p95_ratio <= TARGETS["p95_4_over_1"]),
    ]
    servers = usage.get("servers", {})
    cpu_per_turn: dict[str, dict[str, float]] = {}
    for phase, info in usage.get("phases", {}).items():
        if info["turns"]:
            cpu_per_turn[phase] = {k: round(v / info["turns"], 2) for k, v in info["cpu_seconds"].items() if v > 0}
    data: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_avg": os.getloadavg()},
        "settings": {"questions": len(questions), "silence_frames": args.silence_frames,
                     "vad_sensitivity": args.vad_sensitivity, "partial_transcripts": args.partial_transcripts,
                     "vad_end_seconds": args.silence_frames * 0.03, "max_tokens": args.max_tokens,
                     "temperature": args.temperature, "voice": VOICE, "question_voice": QUESTION_VOICE,
                     "elapsed_s": round(elapsed, 1)},
        "single": single, "by_kind": kinds, "scale": {str(k): v for k, v in scale.items()},
        "echo": {"runs": len(echo), "played": len(echo_played), "false_barge_ins": false_barge,
                 "ends": [t.echo_end for t in echo]}, "barge_in": barge,
        "targets": [{"what": w, "target": tg, "measured": None if m is None else float(m),
                     "met": None if ok is None else bool(ok)} for w, tg, m, _u, ok in targets],
        "usage": usage, "cpu_per_turn": cpu_per_turn, "satellite_peak_rss_mb": sat_rss,
        "turns": [asdict(t) for t in turns],
    }
    (out / "e2e.json").write_text(json.dumps(data, indent=2))
    keys = sorted({k for t in turns for k in t.marks})
    with (out / "e2e.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["pipeline", "concurrency", "question", "perceived_s", "error", "intent", "false_barge_in",
                         "transcript", "reply", *[f"stage_{s}" for s in STAGES], *[f"mark_{k}" for k in keys]])
        for t in turns:
            writer.writerow([t.pipeline, t.concurrency, t.question, t.perceived, t.error, t.intent, t.false_barge_in,
                             t.transcript, t.reply, *[t.stages.get(s) for s in STAGES],
                             *[t.marks.get(k) for k in keys]])
    plot(out / "e2e.png", kinds, scale, args.silence_frames)

    def mark(ok: bool | None) -> str:
        return "n/a" if ok is None else ("**met**" if ok else "**missed**")

    vad_s = args.silence_frames * 0.03
    lines = [
        "# End-to-end latency: hearth vs a Home-Assistant-style chain", "",
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {len(questions)} questions "
        f"({sum(bool(IntentRecognizer().recognize(q.text)) for q in questions)} home commands answered by intents, "
        f"the rest by the LLM), spoken by Kokoro `{QUESTION_VOICE}`; {os.cpu_count()} CPUs shared with other "
        f"work (load average at the end {os.getloadavg()[0]:.1f}); run took {elapsed / 60:.1f} min.", "",
        "**User-perceived latency** = the question's last voiced sample → the first reply sample at the "
        "satellite's speaker, both read from WAV files on the microphone's timeline (the satellite writes one "
        "speaker frame per mic frame; tones off; device latency not included).", "",
        f"**Satellite VAD end of speech: `--silence-frames-required {args.silence_frames}`** (30 ms frames = "
        f"{vad_s:.2f} s of silence before the satellite sends `audio-stop`), the same in both pipelines. "
        + (f"Ours, as `voice-orchestrator serve` by default, also asks whisper for server-side end of speech "
           f"(`vad_sensitivity: {args.vad_sensitivity}`) and whichever comes first ends the question; "
           if args.vad_sensitivity != "off" else "Ours waits for the satellite too; ")
        + ("partial transcripts on. " if args.partial_transcripts else "partial transcripts off (unused). ")
        + f"LLM: SmolLM2-135M, "
        f"`--max-tokens {args.max_tokens} --temperature {args.temperature}` (deterministic, so both pipelines "
        f"get the same reply). TTS voice: Piper `{VOICE}` in both; our TTS audio cache off (`--cache-mb 0`: the "
        f"concurrency phases repeat questions).", "",
        "## Targets", "", "| target | goal | measured | |", "|---|---|---|---|",
    ]
    for what, goal, measured, unit, ok in targets:
        digits = 0 if unit.startswith((" of", "ms")) else 3
        lines.append(f"| {what} | {goal} | {fmt(measured, digits)}{unit} | {mark(ok)} |")
    lines += [
        "", "## Single satellite", "",
        "| pipeline | turns | errors | p50 (s) | p95 (s) | mean (s) | VAD p50 | transcript p50 | text ready p50 "
        "| first TTS audio p50 | sent p50 |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s in {**single, **kinds}.items():
        cells = [fmt(s.get(k)) for k in ("p50", "p95", "mean", "vad_p50", "asr_p50", "text_p50", "tts_p50",
                                          "sent_p50")]
        lines.append(f"| {name} | {s['turns']:.0f} | {s['errors']:.0f} | " + " | ".join(cells) + " |")
    lines += ["", f"Ratio ours/peer: p50 {fmt(ratio, 2)}, p95 {fmt(ratio95, 2)}.", "",
              "Stage columns are cumulative seconds after the last voiced sample: the end-of-speech decision "
              "(the end of the audio the pipeline took: the satellite's VAD, or whisper's endpointing), then the "
              "orchestrator's marks (final transcript; reply text ready "
              "for TTS: the intent match, the first LLM token when streaming, the whole reply for the peer; "
              "first TTS audio; first audio forwarded to the satellite). p50 = median; p95 interpolated.", "",
              "![latency](e2e.png)", "",
              "## Where the time goes", "",
              "Median time each stage adds (s), by turn kind:", "",
              "| turns | " + " | ".join(STAGE_LABELS[st] for st in STAGES) + " |", "|---|" + "---|" * len(STAGES),
              *[f"| {name} | " + " | ".join(fmt(stage_deltas(st_sum).get(st)) for st in STAGES) + " |"
                for name, st_sum in kinds.items()],
              "", "A py-spy profile of our servers during the single-satellite turns: `e2e.profile.md` "
              "(`--profile DIR`).", "",
              "## Concurrency (ours)", "", "| satellites | turns | errors | p50 (s) | p95 (s) |",
              "|---|---|---|---|---|"]
    for n, s in scale.items():
        lines.append(f"| {n} | {s['turns']:.0f} | {s['errors']:.0f} | {fmt(s.get('p50'))} | {fmt(s.get('p95'))} |")
    lines += ["", f"Concurrent satellites run the first {args.scale_rounds}×N questions, N at a time; few turns "
              "per level, so p95 there is close to the maximum.", "",
              "## Barge-in and echo", "",
              f"- Echo-only runs: {len(echo)} LLM questions through our full pipeline with the satellite's simulated "
              f"echo path (`{' '.join(ECHO_FLAGS)}`), the reply played to the end with nobody speaking: "
              f"**{false_barge} false barge-in(s)** over the {len(echo_played)} run(s) whose reply played"
              + ("" if len(echo_played) == len(echo) else " (the others ended without it: "
                 + ", ".join(str(t.echo_end or t.error) for t in echo if t.false_barge_in is None) + ")") + ".",
              f"- Barge-in reaction (speech onset during a reply → reply silent, mic timeline, "
              f"`bench/satellite_bench.py`'s scripted run, {len(barge)} run(s)): "
              + (", ".join(f"{b['onset_to_silent_ms']:.0f}" for b in barge) + " ms; onset → new `run-pipeline`: "
                 + ", ".join(f"{b['onset_to_new_turn_ms']:.0f}" for b in barge) + " ms (≥ the 0.4 s "
                 "`--barge-in-min-seconds`)." if barge else "not run."),
              "", "## Memory and CPU", "",
              "| process | peak RSS (MB) | CPU s (whole run) |", "|---|---|---|"]
    for name, u in servers.items():
        lines.append(f"| {name} | {u['peak_rss_mb']} | {u['cpu_seconds']} |")
    lines.append(f"| satellite (largest of all runs) | {sat_rss} | |")
    problems = usage.get("log_problems", {})
    if problems:
        lines += ["", "Warning/error lines in the servers' logs during the run: "
                  + ", ".join(f"{k} {v}" for k, v in problems.items()) + "."]
    lines += ["", "`wyoming_llama` includes its `llama-server` child. The orchestrator runs inside the bench "
              "process (its RSS includes numpy and the bench's own code).", "",
              "CPU seconds per turn, by phase (each process's CPU time during the phase / turns):", "",
              "| phase | " + " | ".join(servers) + " |", "|---|" + "---|" * len(servers)]
    for phase, per in cpu_per_turn.items():
        lines.append(f"| {phase} | " + " | ".join(fmt(per.get(name), 2) for name in servers) + " |")
    lines += ["", "Raw per-turn numbers: `e2e.csv`, `e2e.json`. Rerun: "
              f"`.venv/bin/python bench/e2e_bench.py --silence-frames {args.silence_frames} "
              f"--vad-sensitivity {args.vad_sensitivity}"
              + (" --partial-transcripts`." if args.partial_transcripts else "`.")]
    (out / "e2e.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return data


def plot(path: Path, kinds: dict[str, dict[str, float]], scale: dict[int, dict[str, float]],
         silence_frames: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 6), gridspec_kw={"width_ratios": [1.3, 1]})
    names = list(kinds)
    bottom = np.zeros(len(names))
    for stage in STAGES:
        heights = []
        for idx, n in enumerate(names):
            value = kinds[n].get(f"{stage}_p50", bottom[idx])
            heights.append(max(0.0, value - bottom[idx]))
        left.bar(names, heights, bottom=bottom, label=STAGE_LABELS[stage])
        bottom = bottom + np.array(heights)
    left.scatter(names, [kinds[n].get("p50", np.nan) for n in names], color="black", zorder=3, marker="_", s=400,
                 label="user-perceived p50")
    left.axhline(0.8, color="grey", linestyle=":", linewidth=1)
    left.set_ylabel("seconds after the question's last voiced sample")
    left.set_title(f"Stage breakdown, medians (VAD silence {silence_frames * 30} ms)")
    left.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.09), ncol=2)
    ns = sorted(scale)
    right.plot(ns, [scale[n].get("p50", np.nan) for n in ns], marker="o", label="p50")
    right.plot(ns, [scale[n].get("p95", np.nan) for n in ns], marker="o", label="p95")
    right.set_xscale("log", base=2)
    right.set_xticks(ns, [str(n) for n in ns])
    right.set_ylim(bottom=0)
    right.set_xlabel("concurrent satellites")
    right.set_ylabel("user-perceived latency (s)")
    right.set_title("Latency vs concurrency (ours)")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_profile(args: argparse.Namespace, profiler: Profiler, turns: list[Turn], usage: dict[str, Any]) -> None:
    s = summarize(turns)
    deltas = stage_deltas(s)
    lines = ["# Where the time goes (py-spy, ours, single satellite)", "",
             f"{len(turns)} turns, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, py-spy 100 Hz "
             f"non-blocking on every server and the orchestrator (the bench process). User-perceived p50 "
             f"{fmt(s.get('p50'))} s. Stage medians (s): "
             + ", ".join(f"{k} {v:.3f}" for k, v in deltas.items()) + ".",
             "", "Samples are taken only while a thread is busy (idle waits are not counted); `self` = the "
             "function on top of the stack, `inclusive` = anywhere on it. Raw stacks: "
             f"`{args.profile}/*.txt` (py-spy raw format).", "",
             "py-spy sees Python threads only: CTranslate2's (faster-whisper) and onnxruntime's own worker "
             "threads and the `llama-server` child are not sampled. Their cost is in the CPU time each process "
             "used during these turns (/proc, all threads and children), per turn:", "",
             "| process | CPU s per turn |", "|---|---|"]
    cpu = usage.get("phases", {}).get("ours x1", {}).get("cpu_seconds", {})
    lines += [f"| {name} | {value / max(len(turns), 1):.2f} |" for name, value in cpu.items()]
    lines += profiler.summary(len(turns))
    (args.out / "e2e.profile.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
