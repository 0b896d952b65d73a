"""Replay a tapped room run (``room_bench.py --keep DIR --tap``) through the satellite's echo chain.

The tap (``bench/sat_tap.py``) recorded each tick's raw mic frame, the speaker frame written at
that tick, the time the mic read returned and the speaker's drops and kills. Here the same
chain the satellite runs (speex with delay compensation, the echo judge, WebRTC VAD, wired by
:class:`satellite.speaker_path.SpeakerPath`) is fed those frames in order, with the same
clock and the same kills, so a hold of the live run can be looked at frame by frame and a
change checked on the very audio that caused it. Speex, the delay meter and the judge are
deterministic; the replay follows the live satellite until their decisions differ.

    python -m bench.echo_replay DIR/echo-6dB/tap [--around SECONDS] [--frames N] [--features F]

Prints every frame where the chain would hold (a VAD start over playback, or an onset), with
what the judge knew, and a per-frame table around ``--around`` (mic seconds); ``--features``
writes every frame's row with the room's reply and user around it (JSON lines), to compare
echo frames with users' onsets over many taps. A hold within 300 ms after a kill of the live
run that the replay did not make is marked: from the kill on, the tap holds what the live
satellite played (silence), not what this code would have played.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from satellite.aec import AudioFrontend, FrontendConfig
from satellite.audio_io import MemorySink
from satellite.bargetrace import BargeTrace
from satellite.echo import EchoConfig, frame_rms, ratio_to_db
from satellite.echojudge import EchoJudge
from satellite.lag import MicLag
from satellite.playback import Playback
from satellite.speaker_path import SpeakerPath
from satellite.vad import SpeechDetector, VadConfig, VadEvent

RATE = 16000
FRAME = 480


@dataclass
class Tick:
    mic: bytes
    ref: bytes
    read: float
    dropped: int
    aborts_before: int
    aborts_after: int
    mic_ms: float
    trimmed: int | None  # the write-ahead's idle trims so far (samples at the speaker's rate); None: not recorded
    underruns: int


@dataclass
class TapAhead:
    """The live speaker's write-ahead (:class:`satellite.write_ahead.WriteAhead`) as the tap recorded
    it: the chain follows its trims and underruns (``SpeakerPath._follow_write_ahead``) as live."""

    rate: int
    trimmed: int = 0
    underruns: int = 0


def ticks(folder: Path) -> Iterator[Tick]:
    mic = (folder / "mic.raw").read_bytes()
    ref = (folder / "ref.raw").read_bytes()
    pos = 0
    for i, line in enumerate((folder / "meta.tsv").read_text().splitlines()):
        parts = line.split("\t")
        if len(parts) < 6 or (i + 1) * FRAME * 2 > len(mic):
            return
        size = int(parts[1])
        yield Tick(
            mic[i * FRAME * 2 : (i + 1) * FRAME * 2],
            ref[pos : pos + size],
            float(parts[0]),
            int(parts[2]),
            int(parts[3]),
            int(parts[4]),
            float(parts[5]),
            int(parts[6]) if len(parts) > 7 else None,  # taps before session 16 did not record them
            int(parts[7]) if len(parts) > 7 else 0,
        )
        pos += size


class ReplayChain(SpeakerPath):
    """The satellite's mic chain, wired as :class:`satellite.core.Satellite` wires it."""

    def __init__(self, echo: EchoConfig, speaker_rate: int = 22050, frontend: FrontendConfig | None = None) -> None:
        self.frontend = AudioFrontend(frontend or FrontendConfig(), speaker_rate)
        self.guard = EchoJudge(echo, FRAME / RATE, cancels_echo=True)
        self.detector = SpeechDetector(VadConfig())
        self.speaker = MemorySink(speaker_rate)
        self.speaker.dropped_frames = 0  # type: ignore[attr-defined]
        self.speaker.ahead = TapAhead(speaker_rate)  # type: ignore[attr-defined]
        self.playback = Playback(speaker_rate, 30)
        self.trace = BargeTrace()
        self.lag = MicLag(FRAME / RATE)
        self._stalled = False
        self._span_frames = 0
        self._span_adapted = False
        self._mic_ms = 0.0
        self._wire_echo_path()


