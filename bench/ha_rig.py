"""What the benchmarks on the real Home Assistant rig (../shared/ha2025) share: the rig, config
and output flags, the check that the rig is there, and writing the results as JSON + Markdown."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

Result = dict[str, Any]


def loadavg() -> list[str]:
    """The 1, 5 and 15 minute load averages, as /proc/loadavg writes them."""
    return Path("/proc/loadavg").read_text(encoding="ascii").split()[:3]


def stamped(before: Result, res: Result) -> Result:
    """``res`` with the run's stamps: ``started`` and ``load_before`` (from ``before``, first, unless the bench
    set its own) and ``load_after`` and ``finished`` (now, unless the bench set its own)."""
    return {**before, **res, "load_after": res.get("load_after", loadavg()),
            "finished": res.get("finished", time.strftime("%H:%M:%S", time.gmtime()))}  # fmt: skip


def rig_parser(doc: str | None, out: Path) -> argparse.ArgumentParser:
    """``--rig`` (default /tmp/ha2025), ``--keep-config`` and ``--out`` (default ``out``)."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rig", type=Path, default=Path("/tmp/ha2025"))
    parser.add_argument("--keep-config", action="store_true")
    parser.add_argument("--out", type=Path, default=out)
    return parser


def run_on_rig(
    args: argparse.Namespace,
    run: Callable[[argparse.Namespace], Coroutine[Any, Any, Result]],
    markdown: Callable[[Result], str],
    passed: Callable[[Result], bool],
) -> int:
    """Run ``run(args)`` on the rig, its result stamped (:func:`stamped`: when it started and finished, the
    load before and after); write ``--out``.json/.md and print the Markdown. Exit status: 2 no rig, 1
    ``passed`` says no, else 0."""
    if not (args.rig / "inroot.sh").exists():
        print(f"no HA rig at {args.rig}: run sudo ../shared/ha2025/setup.sh {args.rig}", file=sys.stderr)
        return 2
    before: Result = {"started": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()), "load_before": loadavg()}
    res = stamped(before, asyncio.run(run(args)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(res, indent=1) + "\n", encoding="utf-8")
    args.out.with_suffix(".md").write_text(markdown(res), encoding="utf-8")
    print(markdown(res))
    return 0 if passed(res) else 1


def report_head(title: str, script: str, res: Result, ok: bool) -> list[str]:
    """A rig report's title and its run line (script, load before -> after, when finished, PASS/FAIL)."""
    return [
        f"# {title} ({res['started']} UTC)",
        "",
        f"`{script}`; load {' '.join(res['load_before'])} -> {' '.join(res['load_after'])} (2 shared cores), "
        f"finished {res['finished']}. {'PASS' if ok else 'FAIL'}.",
        "",
    ]


def plain_report(title: str, script: str, res: Result, ok: bool) -> str:
    """:func:`report_head`, then every result as ``key: value`` lines."""
    return "\n".join([*report_head(title, script, res, ok), "```", *[f"{k}: {v}" for k, v in res.items()], "```", ""])
