"""Every move of the echo path in a tapped room run: the speaker stream the satellite wrote, lined up
with what the room's sound card played, to the sample.

A kept room folder with a tap (``room_bench.py --keep DIR --tap``) holds ``tap/ref.raw`` (each tick's
speaker frame, as written) and ``played.wav`` (what the room's card played, at the same rate). Each
audible block of the written stream is found in the played one (normalised cross-correlation, exact
to the sample: the card copies samples); where the offset changes, the card played silence the
satellite never wrote (an underrun: later) or the write-ahead left idle silence out (a trim: sooner),
or the speaker was restarted. Each move is listed with what the tap's counters said between the two
blocks (trims, underruns, kills): a move no counter explains is one the satellite never saw.

    python -m bench.echo_moves DIR/echo+0dB [...]
"""

from __future__ import annotations

import argparse
import json
import wave
from pathlib import Path
from typing import Any

import numpy as np

BLOCK = 2048  # samples of the written stream per lookup
SEARCH = 4096  # samples either side of the last offset
LOST_S = 1.5  # ... else this far either side (a restart): the same reply plays again later, so never the whole file


def _load(folder: Path) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], list[list[str]], int]:
    with wave.open(str(folder / "played.wav"), "rb") as w:
        rate = w.getframerate()
        played = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float64)
    written = np.frombuffer((folder / "tap" / "ref.raw").read_bytes(), "<i2").astype(np.float64)
    meta = [line.split("\t") for line in (folder / "tap" / "meta.tsv").read_text().splitlines()]
    return written, played, meta, rate


def _find(block: np.ndarray[Any, Any], played: np.ndarray[Any, Any], lo: int, hi: int) -> tuple[int, float]:
    """(position in played, correlation) of ``block`` within played[lo:hi]."""
    lo, hi = max(0, lo), min(len(played), hi)
    seg = played[lo:hi]
    n = len(block)
    if len(seg) < n:
        return -1, 0.0
    size = 1 << (len(seg) + n).bit_length()
    xc = np.fft.irfft(np.fft.rfft(seg, size) * np.conj(np.fft.rfft(block, size)), size)[: len(seg) - n + 1]
    energy = np.concatenate([[0.0], np.cumsum(seg * seg)])
    window = energy[n:] - energy[:-n]
    corr = xc / np.sqrt(np.maximum(window[: len(xc)], 1e-9) * float(np.dot(block, block)))
    k = int(np.argmax(corr))
    return lo + k, float(corr[k])


def moves(folder: Path, start_offset: int | None = None) -> list[dict[str, Any]]:
    """The offset (played index - written index) of each audible block, and its changes."""
    written, played, meta, rate = _load(folder)
    ends = np.cumsum([int(m[1]) // 2 for m in meta])  # written samples after each tick
    offset = start_offset
    out: list[dict[str, Any]] = []
    last_tick = 0
    for pos in range(0, len(written) - BLOCK, BLOCK):
        block = written[pos : pos + BLOCK]
        if np.sqrt(np.mean(block * block)) < 32768 * 10 ** (-40 / 20):
            continue
        if offset is None:
            at, corr = _find(block, played, 0, len(played))
        else:
            at, corr = _find(block, played, pos + offset - SEARCH, pos + offset + SEARCH + BLOCK)
            if corr < 0.99:  # lost: a restart can move it far
                far = int(LOST_S * rate)
                at, corr = _find(block, played, pos + offset - far, pos + offset + far + BLOCK)
        if corr < 0.99:
            continue
        tick = int(np.searchsorted(ends, pos + BLOCK))
        if offset is not None and at - pos != offset:
            a, b = meta[last_tick], meta[min(tick, len(meta) - 1)]
            out.append(
                {
                    "tick": tick,
                    "mic_s": round((tick + 1) * 0.03, 2),
                    "moved": at - pos - offset,
                    "moved_16k": round((at - pos - offset) * 16000 / rate, 2),
                    "trimmed": int(b[6]) - int(a[6]) if len(a) > 7 else None,
                    "underruns": int(b[7]) - int(a[7]) if len(a) > 7 else None,
                    "kills": int(b[4]) - int(a[4]),
                    "dropped_frames": int(b[2]) - int(a[2]),
                }
            )
            m = out[-1]
            m["unexplained"] = None if m["kills"] or m["trimmed"] is None else m["moved"] + m["trimmed"]
        offset, last_tick = at - pos, tick
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+", type=Path)
    args = parser.parse_args()
    for folder in args.folders:
        found = moves(folder)
        unseen = [m for m in found if m["unexplained"] and not m["underruns"]]
        for m in found:
            print(json.dumps(m))
        print(f"{folder}: {len(found)} moves, {len(unseen)} with a move no trim, underrun or kill explains")


if __name__ == "__main__":
    main()
