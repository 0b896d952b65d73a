"""The README's "run the assistant" command: three servers + one spoken question, end to end.

Starts ``wyoming_whisper``, ``wyoming_llama`` and ``wyoming_kokoro`` on free loopback ports
with their default models, asks the question recorded at set-up
(``~/.cache/hearth/demo/question.wav``), writes the reply to ``out/reply.wav``, prints the
transcript, the reply and the latency breakdown, and stops the servers. No sound card needed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import wave
from pathlib import Path

from voice_runtime.cli import add_version_arg
from voice_runtime.logs import add_logging_args, restores_logging, setup_logging
from voice_runtime.models import cache_dir
from voice_runtime.procs import ROOT, ServiceProcess, start_service

from .__main__ import _common, ask

SERVICES = [
    ("speech-to-text", "wyoming_whisper"),
    ("conversation", "wyoming_llama"),
    ("text-to-speech", "wyoming_kokoro"),
]


async def main(args: argparse.Namespace) -> int:
    question = args.wav or cache_dir() / "demo" / "question.wav"
    if not question.is_file():
        print(f"missing {question}" + ("" if args.wav else ": run ./run.sh setup"), file=sys.stderr)
        return 1
    try:  # before three servers start for nothing
        with wave.open(str(question), "rb") as wav:
            wav.getnframes()
    except (wave.Error, EOFError) as err:
        print(f"{question} is not a WAV file ({err})", file=sys.stderr)
        return 1
    started: list[ServiceProcess] = []
    try:
        for label, module in SERVICES:
            t0 = time.monotonic()
            print(f"starting {label} ({module}) …", flush=True)
            service = await start_service(module, *args.extra.get(module, []), echo=args.debug)
            started.append(service)
            print(f"  {label} ready on {service.uri} in {time.monotonic() - t0:.1f}s", flush=True)
        whisper, llama, tts = (s.uri for s in started)
        ask_args = ask_namespace(args, question, asr=whisper, handle=llama, tts=tts)
        print(f"asking {question} …", flush=True)
        return await ask(ask_args)
    finally:
        for service in reversed(started):
            await service.stop()


def ask_namespace(args: argparse.Namespace, question: Path, *, asr: str, handle: str, tts: str) -> argparse.Namespace:
    """``voice-orchestrator ask``'s flags with their defaults, from the orchestrator's own parser (a
    hand-built namespace missed every option added since and crashed the demo)."""
    parser = argparse.ArgumentParser()
    _common(parser)
    argv = ["--asr", asr, "--handle", handle, "--tts", tts, "--language", "en"]
    argv += ["--voice", args.voice] if args.voice else []
    argv += ["--no-intents"] if args.no_intents else []
    argv += ["--debug"] if args.debug else []
    ask_args = parser.parse_args(argv)
    ask_args.__dict__.update(command="ask", wav=question, out=args.out, realtime=args.realtime,
                             conversation="demo", json=False, data_dir=None, log_format=args.log_format)
    return ask_args


@restores_logging
def run(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m orchestrator.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wav", type=Path, help="your own question (any WAV)")
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "reply.wav")
    parser.add_argument("--voice", help="TTS voice (e.g. af_heart, en_US-joe-medium)")
    parser.add_argument("--no-intents", action="store_true", help="always ask the LLM")
    parser.add_argument("--realtime", action="store_true", help="stream the question at speaking speed")
    add_version_arg(parser)
    add_logging_args(parser)  # --debug also shows the servers' logs
    args = parser.parse_args(argv)
    args.extra = {}
    setup_logging(args.debug, log_format=args.log_format)
    sys.exit(asyncio.run(main(args)))


if __name__ == "__main__":
    run()
