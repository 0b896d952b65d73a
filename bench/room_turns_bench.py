"""Paused questions through the whole stack in real time: is the user ever cut off?

Our three engines (``wyoming_whisper``, ``wyoming_llama``, ``wyoming_kokoro``; defaults except
``--max-sentences 1`` for the LLM, so one reply fits between two questions),
``voice-orchestrator serve`` with its defaults, and our satellite (``python -m satellite``,
defaults except what the room needs: the FIFO mic and speaker, ``--no-wake-word`` because the
corpus has no wake word, ``--no-tones`` because the room would count a tone as the reply)
in the shared room simulator (``../shared/room``: real time, speaker echo at -6 dB / 40 ms,
0.2 s reverb, -60 dBFS noise). The requests are the end-of-turn corpus (``bench/turn_corpus.py``:
6 voices, 50 of 65 with a 0.3-0.9 s pause mid-sentence, clean/far/noisy), one every
``len + --gap`` seconds; each split (tune / held-out) is one room run of at most ~8 minutes.

Per request, judged from the orchestrator's log (``turn N answered transcript=...``) and the
room's timeline (times from the scenario clock; the orchestrator's log is placed on it through
CLOCK_MONOTONIC):

* cut off: the last transcript the orchestrator answered for it misses the request (the
  turn bench's rule: under 75 % of its words, or under 60 % of the words after the pause);
* misheard: not cut (scored whole) but its words are not the request's: the word error rate of
  that transcript vs the corpus text (``wer``, numbers as digits, no punctuation) is above 0;
* end of speech (the room's speech offset) -> first reply audio at the speaker after it
  (the room's reply start), intents and LLM turns apart;
* continuations (new speech merged into the question) and the reply audio the user heard
  before it stopped (``reply heard`` in the orchestrator's log; the room's playback that
  started between speech onset and offset).

    flock /tmp/hearth-rt.lock .venv/bin/python bench/room_turns_bench.py --split tune [--label on]
    .venv/bin/python bench/room_turns_bench.py --report   # bench/results/room_turns.{md,json}
    flock /tmp/hearth-rt.lock .venv/bin/python bench/room_turns_bench.py --corpus fresh --split probe --part 1/2

``--corpus fresh``: the fresh corpus (``bench/fresh_corpus.py``, splits probe / sealed; never tuned on),
its runs in bench/results/room_turns_fresh/ (``bench/fresh_room_report.py`` sums them up).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shlex
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import run_until_signalled  # noqa: E402
from bench.room_turns_judge import judge, log_events  # noqa: E402
from bench.turn_bench import load_corpus  # noqa: E402
from bench.turn_corpus import GENERATION, Request  # noqa: E402
from voice_runtime.audio import PCM16_MONO_16K, write_wav  # noqa: E402
from voice_runtime.procs import ServiceProcess, free_port, start_service  # noqa: E402

# log_events is re-exported (room_cont_bench, stack_barge_judge import it from here).
__all__ = ["ECHO", "ROOM", "can_connect", "judge", "log_events", "run_split", "stop_room", "wait_for"]
ROOM = (
    Path("/work/shared/room/room.py")
    if not (ROOT.parent / "shared/room/room.py").exists()
    else ROOT.parent / "shared/room/room.py"
)
RESULTS = ROOT / "bench" / "results"
ECHO = ["--echo-delay-ms", "40", "--echo-gain-db", "-6", "--rt60", "0.2", "--reverb-db", "-10"]



async def wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.1)


def can_connect(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def write_scenario(out: Path, requests: list[Request], gap: float) -> tuple[Path, float]:
    out.mkdir(parents=True, exist_ok=True)
    events, at = [], 2.0
    for r in requests:
        write_wav(str(out / f"{r.id}.wav"), r.pcm, PCM16_MONO_16K)
        events.append({"at": round(at, 3), "wav": f"{r.id}.wav"})
        at += len(r.pcm) / 32000 + gap
    scen = out / "scenario.json"
    scen.write_text(json.dumps({"duration": round(at + 2.0, 1), "noise_db": -60, "events": events}))
    return scen, at


async def stop_room(orch: asyncio.subprocess.Process | None, room: asyncio.subprocess.Process) -> None:
    """Stop a room run: the orchestrator with SIGTERM (killed after 20 s), the room with SIGINT."""
    if orch is not None and orch.returncode is None:
        orch.send_signal(signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(orch.wait(), 20)
        if orch.returncode is None:
            orch.kill()
            await orch.wait()
    if room.returncode is None:
        room.send_signal(signal.SIGINT)
        await room.wait()


async def run_split(  # (or a caller's own scenario: its file and length; args.echo: other echo flags)
    args: argparse.Namespace, requests: list[Request], engines: dict[str, ServiceProcess], out: Path,
    scenario: tuple[Path, float] | None = None,
) -> dict[str, Any]:
    scen, at = scenario if scenario is not None else await asyncio.to_thread(write_scenario, out, requests, args.gap)
    port = free_port()
    module = f"bench.sat_tap {shlex.quote(str(out / 'tap'))}" if getattr(args, "tap", False) else "satellite"  # --tap
    sat = (
        f"{shlex.quote(sys.executable)} -m {module} --uri tcp://127.0.0.1:{port} --no-wake-word --no-tones "
        f"--mic-command 'cat {{mic}}' --snd-command '{{player}}' --snd-rate 22050"
    )
    echo = getattr(args, "echo", None) or ECHO
    go = out / "go"
    go.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    room = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOM),
        str(scen),
        "--dir",
        str(out),
        "--start-file",
        str(go),
        "--run",
        sat,
        *echo,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=str(ROOT),
        env=env,
    )
    orch_log = out / "orchestrator.log"
    orch = None
    try:
        await wait_for(lambda: can_connect(port), 120, "the satellite did not start")
        flags = ["--continuation-window", str(args.window)] if args.window is not None else []
        with orch_log.open("wb") as log:
            orch = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "orchestrator",
                "serve",
                "--satellite",
                f"tcp://127.0.0.1:{port}",
                "--asr",
                engines["whisper"].uri,
                "--handle",
                engines["llama"].uri,
                "--tts",
                engines["tts"].uri,
                "--log-format",
                "json",
                "--debug",
                *flags,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd=str(ROOT),
                env=env,
            )
        await wait_for(lambda: " connected" in orch_log.read_text(errors="replace"), 60, "orchestrator not connected")
        await asyncio.sleep(2.0)  # the satellite's VAD settles on the room's noise first
        mono_to_wall = time.time() - time.monotonic()
        go.touch()
        print(f"room running: {len(requests)} requests, {at:.0f} s; load {os.getloadavg()[0]:.2f}", flush=True)
        stdout, _ = await room.communicate()
    finally:
        await stop_room(orch, room)
    result = json.loads((out / "result.json").read_text())
    return {
        "result": result,
        "log": orch_log.read_text(errors="replace"),
        "mono_to_wall": mono_to_wall,
        "satlog": (out / "run.log").read_text(errors="replace"),
        "room_line": [x for x in stdout.decode(errors="replace").splitlines() if x.startswith("ROOM")],
    }


def save(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(data, indent=1) + "\n")


def part_of(
    split: str, spec: str, limit: int, only: list[str] | None = None, corpus_name: str = "turn"
) -> list[Request]:
    """The K-th of N parts of a split (``spec`` "K/N"), or with ``only`` just those requests, in corpus order."""
    corpus = [r for r in load_corpus(corpus_name) if r.split == split]
    if only:
        missing = set(only) - {r.id for r in corpus}
        if missing:
            raise SystemExit(f"--only: not in the {split} split: {', '.join(sorted(missing))}")
        corpus = [r for r in corpus if r.id in only]
    else:
        part, parts = (int(x) for x in spec.split("/"))
        corpus = corpus[(part - 1) * len(corpus) // parts : part * len(corpus) // parts]
    return corpus[:limit] if limit else corpus


def part_name(args: argparse.Namespace) -> str:
    """The run's name in the results: pKofN, or "only" for chosen requests."""
    return "only" if args.only else f"p{args.part.replace('/', 'of')}"