def state(chain: ReplayChain) -> dict[str, Any]:
    f, g = chain.frontend, chain.guard
    assert f is not None
    erle = g.erle_db
    return {
        "trusted": g.converged,
        "suspended": g.suspended,
        "erle": None if erle is None else round(erle, 1),
        "cancelling": f.cancelling,
        "double_talk": f.double_talk,
        "echo_only": f.echo_only,
        "explained": round(f._delay.explained, 2) if f._delay is not None else None,
        "excess": round(g.residual.excess_db, 1),
        "estimate_corr": round(f.estimate_corr, 3),  # the canceller's output vs its echo estimate (the judge's)
        "hi_excess": round(g.residual_hi.excess_db, 1),
        "coupling": round(g.residual.coupling_db, 1),
        "raw_coupling": round(g.raw.coupling_db, 1),
        "bulk_ms": round(f.bulk / 16, 1),
        "lag_ms": round(chain.lag.lag * 1000),
        "span_ms": round(g.span_s * 1000),
    }


CORR_LAGS = 1760  # 110 ms of the reference behind each frame: the canceller's 10 ms and the room's early echo


def playback_correlation(chain: ReplayChain, signal: bytes) -> float:
    """How much of ``signal`` (a 16 kHz frame at the mic: the canceller's output, or the raw mic)
    the playback explains: the largest normalised cross-correlation of it with the reference as
    the canceller aligned it (delayed by the measured bulk), over ``CORR_LAGS`` lags behind it.
    Echo residue is the playback filtered by the path's error: it correlates with what is
    playing; a user's voice does not (a 480-sample frame of unrelated sound: ~0.1-0.2)."""
    f = chain.frontend
    assert f is not None
    x = np.frombuffer(signal, dtype="<i2").astype(np.float64)
    hist = np.asarray(f._history, dtype=np.float64)
    end = len(hist) - f.bulk
    n = len(x)
    if end - n - CORR_LAGS < 0 or not np.any(x):
        return 0.0
    seg = hist[end - n - CORR_LAGS : end]  # seg[k : k + n] is the reference k samples earlier than aligned
    size = 1 << (len(seg) + n).bit_length()
    xc = np.fft.irfft(np.fft.rfft(seg, size) * np.conj(np.fft.rfft(x, size)), size)[: CORR_LAGS + 1]
    energy = np.concatenate([[0.0], np.cumsum(seg * seg)])
    window = energy[n : n + CORR_LAGS + 1] - energy[: CORR_LAGS + 1]
    norm = np.sqrt(np.maximum(window, 1e-9) * float(np.dot(x, x)))
    return float(np.max(np.abs(xc) / norm))


def estimate_correlation(raw: bytes, cleaned: bytes) -> float:
    """The normalised correlation (at no lag) of the canceller's output with what it took out of
    the mic (its echo estimate, ``raw - cleaned``): a filter whose gain is off leaves a residue
    that is the estimate scaled (+: too little taken out, -: too much); a user's voice is not in
    the estimate."""
    x = np.frombuffer(raw, dtype="<i2").astype(np.float64)
    y = np.frombuffer(cleaned, dtype="<i2").astype(np.float64)
    est = x - y
    norm = math.sqrt(float(np.dot(y, y)) * float(np.dot(est, est)))
    return float(np.dot(y, est)) / norm if norm > 0 else 0.0


def jumped(ref: bytes, ms: float) -> bytes:
    """The speaker frame with the echo path moved by ``ms`` from its start, unsignalled: ``ms`` > 0
    the speaker plays that much later from here (an underrun): that much of the reference is
    skipped; < 0 sooner (a dropped frame): that much silence is put in front."""
    n = round(abs(ms) * 22.05) * 2
    return ref[n:] if ms > 0 else bytes(n) + ref


