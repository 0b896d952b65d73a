"""Flags every server shares, so each ``__main__`` stays a few lines."""

from __future__ import annotations

import argparse
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _dist_version

from wyoming.info import Attribution

from .limits import Limits
from .logs import add_logging_args
from .server import ServerConfig

PROJECT_URL = "https://github.com/hearth-voice"
# Every server's program attribution in describe (its models and voices credit their makers).
ATTRIBUTION = Attribution(name="hearth", url=PROJECT_URL)


def version() -> str:
    """The installed hearth-voice version (``0+unknown`` when run from a tree not installed)."""
    try:
        return _dist_version("hearth-voice")
    except PackageNotFoundError:
        return "0+unknown"


def add_version_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")


def add_server_args(parser: argparse.ArgumentParser, *, default_uri: str) -> None:
    """The flags every server shares, ``--version``, ``--debug`` and ``--log-format`` included."""
    add_version_arg(parser)
    group = parser.add_argument_group("server")
    group.add_argument(
        "--uri",
        default=default_uri,
        help=f"tcp://HOST:PORT, unix://PATH or stdio:// (default {default_uri}; "
        "tcp://0.0.0.0:PORT exposes the service to your whole network)",
    )
    group.add_argument("--zeroconf", action="store_true", help="advertise as _wyoming._tcp.local.")
    group.add_argument("--zeroconf-name", help="advertised name (default PROGRAM-HOSTNAME)")
    group.add_argument("--zeroconf-host", help="advertised address (default: the reachable one)")
    group.add_argument(
        "--allow", action="append", default=[], metavar="CIDR",
        help="only accept clients from these networks (repeatable; default: everyone)",
    )
    group.add_argument("--max-connections", type=int, default=64)
    group.add_argument(
        "--idle-timeout", type=float, default=None,
        help="close connections silent for this many seconds (default: never)",
    )
    add_logging_args(group)


def server_config(args: argparse.Namespace, program: str) -> ServerConfig:
    return ServerConfig(
        uri=args.uri,
        program=program,
        zeroconf=args.zeroconf,
        zeroconf_name=args.zeroconf_name,
        zeroconf_host=args.zeroconf_host,
        limits=Limits(max_connections=args.max_connections, idle_timeout=args.idle_timeout),
        allow=tuple(args.allow),
    )


def parse_checked(parser: argparse.ArgumentParser, argv: list[str] | None = None) -> argparse.Namespace:
    """``parser.parse_args`` that also checks the defaults taken from the environment or `.env`
    against the flag's ``choices`` (argparse checks only what was typed: ``TTS_PROVIDER=kokor``
    was taken as it was)."""
    args = parser.parse_args(argv)
    for action in parser._actions:
        value = getattr(args, action.dest, None)
        if action.choices is not None and value is not None and value not in action.choices:
            choices = ", ".join(map(str, action.choices))
            parser.error(f"{'/'.join(action.option_strings)} {value!r} (from the environment or .env) is not one "
                         f"of: {choices}")
    return args

