"""Replay a tapped room run through the satellite's echo chain with the going-on window as live.

``bench/echo_replay.py`` replays the tap (``room_cont_bench.py --tap`` / ``room_bench.py --tap``) frame
by frame but knows nothing of the turns: the going-on window (:mod:`satellite.going_on`) the live
satellite opens at each question's end (its ``audio-stop``) never opens, so the short words over a
reply's first second that the window hears are not heard offline. Here the window is opened where
the live satellite's log (``KEEP/run.log``: "audio-stop to the controller at mic X s") says the
question ended, at the level of the cleaned frames of the last 3 s (as ``held._question_ended`` takes
it from the streamed question), and closed where a turn started ("turn N local run-pipeline"), mapped
to mic time through the audio-stop lines (each has both clocks).

Per trailing word of a ``room_cont`` run (the room's ``cont-NN-tail.wav``): the first hold the chain
makes over it (a VAD start or an onset while a reply plays, from 0.1 s before its onset to 0.3 s after
its end), the frames let through, and whether its voiced frames reach a continuation's minimum (6)
before ``continuation_lapse`` (7; 5 until session 28) quiet frames in a row from that hold (an offline proxy for
"confirmed": the replay's own holds do not kill the speaker, the live run's kills are replayed).
Holds where nobody speaks (the room's utterances +-0.5 s): every tap. Any utterance first held while the going-on
window is open (``conts``: a room_turns request's last word over the reply, held-55's "please"): the same proxy.
At each question's end the controller ended, the VAD is restarted as live (``_ended_by_controller``; before session
31 the replay's VAD stayed in the question's speech and never held over such a word).

    python -m bench.echo_replay_cont KEEP [KEEP ...] [--json OUT] [--catch-up]

``--catch-up``: the front end with ``FrontendConfig.aec_catch_up`` on (speex fed the mic it waited on after a
dry speaker, :mod:`satellite.aec_catchup`); the room times it caught up at are listed (``caught_up``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

from bench.echo_replay import FRAME, RATE, ReplayChain, Tick, label, replay, room_times
from satellite.aec import FrontendConfig
from satellite.config import SatelliteConfig
from satellite.echo import EchoConfig, frame_rms, ratio_to_db
from satellite.going_on import voice_level

LEVEL_SECONDS = 3.0  # as satellite.held._LEVEL_SECONDS
_SAT = SatelliteConfig()  # the satellite's defaults, 30 ms frames
WINDOW_S, HEARD_S = _SAT.continuation_hold_seconds, _SAT.continuation_max_heard_seconds
CONFIRM_FRAMES = round(_SAT.continuation_min_seconds * RATE / FRAME)  # 6
LAPSE_FRAMES = round(_SAT.continuation_lapse_seconds * RATE / FRAME)  # 7 (5 until session 28's 0.21 s lapse)


def log_marks(run_log: str) -> tuple[list[tuple[float, float]], list[float]]:
    """(wall time, mic s) of each question's end (audio-stop), and the wall time of each turn's start."""
    ends, starts = [], []
    for line in run_log.splitlines():
        m = re.match(r'ts=(\S+) .*?msg="(.*)"$', line)
        if m is None:
            continue
        wall = dt.datetime.fromisoformat(m.group(1)).timestamp()
        if a := re.match(r"audio-stop to the controller at mic ([\d.]+)s", m.group(2)):
            ends.append((wall, float(a.group(1))))
        elif re.match(r"turn \d+ local run-pipeline", m.group(2)):
            starts.append(wall)
    return ends, starts


class Window:
    """Opens the chain's going-on window after the frame whose mic time is a question's end, and
    closes it after the frame a turn started on (as ``Satellite._do`` / ``_start_turn``)."""

    def __init__(self, run_log: str, *, enabled: bool = True) -> None:
        self.ends, self.starts = log_marks(run_log)
        self.enabled = enabled
        self._end_ms = {round(mic * 1000) for _, mic in self.ends}
        self._offset: float | None = None  # wall - monotonic, from the first audio-stop seen
        self._recent: list[bytes] = []
        self._keep = round(LEVEL_SECONDS * RATE / FRAME)
        self.opened = 0

    def __call__(self, i: int, t: Tick, chain: ReplayChain, cleaned: bytes) -> None:
        self._recent = [*self._recent[-(self._keep - 1):], cleaned]
        mic_ms = round(t.mic_ms)
        if self._offset is None:
            wall = next((w for w, mic in self.ends if round(mic * 1000) == mic_ms), None)
            if wall is not None:
                self._offset = wall - t.read
        if self._offset is not None and self.starts and self.starts[0] - self._offset <= t.read:
            self.starts.pop(0)
            chain.guard.going_on.stop()
        if mic_ms in self._end_ms and self.enabled:
            if chain.detector.in_speech:  # the controller ended the question: speech from now on is new
                chain.detector.restart()  # (as live: satellite.outside._ended_by_controller)
            level = voice_level(b"".join(self._recent), 2 * FRAME)
            chain.guard.going_on.expect(level, WINDOW_S, HEARD_S)
            self.opened += 1


def state_char(chain: ReplayChain) -> str:
    """The canceller as the judge saw it this frame: T trusted, E early, S suspended, W waiting for the delay,
    K killed (the echo's span after a kill), u unproven; lower case: the frame was not let through."""
    g, f = chain.guard, chain.frontend
    assert f is not None
    c = ("K" if g.killed.active else "T") if g.converged else "E" if g.early else "S" if g.suspended else (
        "u" if f.cancelling else "W")
    return c.upper() if chain._user_on else c.lower()


def confirmed(rows: list[dict[str, Any]]) -> bool:
    """From the first row on: voiced frames reach CONFIRM_FRAMES before LAPSE_FRAMES quiet ones in a row."""
    voiced = quiet = 0
    for r in rows:
        if r["voiced"]:
            voiced, quiet = voiced + 1, 0
            if voiced >= CONFIRM_FRAMES:
                return True
        else:
            quiet += 1
            if quiet >= LAPSE_FRAMES and voiced:
                return False
    return False


def analyse(keep: Path, *, window: bool = True, catch_up: bool = False) -> dict[str, Any]:
    tap = keep / "tap"
    room = room_times(tap)
    assert room is not None, "the room's result.json beside the tap"
    t0, utterances, replies = room
    opener = Window((keep / "run.log").read_text(errors="replace"), enabled=window)
    rows: list[dict[str, Any]] = []
    caught: list[float] = []

    def after(i: int, t: Tick, chain: ReplayChain, cleaned: bytes) -> None:
        opener(i, t, chain, cleaned)
        g, f = chain.guard, chain.frontend
        assert f is not None
        if f._catch_up.fed > len(caught):
            caught.append(round(t.read - t0, 3))
        rows.append({"room_t": t.read - t0, "allow": chain._user_on, "voiced": chain.detector.voiced,
                     "going_on": g.going_on.active, "state": state_char(chain),
                     "mic_db": round(ratio_to_db(frame_rms(t.mic)), 1), "excess": round(g.residual.excess_db, 1)})

    erle: list[tuple[float, float, int]] = []  # (mic s, dB, frames) per reply, as the satellite logs it
    holds = replay(tap, EchoConfig(), quiet=True, after_frame=after, erle=erle,
                   frontend=FrontendConfig(aec_catch_up=catch_up))
    hold_t = [h["read"] - t0 for h in holds]
    tails = []
    for u in utterances:
        if not str(u["wav"]).endswith("-tail.wav"):
            continue
        lo, hi = u["onset"] - 0.1, u["offset"] + 0.3
        span = [r for r in rows if lo <= r["room_t"] <= hi]
        first = next((h for h in hold_t if lo <= h <= hi), None)
        after_hold = [r for r in span if first is not None and r["room_t"] >= first - FRAME / RATE]
        tails.append({"wav": u["wav"], "onset": u["onset"],
                      "held_s": None if first is None else round(first - u["onset"], 3),
                      "let": sum(r["allow"] for r in span), "voiced": sum(r["voiced"] for r in span),
                      "window": any(r["going_on"] for r in span), "states": "".join(r["state"] for r in span),
                      "mic_db": max((r["mic_db"] for r in span), default=None),
                      "confirmed": first is not None and confirmed(after_hold)})
    conts = []  # any utterance first held while the going-on window was open: does it reach a continuation?
    for u in utterances:
        lo, hi = u["onset"] - 0.1, u["offset"] + 0.3
        first = next((h for h in hold_t if lo <= h <= hi), None)
        at = [r for r in rows if first is not None and r["room_t"] >= first - FRAME / RATE and r["room_t"] <= hi]
        if at and at[0]["going_on"]:
            conts.append({"wav": u["wav"], "onset": u["onset"], "held_s": round(first - u["onset"], 3),
                          "voiced": sum(r["voiced"] for r in at), "confirmed": confirmed(at)})
    nobody = [round(h, 2) for h in hold_t if "no user" in label(h, utterances, replies)]
    return {"tap": str(keep), "window": window, "catch_up": catch_up, "caught_up": caught,
            "opened": opener.opened, "erle_db": [round(db, 1) for _, db, _ in erle], "holds": len(holds),
            "hold_t": [round(h, 3) for h in hold_t],
            "holds_nobody": nobody, "tails": tails, "conts": conts,
            "tails_held": sum(x["held_s"] is not None for x in tails),
            "tails_confirmed": sum(x["confirmed"] for x in tails)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("keep", type=Path, nargs="+", help="room run folders (each with tap/, run.log, result.json)")
    parser.add_argument("--no-window", action="store_true", help="never open the going-on window (as before s23)")
    parser.add_argument("--json", type=Path, help="write every result here")
    parser.add_argument("--catch-up", action="store_true", help="FrontendConfig.aec_catch_up on")
    args = parser.parse_args()
    out = []
    for keep in args.keep:
        r = analyse(keep, window=not args.no_window, catch_up=args.catch_up)
        out.append(r)
        print(f"{keep}: window opened {r['opened']}x, holds {r['holds']}, with nobody speaking "
              f"{len(r['holds_nobody'])} {r['holds_nobody']}; caught up {len(r['caught_up'])}x {r['caught_up']}")
        if r["erle_db"]:
            e = sorted(r["erle_db"])
            print(f"  ERLE per reply (n={len(e)}): min {e[0]}, p10 {e[len(e) // 10]}, median {e[len(e) // 2]} dB")
        if r["tails"]:
            print(f"  tails held {r['tails_held']}/{len(r['tails'])}, reach a continuation "
                  f"{r['tails_confirmed']}/{len(r['tails'])}")
        for x in r["tails"]:
            print(f"  {x['wav']:16} held {x['held_s']} let {x['let']} voiced {x['voiced']} "
                  f"{'confirmed' if x['confirmed'] else '         '} window={int(x['window'])} mic<={x['mic_db']} "
                  f"{x['states']}")
    if args.json is not None:
        args.json.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