def runs_folder(args: argparse.Namespace) -> Path:
    """Where a run's json goes: room_turns/ (the end-of-turn corpus) or room_turns_fresh/."""
    return RESULTS / ("room_turns_fresh" if getattr(args, "corpus", "turn") == "fresh" else "room_turns")


def skipped_ids(args: argparse.Namespace) -> set[str]:
    """The clips the offline turn bench found tiny.en cannot hear whole (turn.json / fresh_turn.json)."""
    path = RESULTS / ("fresh_turn.json" if getattr(args, "corpus", "turn") == "fresh" else "turn.json")
    return set(json.loads(path.read_text()).get("skipped", {})) if path.exists() else set()


def rejudge(args: argparse.Namespace) -> int:
    """Judge a kept run folder again (the scenario clock placed at the start file's mtime)."""
    folder = Path(args.rejudge)
    path = runs_folder(args) / f"{args.split}-{args.label}-{part_name(args)}.json"
    data = json.loads(path.read_text())
    ran = {
        "result": json.loads((folder / "result.json").read_text()),
        "log": (folder / "orchestrator.log").read_text(errors="replace"),
        "satlog": (folder / "run.log").read_text(errors="replace"),
        "scenario_wall": (folder / "go").stat().st_mtime,
    }
    skipped = skipped_ids(args)
    data["rows"] = judge(part_of(args.split, args.part, args.limit, args.only, args.corpus), ran, skipped)
    save(path, data)
    print(f"rejudged {path}: {sum(r['whole'] for r in data['rows'])}/{len(data['rows'])} whole")
    return 0


