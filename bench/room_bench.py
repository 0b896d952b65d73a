"""Barge-in and echo in real time: our satellite in the shared room simulator (../shared/room).

The room runs the satellite (``python -m satellite --mic-command "cat {mic}" --snd-command
"{player}"``, always-listening VAD mode) in real time through FIFOs, with its speaker echoing
into its mic (``--echo-delay-ms``, ``--echo-gain-db``, a 0.2 s reverb tail, −60 dBFS noise).
A scripted controller (this process, over Wyoming TCP) answers each question with a long
spoken reply (Piper) and a barge-in turn with a short one.

Two scenarios per echo level:

- echo only: ``--replies`` questions, each answered by a ~6 s reply nobody interrupts. Counted:
  false cuts (the room: a reply cut with no user speech), holds (the satellite's log: the reply
  silenced because it heard "speech" over it) and barge-ins confirmed from echo alone.
- barge-in: ``--barge-ins`` questions, each reply interrupted 1.5 s in. Reaction = the room's
  speech onset → playback silent at the speaker (p50/p95), and how many were cut. Each reaction
  split (``split``, ``bench/stall_split.py``): ``detect_s`` onset → the mic frame the satellite held
  on, ``deliver_s`` (with ``--tap``) that frame → the satellite's read of it, ``stop_s`` → silent at
  the room's speaker; ``late_stop`` lists a silence that came late after the satellite's sink was
  silent (the room's own lateness), ``untrusted_holds`` holds over an untrusted canceller. The audio the
  satellite streams for each interrupting question (its echo-cancelled mic, what an orchestrator
  would transcribe) is transcribed as our whisper server transcribes a turn (``heard_product``,
  ``wer_mean_product``: its Silero region of the stream, tiny.en beam 5, its loop retry:
  ``bench/whisper_turn.py``) and by the judge of sessions 15-22 (``heard``, ``wer_mean``: the whole
  stream, same decode; not what the user got): WER against the words spoken, per question, beside
  the same decodes of each sentence's clean WAV (the recogniser's own floor: tiny.en hears
  Piper's clean "Will it rain on Thursday?" wrong at some paddings) and the greedy tiny.en
  decode earlier sessions reported (``wer_mean_greedy``; it hears that clean WAV wrong always).

The satellite processes of one run share a state folder (``--state-dir``, ``satellite.aec_state``: the echo path
a process learned, kept for the next): the run's first process starts cold, the next ones (the barge-in half after
the echo-only one, the next level's) from what the one before kept, as after a restart at home. ``-- --state-dir
DIR`` chooses the folder (kept between runs: a warm first process), ``-- --state-dir ''`` keeps nothing.

Also from each run: the canceller's ERLE per reply (the satellite's ``echo canceller erle_db``
log lines: echo at the mic / after the canceller over the frames judged echo), the in-process
steps of each hold (``barge-in trace`` debug lines) and the satellite's CPU (% of one core,
from /proc, over the scenario).

    python bench/room_bench.py [--echo-db -6 0] [--replies 20] [--barge-ins 10] [-- extra satellite flags]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(1, str(ROOT / "tests"))  # its helpers (speech) by their bare names
if str(ROOT) not in sys.path:  # run as a script (bench/room_bench.py): bench.aec_bench by its name
    sys.path.insert(0, str(ROOT))
from bench.room_controller import Controller  # noqa: E402  (the scripted controller)
from bench.stall_split import read_times, split  # noqa: E402  (each barge-in: detect / deliver / stop)
from bench.stall_split import summary as split_summary  # noqa: E402
from bench.whisper_turn import question_wer  # noqa: E402  (the interrupting WER: product and judge)
from voice_runtime.procs import free_port  # noqa: E402

ROOM = ROOT.parent / "shared" / "room" / "room.py"
if not ROOM.exists():
    ROOM = Path("/work/shared/room/room.py")
REPLY = ("Here is the forecast for this week. Tomorrow will be sunny and warm, with a light breeze from the "
         "south, and rain on Thursday.")
SHORT = "Okay."
QUESTIONS = ["What is the weather like this week?", "Tell me about the forecast.", "Will it rain on Thursday?",
             "How warm will it be tomorrow?"]
INTERRUPTION = "Stop. What time is it?"
CYCLE_S = 12.0  # one question + its reply (echo only)
BARGE_CYCLE_S = 9.0
EARLY_EXTRA_S = 5.0  # --barge-early: the second interruption, its question and the short answer


def harness(nice: int) -> str:
    if nice <= -2:
        return "room SCHED_FIFO 20, satellite SCHED_FIFO 10"
    return "room SCHED_FIFO 20, satellite normal" if nice < 0 else f"room nice {-nice}, satellite nice 0"


def scenario(folder: Path, wavs: dict[str, str], *, questions: int, barge: bool, early: float | None = None,
             every_question: bool = False) -> Path:
    """``early``: each cycle's interruption is answered with the long reply, on the speaker its hold restarted,
    and a second interruption (``early.wav``, the same words) starts ``early`` s after that reply starts.
    ``every_question``: the 1.5 s interruptions take turns over "Stop. What time is it?" and the questions."""
    said = ["stop", *(f"q{k}" for k in range(len(QUESTIONS)))] if every_question else ["stop"]
    events: list[dict[str, Any]] = []
    cycle = BARGE_CYCLE_S + (EARLY_EXTRA_S if early is not None else 0.0) if barge else CYCLE_S
    for i in range(questions):
        events.append({"at": 1.0 + i * cycle, "wav": wavs[f"q{i % len(QUESTIONS)}"]})
        if barge:
            events.append({"after_reply_starts": 1.5, "wav": wavs[said[i % len(said)]]})
            if early is not None:
                events.append({"after_reply_starts": early, "min_reply": 0.0, "wav": wavs["early"]})
    path = folder / ("barge.json" if barge else "echo.json")
    path.write_text(json.dumps({"duration": 1.0 + questions * cycle + 2.0, "noise_db": -60, "events": events}))
    return path


async def run_room(folder: Path, scen: Path, echo_db: float, *, sat_flags: list[str], audio: dict[str, bytes],
                   python: str, nice: int = 0, tap: bool = False, early: bool = False) -> dict[str, Any]:
    out = folder / f"{scen.stem}{echo_db:+.0f}dB"
    out.mkdir(exist_ok=True)
    module = f"bench.sat_tap {shlex.quote(str(out / 'tap'))}" if tap else "satellite"
    port = free_port()
    ready = out / "go"
    # The scripted controller does not find the end of speech itself (our orchestrator and Home
    # Assistant do): the satellite's VAD ends each question after 0.6 s of silence, as it does for
    # such controllers (with the 2 s fallback an interruption ran into the next question).
    # --harness-nice N: the room (the stand-in for the sound card, which is never late) runs at
    # nice -N, the satellite it starts at nice 0 as before (room.py passes its niceness on);
    # N < 0: the room runs real-time (SCHED_FIFO 20), the satellite normal (SCHED_OTHER, nice 0).
    # -2: the satellite real-time too (SCHED_FIFO 10, below the room): on a box shared with other
    # work it then runs as on a quiet one (it needs ~12 % of a core), so code versions compare.
    renice = "chrt -f 10 " if nice <= -2 else "chrt -o 0 " if nice < 0 else f"nice -n {nice} " if nice else ""
    sat = (f"{renice}{shlex.quote(python)} -m {module} --uri tcp://127.0.0.1:{port} --no-wake-word --no-tones --debug "
           f"--controller-end-seconds 0.6 --mic-command 'cat {{mic}}' --snd-command '{{player}}' --snd-rate 22050 "
           f"{shlex.join(sat_flags)}")
    room = await asyncio.create_subprocess_exec(
        *(["chrt", "-f", "20"] if nice < 0 else ["nice", "-n", str(-nice)] if nice else []), sys.executable,
        str(ROOM), str(scen), "--dir", str(out),
        "--start-file", str(ready), "--run", sat,
        "--echo-delay-ms", "40", "--echo-gain-db", str(echo_db), "--rt60", "0.2", "--reverb-db", "-10",
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=str(ROOT),
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    controller = Controller(port, audio["reply"], audio["short"], early=early)
    task = asyncio.create_task(controller.run(ready))
    stdout, _ = await room.communicate()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, ConnectionError, OSError):
        await task
    line = [x for x in stdout.decode(errors="replace").splitlines() if x.startswith("ROOM")]
    result = json.loads((out / "result.json").read_text())
    log = (out / "run.log").read_text(errors="replace")
    holds = len(re.findall(r"state speaking -> barge-in", log))
    confirmed = len(re.findall(r"barge-in after", log))
    erle = [float(x) for x in re.findall(r"echo canceller erle_db=(-?[\d.]+) frames=(?:[3-9]\d|\d{3,})", log)]
    traces = [{k: float(v) for k, v in re.findall(r"(\w+_ms)=([\d.]+)", t)}
              for t in re.findall(r"barge-in trace action=\w+ (.*)", log)]
    meta = out / "tap" / "meta.tsv"  # by name: the folder holds the room's FIFOs
    rows = split(result, log, read_times(meta.read_text()) if tap and meta.is_file() else None)
    cpu = controller.cpu
    cpu_pct = round(100 * (cpu[-1][1] - cpu[0][1]) / (cpu[-1][0] - cpu[0][0]), 1) if len(cpu) == 2 else None
    return {"room": line[0] if line else "", "result": result, "holds": holds, "confirmed": confirmed,
            "turns": controller.turns, "barge_turns": controller.barge_turns, "early_turns": controller.early_turns,
            "erle_db": erle, "traces": traces, "split": rows, "cpu_pct": cpu_pct, "barge_audio": controller.barge_audio,
            "early_audio": controller.early_audio}


def erle_summary(values: list[float]) -> dict[str, Any]:
    """ERLE per reply (the first reply is the canceller converging from nothing)."""
    later = values[1:]
    return {"replies": len(values), "first_db": values[0] if values else None,
            "later_p50_db": round(float(np.median(later)), 1) if later else None,
            "later_min_db": round(min(later), 1) if later else None}


def trace_summary(traces: list[dict[str, float]]) -> dict[str, Any]:
    keys = ("read_to_cleaned_ms", "cleaned_to_judged_ms", "judged_to_silent_ms")
    return {k: round(float(np.median([t[k] for t in traces if k in t])), 2) for k in keys
            if any(k in t for t in traces)} | {"holds_traced": len(traces)}


def barge_summary(result: dict[str, Any], attempts: int) -> dict[str, Any]:
    """Reaction of each utterance spoken over a long reply (onset -> playback silent). The
    scripted "Stop. What time is it?" is meant to land 1.5 s into each reply; when one is not
    heard, the schedule slips and the next question lands on a reply instead: it is a user
    speaking over the reply just the same, so every utterance over a reply that had played for
    at least 1 s counts. One that the reply outlived by more than 1 s was not heard."""
    starts = {r["n"]: r["start"] for r in result["replies"]}
    over = [b for b in result["barge_in"] if b["onset"] - starts.get(b["reply"], b["onset"]) >= 1.0]
    stops = [b for b in over if b["wav"] == "stop.wav"]
    heard = [b["reaction_s"] for b in over if b["reaction_s"] <= 1.0]
    return {"attempts": attempts, "over_a_reply": len(over), "stops_over_a_reply": len(stops),
            "silenced_within_1s": len(heard), "reaction_s": pcts(heard),
            "reactions_all_s": [b["reaction_s"] for b in over]}


def pcts(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "n": 0}
    return {"p50": round(float(np.percentile(values, 50)), 3), "p95": round(float(np.percentile(values, 95)), 3),
            "n": len(values)}


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    from speech import speak

    from bench.echo_room_early import early_summary, write_early
    from voice_runtime.audio import PCM16_MONO_16K, write_wav

    audio = {"reply": speak(REPLY), "short": speak(SHORT)}
    spoken = {text: speak(text) for text in [INTERRUPTION, *QUESTIONS]}
    results: dict[str, Any] = {"satellite_flags": args.sat_flags, "harness": harness(args.harness_nice), "levels": {}}
    with tempfile.TemporaryDirectory(prefix="room-bench-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        if not any(f.startswith("--state-dir") for f in args.sat_flags):  # one household's (satellite.aec_state)
            args.sat_flags = [*args.sat_flags, "--state-dir", str(folder / "state")]
        wavs = {}
        for i, q in enumerate(QUESTIONS):
            write_wav(str(folder / f"q{i}.wav"), spoken[q], PCM16_MONO_16K)
            wavs[f"q{i}"] = f"q{i}.wav"
        write_wav(str(folder / "stop.wav"), spoken[INTERRUPTION], PCM16_MONO_16K)
        wavs["stop"] = "stop.wav"
        wavs["early"] = write_early(folder, spoken[INTERRUPTION])
        for echo_db in args.echo_db:
            level: dict[str, Any] = {}
            if args.replies:
                echo = await run_room(folder, scenario(folder, wavs, questions=args.replies, barge=False), echo_db,
                                      sat_flags=args.sat_flags, audio=audio, python=args.python,
                                      nice=args.harness_nice, tap=args.tap)
                replies = echo["result"]["replies"]
                level["echo_only"] = {
                    "questions": args.replies, "turns": echo["turns"], "startup_turns": echo["early_turns"],
                    "replies_heard": len(replies),
                    "false_cuts": len(echo["result"]["false_cuts"]), "holds": echo["holds"],
                    "barge_ins_from_echo": echo["confirmed"], "room": echo["room"],
                    "room_stats": echo["result"].get("stats"), "erle": erle_summary(echo["erle_db"]),
                    "satellite_cpu_pct_of_core": echo["cpu_pct"],
                }
                print(json.dumps({"echo_db": echo_db, **level["echo_only"]}), flush=True)
            if args.barge_ins:
                early = args.barge_early is not None
                barge = await run_room(folder, scenario(folder, wavs, questions=args.barge_ins, barge=True,
                                                        early=args.barge_early,
                                                        every_question=args.every_question), echo_db,
                                       sat_flags=args.sat_flags, audio=audio, python=args.python,
                                       nice=args.harness_nice, tap=args.tap, early=early)
                level["barge_in"] = barge_summary(barge["result"], args.barge_ins)
                if args.keep:  # each interrupting turn's stream, to decode again offline (bench/whisper_turn.py)
                    turns = folder / f"barge{echo_db:+.0f}dB-turns"
                    turns.mkdir(exist_ok=True)
                    for i, streamed in enumerate(barge["barge_audio"]):
                        write_wav(str(turns / f"turn{i:02d}.wav"), streamed, PCM16_MONO_16K)
                level["barge_in"].update({
                    "confirmed": barge["confirmed"], "room": barge["room"],
                    "room_stats": barge["result"].get("stats"), "trace": trace_summary(barge["traces"]),
                    "split": split_summary(barge["split"]), "split_rows": barge["split"],
                    "interrupting_question": question_wer(barge["barge_audio"], spoken),
                    "satellite_cpu_pct_of_core": barge["cpu_pct"],
                })
                if early:  # bench/echo_room_early.py
                    level["barge_in"]["early"] = {**early_summary(barge["result"], pcts), "at": args.barge_early,
                                                  "interrupting_question": question_wer(barge["early_audio"], spoken)}
                print(json.dumps({"echo_db": echo_db, **level["barge_in"]}), flush=True)
            results["levels"][str(echo_db)] = level
    load = os.getloadavg()
    results["load_avg_1m"] = round(load[0], 2)
    results["when"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench room", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--echo-db", type=float, nargs="+", default=[-6.0, 0.0])
    parser.add_argument("--replies", type=int, default=20)
    parser.add_argument("--barge-ins", type=int, default=10)
    parser.add_argument("--barge-early", type=float, metavar="S",
                        help="each interruption is answered with the long reply (on the restarted speaker) and a "
                             "second one starts S s after it starts (issue 17: interrupting right as a reply begins)")
    parser.add_argument("--every-question", action="store_true",
                        help="the interruptions take turns over the five sentences (the interrupting WER over all "
                             "of them; by default each is 'Stop. What time is it?')")
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--harness-nice", type=int, default=0,
                        help="run the room at nice -N (the satellite at 0); -1: the room real-time (SCHED_FIFO), the "
                             "satellite normal: a busy box made the room late; -2: the satellite real-time too "
                             "(SCHED_FIFO 10): a quiet box for it on a shared one")
    parser.add_argument("--keep", type=Path, help="keep the room's files (mic.wav, played.wav, run.log) here")
    parser.add_argument("--tap", action="store_true",
                        help="with --keep: record the satellite's mic and speaker frames (bench/sat_tap.py) for "
                             "bench/echo_replay.py")
    parser.add_argument("sat_flags", nargs="*", help="extra satellite flags (after --)")
    args = parser.parse_args(argv)
    before = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    results = asyncio.run(main_async(args))
    results["uptime_before"] = before
    results["uptime_after"] = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    print(json.dumps(results, indent=1))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
