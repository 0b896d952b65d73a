"""Offline, no decoding: every text stored under bench/results judged by this checkout's end-of-turn
rules and by another checkout's (``--other``, e.g. a ``git archive`` export of main), and every
stored decode of a whole short command (``short_commands.alone_command``) with its score.

What a words change costs before any real-time run: a text whose verdict moves is listed with where it
was stored (a decode at a pause that now reads finished would be a new cut). Session 31:
9366 texts, 9 moved (whole one-word commands at a request's end), none at a pause.

    .venv/bin/python bench/eot_rejudge_stored.py --other /tmp/main-export [--logs a.log b.log]
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wyoming_whisper.endpoint import judge, words  # noqa: E402
from wyoming_whisper.short_commands import alone_command  # noqa: E402

Key = tuple[bool, bool, str]
_LOG_TEXT = re.compile(r"text=(['\"])(.*)\1\"$")


def other_judge(folder: Path) -> Callable[[str], Key]:
    """``judge`` of the checkout in ``folder`` (its own ``wyoming_whisper`` package, loaded apart)."""
    saved = {name: module for name, module in sys.modules.items() if name.startswith("wyoming_whisper")}
    for name in saved:
        del sys.modules[name]
    sys.path.insert(0, str(folder))
    try:
        module = importlib.import_module("wyoming_whisper.endpoint")
    finally:
        sys.path.remove(str(folder))
        loaded = [name for name in sys.modules if name.startswith("wyoming_whisper")]
        other = {name: sys.modules.pop(name) for name in loaded}
        sys.modules.update(saved)
    assert str(folder) in str(other["wyoming_whisper.endpoint"].__file__)

    def key(text: str) -> Key:
        verdict = module.judge(text)
        return (bool(verdict.finished), bool(verdict.weak), str(verdict.reason))

    return key


def stored(results: Path) -> tuple[dict[str, set[str]], list[tuple[str, str, float]]]:
    """Every string in the JSON under ``results`` (text -> where) and the scored decodes of whole short commands."""
    texts: dict[str, set[str]] = defaultdict(set)
    scored: list[tuple[str, str, float]] = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            text, score = node.get("text"), node.get("avg_logprob")
            if isinstance(text, str) and isinstance(score, int | float) and alone_command(words(text)):
                scored.append((where, text, float(score)))
            for name, value in node.items():
                walk(value, f"{where}/{name}")
        elif isinstance(node, list):
            for value in node:
                walk(value, where)
        elif isinstance(node, str) and 0 < len(node) < 200 and words(node):
            texts[node].add(where)

    for path in sorted(results.rglob("*.json")):
        try:
            walk(json.loads(path.read_text()), str(path.relative_to(results)))
        except (ValueError, UnicodeDecodeError):
            continue
    return texts, scored


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--other", type=Path, required=True, help="another checkout (its wyoming_whisper/)")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--logs", nargs="*", default=[], help="server logs (turn_bench --server-log, whisper.log)")
    args = parser.parse_args()
    other = other_judge(args.other)
    texts, scored = stored(args.results)
    for log in args.logs:
        for line in Path(log).read_text().splitlines():
            if (found := _LOG_TEXT.search(line.strip())) is not None:
                texts[found.group(2)].add(log)

    def mine(text: str) -> Key:
        verdict = judge(text)
        return (verdict.finished, verdict.weak, verdict.reason)

    moved = sorted(text for text in texts if mine(text) != other(text))
    print(f"{len(texts)} texts; {len(moved)} judged otherwise")
    for text in moved:
        print(f"  {text!r}: {other(text)[2]} -> {mine(text)[2]}  {sorted(texts[text])[:3]}")
    unsure = [row for row in scored if row[2] < -0.8]
    print(f"{len(scored)} scored decodes of whole short commands; {len(unsure)} under -0.8")
    for where, text, score in unsure:
        print(f"  {text!r} {score:.3f} {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
