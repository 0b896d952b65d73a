"""Paired: LLM turns on two (or three) code trees or engine settings, alternating, same clips, real engines.

Each arm is a worker process that runs one code tree (its own ``orchestrator``, ``wyoming_*`` and
``bench.turn_corpus`` first on the path, ``PYTHONPATH`` for its engines) with its own three engines
started as ``bench/room_turns_bench.py`` starts them (``wyoming_llama --max-sentences 1``,
``wyoming_whisper`` and ``wyoming_kokoro`` with the arm's flags) and one ``Pipeline`` configured as
``serve`` (``vad_sensitivity="default"``, preemptive replies on, the intent recogniser). The driver
sends each arm the same corpus clip in turn (which arm goes first alternates), each clip followed by
3 s of its own noise and paced like a microphone; each arm keeps one conversation, which grows turn
by turn as in the room. Only one arm runs at a time (the other's engines idle).

Per turn, on one clock (``time.monotonic``) from the clip's last voiced sample: the prepared
reply's start (``preparing a reply to``), the end of turn (the orchestrator's audio stop), the
transcript, the first LLM token, the first TTS audio and the first reply chunk sent; and
llama-server's own line (uncached prompt tokens, prompt evaluation ms). Medians / p95 per arm, with
the load.

    flock /tmp/hearth-rt.lock .venv/bin/python bench/llm_turn_pair_bench.py \\
        --a-tree /tmp/old --b-tree . --split held --out /tmp/pair.json

Session 20 (llm): the session-19 regression (LLM turns ~0.3 s slower than session 18's code).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import re
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STEPS = ("prep", "eot", "transcript", "first_token", "first_tts_audio", "first_audio_sent")
# the steps between two marks of a turn (s24: first token -> first TTS audio grew 0.07 s between two room runs)
GAPS = {"prep_to_token": ("prep", "first_token"), "token_to_tts": ("first_token", "first_tts_audio")}
_REPLY = re.compile(r"msg=\"reply conversation=\S+ chunks=\d+ prompt_tokens=(\d+) cached=(\d+) prompt_eval_ms=(\d+)"
                    r"(?: completion_tokens=(\d+) first_chunk_ms=(\d+))?")


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# -- the worker: one code tree, its engines, one pipeline ---------------------------------------
async def worker(args: argparse.Namespace) -> int:
    sys.path.insert(0, args.tree)  # (made absolute in main)
    from wyoming.audio import AudioChunk

    from bench.turn_corpus import build, noise_tail
    from orchestrator.intents import IntentRecognizer
    from orchestrator.pipeline import Pipeline, PipelineConfig, TurnResult
    from orchestrator.services import ServicePool
    from voice_runtime.latency import LatencyMonitor
    from voice_runtime.procs import start_service

    class Monitor(LatencyMonitor):
        timers: list[Any] = []  # the turn's own timer first, then its prepared replies' (pipeline.prepare)

        def start_turn(self) -> Any:
            self.timers.append(super().start_turn())
            return self.timers[-1]

    class Sink:
        async def event(self, event: Any) -> None:
            return None

    preparing: list[tuple[float, str]] = []

    class Prep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            msg = record.getMessage()
            if msg.startswith("preparing a reply to"):
                preparing.append((time.monotonic(), msg[len("preparing a reply to "):]))

    logging.getLogger("orchestrator.preemptive").addHandler(Prep())
    logging.getLogger("orchestrator.preemptive").setLevel(logging.INFO)
    corpus = {r.id: r for r in await asyncio.to_thread(build)}
    whisper = await start_service("wyoming_whisper", *shlex.split(args.whisper_args))
    llama = await start_service("wyoming_llama", "--max-sentences", "1", *shlex.split(args.llama_args))
    tts = await start_service("wyoming_kokoro", *shlex.split(args.tts_args))
    monitor = Monitor()
    pipeline = Pipeline(ServicePool("asr", [whisper.uri]), ServicePool("handle", [llama.uri]),
                        ServicePool("tts", [tts.uri]), intents=IntentRecognizer(),
                        config=PipelineConfig(**{"vad_sensitivity": "default", "preemptive": True,
                                                 **json.loads(args.pipeline_args or "{}")}), monitor=monitor)
    print(json.dumps({"ready": True}), flush=True)
    try:
        while line := await asyncio.to_thread(sys.stdin.readline):
            ask = json.loads(line)
            req = corpus[ask["id"]]
            pcm = req.pcm + noise_tail(req, 3.0)
            begin: list[float] = []

            async def chunks(pcm: bytes = pcm, begin: list[float] = begin) -> Any:
                loop = asyncio.get_running_loop()
                begin.append(time.monotonic())
                start = loop.time()
                for n, i in enumerate(range(0, len(pcm), 960)):
                    yield AudioChunk(16000, 2, 1, pcm[i : i + 960])
                    await asyncio.sleep(max(0.0, start + (n + 1) * 0.03 - loop.time()))  # the mic's pace

            preparing.clear()
            monitor.timers.clear()
            log_from = len(llama.log)
            result = TurnResult()
            with contextlib.suppress(Exception):
                await pipeline.run_turn(chunks(), Sink(), conversation_id="pair", result=result)
            await asyncio.sleep(0.3)  # llama's reply line follows its last chunk (a log, not a sync)
            clip_end = begin[0] + req.speech_end
            timer = monitor.timers[0]
            row: dict[str, Any] = {
                "id": req.id, "heard": result.transcript, "load": round(os.getloadavg()[0], 2),
                "eot": round(timer.start - clip_end, 3),
                "preparing": [(round(t - clip_end, 3), text) for t, text in preparing],
            }
            for stage in STEPS[2:]:
                if stage in result.marks:
                    row[stage] = round(timer.start + result.marks[stage] - clip_end, 3)
            used = "preemptive" in result.marks
            row["prepared_used"] = used
            if used and preparing:
                row["prep"] = round(preparing[-1][0] - clip_end, 3)
            replies = [m.groups() for x in llama.log[log_from:] if (m := _REPLY.search(x))]
            row["llama"] = [{"prompt": int(p), "cached": int(c), "eval_ms": int(e),
                             "tokens": int(t) if t else None, "first_chunk_ms": int(f) if f else None}
                            for p, c, e, t, f in replies]
            row["reply"] = result.reply
            row["dropped"] = sum("dropped" in x for x in llama.log[log_from:])
            print(json.dumps(row), flush=True)
            await asyncio.sleep(args.gap)
    finally:
        await pipeline.close()
        for service in (whisper, llama, tts):
            await service.stop()
    return 0


# -- the driver --------------------------------------------------------------------------------
class Arm:
    def __init__(self, name: str, tree: str, flags: list[str], log: Path) -> None:
        self.name, self.tree, self.flags, self.log = name, os.path.abspath(tree), flags, log
        self.script = os.path.abspath(__file__)
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        # LLAMA_ARG_REPACK=0: this VM's llama-server crashes in its AMX repack path at start; session
        # 18's code has no --no-repack fallback (19's starts it again with --no-repack: the same run)
        tree = self.tree
        env = {**os.environ, "PYTHONPATH": tree, "LLAMA_ARG_REPACK": "0"}
        with self.log.open("ab") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, self.script, "--worker", "--tree", tree, *self.flags,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=log, env=env, cwd=tree, limit=2**20,
            )
        assert json.loads(await self._line())["ready"]

    async def _line(self) -> str:
        assert self.proc is not None and self.proc.stdout is not None
        while True:
            line = (await self.proc.stdout.readline()).decode()
            if not line:
                raise RuntimeError(f"arm {self.name} ended; see {self.log}")
            if line.startswith("{"):
                return line

    async def turn(self, rid: str) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write((json.dumps({"id": rid}) + "\n").encode())
        await self.proc.stdin.drain()
        row: dict[str, Any] = json.loads(await self._line())
        return row

    async def stop(self) -> None:
        if self.proc is not None and self.proc.stdin is not None:
            self.proc.stdin.close()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(60):
                    await self.proc.wait()
            if self.proc.returncode is None:
                self.proc.terminate()
                await self.proc.wait()


def llm_clips(split: str, limit: int) -> list[str]:
    sys.path.insert(0, str(ROOT))
    from bench.turn_corpus import build
    from orchestrator.intents import IntentRecognizer

    recognizer = IntentRecognizer()
    corpus = build()
    ids = [r.id for name in split.split(",") for r in corpus if r.split == name and not recognizer.recognize(r.text)]
    return ids[:limit] if limit else ids


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for step in STEPS:
        values = [r[step] for r in rows if r.get(step) is not None]
        out[step] = {"n": len(values), "p50": statistics.median(values) if values else None, "p95": pct(values, 0.95)}
    for name, (start, end) in GAPS.items():
        values = [r[end] - r[start] for r in rows if r.get(start) is not None and r.get(end) is not None]
        out[name] = {"n": len(values), "p50": statistics.median(values) if values else None, "p95": pct(values, 0.95)}
    evals = [x["eval_ms"] for r in rows for x in r["llama"]]
    out["llama_eval_ms"] = {"n": len(evals), "p50": statistics.median(evals) if evals else None,
                            "p95": pct(evals, 0.95)}
    uncached = [x["prompt"] - x["cached"] for r in rows for x in r["llama"]]
    out["llama_uncached"] = {"p50": statistics.median(uncached) if uncached else None}
    out["prepared_used"] = sum(r["prepared_used"] for r in rows)
    out["prepared_started"] = sum(len(r["preparing"]) for r in rows)
    return out


async def drive(args: argparse.Namespace) -> int:
    clips = await asyncio.to_thread(llm_clips, args.split, args.limit)
    folder = Path(args.logs)
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    names = ["a", "b"] + (["c"] if args.c_tree else [])
    settings = {name: {"tree": getattr(args, f"{name}_tree"), "llama": getattr(args, f"{name}_llama"),
                       "whisper": getattr(args, f"{name}_whisper"), "tts": getattr(args, f"{name}_tts"),
                       "pipeline": getattr(args, f"{name}_pipeline")}
                for name in names}
    arms = [
        Arm(name, arm["tree"], [f"--llama-args={arm['llama']}", f"--whisper-args={arm['whisper']}",
                                f"--tts-args={arm['tts']}", f"--pipeline-args={arm['pipeline']}"],
            folder / f"{name}.log")
        for name, arm in settings.items()
    ]
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    load_start = os.getloadavg()
    try:
        for arm in arms:
            await arm.start()
        k = 0
        for _ in range(args.rounds):
            for rid in clips:
                order = arms[k % len(arms):] + arms[: k % len(arms)]  # who goes first rotates
                k += 1
                for arm in order:
                    row = await arm.turn(rid)
                    rows[arm.name].append(row)
                    print(arm.name, json.dumps(row), flush=True)
    finally:
        for arm in arms:
            await arm.stop()
    out = {
        "started": started, "ended": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "load_start": load_start, "load_end": os.getloadavg(), "clips": clips,
        "summary": {name: summary(r) for name, r in rows.items()}, "rows": rows,
    }
    out["arms"] = settings
    print(json.dumps(out["summary"], indent=1))
    if args.out:
        await asyncio.to_thread(Path(args.out).write_text, json.dumps(out, indent=1) + "\n")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--tree", default=str(ROOT), help=argparse.SUPPRESS)
    parser.add_argument("--llama-args", default="", help=argparse.SUPPRESS)
    parser.add_argument("--whisper-args", default="", help=argparse.SUPPRESS)
    parser.add_argument("--tts-args", default="", help=argparse.SUPPRESS)
    parser.add_argument("--pipeline-args", default="", help=argparse.SUPPRESS)
    parser.add_argument("--gap", type=float, default=1.0, help=argparse.SUPPRESS)
    parser.add_argument("--a-tree", default=str(ROOT), help="code tree of arm a (e.g. a git archive of old main)")
    parser.add_argument("--b-tree", default=str(ROOT), help="code tree of arm b")
    parser.add_argument("--c-tree", default="", help="code tree of an optional third arm c")
    for arm in ("a", "b", "c"):
        parser.add_argument(f"--{arm}-llama", default="", help=f"more wyoming_llama flags for arm {arm}")
        parser.add_argument(f"--{arm}-whisper", default="", help=f"more wyoming_whisper flags for arm {arm}")
        parser.add_argument(f"--{arm}-tts", default="--provider piper", help=f"wyoming_kokoro flags for arm {arm}")
        parser.add_argument(f"--{arm}-pipeline", default="",
                            help=f'PipelineConfig fields for arm {arm}, JSON (e.g. {{"partial_transcripts": true}})')
    parser.add_argument("--split", default="held", help="corpus split(s), comma separated")
    parser.add_argument("--limit", type=int, default=0, help="at most this many clips (0: all LLM clips)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--logs", default="/tmp/llm-pair", help="folder for the arms' logs")
    parser.add_argument("--out")
    args = parser.parse_args()
    args.tree = os.path.abspath(args.tree)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    return asyncio.run(worker(args) if args.worker else drive(args))


if __name__ == "__main__":
    sys.exit(main())
