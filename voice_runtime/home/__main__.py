"""hearth: the home server in one command.

  hearth serve [--config hearth.toml]     start the engines and the orchestrator, keep them running
  hearth status [--config hearth.toml]    what runs, and whether each service answers `describe`
  hearth systemd [--out DIR] [--user U]   write systemd units (the home server; a satellite)
  hearth models list|fetch|verify|remove  models on demand (see voice_runtime/modelctl.py)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..cli import add_version_arg
from ..env import load_dotenv
from ..logs import restores_logging, setup_logging
from ..models import cache_dir
from .config import ConfigError, HomeConfig, load_config
from .supervisor import Supervisor
from .supervisor import answers as answers_describe
from .units import UnitOptions, home_unit, satellite_unit


def _config(args: argparse.Namespace) -> HomeConfig:
    try:
        config = load_config(args.config)
    except ConfigError as err:
        raise SystemExit(f"hearth: {err}") from err
    if getattr(args, "state_dir", None):
        config = replace(config, state_dir=Path(args.state_dir).expanduser())
    return config


async def status(config: HomeConfig) -> int:
    path = config.state_dir / "status.json"
    try:
        state: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        print(f"no supervisor status at {path} (is `hearth serve` running?)")
        return 1
    code = 0
    print(f"supervisor pid {state['pid']}, status of {time.strftime('%H:%M:%S', time.localtime(state['updated']))}")
    for name, child in state["services"].items():
        uri = state["uris"].get(name)
        answers = await answers_describe(uri) if uri and child["state"] == "running" else None
        up = f"up {time.time() - child['started']:.0f}s" if child["state"] == "running" and child["started"] else ""
        said = "" if answers is None else (" answers describe" if answers else " DOES NOT ANSWER")
        print(f"  {name:13} {child['state']:9} {up:10} restarts={child['restarts']} {uri or ''}{said}")
        if child["state"] != "running" or answers is False:
            code = 1
    return code


def systemd(args: argparse.Namespace, config: HomeConfig) -> int:
    opts = UnitOptions(user=args.user, venv=Path(sys.prefix), cache_dir=cache_dir(),
                       state_dir=config.state_dir if args.state_dir else Path("/var/lib/hearth"),
                       config=args.config.resolve() if args.config else None)
    units = {"hearth.service": home_unit(opts)}
    satellite = config.spec("satellite")
    units["hearth-satellite.service"] = satellite_unit(
        opts, ["--uri", f"tcp://0.0.0.0:{satellite.port}", "--zeroconf", *satellite.args])
    if args.out is None:
        for name, text in units.items():
            print(f"# --- {name}\n{text}")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in units.items():
        (args.out / name).write_text(text)
        print(f"wrote {args.out / name}")
    print("install: sudo cp hearth.service /etc/systemd/system/ && sudo systemctl daemon-reload && "
          "sudo systemctl enable --now hearth")
    return 0


@restores_logging
def main(argv: list[str] | None = None) -> int:
    load_dotenv()
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["models"]:
        from ..modelctl import main as models_main

        setup_logging(False)
        return models_main(argv[1:])
    parser = argparse.ArgumentParser(prog="hearth", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_version_arg(parser)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (("serve", "start and supervise the services"), ("status", "what runs"),
                       ("systemd", "write systemd units")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--config", type=Path, help="a hearth TOML file (default: built-in defaults)")
        p.add_argument("--state-dir", help="where status.json lives (default: the config's state_dir)")
        if name == "systemd":
            p.add_argument("--out", type=Path, help="write the unit files here (default: print them)")
            p.add_argument("--user", default=getpass.getuser(), help="the service user (default: you)")
        p.add_argument("--debug", action="store_true")
    args = parser.parse_args(argv)
    setup_logging(args.debug)
    config = _config(args)
    if args.command == "status":
        return asyncio.run(status(config))
    if args.command == "systemd":
        return systemd(args, config)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(Supervisor(config).run())
    return 0


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
