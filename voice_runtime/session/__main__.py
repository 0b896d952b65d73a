"""``wyoming-session record|replay|show``: turn a live session into a regression test."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path

from ..cli import add_version_arg
from ..logs import add_logging_args, setup_logging
from .format import load_session
from .record import Recorder
from .replay import CompareRules, replay_session
from .show import render


async def _record(args: argparse.Namespace) -> None:
    recorder = Recorder(args.listen, args.server, Path(args.out))
    await recorder.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await recorder.stop()


def run(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="wyoming-session", description=__doc__)
    add_version_arg(parser)
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help="proxy between a client and a server, writing the session")
    rec.add_argument("--listen", required=True, help="tcp://HOST:PORT the client connects to")
    rec.add_argument("--server", required=True, help="tcp://HOST:PORT of the real server")
    rec.add_argument("--out", required=True, help="session file (.jsonl); later connections get -2, -3…")
    rep = sub.add_parser("replay", help="send a session's client side to a server and compare")
    rep.add_argument("session")
    rep.add_argument("--server", required=True, help="tcp://HOST:PORT or unix://PATH")
    rep.add_argument("--text", choices=["exact", "normalized", "ignore"], default="normalized")
    rep.add_argument("--audio-tolerance", type=float, default=0.25)
    rep.add_argument("--realtime", action="store_true", help="keep the recorded timing")
    show = sub.add_parser("show", help="print a session")
    show.add_argument("session")
    add_logging_args(parser)
    args = parser.parse_args(argv)
    setup_logging(args.debug, log_format=args.log_format)
    if args.command == "record":
        asyncio.run(_record(args))
    elif args.command == "replay":
        session = load_session(Path(args.session))
        rules = CompareRules(text=args.text, audio_tolerance=args.audio_tolerance)
        report = asyncio.run(replay_session(session, args.server, rules=rules, realtime=args.realtime))
        print(report.describe())
        sys.exit(0 if report.ok else 1)
    else:
        print(render(load_session(Path(args.session))))


if __name__ == "__main__":
    run()
