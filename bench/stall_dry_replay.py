"""The echo chain replayed on a kept tap with the write-ahead's low underruns left out: what the trust they
suspend costs and protects.

Each underrun the live write-ahead counted (the tap's last column) makes the chain re-measure the echo delay
and suspend the canceller's trust (``SpeakerPath._follow_write_ahead``). Its log line says how far past the
card's estimated end the write came; ``bench/stall_played.py`` showed the ones logged at -2.4 .. +4.4 ms never
ran the room's card dry. Here the tap is replayed (``bench/echo_replay.py``) as recorded and again with the
underruns logged under ``--line`` ms left out (the increments of the tap's count dropped), and for each the holds
are listed: per room utterance its first hold (detect, on the satellite's mic timeline), and the holds with
nobody speaking (false ones). Only the chain's reaction is replayed: live, the lead the write-ahead raises after
an underrun (``LEAD_AFTER_DRY_MS``) also changes what is written next; that is not in the tap.

    python -m bench.stall_dry_replay DIR/barge+0dB/.. [--line 5]    (the run's folder: result.json, run.log, tap/)
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench import echo_replay
from bench.stall_split import mic_origin_s
from satellite.echo import EchoConfig

_DRY = re.compile(r"speaker ran dry \(or nearly\): (-?[\d.]+) ms past")
_USER_S = (-0.3, 1.0)  # a hold from 0.3 s before an utterance's onset to 1 s after its offset is the user's


def kept_counts(log: str, line_ms: float | None) -> dict[int, int]:
    """Underrun count as recorded -> as it would be with the ones logged under ``line_ms`` left out."""
    logged = [float(x) for x in _DRY.findall(log)]
    out, kept = {0: 0}, 0
    for n, ms in enumerate(logged, start=1):
        kept += line_ms is None or ms >= line_ms
        out[n] = kept
    return out


def run(folder: Path, line_ms: float | None) -> list[float]:
    """The replay's hold frames (mic s) with the tap's underruns mapped through :func:`kept_counts`."""
    counts = kept_counts((folder / "run.log").read_text(errors="replace"), line_ms)
    original = echo_replay.ticks

    def filtered(tap: Path) -> Iterator[echo_replay.Tick]:
        for tick in original(tap):
            yield replace(tick, underruns=counts.get(tick.underruns, tick.underruns))

    echo_replay.ticks = filtered  # type: ignore[assignment]
    try:
        holds = echo_replay.replay(folder / "tap", EchoConfig(), quiet=True)
    finally:
        echo_replay.ticks = original
    return [float(h["mic_s"]) for h in holds]


def attribute(result: dict[str, Any], holds: list[float]) -> dict[str, Any]:
    """Each utterance's first hold after its onset (detect, s) and the holds near no utterance."""
    origin = mic_origin_s(result)
    users = [(float(u["onset"]) - origin, float(u["offset"]) - origin, u["wav"]) for u in result["utterances"]]
    first = []
    for on, off, wav in users:
        mine = [h for h in holds if on + _USER_S[0] <= h <= off + _USER_S[1]]
        first.append({"wav": wav, "onset_mic_s": round(on, 3), "detect_s": round(mine[0] - on, 3) if mine else None})
    nobody = [h for h in holds if not any(on + _USER_S[0] <= h <= off + _USER_S[1] for on, off, _ in users)]
    return {"first_holds": first, "nobody": nobody, "holds": len(holds)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench stall_dry_replay", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", type=Path, nargs="+", help="kept room runs (with result.json, run.log, tap/)")
    parser.add_argument("--line", type=float, default=5.0, help="ms past the estimated end (default 5)")
    args = parser.parse_args(argv)
    for folder in args.runs:
        result = json.loads((folder / "result.json").read_text())
        base = attribute(result, run(folder, None))
        new = attribute(result, run(folder, args.line))
        left = sum(1 for ms in _DRY.findall((folder / "run.log").read_text(errors="replace")) if float(ms) < args.line)
        print(f"== {folder}: {left} underruns under {args.line} ms left out")
        print(f"  holds {base['holds']} -> {new['holds']}; nobody speaking {base['nobody']} -> {new['nobody']}")
        for a, b in zip(base["first_holds"], new["first_holds"], strict=True):
            if a["detect_s"] != b["detect_s"]:
                print(f"  {a['wav']} at mic {a['onset_mic_s']:.2f} s: first hold {a['detect_s']} -> {b['detect_s']} s")


if __name__ == "__main__":
    main()
