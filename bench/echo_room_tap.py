"""A tap (``bench/sat_tap.py``'s files) rebuilt from a room run that kept none: its mic and speaker recordings.

The room keeps what the microphone heard (``mic.wav``, 16 kHz, from the room's clock 0) and what the speaker
played (``played.wav``, 22.05 kHz, the same clock). The satellite read the mic from the block it connected
at (the room's ``mic_unread_blocks`` before it) and wrote each speaker frame ``--lead-ms`` before the speaker
played it (the write-ahead and the room's 100 ms device buffer; the live satellite's log gives the echo delay
it measured, e.g. "echo delay 109.3 ms", which is this lead + the room's ``--echo-delay-ms``). So tick ``i``'s
mic frame is ``mic.wav`` from there, and its speaker frame is what the speaker played ``--lead-ms`` later.
The kills are the live satellite's holds (``run.log``: "state speaking -> barge-in", placed on the room's
clock through the start file's time, ``OUT/go``), at the tick they fall in; no drops or write-ahead trims are
known (the delay meter measures the one lead given, where the live one moved 10-20 ms between replies).

    python -m bench.echo_room_tap /tmp/p24/lead-turns-1 /tmp/p25/cut-turns-1 [--lead-ms 69]
    python -m bench.echo_replay_cont /tmp/p25/cut-turns-1      # (its run.log and result.json are copied)

Then ``bench/echo_replay.py`` / ``bench/echo_replay_cont.py`` replay it as a tap the satellite recorded: the
chain (speex, the delay meter, the judge, the VAD) sees the run's own audio with the run's timing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import shutil
import wave
from pathlib import Path
from typing import Any

import numpy as np

MIC_RATE = 16000
FRAME = 480  # the satellite's mic frame (30 ms)
BLOCK = 160  # the room's mic block (10 ms)


def read_wav(path: Path) -> tuple[bytes, int]:
    with wave.open(str(path)) as w:
        return w.readframes(w.getnframes()), w.getframerate()


def kill_times(run: Path, result: dict[str, Any]) -> list[float]:
    """The room's times (s from its clock 0) the live satellite held a reply (killed its speaker)."""
    log, go = run / "run.log", run / "go"
    if not log.exists() or not go.exists():
        return []
    scenario_wall = go.stat().st_mtime
    times = []
    for line in log.read_text(errors="replace").splitlines():
        m = re.match(r"ts=(\S+) .*state speaking -> barge-in", line)
        if m:
            wall = dt.datetime.fromisoformat(m.group(1)).timestamp()
            times.append(wall - scenario_wall + float(result["wav_offset_s"]))
    return times


def build(run: Path, out: Path, lead_ms: float) -> int:
    """Write ``out/tap`` (mic.raw, ref.raw, meta.tsv) and copy the run's logs and result beside it; the ticks."""
    result = json.loads((run / "result.json").read_text())
    mic, mic_rate = read_wav(run / "mic.wav")
    played, rate = read_wav(run / "played.wav")
    assert mic_rate == MIC_RATE, mic_rate
    start = int(result["stats"]["mic_unread_blocks"]) * BLOCK  # the first sample the satellite read
    t0 = float(result["t0_monotonic"])
    tap = out / "tap"
    tap.mkdir(parents=True, exist_ok=True)
    n = (len(mic) // 2 - start) // FRAME
    speaker = np.frombuffer(played, "<i2")
    kills = sorted(kill_times(run, result))
    aborts = 0
    meta, refs = [], []
    for i in range(n):
        before = aborts
        while kills and kills[0] <= (start + (i + 1) * FRAME) / MIC_RATE:
            kills.pop(0)
            aborts += 1
        begin = (start + i * FRAME) / MIC_RATE + lead_ms / 1000  # the speaker plays this frame's writes then
        a, b = round(begin * rate), round((begin + FRAME / MIC_RATE) * rate)
        ref = speaker[a:b].tobytes() if b <= len(speaker) else bytes(2 * (b - a))
        refs.append(ref)
        read = t0 + (start + (i + 1) * FRAME) / MIC_RATE  # the mic read returned at the frame's end
        meta.append(f"{read:.6f}\t{len(ref)}\t0\t{before}\t{aborts}\t{(i + 1) * FRAME * 1000 / MIC_RATE:.0f}\t0\t0\n")
    (tap / "mic.raw").write_bytes(mic[start * 2 : (start + n * FRAME) * 2])
    (tap / "ref.raw").write_bytes(b"".join(refs))
    (tap / "meta.tsv").write_text("".join(meta))
    for name in ("result.json", "run.log"):
        shutil.copyfile(run / name, out / name)
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="a room run's folder (result.json, mic.wav, played.wav, run.log)")
    parser.add_argument("out", type=Path, help="where to write OUT/tap, OUT/run.log and OUT/result.json")
    parser.add_argument("--lead-ms", type=float, default=69.0,
                        help="the speaker played a frame this long after the satellite wrote it")
    args = parser.parse_args()
    n = build(args.run, args.out, args.lead_ms)
    print(f"{args.out}/tap: {n} ticks ({n * FRAME / MIC_RATE:.1f} s)")


if __name__ == "__main__":
    main()
