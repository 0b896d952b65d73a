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
import functools
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from wyoming.audio import AudioChunk  # noqa: E402

from bench import run_until_signalled  # noqa: E402
from bench.e2e_profile import Profiler  # noqa: E402
from bench.e2e_questions import QUESTIONS, first_sound, make_questions  # noqa: E402
from bench.e2e_report import (  # noqa: E402
    ECHO_FLAGS,
    QUESTION_VOICE,
    VOICE,
    Question,
    Turn,
    stage_times,
    write_profile,
    write_report,
)
from bench.e2e_stack import OURS, Stack, proc_usage  # noqa: E402
from bench.nonstreaming import NonStreamingPipeline  # noqa: E402
from orchestrator.intents import IntentRecognizer  # noqa: E402
from orchestrator.pipeline import Pipeline, PipelineConfig, TurnOutput, TurnResult  # noqa: E402
from orchestrator.satellite_link import LinkConfig, SatelliteLink  # noqa: E402
from orchestrator.services import ServicePool  # noqa: E402
from voice_runtime.procs import ServiceProcess, start_service  # noqa: E402
from voice_runtime.tasks import cancel_and_wait, race  # noqa: E402


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
