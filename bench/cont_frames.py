"""Frame by frame, what the satellite's echo chain decided over a word of a room run (a tap, live or rebuilt).

``bench/echo_replay_cont.py`` says whether each trailing word of a room_cont run was held; this prints, for
every frame in the given spans of the room's clock, the chain's state as that replay has it (the going-on
window opened as live), with the gates' inputs: the mic and the canceller's output (dBFS), the playback,
whether the frame was let through and voiced, the delay meter's double talk / echo alone / explained, the
residual gates' excess, the judge's ERLE and onset, what :class:`satellite.estimate.LaterEcho` found (shift,
explained dB, a voice), and the going-on window's verdict with its levels; a suspension of the judge is
printed with the caller that asked for it.

    python -m bench.cont_frames KEEP FROM:TO [FROM:TO ...]

(KEEP: a room run's folder with tap/, run.log and result.json, e.g. ``bench/echo_room_tap.py``'s output.)
"""

from __future__ import annotations

import argparse
import traceback
from pathlib import Path

from bench.echo_replay import FRAME, RATE, ReplayChain, Tick, replay, room_times
from bench.echo_replay_cont import Window, state_char
from satellite import echojudge, going_on
from satellite.echo import EchoConfig, frame_rms, ratio_to_db


def _db(rms: float) -> str:
    return f"{ratio_to_db(max(rms, 1e-9)):6.1f}"


def trace(keep: Path, spans: list[tuple[float, float]]) -> list[str]:
    """The lines for every frame within ``spans`` (seconds on the room's clock)."""
    room = room_times(keep / "tap")
    assert room is not None, "the room's result.json beside the tap"
    t0 = room[0]
    now = [-1.0]
    notes: list[str] = []
    lines: list[str] = []

    def inside() -> bool:
        return any(a <= now[0] <= b for a, b in spans)

    plain_suspend = echojudge.EchoJudge.suspend
    plain_verdict = going_on.GoingOn.verdict

    def suspend(self: echojudge.EchoJudge, *, stalled: bool = True) -> None:
        if inside():
            callers = traceback.extract_stack()[-4:-1]
            notes.append("suspended by " + " <- ".join(f"{f.name}:{f.lineno}" for f in callers))
        plain_suspend(self, stalled=stalled)

    def verdict(self: going_on.GoingOn, mic: float, raw_user: bool, echo_only: bool, echo: float) -> bool:
        out = plain_verdict(self, mic, raw_user, echo_only, echo)
        if inside() and self.active:
            notes.append(f"going-on: floor {_db(self._floor)} voice {_db(self._voice)} echo {_db(echo)} "
                         f"raw gate {int(raw_user)} echo alone {int(echo_only)} -> {int(out)}")
        return out

    opener = Window((keep / "run.log").read_text(errors="replace"))

    def after(i: int, t: Tick, chain: ReplayChain, cleaned: bytes) -> None:
        opener(i, t, chain, cleaned)
        room_t = t.read - t0
        now[0] = room_t + FRAME / RATE  # the next frame's (the hooks run inside it)
        g, f = chain.guard, chain.frontend
        assert f is not None
        if any(a <= room_t <= b for a, b in spans):
            lines.append(
                f"{room_t:8.3f} {state_char(chain)} mic {_db(frame_rms(t.mic))} out {_db(frame_rms(cleaned))} "
                f"ref {_db(frame_rms(t.ref))} let {int(chain._user_on)} voiced {int(chain.detector.voiced)} "
                f"dt {int(f.double_talk)} alone {int(f.echo_only)} explained {f.explained:.2f} "
                f"excess {g.residual.excess_db:5.1f} hi {g.residual_hi.excess_db:5.1f} erle {g._erle_now:5.1f} "
                f"onset {int(g.onset)} later {f.later_echo._found}"
            )
            lines.extend("         " + n for n in notes)
        notes.clear()

    echojudge.EchoJudge.suspend = suspend  # type: ignore[method-assign]
    going_on.GoingOn.verdict = verdict  # type: ignore[method-assign]
    try:
        replay(keep / "tap", EchoConfig(), quiet=True, after_frame=after)
    finally:
        echojudge.EchoJudge.suspend = plain_suspend  # type: ignore[method-assign]
        going_on.GoingOn.verdict = plain_verdict  # type: ignore[method-assign]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("keep", type=Path, help="a room run's folder (tap/, run.log, result.json)")
    parser.add_argument("spans", nargs="+", help="FROM:TO seconds on the room's clock")
    args = parser.parse_args()
    spans = [(float(a), float(b)) for a, b in (s.split(":") for s in args.spans)]
    print("\n".join(trace(args.keep, spans)))


if __name__ == "__main__":
    main()
