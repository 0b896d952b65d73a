"""End-to-end latency: our streaming stack vs a Home-Assistant-style chain, same box, same run.

What a user feels: from the last voiced sample of the question to the first sample of the
reply reaching the satellite's speaker. Each question (spoken by Kokoro ``am_michael``, a voice
other than the TTS voice under test) is streamed in real time through our satellite's WAV
microphone; the satellite writes its speaker output, silence included, one speaker frame per
mic frame, so both instants are sample positions on the microphone's timeline. Tones are off.

Pipelines (the same satellite and VAD setting, the same intents and the same LLM server in both):
  ours  wyoming_whisper (tiny.en int8) → wyoming_llama streaming (SmolLM2) → wyoming_kokoro
        (Piper en_US-joe-medium) streaming, orchestrated with streaming end to end, as
        ``voice-orchestrator serve`` does by default: whisper is asked (``vad_sensitivity``) to
        end the utterance itself (0.4 s of silence after a finished request, up to 1.9 s after
        an unfinished one), without partial transcripts;
  peer  wyoming-faster-whisper (tiny.en int8) → wyoming_llama read without streaming →
        wyoming-piper (en_US-joe-medium), chained as Home Assistant does without streaming
        (final transcript → whole reply → whole TTS audio → satellite).

Stage breakdown, every instant in seconds after the question's last voiced sample:
  vad       the end of speech was decided: the end of the last audio chunk the pipeline took
            (mic timeline). Peer: the satellite's VAD (--silence-frames × 30 ms); ours: whisper's
            server-side endpointing, or the satellite's VAD if that came first
  asr       + final transcript at the orchestrator
  text      + reply text ready for TTS (intent match; first LLM token when streaming; the
            whole reply for the peer)
  tts       + first TTS audio at the orchestrator
  sent      + first reply audio forwarded to the satellite (the peer holds it until synthesis ends)
  speaker   first reply sample at the satellite's speaker = user-perceived latency

Also: 1/2/4/8 concurrent satellites (ours); echo-only runs (the satellite hears its own reply
through a simulated −10 dB / 60 ms echo path) counting false barge-ins; barge-in reaction
(speech onset → reply silent, via bench/satellite_bench.py's scripted run); peak RSS per
service and CPU seconds per turn.

    ./run.sh bench e2e            # or: .venv/bin/python bench/e2e_bench.py --help
Results: bench/results/e2e.{md,json,csv,png}.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import functools
import json
import math
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Coroutine
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from wyoming.audio import AudioChunk  # noqa: E402

from bench import run_until_signalled  # noqa: E402
from bench.e2e_profile import Profiler  # noqa: E402
from bench.nonstreaming import NonStreamingPipeline  # noqa: E402
from orchestrator.intents import IntentRecognizer  # noqa: E402
from orchestrator.pipeline import Pipeline, PipelineConfig, TurnOutput, TurnResult  # noqa: E402
from orchestrator.satellite_link import LinkConfig, SatelliteLink  # noqa: E402
from orchestrator.services import ServicePool  # noqa: E402
from voice_runtime.audio import (  # noqa: E402
    PCM16_MONO_16K,
    AudioFormat,
    convert,
    from_float,
    read_wav,
    to_float,
    write_wav,
)
from voice_runtime.latency import percentile  # noqa: E402
from voice_runtime.models import resolve_kokoro_model, resolve_kokoro_voices  # noqa: E402
from voice_runtime.procs import ServiceProcess, start_service  # noqa: E402
from voice_runtime.tasks import cancel_and_wait, race  # noqa: E402

QUESTIONS = [
    "What is the capital of France?",
    "Turn on the kitchen lights.",
    "How many legs does a spider have?",
    "What time is it?",
    "Why is the sky blue?",
    "Switch off the bedroom lamp.",
    "Give me a tip for sleeping better.",
    "Set a timer for five minutes.",
    "What is the boiling point of water?",
    "Tell me a short joke.",
    "Turn off the porch light.",
    "Who wrote Romeo and Juliet?",
    "What day is it today?",
    "How far away is the moon?",
    "Turn on the living room fan.",
    "What should I cook for dinner tonight?",
    "Name a planet in our solar system.",
    "Set a timer for ten minutes.",
    "What is two plus two?",
    "How do I make a cup of tea?",
    "Switch on the garden lights.",
    "What is the largest ocean on Earth?",
]
QUESTION_VOICE = "am_michael"
VOICE = "en_US-joe-medium"
LEAD_SECONDS = 1.5
TRAIL_SECONDS = 1.0
SILENCE_THRESHOLD = 300  # |sample| above this (16-bit, about -40 dBFS) counts as sound
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


def make_questions(folder: Path, count: int) -> list[Question]:
    """Speak the questions with Kokoro (run in a child process: keeps Kokoro out of our RSS)."""
    from kokoro_onnx import Kokoro

    kokoro = Kokoro(str(resolve_kokoro_model()), str(resolve_kokoro_voices()))
    questions = []
    for index, text in enumerate((QUESTIONS * 2)[:count]):
        samples, rate = kokoro.create(text, voice=QUESTION_VOICE, speed=1.0, lang="en-us")
        pcm = convert(from_float(np.asarray(samples, dtype=np.float32), 2), AudioFormat(rate, 2, 1), PCM16_MONO_16K)
        voiced = np.flatnonzero(np.abs(np.frombuffer(pcm, dtype="<i2").astype(np.int32)) > SILENCE_THRESHOLD)
        end = (voiced[-1] + 1) / 16000 if voiced.size else 0.0
        lead, trail = b"\x00\x00" * int(LEAD_SECONDS * 16000), b"\x00\x00" * int(TRAIL_SECONDS * 16000)
        path = folder / f"q{index:02d}.wav"
        write_wav(str(path), lead + pcm + trail, PCM16_MONO_16K)
        questions.append(Question(text, path, LEAD_SECONDS + end))
    return questions


def first_sound(path: Path, after: float) -> float | None:
    """Seconds into ``path`` of the first sample louder than the threshold at or after ``after``."""
    pcm, fmt = read_wav(str(path))
    samples = np.abs(to_float(pcm, fmt.width, fmt.channels)[:, 0]) * 32768
    start = int(after * fmt.rate)
    loud = np.flatnonzero(samples[start:] > SILENCE_THRESHOLD)
    return (start + int(loud[0])) / fmt.rate if loud.size else None


def proc_usage(pid: int) -> dict[str, float]:
    """Peak RSS (MB, VmHWM) and CPU seconds of a process and its children (llama-server)."""
    total_cpu, peak = 0.0, 0.0
    pids = [pid]
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                pids += [int(p) for p in fh.read().split()]
    for p in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total_cpu += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak += int(line.split()[1]) / 1024
    return {"peak_rss_mb": round(peak, 1), "cpu_seconds": round(total_cpu, 2)}


def self_usage() -> dict[str, float]:
    """The bench process = the orchestrator (pipeline, satellite links) plus a little bench code."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"peak_rss_mb": round(usage.ru_maxrss / 1024, 1), "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2)}