def replay(
    folder: Path,
    echo: EchoConfig,
    *,
    around: float | None = None,
    frames: int = 40,
    quiet: bool = False,
    jump: tuple[float, float] | None = None,
    features: Path | None = None,
    speaker_rate: int = 22050,
    erle: list[tuple[float, float, int]] | None = None,
    after_frame: Callable[[int, Tick, ReplayChain, bytes], None] | None = None,
    frontend: FrontendConfig | None = None,
    start: Callable[[ReplayChain], None] | None = None,
) -> list[dict[str, Any]]:
    """``jump`` (mic s, ms): the echo path moves that much there, as no stall or drop says
    (:func:`jumped`): how the chain takes a move it is not told of. ``features``: every frame's
    row (what the judge saw) is written there as JSON lines, with the room's reply and user
    around it when its result.json is beside the tap. ``after_frame(i, tick, chain, cleaned)``: called
    after each frame is judged (what the live satellite does between frames: ``bench/echo_replay_cont.py``
    opens the going-on window at the question's end). ``erle``: (mic s, dB, frames) appended at the
    end of each stretch of playback, as the satellite logs it at a reply's end. A row's ``live_kill_ms``: the live
    satellite killed the speaker that long ago (<= 300 ms) where the replay did not hold: from
    there the tap's playback is the live run's, not what this code would have played. ``frontend``: the
    front end's config (default: the satellite's default). ``start(chain)``: called before the first frame."""
    chain = ReplayChain(echo, speaker_rate, frontend)
    if start is not None:
        start(chain)
    holds: list[dict[str, Any]] = []
    last_aborts = 0
    room = room_times(folder) if features is not None else None
    out = features.open("w") if features is not None else None
    unheld_kill: int | None = None  # the frame of the live run's last kill the replay did not hold at
    held_at = -1
    recent: list[float] = []  # playback level (dBFS) of the last ~0.6 s: is a reply playing
    playing = False
    for i, t in enumerate(ticks(folder)):
        if t.aborts_before > last_aborts:
            chain._abort_speaker("stop")
        chain.speaker.dropped_frames = t.dropped  # type: ignore[attr-defined]
        if t.trimmed is not None:  # the live write-ahead's trims and underruns before this frame
            chain.speaker.ahead.trimmed = t.trimmed  # type: ignore[attr-defined]
            chain.speaker.ahead.underruns = t.underruns  # type: ignore[attr-defined]
        chain.trace.read = t.read
        chain._mic_ms = t.mic_ms
        chain._check_lag()
        ref = t.ref
        if jump is not None and i == int(jump[0] * RATE / FRAME):
            ref = jumped(ref, jump[1])
        cleaned, allow = chain._judge(t.mic, ref)
        # (as the live satellite: the VAD hears the raw mic on a frame of the echo of audio that never played)
        event = chain.detector.process(t.mic if chain.guard.phantom else cleaned, allow)
        if after_frame is not None:
            after_frame(i, t, chain, cleaned)
        recent = [*recent[-19:], ratio_to_db(frame_rms(t.ref))]
        was_playing, playing = playing, max(recent) > -50
        if erle is not None and was_playing and not playing:
            reply_erle, echo_frames = chain.guard.take_reply_erle()
            if reply_erle is not None:
                erle.append(((i + 1) * FRAME / RATE, reply_erle, echo_frames))
        mic_s = (i + 1) * FRAME / RATE
        row = {
            "frame": i,
            "read": t.read,
            "mic_s": round(mic_s, 2),
            "allow": allow,
            "voiced": chain.detector.voiced,
            "event": event.value,
            "onset": chain.guard.onset,
            "mic_db": round(ratio_to_db(frame_rms(t.mic)), 1),
            "out_db": round(ratio_to_db(frame_rms(cleaned)), 1),
            "ref_db": round(recent[-1], 1),
            **state(chain),
        }
        if features is not None and playing:
            row["out_corr"] = round(playback_correlation(chain, cleaned), 3)
            row["mic_corr"] = round(playback_correlation(chain, t.mic), 3)
            row["est_corr"] = round(estimate_correlation(t.mic, cleaned), 3)
        if unheld_kill is not None and i - unheld_kill <= round(0.3 * RATE / FRAME):
            row["live_kill_ms"] = round((i - unheld_kill) * FRAME / RATE * 1000)
        if out is not None:
            if room is not None:
                row["room"] = label(t.read - room[0], room[1], room[2])
            out.write(
                json.dumps({k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in row.items()})
                + "\n"
            )
        if playing and (event == VadEvent.START or chain.guard.onset):
            held_at = i
            holds.append(row)
            if not quiet:
                print("HOLD", json.dumps(row))
        if around is not None and abs(mic_s - around) <= frames * FRAME / RATE / 2 and not quiet:
            print(json.dumps({k: v for k, v in row.items() if not (isinstance(v, float) and math.isinf(v))}))
        if t.aborts_after > t.aborts_before:
            chain._abort_speaker("hold")
            if held_at < i - 1:
                unheld_kill = i
        last_aborts = t.aborts_after
    if out is not None:
        out.close()
    return holds


