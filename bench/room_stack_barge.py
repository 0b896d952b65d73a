"""Questions spoken over the assistant's reply, through the whole stack, in the real-time room.

Our three engines (``wyoming_whisper``, ``wyoming_llama`` (``--max-sentences``, default 3),
``wyoming_kokoro`` (``--tts-provider``)), ``voice-orchestrator serve`` with its defaults and our
satellite (defaults except what the room needs: the FIFO mic and speaker, ``--no-wake-word``,
``--no-tones``) in the shared room (``../shared/room``: real time, speaker echo 40 ms at
``--echo-db``, 0.2 s reverb, -60 dBFS noise). A warm-up question first (the LLM's first prompt),
then each cycle: a question asking for a long reply, then an interrupting question
(``bench/stack_barge_corpus.py``: fresh, five voices) whose speech starts 0.8-2.0 s after the
reply's first audible sample at the speaker (the room's anchor; or ``--after`` s for the WAV
start), and the next question 5 s after the answer to that starts (so a loaded box slows the
cycles, it does not mix them up; cycles that do not fit in ``--cycles`` x ``--cycle`` s are not
run).

Per interrupting question: did it land over the playing reply (the room counts its onset inside
a reply and the speaker was audible within 0.3 s before it; misses are listed apart), did the
satellite silence the reply (the room's reaction: speech onset -> speaker silent), what did the
orchestrator transcribe for the turn it started (its log: ``turn N answered|cancelled ...
transcript=``), and did the next reply answer it (tiny.en on the speaker's recording). WER
against the words spoken; a question that started no turn counts as WER 1. The orchestrator
talks to the satellite through a tap (``bench/turn_tap.py``) that keeps the audio streamed for
each turn (``turn-K.wav`` in ``--keep``, with the room's ``mic.wav``/``played.wav`` and the
engines' logs); turns are matched to utterances by time window and content, and the WER is
split by cause (``bench/stack_barge_judge.py``).

    flock /tmp/hearth-rt.lock .venv/bin/python bench/room_stack_barge.py --echo-db -6 --cycles 10
        [--tts-provider piper] [--harness-nice -2]
    .venv/bin/python bench/room_stack_barge.py --judge /tmp/room-stack-barge   # judge a kept run again
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import subprocess
import sys
import time
import wave
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "tests"))  # its helpers (speech) by their bare names

from bench.room_turns_bench import ROOM, can_connect, stop_room, wait_for  # noqa: E402
from bench.stack_barge_corpus import INTERRUPTIONS, ONSETS_S, QUESTIONS, WARM_UP, Line, lead_in_s, synthesize  # noqa: E402
from bench.stack_barge_judge import judge_dir, summary  # noqa: E402
from bench.turn_tap import TurnTap  # noqa: E402
from voice_runtime.audio import PCM16_MONO_16K, write_wav  # noqa: E402
from voice_runtime.procs import (  # noqa: E402
    ServiceProcess,
    free_port,
    start_service,
)

WARM_UP_S = 20.0
NEXT_S = 5.0


def write_scenario(out: Path, cycles: int, cycle_s: float, after: float | None) -> Path:
    """Cycle i: question i % 4, its reply, interruption i % 8 with its speech onset ONSETS_S[i % 5]
    after the reply's first audible sample (``after``: the WAV start instead, for every cycle)."""
    out.mkdir(parents=True, exist_ok=True)
    lead: dict[str, float] = {}

    def clip(name: str, line: Line) -> str:
        if not (out / name).exists():
            write_wav(str(out / name), synthesize(line), PCM16_MONO_16K)
        with wave.open(str(out / name), "rb") as w:
            lead[name] = lead_in_s(w.readframes(w.getnframes()))
        return name

    # A warm-up question first: the LLM's first reply (its prompt not cached yet) came ~20 s
    # late, ran into the next cycle and two interruptions were anchored on the same reply.
    events: list[dict[str, Any]] = [{"at": 2.0, "wav": clip("warm.wav", WARM_UP)}]
    start = 2.0 + WARM_UP_S
    for i in range(cycles):
        q = clip(f"q{i % len(QUESTIONS)}.wav", QUESTIONS[i % len(QUESTIONS)])
        u = clip(f"u{i % len(INTERRUPTIONS)}.wav", INTERRUPTIONS[i % len(INTERRUPTIONS)])
        wav_after = after if after is not None else round(ONSETS_S[i % len(ONSETS_S)] - lead[u], 3)
        # The next question waits for the stack: NEXT_S after the interruption's answer starts
        # (a fixed cycle let a loaded LLM's late replies run into the next question).
        events += [{"at": start, "wav": q} if i == 0 else {"after_reply_starts": NEXT_S, "wav": q},
                   {"after_reply_starts": wav_after, "wav": u}]
    scen = out / "scenario.json"
    scen.write_text(json.dumps({"duration": start + cycles * cycle_s + 3.0, "noise_db": -60, "events": events}))
    return scen


