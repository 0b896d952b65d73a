"""What tells a user's voiced onset from a moved echo path, per frame ``satellite.estimate.LaterEcho`` looks at.

Every frame the judge asks :class:`satellite.estimate.LaterEcho` about (a trusted canceller, the speaker
playing) is recorded with features of the mic ``x`` and the canceller's estimate ``e`` (and what
``estimate._find`` found), on

* a tap replayed through the satellite's chain (``bench/echo_replay.replay``), each frame labelled with the
  room's reply and user (the tap's ``result.json``), optionally with an unsignalled move (``--jump``);
* the synthetic unseen-move scenes (``tests/test_satellite_echo_realign.storm``, ``--storm SEED``): the
  frames from a move on are true moves.

    python -m bench.far_later_probe TAP [--jump S MS] [--storm SEED ...] --out FILE.jsonl
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from satellite import estimate

Floats = np.ndarray[Any, np.dtype[np.float64]]
Found = estimate.Found  # (shift, explained dB, a voice); main's _find (session 25) gives the first two


def _db(a: float, b: float) -> float:
    return 10 * math.log10(max(a, 1e-9) / max(b, 1e-9))


def features(x: Floats, e: Floats, found: Found) -> dict[str, Any]:
    """The frame's features (see the module's docstring); ``found`` is what ``estimate._find`` returned."""
    m = estimate.MAX_SHIFT
    n = len(x)
    out = x - e[m:]
    row: dict[str, Any] = {
        "shift": found[0],
        "explained": round(found[1], 2),
        "voice": bool(found[2]) if len(found) > 2 else None,
        "mic_db": round(10 * math.log10(max(float(np.dot(x, x)) / n, 1e-9) / 32768**2), 1),
        "est_over_mic": round(_db(float(np.dot(e[m:], e[m:])), float(np.dot(x, x))), 2),
        "out_over_est": round(_db(float(np.dot(out, out)), float(np.dot(e[m:], e[m:]))), 2),
    }
    extra = getattr(estimate, "_probe", None)  # the branch's own verdict, when it has one
    if extra is not None:
        row.update(extra(x, e))
    # the best later shift over the whole frame (one window), its fit's gain and what it leaves of the mic
    shifts = range(estimate.MIN_SHIFT, m - estimate._TAPS + 1)
    best = min(shifts, key=lambda s: estimate._left(x, e, 0, n - 1, s))
    left = estimate._left(x, e, 0, n - 1, best)
    row["whole_shift"] = best
    row["whole_explained"] = round(_db(float(np.dot(out[: n - 1], out[: n - 1])), left), 2)
    row["mic_left"] = round(_db(float(np.dot(x[: n - 1], x[: n - 1])), left), 2)
    # the same, high-passed (twice differenced): a chance fit of low harmonics goes, a shift stays
    xh, eh = np.diff(x, 2, prepend=x[:2] * 0), np.diff(e, 2, prepend=e[:2] * 0)
    outh = xh - eh[m:]
    at = found[0] or best
    lefth = estimate._left(xh, eh, 0, n - 1, at)
    row["hi_explained"] = round(_db(float(np.dot(outh[: n - 1], outh[: n - 1])), lefth), 2)
    row["hi_mic_left"] = round(_db(float(np.dot(xh[: n - 1], xh[: n - 1])), lefth), 2)
    # the fit's weights at the found shift (a move: a fractional delay, gain ~1; a chance fit: anything)
    w = _weights(x, e, 0, n - 1, at)
    row["w_sum"], row["w_norm"] = round(float(np.sum(w)), 2), round(float(np.linalg.norm(w)), 2)
    # first difference (6 dB/octave) and the estimate's LPC whitening (both signals, the same filter)
    for name, (xf, ef) in {"d1": (np.diff(x, prepend=x[:1] * 0), np.diff(e, prepend=e[:1] * 0)),
                           "lpc": _whitened(x, e)}.items():
        outf = xf - ef[m:]
        leftf = estimate._left(xf, ef, 0, n - 1, at)
        row[name + "_explained"] = round(_db(float(np.dot(outf[: n - 1], outf[: n - 1])), leftf), 2)
        row[name + "_mic_left"] = round(_db(float(np.dot(xf[: n - 1], xf[: n - 1])), leftf), 2)
        row[name + "_over_plain"] = round(_db(estimate._left(xf, ef, 0, n - 1, 0), leftf), 2)
    # per third: shift and explained
    cuts = [round((n - 1) * k / 3) for k in range(4)]
    thirds = []
    for lo, hi in zip(cuts, cuts[1:], strict=False):
        energy, plain, later, s = estimate._later(x, e, lo, hi)
        thirds.append((s, round(_db(energy, later), 1), round(_db(plain, later), 1)))
    row["thirds"] = thirds
    return row


def _weights(x: Floats, e: Floats, lo: int, hi: int, shift: int) -> Floats:
    t = estimate._TAPS
    base = lo + estimate.MAX_SHIFT - shift
    cols = np.stack([e[base + j : base + j + hi - lo] for j in range(-t, t + 1)], axis=1)
    gram, proj = cols.T @ cols, cols.T @ x[lo:hi]
    ridge = 1e-9 * max(float(np.trace(gram)), 1e-9)
    return np.asarray(np.linalg.solve(gram + ridge * np.eye(len(gram)), proj), dtype=np.float64)


def _whitened(x: Floats, e: Floats, order: int = 10) -> tuple[Floats, Floats]:
    """x and e through the same whitening filter: the estimate's own LPC (autocorrelation method)."""
    r = np.array([float(np.dot(e[: len(e) - k], e[k:])) for k in range(order + 1)])
    r[0] = r[0] * 1.0001 + 1e-9
    a = np.linalg.solve(np.array([[r[abs(i - j)] for j in range(order)] for i in range(order)]), r[1:])
    filt = np.concatenate([[1.0], -a])
    return np.convolve(x, filt)[: len(x)], np.convolve(e, filt)[: len(e)]


