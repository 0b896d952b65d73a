"""Fallback budget: an engine down → ``services-unavailable`` at the satellite → its cloud reply.

For each engine kind (asr, handle = the LLM, tts) and each fault kind:

* ``refused``: the server is gone (its port closed, its warm spare cut);
* ``unreachable``: SYNs are dropped (a listening socket whose backlog is full: connect hangs,
  as it does for a host that is off the network);
* ``black-hole``: connections open but nothing comes back (the fault proxy's ``drop`` mode,
  the warm spare included: lost Wi-Fi, a dead NAT entry);
* ``hung``: the engine process is stopped (SIGSTOP): the kernel still accepts, nothing answers.

One case: our three engines (real processes), the orchestrator's satellite link and pipeline
in-process, a real satellite process (``python -m satellite``, a FIFO as its mic, cloud
fallback on against the local Deepgram/DeepSeek fakes of ``tests/test_satellite_cloud.py``).
A first question is answered locally (every pool warm, spares open), then the fault is
applied and a second question is asked. Read off the satellite's own log (one clock): from
its end of speech (``streaming -> waiting on speech-end``) to the ``services-unavailable`` it
got, and to the first audio of the cloud reply (``waiting -> speaking on reply-start``).
Targets: ≤ 2 s and ≤ 3 s. The fake cloud's speech is synthesised (Piper) before the case, so
its answers cost no CPU during the measurement; the cloud's own latency is not part of it.
The mic FIFO is fed at twice real time (as in the cloud tests):
the satellite's end of speech comes 0.6 s of mic time (0.3 s of wall time) after the words.

    python bench/fallback_bench.py [--kinds asr,handle,tts] [--faults refused,unreachable,black-hole,hung]
Results: bench/results/fallback.{md,json}.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from piper import PiperVoice  # noqa: E402
from stack import Stack, start_stack  # noqa: E402
from test_satellite_cloud import FakeDeepgram, FakeDeepSeek, cloud_satellite  # noqa: E402
from test_satellite_service import SatelliteProcess, Speech, silence  # noqa: E402

from bench import run_until_signalled  # noqa: E402
from orchestrator.intents import IntentRecognizer  # noqa: E402
from orchestrator.pipeline import Pipeline, TurnResult  # noqa: E402
from orchestrator.satellite_link import LinkConfig, SatelliteLink  # noqa: E402
from orchestrator.services import ServicePool  # noqa: E402
from voice_runtime.faultproxy import FaultProxy  # noqa: E402
from voice_runtime.models import resolve_piper  # noqa: E402

KINDS = ("asr", "handle", "tts")
FAULTS = ("refused", "unreachable", "black-hole", "hung")
WARM_UP = "What time is it?"  # the intent fast path: short, and every pool but the LLM's is warmed
QUESTION = "Why is the sky blue?"
END = "state streaming -> waiting on speech-end"
ERROR = "controller error code=services-unavailable"
REPLY = "state waiting -> speaking on reply-start"
CLOUD_SENTENCES = ("It is noon.", "Have a nice day.")  # what the fake DeepSeek says, sentence by sentence


@dataclass
class Case:
    kind: str
    fault: str
    error_after_end_s: float | None = None  # negative: before the end of speech (ASR is asked first)
    cloud_reply_after_end_s: float | None = None
    orchestrator_error: str | None = None
    local_audio_bytes: int = 0
    cloud_utterance_bytes: int = 0
    error_before_cloud_stt: bool = False


class Unreachable:
    """A port whose SYNs are dropped: listen(0) with the backlog filled, never accepting."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(0)
        self.port = self.sock.getsockname()[1]
        self.fill = socket.create_connection(("127.0.0.1", self.port))
        self.uri = f"tcp://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.fill.close()
        self.sock.close()


def stamp(line: str) -> float:
    return datetime.fromisoformat(line.split(" ", 1)[0].removeprefix("ts=")).timestamp()


def after(log: list[str], start: int, text: str) -> float | None:
    found = [stamp(line) for line in log[start:] if text in line]
    return found[0] if found else None


@contextlib.asynccontextmanager
async def link_to(sat: SatelliteProcess, pipeline: Pipeline) -> AsyncIterator[SatelliteLink]:
    link = SatelliteLink(LinkConfig(f"tcp://127.0.0.1:{sat.port}", reconnect_delay=0.5), pipeline)
    task = asyncio.create_task(link.run(), name="link")
    try:
        yield link
    finally:
        await link.stop()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await pipeline.close()