async def run(args: argparse.Namespace) -> int:
    if (args.corpus == "fresh") != (args.split in ("probe", "sealed")):
        raise SystemExit("--corpus fresh has the splits probe and sealed; the turn corpus tune and held")
    corpus = await asyncio.to_thread(part_of, args.split, args.part, args.limit, args.only, args.corpus)
    skipped = skipped_ids(args)
    engines: dict[str, ServiceProcess] = {}
    load_start = os.getloadavg()
    folder: Path | None = None
    try:
        engines["whisper"] = await start_service("wyoming_whisper", *shlex.split(args.whisper_args))
        engines["llama"] = await start_service("wyoming_llama", "--max-sentences", "1", *shlex.split(args.llama_args))
        engines["tts"] = await start_service("wyoming_kokoro", *shlex.split(args.tts_args))
        label = args.label or ("on" if args.window is None else f"window{args.window:g}")
        folder = Path(args.keep or f"/tmp/room-turns-{args.split}-{label}-{part_name(args)}")
        ran = await run_split(args, corpus, engines, folder)
    finally:
        for name, proc in engines.items():
            await proc.stop()
            if folder is not None:  # bench/room_latency.py reads the whisper server's end-of-turn lines
                (folder / f"{name}.log").write_text("\n".join(proc.log) + "\n")
    rows = judge(corpus, ran, skipped)
    data = {
        "split": args.split,
        "corpus": args.corpus,
        "label": label,
        "part": args.part,
        "only": args.only,
        "tap": args.tap,
        "window": args.window,
        "gap": args.gap,
        "corpus_generation": GENERATION,  # 2: each pause measured = nominal (bench/turn_pauses.py)
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "loadavg_start": load_start,
        "llama_args": args.llama_args,
        "tts_args": args.tts_args,
        "whisper_args": args.whisper_args,
        "loadavg_end": os.getloadavg(),
        "mono_to_wall": ran["mono_to_wall"],
        "room": ran["room_line"],
        "room_stats": ran["result"].get("stats"),
        "rows": rows,
    }
    path = runs_folder(args) / f"{args.split}-{label}-{part_name(args)}.json"
    await asyncio.to_thread(save, path, data)
    for row in rows:
        print(
            f"{row['id']} {'whole' if row['whole'] else 'CUT  '}{' (excl)' if row['excluded'] else ''} "
            f"{'MISHEARD ' if row['misheard'] else ''}wer={row['wer']} "
            f"merges={row['merges']} first_audio={row['first_audio_s']} "
            f"from_clip_end={row['first_audio_clip_s']} {row['answered']!r}",
            flush=True,
        )
    print(f"wrote {path}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", choices=["tune", "held", "probe", "sealed"], default="tune")
    parser.add_argument("--corpus", choices=["turn", "fresh"], default="turn",
                        help="fresh: bench/fresh_corpus.py (splits probe / sealed)")
    parser.add_argument("--window", type=float, help="--continuation-window for serve (default: serve's own)")
    parser.add_argument("--label", help="name of this run in the results (default: on / windowN)")
    parser.add_argument("--gap", type=float, default=12.0, help="seconds from the end of one request to the next")
    parser.add_argument("--part", default="1/1", help="K/N: only the K-th of N equal parts of the split (short runs)")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--only", nargs="+", metavar="ID", help="only these requests (e.g. held-43 held-40)")
    parser.add_argument("--tap", action="store_true",
                        help="record the satellite's echo chain (bench/sat_tap.py, KEEP/tap) for bench/echo_replay.py")
    parser.add_argument("--llama-args", default="", help="more flags for wyoming_llama (A/B runs, e.g. '--threads 1')")
    parser.add_argument("--whisper-args", default="", help="more flags for wyoming_whisper (e.g. '--beam-size 1')")
    parser.add_argument("--tts-args", default="", help="more flags for wyoming_kokoro (e.g. '--provider piper')")
    parser.add_argument("--keep", help="folder for the room's files (default /tmp/room-turns-SPLIT-LABEL)")
    parser.add_argument("--report", action="store_true", help="write room_turns.md/json from the runs")
    parser.add_argument("--rejudge", help="judge this kept run folder again (with --split/--part/--label)")
    args = parser.parse_args()
    if args.rejudge:
        return rejudge(args)
    if args.report:
        from bench.room_turns_report import report

        report(RESULTS)
        return 0
    return run_until_signalled(run(args))


if __name__ == "__main__":
    sys.exit(main())
