"""The satellite, with a tap on its echo chain: every mic frame and the speaker frame written at
the same tick, recorded so the chain can be replayed offline frame for frame (``bench/echo_replay.py``).

    python -m bench.sat_tap DIR [satellite flags]

Writes ``DIR/mic.raw`` (the raw mic, 16 kHz s16le), ``DIR/ref.raw`` (each tick's speaker frame,
the satellite's playback reference at the speaker's rate) and ``DIR/meta.tsv`` (one line per
tick: the monotonic time the mic read returned, the speaker frame's bytes, the speaker's dropped
frames and kills so far, the mic time in ms, and the write-ahead's idle trims (samples at the
speaker's rate) and underruns so far (:mod:`satellite.write_ahead`: 0 without one): the replay
moves the canceller's reference as live. Unbuffered: the room ends the satellite with a signal.
A development tool for the room bench (``room_bench.py --tap``), not part of the satellite.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from satellite import __main__ as satellite_main
from satellite.core import Satellite


def install(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        name: os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        for name in ("mic.raw", "ref.raw", "meta.tsv")
    }
    original = Satellite.process_frame

    def process_frame(self: Satellite, frame: bytes, played: bytes) -> None:
        speaker: Any = self.speaker
        before = getattr(speaker, "aborts", 0)
        original(self, frame, played)
        ahead = getattr(speaker, "ahead", None)  # as this frame's judge saw it: written before the frame
        os.write(files["mic.raw"], frame)
        os.write(files["ref.raw"], played)
        os.write(
            files["meta.tsv"],
            (
                f"{self.trace.read:.6f}\t{len(played)}\t{getattr(speaker, 'dropped_frames', 0)}"
                f"\t{before}\t{getattr(speaker, 'aborts', 0)}\t{self._mic_ms:.0f}"
                f"\t{getattr(ahead, 'trimmed', 0)}\t{getattr(ahead, 'underruns', 0)}\n"
            ).encode(),
        )

    Satellite.process_frame = process_frame  # type: ignore[method-assign]


def main() -> None:
    install(Path(sys.argv[1]))
    satellite_main.run(sys.argv[2:])


if __name__ == "__main__":
    main()