class Recorder:
    """Wraps ``estimate._find``: each call's features go to :attr:`rows`."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self._orig: Callable[[Floats, Floats], Found] = estimate._find

    def __enter__(self) -> Recorder:
        def wrapped(x: Floats, e: Floats) -> Found:
            found = self._orig(x, e)
            if found[0] or float(np.dot(x, x)) > len(x) * (32768 * 10 ** (-45 / 20)) ** 2:
                self.rows.append(features(x, e, found))
            return found

        estimate._find = wrapped
        return self

    def __exit__(self, *_: object) -> None:
        estimate._find = self._orig  # type: ignore[assignment]


def moves(tap: Path, seed: int) -> list[tuple[int, float]]:
    """(mic frame, ms later) of one unsignalled move per reply from the third on, 0.5-5 s into it, 0.1-3 ms."""
    from bench.echo_replay import FRAME, RATE, room_times

    room = room_times(tap)
    assert room is not None, "the room's result.json beside the tap"
    rng = np.random.default_rng(seed)
    offset = json.loads((tap.parent / "result.json").read_text())["wav_offset_s"]
    out = []
    for r in room[2][2:]:
        if r["end"] - r["start"] < 1.5:
            continue
        at = r["start"] + rng.uniform(0.5, min(5.0, r["end"] - r["start"] - 0.5))
        if at < r["end"]:
            out.append((int((at + offset) * RATE / FRAME), round(float(rng.uniform(0.1, 3.0)), 2)))
    return out


def probe_tap(tap: Path, jump: tuple[float, float] | None, move_seed: int | None = None) -> list[dict[str, Any]]:
    import bench.echo_replay as er
    from bench.echo_replay import FRAME, RATE, ReplayChain, Tick, label, replay, room_times
    from satellite.echo import EchoConfig

    room = room_times(tap)
    out: list[dict[str, Any]] = []
    jumps = moves(tap, move_seed) if move_seed is not None else []
    at = {i: ms for i, ms in jumps}
    plain = er.ticks

    def moved(folder: Path) -> Any:
        for i, t in enumerate(plain(folder)):
            if i in at:
                t.ref = er.jumped(t.ref, at[i])
            yield t

    er.ticks = moved
    with Recorder() as rec:

        def after(i: int, t: Tick, chain: ReplayChain, cleaned: bytes) -> None:
            for r in rec.rows:
                r["mic_s"] = round((i + 1) * FRAME / RATE, 2)
                r["later"] = chain.frontend.later_echo.shift if chain.frontend is not None else 0
                since = [(i - j, ms) for j, ms in jumps if j <= i]
                if since:
                    r["frames_since_move"], r["move_ms"] = min(since)
                if room is not None:
                    r["room_t"] = round(t.read - room[0], 3)
                    r["room"] = label(t.read - room[0], room[1], room[2])
                out.append(r)
            rec.rows.clear()

        holds = replay(tap, EchoConfig(), quiet=True, jump=jump, after_frame=after)
    er.ticks = plain
    for h in holds:
        where = label(h["read"] - room[0], room[1], room[2]) if room is not None else ""
        since = [(h["frame"] - j, ms) for j, ms in jumps if j <= h["frame"]]
        print(f"HOLD {h['mic_s']:8.2f} s {where} {'move ' + str(min(since)) if since else ''}")
    nobody = [h for h in holds if room is not None and "no user" in label(h["read"] - room[0], room[1], room[2])]
    print(f"{tap}: {len(holds)} holds, {len(nobody)} with nobody")
    return out


def probe_storm(seed: int) -> list[dict[str, Any]]:
    tests = Path(__file__).resolve().parent.parent / "tests"
    sys.path.insert(0, str(tests))
    from test_satellite_echo_realign import FRAME, RATE, SPEAKER, FakeAhead, storm
    from test_satellite_echopath import Chain

    from bench.aec_bench import pcm

    written, mic, seen = storm(seed)
    chain = Chain()
    chain.speaker.ahead = FakeAhead()  # type: ignore[attr-defined]
    out: list[dict[str, Any]] = []
    moves = sorted(seen)
    with Recorder() as rec:
        for i in range(len(mic) // FRAME):
            a, b = round(i * 0.03 * SPEAKER), round((i + 1) * 0.03 * SPEAKER)
            played = np.clip(written[a:b], -32768, 32767).astype("<i2").tobytes()
            held = chain.frame(pcm(mic[i * FRAME : (i + 1) * FRAME]), played, (i + 1) * FRAME / RATE)
            since = [i - m for m in moves if m - 1 <= i]
            for r in rec.rows:
                r.update(mic_s=round((i + 1) * FRAME / RATE, 2), seed=seed, held=bool(held),
                         frames_since_move=min(since) if since else None)
                out.append(r)
            rec.rows.clear()
    return out


def capture(tap: Path, lo: float, hi: float, out: Path, move_seed: int | None = None) -> None:
    """Write what the canceller gave LaterEcho (the mic, its output) on the frames from mic second ``lo`` to
    ``hi`` (a stereo 16 kHz wav: left the mic, right the output; only frames it fed, contiguous)."""
    import wave

    from bench.echo_replay import FRAME, RATE

    fed: list[tuple[float, bytes]] = []
    plain_feed = estimate.LaterEcho.feed
    frame = [0]

    def feed(self: estimate.LaterEcho, mic: np.ndarray[Any, Any], cancelled: np.ndarray[Any, Any]) -> None:
        t = (frame[0] + 1) * FRAME / RATE
        if lo <= t + 1e-6 <= hi:
            both = np.stack([np.asarray(mic, np.int16), np.asarray(cancelled, np.int16)], axis=1)
            fed.append((t, both.astype("<i2").tobytes()))
        plain_feed(self, mic, cancelled)

    estimate.LaterEcho.feed = feed  # type: ignore[method-assign]
    import bench.echo_replay as er

    plain_check = er.ReplayChain._check_lag

    def counted(self: Any) -> None:
        frame[0] += 1
        plain_check(self)

    er.ReplayChain._check_lag = counted  # type: ignore[method-assign]
    frame[0] = -1
    try:
        probe_tap(tap, None, move_seed)
    finally:
        estimate.LaterEcho.feed = plain_feed  # type: ignore[method-assign]
        er.ReplayChain._check_lag = plain_check  # type: ignore[method-assign]
    with wave.open(str(out), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(b"".join(b for _, b in fed))
    print(f"{out}: {len(fed)} frames, mic s {[t for t, _ in fed]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tap", type=Path, nargs="?")
    parser.add_argument("--jump", type=float, nargs=2, metavar=("SECONDS", "MS"))
    parser.add_argument("--moves", type=int, metavar="SEED", help="one unsignalled move per reply from the third")
    parser.add_argument("--storm", type=int, nargs="*", default=[])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--capture", type=float, nargs=2, metavar=("FROM", "TO"),
                        help="write the frames LaterEcho was fed from mic second FROM to TO to --out (wav)")
    args = parser.parse_args()
    if args.capture is not None:
        capture(args.tap, args.capture[0], args.capture[1], args.out, args.moves)
        return
    rows: list[dict[str, Any]] = []
    if args.tap is not None:
        rows += probe_tap(args.tap, tuple(args.jump) if args.jump else None, args.moves)
    for seed in args.storm:
        rows += probe_storm(seed)
    args.out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(f"{len(rows)} frames, {sum(1 for r in rows if r['shift'])} found later -> {args.out}")


if __name__ == "__main__":
    main()