OURS = ("wyoming_whisper", "wyoming_llama", "wyoming_kokoro")


class Stack:
    def __init__(self) -> None:
        self.procs: dict[str, ServiceProcess] = {}

    async def start_all(self, modules: dict[str, tuple[str, ...]],
                        others: dict[str, Coroutine[Any, Any, ServiceProcess]]) -> None:
        """Start our servers (name → module and flags) and ``others`` at once. Every one that started
        is kept for :meth:`stop` even when another failed (that failure is then raised)."""
        print(f"  starting {', '.join([*modules, *others])} …", flush=True)
        starts = {name: start_service(module, *flags) for name, (module, *flags) in modules.items()} | others
        results = await asyncio.gather(*starts.values(), return_exceptions=True)
        for name, result in zip(starts, results, strict=True):
            if isinstance(result, ServiceProcess):
                self.procs[name] = result
        for result in results:
            if isinstance(result, BaseException):
                raise result

    def usage(self) -> dict[str, dict[str, float]]:
        out = {name: proc_usage(proc.pid) for name, proc in self.procs.items()}
        out["orchestrator (bench process)"] = self_usage()
        return out

    async def stop(self, logdir: Path) -> dict[str, int]:
        """Stop every server; keep its log in ``logdir``; return its count of warning/error lines."""
        problems = {}
        for name, proc in self.procs.items():
            await proc.stop()
            (logdir / f"{name}.log").write_text("\n".join(proc.log) + "\n")
            problems[name] = sum(("WARNING" in line or "ERROR" in line) for line in proc.log)
        return problems


class BenchPipeline(Pipeline):
    """Also notes where (mic timeline, ms) the satellite's streamed audio ended = its VAD decision."""

    audio_end_ms: dict[int, float]

    async def run_turn(self, audio: AsyncIterator[AudioChunk], out: TurnOutput, *, conversation_id: str,
                       result: TurnResult | None = None, end_stage: str = "tts",
                       endpoint_after: float = 0.0) -> TurnResult:
        result = result if result is not None else TurnResult()
        if not hasattr(self, "audio_end_ms"):
            self.audio_end_ms = {}
        ends = self.audio_end_ms

        async def noted() -> AsyncIterator[AudioChunk]:
            async for chunk in audio:
                if chunk.timestamp is not None:
                    ends[id(result)] = chunk.timestamp + len(chunk.audio) * 1000 / (chunk.rate * chunk.width)
                yield chunk

        return await super().run_turn(noted(), out, conversation_id=conversation_id, result=result,
                                      end_stage=end_stage, endpoint_after=endpoint_after)


