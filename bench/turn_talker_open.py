"""When the talker gate first opens in turns without the wake word, replayed on kept live runs (session 21).

For each turn of a ``bench/turn_talker_live.py`` run directory that the satellite keyed to the last
wake word (a continuation, a barge-in, a follow-up: its log's "talker gate armed (the last wake
word)"), the gate (``satellite.talker_gate``, this checkout's) is replayed on the room's mic tap
(``mic.wav``) from the turn's pre-roll on, keyed to the logged level, and the time into the turn of
its first opening is printed (None: not within the turn), beside what the live log said (frames
streamed as silence, openings). The mic time of a log line comes from the nearest "audio-stop ...
at mic" line; ``mic.wav`` starts ``wav_offset_s`` before the scenario, the satellite's mic when its
reader connected. The tap is the raw mic (the satellite's gate heard it after the echo canceller:
no reply plays in a continuation right after the question, so they agree there).

    .venv/bin/python bench/turn_talker_open.py DIR[:OPEN_DB] [DIR[:OPEN_DB] ...]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
import wave
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from satellite.talker_gate import TalkerGate, TalkerGateConfig  # noqa: E402

FRAME = 480  # 30 ms at 16 kHz
_TS = re.compile(r"^ts=(\S+) ")


def _wall(line: str) -> float | None:
    m = _TS.match(line)
    return dt.datetime.fromisoformat(m.group(1)).timestamp() if m else None


def _mic_of(line: str) -> float:
    m = re.search(r"at mic ([\d.]+)s", line)
    assert m is not None
    return float(m.group(1))


def openings(run: Path, open_db: float) -> list[dict[str, Any]]:
    result = json.loads((run / "result.json").read_text())
    connected = next(d["t"] for d in result["devices"] if d["event"] == "reader connected")
    wav_of_mic = result["wav_offset_s"] + connected  # mic.wav seconds = satellite mic seconds + this
    with wave.open(str(run / "mic.wav")) as w:
        mic = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    lines = (run / "run.log").read_text(errors="replace").splitlines()
    stops = [(_wall(x), _mic_of(x)) for x in lines if "audio-stop to the controller" in x]
    rows = []
    for i, line in enumerate(lines):
        m = re.search(r"talker gate armed \(the last wake word\): talker at ([-\d.]+) dBFS", line)
        wall = _wall(line)
        if not m or wall is None or not stops:
            continue
        stop_wall, stop_mic = min(stops, key=lambda s: abs((s[0] or 0.0) - wall))
        start = wall - (stop_wall or 0.0) + stop_mic  # the turn's start, satellite mic seconds
        preroll = next((int(p.group(1)) for x in lines[i : i + 4] if (p := re.search(r"preroll_ms=(\d+)", x))), 0)
        end = next((_mic_of(x) for x in lines[i + 1 :] if "audio-stop to the controller" in x), start + 6.0)
        summary = next((x for x in lines[i + 1 :] if "talker gate: " in x), "")
        logged = re.search(r"(\d+ of \d+) frames streamed as silence, (\d+) openings", summary)
        gate = TalkerGate(TalkerGateConfig(open_db=open_db), FRAME / 16000)
        s0 = int((start + wav_of_mic) * 16000) // FRAME * FRAME
        p0 = s0 - preroll * 16
        for k in range(p0 - 100 * FRAME, p0, FRAME):
            gate.listen(mic[k : k + FRAME].tobytes())
        gate._wake_db, gate._since_wake = float(m.group(1)), 0  # keyed as the live gate was
        gate.begin(mic[p0:s0].tobytes(), wake_word=False)
        opened = 0.0 if gate.heard else None
        n = 0
        while opened is None and n * FRAME / 16000 < end - start:
            gate.process(mic[s0 + n * FRAME : s0 + (n + 1) * FRAME].tobytes())
            n += 1
            if gate.heard:
                opened = round(n * FRAME / 16000, 2)
        rows.append({"run": run.name, "mic_s": round(start, 2), "preroll_ms": preroll, "turn_s": round(end - start, 2),
                     "logged_silence": logged.group(1) if logged else None,
                     "logged_openings": int(logged.group(2)) if logged else None, "opened_s": opened})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", help="DIR or DIR:OPEN_DB (the gate's first-opening bar, default 14)")
    args = parser.parse_args()
    found: list[float] = []
    for spec in args.runs:
        path, _, db = spec.partition(":")
        for row in openings(Path(path), float(db or 14.0)):
            print(json.dumps(row))
            if row["logged_openings"] and row["opened_s"] is not None:
                found.append(row["opened_s"])
    if found:
        print(f"turns the gate opened in (live and replayed): n={len(found)}, first opening median "
              f"{float(np.median(found)):.2f} s, max {max(found):.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
