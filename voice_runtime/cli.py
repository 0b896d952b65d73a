"""Flags every server shares, so each ``__main__`` stays a few lines."""

from __future__ import annotations

import argparse

from .limits import Limits
from .server import ServerConfig


def add_server_args(parser: argparse.ArgumentParser, *, default_uri: str) -> None:
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
    group.add_argument("--debug", action="store_true", help="debug logging")


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
