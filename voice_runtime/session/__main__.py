"""``wyoming-session record|replay|show``: turn a live session into a regression test.

Exit status: 0 ok (replay: the answers matched), 1 replay mismatch, 2 a file or address that
cannot be used (one line on stderr)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from urllib.parse import urlparse

from ..cli import add_version_arg
from ..logs import add_logging_args, restores_logging, setup_logging
from ..signals import on_stop_signal
from ..tasks import race
from .format import Session, SessionFileError, load_session
from .record import Recorder
from .replay import CompareRules, ReplayReport, replay_as_server, replay_session
from .show import render


async def _record(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    with on_stop_signal(stop.set):
        recorder = Recorder(args.listen, args.server, Path(args.out))
        await recorder.start()
        await stop.wait()
        await recorder.stop()


@restores_logging
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
    rep.add_argument("--timeout", type=float, default=120.0,
                     help="seconds the whole replay may take; then what arrived is compared and the gap reported")
    play = sub.add_parser("play", help="play a session's server side to one client that connects (e.g. the "
                          "orchestrator to a recorded satellite) and compare what the client sends")
    play.add_argument("session")
    play.add_argument("--listen", required=True, help="tcp://HOST:PORT the client connects to")
    play.add_argument("--text", choices=["exact", "normalized", "ignore"], default="normalized")
    play.add_argument("--audio-tolerance", type=float, default=0.25)
    play.add_argument("--timeout", type=float, default=60.0,
                      help="seconds to wait for the client to connect, and for each of its answers")
    show = sub.add_parser("show", help="print a session")
    show.add_argument("session")
    add_logging_args(parser)
    args = parser.parse_args(argv)
    setup_logging(args.debug, log_format=args.log_format)
    try:
        code = _command(args)
    except (ValueError, OSError) as err:  # a file or address the user gave: one line, not a traceback
        print(f"wyoming-session: error: {_said(err)}", file=sys.stderr)
        sys.exit(2)
    if code:
        sys.exit(code)


def _said(err: BaseException) -> str:
    if isinstance(err, OSError) and not isinstance(err, SessionFileError) and err.strerror:
        return err.strerror
    return str(err)


def _command(args: argparse.Namespace) -> int:
    if args.command == "record":
        asyncio.run(_record(args))
        return 0
    if args.command == "show":
        print(render(load_session(Path(args.session))))
        return 0
    session = load_session(Path(args.session))
    if args.command == "play":
        return _play(session, args)
    if not session.client_events():
        raise SessionFileError(f"{args.session}: nothing to replay (no client events)")
    rules = CompareRules(text=args.text, audio_tolerance=args.audio_tolerance)
    try:
        report = asyncio.run(replay_session(session, args.server, rules=rules, realtime=args.realtime,
                                            timeout=args.timeout))
    except OSError as err:
        raise OSError(f"cannot reach {args.server}: {err.strerror or err}") from err
    print(report.describe())
    return 0 if report.ok else 1


def _play(session: Session, args: argparse.Namespace) -> int:
    listen = urlparse(args.listen)
    if listen.scheme != "tcp" or not listen.hostname or listen.port is None:
        raise ValueError("--listen must be tcp://HOST:PORT")
    if not session.server_events():
        raise SessionFileError(f"{args.session}: nothing to play (no server events)")
    # Keep-alives and describe answers depend on timing and versions, not on the change under test.
    rules = CompareRules(text=args.text, audio_tolerance=args.audio_tolerance,
                         ignore_types=frozenset({"ping", "pong", "info", "describe"}))

    async def play() -> ReplayReport:
        listening: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        playing = asyncio.create_task(replay_as_server(session, host=str(listen.hostname), port=int(listen.port or 0),
                                                       rules=rules, started=listening, step_timeout=args.timeout))
        await race(listening, playing)
        if listening.done():
            print(f"waiting for a client on tcp://{listen.hostname}:{listening.result()} ...", flush=True)
        return await playing

    try:
        report = asyncio.run(play())
    except TimeoutError:
        raise ValueError(f"no client connected to {args.listen} within {args.timeout:g} s, or it stopped "
                         "answering") from None
    print(report.describe())
    return 0 if report.ok else 1


if __name__ == "__main__":
    run()