class PeerBenchPipeline(NonStreamingPipeline, BenchPipeline):
    """The Home-Assistant-style chain (bench/nonstreaming.py), noting where the audio ended."""


async def played_or_barge_in(link: SatelliteLink) -> None:
    """Until the satellite reports ``played`` or a second turn (a barge-in) reached the link."""
    async with link.turn_finished:
        await link.turn_finished.wait_for(lambda: link.played >= 1 or len(link.turns) > 1)


GAVE_UP = "given up"  # the satellite's log line when a reply did not come in time (--thinking-timeout)
ECHO_ENDS = ("played", "satellite gave up", "satellite exited")
ECHO_BACKSTOP_S = 600.0  # never reached while the satellite runs: its own timeouts end the turn first


async def echo_turn_end(link: SatelliteLink, sat: ServiceProcess) -> str:
    """How an echo-only turn ended at the satellite: its ``played`` (or a barge-in), or the
    satellite gave up waiting for the reply (a loaded box: the reply then never plays), or it
    exited. Waits on the satellite, not on a fixed cap (session 10: 120 s lost per give-up)."""
    gave_up = asyncio.create_task(sat.wait_log(GAVE_UP, timeout=ECHO_BACKSTOP_S))
    try:
        winner = await race(played_or_barge_in(link), gave_up, timeout=ECHO_BACKSTOP_S)
    finally:
        await cancel_and_wait(gave_up)
    if winner == 0:
        return ECHO_ENDS[0]
    if winner == 1 and not gave_up.cancelled() and gave_up.exception() is None:
        return ECHO_ENDS[1] if gave_up.result() else ECHO_ENDS[2]
    return f"no end within {ECHO_BACKSTOP_S:.0f} s"


def satellite_peak_rss(pid: int) -> float:
    return proc_usage(pid)["peak_rss_mb"]


async def one_batch(pipeline: BenchPipeline, name: str, questions: list[Question], workdir: Path,
                    args: argparse.Namespace, *, echo: bool = False) -> list[Turn]:
    """Run len(questions) satellites at once, one question each."""
    sats: list[ServiceProcess] = []
    links: list[SatelliteLink] = []
    tasks: list[asyncio.Task[None]] = []
    outs = [workdir / f"{name}-{len(questions)}-{i}-{time.monotonic_ns()}.wav" for i in range(len(questions))]
    turns = [Turn(name, len(questions), q.text) for q in questions]
    results: list[TurnResult | None] = [None] * len(questions)
    flags = ["--silence-frames-required", str(args.silence_frames), *(ECHO_FLAGS if echo else ())]
    if name.startswith("peer"):  # the peer chain finds no end of speech itself: the satellite's VAD does,
        flags += ["--controller-end-seconds", f"{args.silence_frames * 0.03:.2f}"]  # as Home Assistant's would
    try:
        for q, out in zip(questions, outs, strict=True):
            sats.append(await start_service(
                "satellite", "--no-wake-word", "--mic-wav", str(q.wav), "--snd-wav", str(out), "--snd-rate", "16000",
                "--no-tones", "--name", out.stem, *flags))
        for sat in sats:
            link = SatelliteLink(LinkConfig(sat.uri, reconnect_delay=1.0), pipeline)
            links.append(link)
            tasks.append(asyncio.create_task(link.run()))

        async def follow(index: int) -> None:
            turn, link = turns[index], links[index]
            try:
                result = (await asyncio.wait_for(link.wait_turns(1), 120))[0]
            except TimeoutError:
                turn.error = "timeout"
                return
            results[index] = result
            turn.transcript, turn.reply, turn.intent = result.transcript, result.reply, result.intent is not None
            turn.marks = {k: round(v, 3) for k, v in result.marks.items()}
            if result.error:
                turn.error = result.error.code
                return
            # Latency needs only the reply's start; an echo run needs the whole reply played.
            if echo:
                turn.echo_end = await echo_turn_end(link, sats[index])
                if turn.echo_end == ECHO_ENDS[0]:  # a reply that never played proves nothing either way
                    turn.false_barge_in = len(link.turns) > 1 or any(r.cancelled for r in link.turns)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(played_or_barge_in(link), args.play_seconds)
            turn.satellite_rss_mb = satellite_peak_rss(sats[index].pid)

        await asyncio.gather(*(follow(i) for i in range(len(questions))))
    finally:
        for link in links:
            await link.stop()
        for task in tasks:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        for sat in sats:
            await sat.stop()
    for turn, q, out, result in zip(turns, questions, outs, results, strict=True):
        if turn.error is None and out.is_file():
            heard = first_sound(out, q.speech_end)
            turn.perceived = None if heard is None else round(heard - q.speech_end, 3)
            end_ms = pipeline.audio_end_ms.get(id(result)) if result is not None else None
            if end_ms is not None:
                turn.stages = stage_times(turn, end_ms / 1000 - q.speech_end,
                                          not isinstance(pipeline, NonStreamingPipeline))
    return turns


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


