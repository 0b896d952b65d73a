"""A tapped room run with the speaker slipped unseen before chosen replies (satellite.aec_slip, offline).

Copies a tap (``bench/sat_tap.py``: mic.raw, ref.raw, meta.tsv) with ``--samples`` speaker samples taken
out of (> 0: the echo from then on comes that much *later* than the reference, as after a card that ran
dry unseen) or zeros put into (< 0: sooner) the speaker's stream in the silence before every
``--every``-th reply onset (the speaker frame over -30 dBFS after 1 s under it), 0.5 s before it. Only
silent speaker frames are touched, so the mic (what the room heard) stays right. The room's
result.json and run.log are copied beside the new tap (``KEEP/tap``) for ``bench/echo_onset.py --holds``.

    python -m bench.echo_slip_tap KEEP OUT [--samples 1] [--every 2]
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np

LOUD_DB = -30.0
QUIET_S, BEFORE_S, FRAME_S = 1.0, 0.5, 0.03


def onsets(sizes: list[int], ref: bytes) -> list[int]:
    """The tap's frames where a reply starts (the speaker frame over LOUD_DB after QUIET_S under it)."""
    quiet, out, pos = 0, [], 0
    for i, size in enumerate(sizes):
        x = np.frombuffer(ref[pos : pos + size], dtype="<i2").astype(np.float64) / 32768.0
        pos += size
        level = 20 * np.log10(max(float(np.sqrt(np.mean(x * x))) if len(x) else 0.0, 1e-9))
        if level > LOUD_DB and quiet >= round(QUIET_S / FRAME_S):
            out.append(i)
        quiet = quiet + 1 if level <= LOUD_DB else 0
    return out


def slipped(keep: Path, out: Path, samples: int, every: int) -> list[int]:
    """Writes OUT/tap (and the room's files); returns the tap frames where the speaker slipped."""
    tap = keep / "tap"
    meta = (tap / "meta.tsv").read_text().splitlines()
    ref = (tap / "ref.raw").read_bytes()
    sizes = [int(line.split("\t")[1]) for line in meta]
    starts = np.concatenate([[0], np.cumsum(sizes)])
    at = [i - round(BEFORE_S / FRAME_S) for k, i in enumerate(onsets(sizes, ref)) if k % every == every - 1]
    chunks, new_meta = [], []
    for i, line in enumerate(meta):
        chunk = ref[starts[i] : starts[i + 1]]
        if i in at:
            if chunk.strip(b"\0"):
                raise SystemExit(f"frame {i} is not silent: no slip there")
            chunk = chunk[2 * samples :] if samples > 0 else chunk + bytes(-2 * samples)
        chunks.append(chunk)
        parts = line.split("\t")
        parts[1] = str(len(chunk))
        new_meta.append("\t".join(parts))
    (out / "tap").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(tap / "mic.raw", out / "tap" / "mic.raw")
    (out / "tap" / "ref.raw").write_bytes(b"".join(chunks))
    (out / "tap" / "meta.tsv").write_text("\n".join(new_meta) + "\n")
    for name in ("result.json", "run.log"):
        if (keep / name).exists():
            shutil.copyfile(keep / name, out / name)
    return at


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("keep", type=Path, help="a kept room run (KEEP/tap, result.json, run.log)")
    parser.add_argument("out", type=Path)
    parser.add_argument("--samples", type=int, default=1, help="speaker samples (> 0: the echo later)")
    parser.add_argument("--every", type=int, default=2, help="before every N-th reply")
    args = parser.parse_args()
    at = slipped(args.keep, args.out, args.samples, args.every)
    print(f"{args.out}/tap: slipped {args.samples} speaker samples at frames {at}")


if __name__ == "__main__":
    main()