async def fallback_case(stack: Stack, speech: Speech, tmp: Path, kind: str, fault: str) -> Case:
    """One case (see the module doc); returns what was measured and what was seen."""
    for sentence in CLOUD_SENTENCES:  # the fake Aura answers at once, as the real one starts within ~0.2 s
        speech.piper(sentence)
    engines = {"asr": stack.whisper, "handle": stack.llama, "tts": stack.tts}
    victim = engines[kind]
    proxy = FaultProxy("127.0.0.1", victim.port or 0)
    await proxy.start()
    uris = {k: [proxy.uri if k == kind else e.uri] for k, e in engines.items()}
    pipeline = Pipeline(ServicePool("asr", uris["asr"]), ServicePool("handle", uris["handle"]),
                        ServicePool("tts", uris["tts"]), intents=IntentRecognizer())
    unreachable: Unreachable | None = None
    stopped = False
    case = Case(kind, fault)
    await asyncio.to_thread(tmp.mkdir, parents=True, exist_ok=True)
    try:
        async with FakeDeepgram(speech) as deepgram, FakeDeepSeek() as deepseek, \
                cloud_satellite(tmp, deepgram, deepseek) as (sat, room), link_to(sat, pipeline) as link:
            await sat.wait_log("controller attached")
            room.say(speech.mic(WARM_UP) + silence(0.3))
            await sat.wait_log("on reply-done", 1, timeout=120)
            warm = await asyncio.wait_for(link.wait_turns(1), 60)
            assert warm[-1].error is None and warm[-1].audio_bytes > 0, warm[-1]
            await (await pipeline.handle.acquire()).close()  # the LLM's pool gets its warm spare too
            spare = pipeline.handle._replicas[0].spare_task
            if spare is not None:
                await spare
            if fault == "refused":
                await proxy.stop()
            elif fault == "black-hole":
                proxy.set_mode("drop")
            elif fault == "hung":
                os.kill(victim.proc.pid, signal.SIGSTOP)
                stopped = True
            else:
                unreachable = Unreachable()
                setattr(pipeline, kind, ServicePool(kind, [unreachable.uri]))
            mark = len(sat.log)
            room.say(speech.mic(QUESTION) + silence(0.3))
            await sat.wait_log("on reply-done", 2, timeout=120)
            turn: TurnResult = (await asyncio.wait_for(link.wait_turns(2), 60))[-1]
            end, error, reply = after(sat.log, mark, END), after(sat.log, mark, ERROR), after(sat.log, mark, REPLY)
            if end is not None and error is not None:
                case.error_after_end_s = round(error - end, 3)
            if end is not None and reply is not None:
                case.cloud_reply_after_end_s = round(reply - end, 3)
            case.orchestrator_error = turn.error.code if turn.error else None
            case.local_audio_bytes = turn.audio_bytes
            case.cloud_utterance_bytes = len(deepgram.stt()[-1].body) if deepgram.stt() else 0
            stt = after(sat.log, mark, "cloud stt")  # the satellite's cloud client logs its request
            case.error_before_cloud_stt = error is not None and (stt is None or error <= stt)
    finally:
        if stopped:
            os.kill(victim.proc.pid, signal.SIGCONT)
        if unreachable is not None:
            unreachable.close()
        await proxy.stop()
    return case


def table(cases: list[Case]) -> str:
    rows = ["| engine down | fault | `services-unavailable` after end of speech (s) | cloud reply starts (s) "
            "| orchestrator's error | local reply audio |", "|---|---|---|---|---|---|"]
    for c in cases:
        rows.append(f"| {c.kind} | {c.fault} | {c.error_after_end_s} | {c.cloud_reply_after_end_s} "
                    f"| {c.orchestrator_error} | {c.local_audio_bytes} B |")
    return "\n".join(rows)


async def main(kinds: list[str], faults: list[str]) -> int:
    speech = Speech(PiperVoice.load(resolve_piper()))
    load = os.getloadavg()
    stack = await start_stack()
    cases: list[Case] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for kind in kinds:
                for fault in faults:
                    started = time.monotonic()
                    case = await fallback_case(stack, speech, Path(tmp) / f"{kind}-{fault}", kind, fault)
                    cases.append(case)
                    print(f"{kind} {fault}: {case} ({time.monotonic() - started:.0f}s)", flush=True)
    finally:
        await stack.stop()
    out = ROOT / "bench" / "results"
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load_text = f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (1/5/15 min) before the run"
    (out / "fallback.json").write_text(json.dumps({"when": when, "load": load, "cases": [asdict(c) for c in cases]},
                                                  indent=2))
    (out / "fallback.md").write_text(f"# Fallback budget ({when}, {load_text})\n\n{table(cases)}\n")
    print(table(cases))
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--faults", default=",".join(FAULTS))
    args = parser.parse_args()
    sys.exit(run_until_signalled(main(args.kinds.split(","), args.faults.split(","))))
