"""A process's first replies cold and warm: a kept tap replayed with and without the echo path kept from another.

``satellite.aec_state`` keeps the echo path a satellite process learned for the next one. Offline here: the
``--learn`` tap (a room run of the same room, ``room_bench.py --keep DIR --tap``) is replayed through the
satellite's echo chain (``bench/echo_replay.py``) and what the front end would keep at its end is taken
(as ``satellite.echo_keeper`` would write it: the judge trusting the canceller, both at 20 dB or more); then
the tap is replayed from a cold start (as main) and from that state (the warm start), and each run's holds,
first holds after each user onset (detect: onset -> the frame the chain holds on) and ERLE per reply are
printed side by side.

    python -m bench.echo_warm TAP (--learn OTHER_TAP | --state-dir DIR) [--out F.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bench.echo_replay import ReplayChain, replay, room_times
from satellite.aec_state import MIN_ERLE_DB, EchoState, load
from satellite.echo import EchoConfig


def learned(tap: Path) -> EchoState | None:
    """What the front end would keep at the end of ``tap``'s replay (the last state it would have written)."""
    kept: list[EchoState] = []

    def after(i: int, tick: object, chain: ReplayChain, cleaned: bytes) -> None:
        erle = chain.guard.erle_db
        if i % 33 == 0 and chain.frontend is not None and chain.guard.converged and (erle or 0) >= MIN_ERLE_DB:
            state = chain.frontend.kept_state("replay")
            if state is not None:
                kept[:] = [state]

    replay(tap, EchoConfig(), quiet=True, after_frame=after)
    return kept[0] if kept else None


def run(tap: Path, state: EchoState | None) -> dict[str, Any]:
    erle: list[tuple[float, float, int]] = []

    def start(chain: ReplayChain) -> None:
        if state is not None and chain.frontend is not None:
            assert chain.frontend.warm_start(state)

    holds = replay(tap, EchoConfig(), quiet=True, erle=erle, start=start)
    room = room_times(tap)
    first: list[float | None] = []
    echo_holds = 0
    if room is not None:
        t0, utterances, _ = room
        for h in holds:
            t = h["read"] - t0
            echo_holds += not any(u["onset"] - 0.2 <= t <= u["offset"] + 0.5 for u in utterances)
        for u in utterances:
            after = [h["read"] - t0 - u["onset"] for h in holds if u["onset"] - 0.2 <= h["read"] - t0 <= u["offset"]]
            first.append(round(min(after), 3) if after else None)
    return {"holds": len(holds), "holds_without_user": echo_holds, "first_hold_after_onset_s": first,
            "erle_db": [round(e, 1) for _, e, n in erle if n >= 30]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tap", type=Path)
    parser.add_argument("--learn", type=Path, help="the tap whose end state is kept")
    parser.add_argument("--state-dir", type=Path, help="or the state a live run kept (satellite.aec_state)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    state = learned(args.learn) if args.learn else load(args.state_dir, "", any_key=True) if args.state_dir else None
    print(json.dumps({"learned": None if state is None else {"lag": state.lag, "bulk": round(state.bulk, 2)}}))
    result = {"cold": run(args.tap, None), "warm": run(args.tap, state) if state is not None else None}
    for name, r in result.items():
        print(name, json.dumps(r))
    if args.out is not None:
        args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
