"""Offline, no decoding: one request's end of turn under today's rules, over stored speculative decodes.

Replays every stream of ``--id`` in a stored decode JSON (``bench/eot_cover_probe.py --save``: the
corpus's room-like streams and kept room mics, each decode's measured time) through
``bench.eot_sure_probe.replay`` with the rule ``now`` (the server's endpointing plus the orchestrator's
command end): the text the turn ended on, the verdict's reason, and the end of turn after the clip's
last voiced sample. Session 27 (llm): held-57 ("What time does ... the store close?", far voice), heard
"What kind of this thought was?", waited the 1.5 s cap on main.

    .venv/bin/python bench/llm_eot_replay_one.py --id held-57
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.eot_sure_probe import command_judge, make_rule, replay  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--id", default="held-57")
    parser.add_argument("--decodes", type=Path, default=ROOT / "bench" / "results" / "s25_eot_cover_decodes.json")
    args = parser.parse_args()
    rule = make_rule("now", command_judge())
    for stream in json.loads(args.decodes.read_text())["streams"]:
        if stream["id"] == args.id:
            result = replay(stream, rule)
            print(stream.get("run", "corpus"), stream["preroll"], repr(result["text"]), result["reason"],
                  "eot", result["eot"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