async def run_phase(label: str, pipeline: BenchPipeline, batches: list[list[Question]], *, workdir: Path,
                    args: argparse.Namespace, stack: Stack, usage: dict[str, Any],
                    echo: bool = False) -> list[Turn]:
    """Run batches one after the other; note each server's CPU seconds spent in this phase."""
    before = stack.usage()
    turns: list[Turn] = []
    for batch in batches:
        print(f"  {label}: {len(batch)} satellite(s): {', '.join(q.text for q in batch)[:90]}", flush=True)
        turns += await one_batch(pipeline, label, batch, workdir, args, echo=echo)
    after = stack.usage()
    cpu = {name: round(after[name]["cpu_seconds"] - before.get(name, {"cpu_seconds": 0.0})["cpu_seconds"], 2)
           for name in after}
    usage.setdefault("phases", {})[f"{label} x{len(batches[0])}"] = {"turns": len(turns), "cpu_seconds": cpu}
    return turns


async def barge_in_runs(runs: int) -> list[dict[str, float]]:
    """bench/satellite_bench.py's barge-in run: a scripted controller, a long reply, the user
    interrupting it; reaction = interruption's speech onset → last reply sample played."""
    from piper import PiperVoice

    from bench.satellite_bench import barge_in
    from voice_runtime.models import resolve_piper

    voice = await asyncio.to_thread(PiperVoice.load, str(resolve_piper()))
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(runs):
            result = await barge_in(Path(tmp), voice, run)
            out.append({k: float(v) for k, v in result.items()})
    return out