async def run_room(args: argparse.Namespace, engines: dict[str, ServiceProcess], out: Path) -> dict[str, Any]:
    scen = await asyncio.to_thread(write_scenario, out, args.cycles, args.cycle, args.after)
    port = free_port()
    nice = args.harness_nice  # < 0: the room real-time (SCHED_FIFO 20), the satellite normal
    renice = "chrt -f 10 " if nice <= -2 else "chrt -o 0 " if nice < 0 else f"nice -n {nice} " if nice else ""
    sat = (f"{renice}{shlex.quote(sys.executable)} -m satellite --uri tcp://127.0.0.1:{port} --no-wake-word --no-tones "
           f"--debug --mic-command 'cat {{mic}}' --snd-command '{{player}}' --snd-rate 22050 "
           # a starved LLM answered 12-38 s after the question (load 8-10): not given up on at 20 s
           f"--reply-timeout {args.reply_timeout}")
    go = out / "go"
    go.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    echo = ["--echo-delay-ms", "40", "--echo-gain-db", str(args.echo_db), "--rt60", "0.2", "--reverb-db", "-10"]
    room = await asyncio.create_subprocess_exec(
        *(["chrt", "-f", "20"] if nice < 0 else ["nice", "-n", str(-nice)] if nice else []), sys.executable, str(ROOM),
        str(scen), "--dir", str(out), "--start-file", str(go), "--run", sat, *echo,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=str(ROOT), env=env)
    orch_log = out / "orchestrator.log"
    orch = None
    tap = TurnTap("127.0.0.1", port)  # keeps what the satellite streamed for each turn
    try:
        await wait_for(lambda: can_connect(port), 120, "the satellite did not start")
        tap_port = await tap.start()
        with orch_log.open("wb") as log:
            orch = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "orchestrator", "serve", "--satellite", f"tcp://127.0.0.1:{tap_port}",
                "--asr", engines["whisper"].uri, "--handle", engines["llama"].uri, "--tts", engines["tts"].uri,
                "--log-format", "json", stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log,
                cwd=str(ROOT), env=env)
        await wait_for(lambda: " connected" in orch_log.read_text(errors="replace"), 60, "orchestrator not connected")
        await asyncio.sleep(2.0)  # the satellite's VAD settles on the room's noise first
        mono_to_wall = time.time() - time.monotonic()
        go.touch()
        stdout, _ = await room.communicate()
    finally:
        await stop_room(orch, room)
        await tap.stop()
    result = json.loads((out / "result.json").read_text())
    turns = []
    for k, turn in enumerate(tap.turns, start=1):
        write_wav(str(out / f"turn-{k}.wav"), bytes(turn.audio), PCM16_MONO_16K)
        turns.append({"started": turn.started, "ended": turn.ended, "start_ms": turn.start_ms,
                      "file": f"turn-{k}.wav", "seconds": round(len(turn.audio) / 32000, 2)})
    (out / "turns.json").write_text(json.dumps(turns, indent=1))
    (out / "meta.json").write_text(json.dumps({"mono_to_wall": mono_to_wall}))
    return {"result": result, "room_line": [x for x in stdout.decode(errors="replace").splitlines()
                                            if x.startswith("ROOM")]}