def room_times(tap: Path) -> tuple[float, list[dict[str, Any]], list[dict[str, Any]]] | None:
    """The room's clock for the tap's frames (the room's result.json beside it: both use the
    system's monotonic clock), its utterances and replies; None without one."""
    result = tap.parent / "result.json"
    if not result.exists():
        return None
    r = json.loads(result.read_text())
    return float(r["t0_monotonic"]) + float(r["wav_offset_s"]), r["utterances"], r["replies"]


def label(room_t: float, utterances: list[dict[str, Any]], replies: list[dict[str, Any]]) -> str:
    """Which reply a moment falls in, and whether the user was speaking then."""
    reply = next(
        (f"r{x['n']}+{room_t - x['start']:.2f}s" for x in replies if x["start"] <= room_t <= x["end"] + 0.3), "no reply"
    )
    user = next(
        (
            f"user {u['wav']} onset{room_t - u['onset']:+.2f}s"
            for u in utterances
            if u["onset"] - 0.2 <= room_t <= u["offset"] + 0.5
        ),
        "no user",
    )
    return f"{reply}, {user}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tap", type=Path)
    parser.add_argument("--around", type=float, help="print every frame within --frames/2 of this mic second")
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--onset-high-band", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--features", type=Path, help="write every frame's row here (JSON lines)")
    parser.add_argument(
        "--jump",
        type=float,
        nargs=2,
        metavar=("SECONDS", "MS"),
        help="move the echo path by MS (> 0: later) at mic SECONDS, unsignalled",
    )
    args = parser.parse_args()
    echo = EchoConfig(onset_high_band=args.onset_high_band)
    erle: list[tuple[float, float, int]] = []
    holds = replay(
        args.tap, echo, around=args.around, frames=args.frames, jump=args.jump, features=args.features, erle=erle
    )
    room = room_times(args.tap)
    for h in holds:
        where = label(h["read"] - room[0], room[1], room[2]) if room else ""
        killed = f" ({h['live_kill_ms']} ms after the live run's own kill)" if "live_kill_ms" in h else ""
        print(f"{h['mic_s']:8.2f} s {'START' if h['event'] == 'start' else 'onset'}: {where}{killed}")
    print(json.dumps({"erle_db": [(round(t, 2), round(e, 1), n) for t, e, n in erle if n >= 30]}))
    print(json.dumps({"holds": len(holds), "at_s": [h["mic_s"] for h in holds]}))


if __name__ == "__main__":
    main()