async def main(args: argparse.Namespace) -> int:
    args.out.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="hearth-e2e-"))
    from peers import start_peer_piper, start_peer_whisper

    all_turns: list[Turn] = []
    usage: dict[str, Any] = {}
    barge: list[dict[str, float]] = []
    scale = [int(x) for x in args.scale.split(",") if x]
    intents = IntentRecognizer()
    stack = Stack()
    started = time.monotonic()
    phase = functools.partial(run_phase, workdir=workdir, args=args, stack=stack, usage=usage)
    try:
        # Set-up at once (the model loads overlap; nothing is measured yet): the questions, spoken in
        # a child process, and every server, the peers' too (idle until their phase).
        print(f"making {args.questions} questions with Kokoro {QUESTION_VOICE} …", flush=True)
        with ProcessPoolExecutor(1) as pool:
            made = asyncio.get_running_loop().run_in_executor(pool, make_questions, workdir, args.questions)
            # The audio cache is off: the concurrency phases ask the first questions again, and
            # replaying their cached audio would flatter those phases against the single one.
            await stack.start_all({
                "wyoming_whisper": ("wyoming_whisper", "--model", "tiny.en"),
                "wyoming_llama": ("wyoming_llama", "--max-tokens", str(args.max_tokens),
                                  "--temperature", str(args.temperature)),
                "wyoming_kokoro": ("wyoming_kokoro", "--provider", "piper", "--engines", "piper", "--voice", VOICE,
                                   "--cache-mb", "0"),
            }, {} if args.skip_peer else {"wyoming-faster-whisper": start_peer_whisper(),
                                          "wyoming-piper": start_peer_piper()})
            questions = await made
        asr, llm, tts = (stack.procs[name].uri for name in OURS)
        ours = BenchPipeline(ServicePool("asr", [asr]), ServicePool("handle", [llm]), ServicePool("tts", [tts]),
                             intents=intents,
                             config=PipelineConfig(voice=VOICE, partial_transcripts=args.partial_transcripts,
                                                   vad_sensitivity=None if args.vad_sensitivity == "off"
                                                   else args.vad_sensitivity))
        if args.warmup:
            print("ours: warm-up turn (not counted)", flush=True)
            await one_batch(ours, "warmup", questions[:1], workdir, args)
        print("ours: one satellite per question", flush=True)
        profiler = Profiler(args.profile) if args.profile else None
        if profiler is not None:
            await profiler.start({**{n: stack.procs[n].pid for n in OURS}, "orchestrator": os.getpid()})
        single_ours = await phase("ours", ours, [[q] for q in questions])
        all_turns += single_ours
        if profiler is not None:
            await profiler.stop()
            write_profile(args, profiler, single_ours, usage)
        if not args.skip_peer:
            peer = PeerBenchPipeline(
                ServicePool("asr", [stack.procs["wyoming-faster-whisper"].uri]), ServicePool("handle", [llm]),
                ServicePool("tts", [stack.procs["wyoming-piper"].uri]), intents=intents,
            )
            if args.warmup:
                print("peer: warm-up turn (not counted)", flush=True)
                await one_batch(peer, "warmup", questions[:1], workdir, args)
            print("peer (Home-Assistant-style chain): one satellite per question", flush=True)
            all_turns += await phase("peer", peer, [[q] for q in questions])
            await peer.close()
        for n in (n for n in scale if n > 1):
            pool_q = (questions * (n * args.scale_rounds))[: n * args.scale_rounds]
            batches = [pool_q[i:i + n] for i in range(0, len(pool_q), n)]
            print(f"ours: {n} concurrent satellites, {len(batches)} round(s)", flush=True)
            all_turns += await phase("ours", ours, batches)
        if args.echo_runs:
            llm_questions = [q for q in questions if not intents.recognize(q.text)] or questions
            echo_q = (llm_questions * args.echo_runs)[: args.echo_runs]
            print(f"ours-echo: {len(echo_q)} echo-only runs (−10 dB, 60 ms echo path)", flush=True)
            all_turns += await phase("ours-echo", ours, [[q] for q in echo_q],
                                         echo=True)
        usage["servers"] = stack.usage()
        await ours.close()
    finally:
        usage["log_problems"] = await stack.stop(workdir)
        print(f"server logs: {workdir}/*.log", flush=True)
    if args.barge_in_runs:
        print(f"barge-in reaction: {args.barge_in_runs} scripted run(s) (bench/satellite_bench.py)", flush=True)
        barge = await barge_in_runs(args.barge_in_runs)
    elapsed = time.monotonic() - started
    data = write_report(args.out, all_turns, usage=usage, barge=barge, questions=questions, args=args,
                        elapsed=elapsed)
    errors = [t for t in all_turns if t.error]
    if data["single"].get("ours", {}).get("turns", 0) == 0:
        return 1
    return 1 if len(errors) > len(all_turns) // 4 else 0


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


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--questions", type=int, default=len(QUESTIONS))
    p.add_argument("--scale", default="1,2,4,8", help="concurrent satellites to try (ours)")
    p.add_argument("--scale-rounds", type=int, default=2, help="batches of N satellites per concurrency level")
    p.add_argument("--silence-frames", type=int, default=20,
                   help="the satellite's --silence-frames-required (30 ms frames), both pipelines (default 20, "
                        "the satellite's default)")
    p.add_argument("--vad-sensitivity", choices=["aggressive", "default", "relaxed", "off"], default="default",
                   help="ours: server-side end of speech asked of whisper (default: default, as serve does)")
    p.add_argument("--partial-transcripts", action="store_true", help="ours: let whisper compute partials")
    p.add_argument("--max-tokens", type=int, default=120, help="wyoming_llama --max-tokens")
    p.add_argument("--temperature", type=float, default=0.0, help="wyoming_llama --temperature")
    p.add_argument("--play-seconds", type=float, default=3.0,
                   help="after a turn's audio is sent, wait at most this long for played (latency needs only "
                        "the reply's start)")
    p.add_argument("--echo-runs", type=int, default=4, help="echo-only runs (false barge-in count)")
    p.add_argument("--barge-in-runs", type=int, default=3, help="barge-in reaction runs")
    p.add_argument("--warmup", type=int, choices=(0, 1), default=1,
                   help="one uncounted turn per pipeline first (model loads, LLM prompt cache)")
    p.add_argument("--profile", type=Path, default=None,
                   help="run py-spy on every process during the single-satellite phase of ours (raw stacks "
                        "here) and write e2e.profile.md; needs py-spy in the venv")
    p.add_argument("--skip-peer", action="store_true")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    return p


def cli(argv: list[str] | None = None) -> int:
    return run_until_signalled(main(parser().parse_args(argv)))


if __name__ == "__main__":
    sys.exit(cli())