def harness(nice: int) -> str:
    if nice <= -2:
        return "room SCHED_FIFO 20, satellite SCHED_FIFO 10"
    return "room SCHED_FIFO 20, satellite normal" if nice < 0 else f"room nice {-nice}, satellite nice 0"


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    engines: dict[str, ServiceProcess] = {}
    try:
        engines["whisper"] = await start_service("wyoming_whisper")
        engines["llama"] = await start_service("wyoming_llama", "--max-sentences", str(args.max_sentences))
        engines["tts"] = await start_service("wyoming_kokoro", "--provider", args.tts_provider)
        before = await asyncio.to_thread(uptime)
        ran = await run_room(args, engines, Path(args.keep))
        after = await asyncio.to_thread(uptime)
    finally:
        for name, proc in engines.items():
            await proc.stop()
            (Path(args.keep) / f"{name}.log").write_text("\n".join(proc.log) + "\n")
    run = {"echo_db": args.echo_db, "cycles": args.cycles, "harness": harness(args.harness_nice),
           "tts_provider": args.tts_provider, "max_sentences": args.max_sentences,
           "after_reply_starts_s": args.after, "keep": args.keep,
           "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "uptime_before": before,
           "uptime_after": after, "room": ran["room_line"], "room_stats": ran["result"].get("stats"),
           "false_cuts": ran["result"]["false_cuts"]}
    (Path(args.keep) / "run.json").write_text(json.dumps(run, indent=1))
    return run | await asyncio.to_thread(judged, Path(args.keep), args.window)


def judged(keep: Path, window: float) -> dict[str, Any]:
    lines = {f"u{i}.wav": x for i, x in enumerate(INTERRUPTIONS)} | {f"q{i}.wav": x for i, x in enumerate(QUESTIONS)}
    lines["warm.wav"] = WARM_UP
    data = judge_dir(keep, {k: x.text for k, x in lines.items()}, {f"u{i}.wav" for i in range(len(INTERRUPTIONS))},
                     window, {k: x.words for k, x in lines.items()})
    return {"summary": summary(data), **data}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--echo-db", type=float, default=-6.0)
    parser.add_argument("--cycles", type=int, default=10)
    parser.add_argument("--cycle", type=float, default=25.0,
                        help="seconds per question + interruption in the room's duration (the cycles pace themselves)")
    # The room anchors the interruption on the reply's first audible piece. With Kokoro on a busy
    # box that piece (a clause, 0.4-0.6 s) ended before a question 0.4 s in was heard, and the
    # next piece came > 0.7 s later: none of 4 interruptions landed over a playing reply (session
    # 9, load 2.7). --tts-provider piper streams a reply without gaps; the onset then lands
    # ~1.3 s into it (the WAV has 0.3 s of silence first).
    parser.add_argument("--after", type=float, default=None,
                        help="the interruption's WAV starts this long into the reply's first audible piece "
                        "(default: its speech onset at 0.8, 1.1, 1.4, 1.7, 2.0 s, cycling)")
    parser.add_argument("--tts-provider", default="auto", choices=("auto", "kokoro", "piper"),
                        help="wyoming_kokoro --provider (auto: its start-up measurement, the default configuration)")
    parser.add_argument("--reply-timeout", type=float, default=120.0, help="the satellite's --reply-timeout")
    parser.add_argument("--max-sentences", type=int, default=3, help="wyoming_llama --max-sentences (long replies)")
    parser.add_argument("--keep", default="/tmp/room-stack-barge")
    parser.add_argument("--harness-nice", type=int, default=0,
                        help="the room at nice -N (the satellite at 0); -1: the room real-time, the satellite normal; "
                        "-2: the satellite real-time too (SCHED_FIFO 10; the engines and orchestrator stay normal)")
    parser.add_argument("--window", type=float, default=3.0,
                        help="a turn belongs to an utterance if it starts up to this long after its speech ended")
    parser.add_argument("--judge", type=Path, help="only judge a kept run (its --keep folder) again")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.judge:
        data = json.loads((args.judge / "run.json").read_text()) | judged(args.judge, args.window)
    else:
        data = asyncio.run(main_async(args))
    print(json.dumps(data, indent=1))
    if args.out:
        args.out.write_text(json.dumps(data, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
