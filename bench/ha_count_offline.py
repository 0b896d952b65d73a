"""Home Assistant's own end of the command on what our satellite streams, offline: does HA cut a
paused request before our whisper ends the turn (``--end-of-turn-uri``, satellite/ha_gate.py)?

Per request: the mic audio (1 s of silence, the request, silence) through the satellite's own
parts in 30 ms frames: its WebRTC ``SpeechDetector`` starts the turn (its pre-roll goes first, as
``core.py`` sends it), then each frame with its VAD verdict through ``ha_gate.SilenceGate``; our
whisper's verdict is a scenario, not decoded: ``never`` (no pause reads finished: HA gets
``keep_pause_seconds`` of each) or ``finished`` (every pause reads finished ``--verdict-after``
s in: HA may get ``finished_pause_seconds``, the most it is ever given). The turn ends 1.0 s after
the speech (relaxed). What HA receives goes through HA's end of the command (satellite/ha_vad.py:
MicroVad 1.0.1 and HA 2026.2.3's segmenter at its default 0.7 s). Cut: HA ended the command before
the request's last loud frame reached it.

Also per request: of the final pause, how much HA got before the turn ended (its STT decodes in
it: ``final_slice_s``), and where HA would have ended a complete request by itself.

Requests: the HA paused set (``bench/ha_eot_offline.py``'s ``build``: 5 sentences with 2-3
pauses of a MEASURED 0.6 / 0.75 / 0.9 s, each part synthesised alone or the sentence whole with
its commas stretched, 3 voices; 60 plain requests) and, when cached, the end-of-turn corpus (50
paused). ``--gate old`` runs the gate as committed at ``--old-ref`` (git show), for a paired table.

    nice -n 10 .venv/bin/python bench/ha_count_offline.py [--gate new old] [--out /tmp/x]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ha_eot_offline import build  # noqa: E402
from satellite.ha_gate import HA_SECONDS  # noqa: E402
from satellite.ha_turn import EndOfTurnConfig  # noqa: E402
from satellite.ha_vad import HaVad  # noqa: E402
from satellite.vad import SpeechDetector, VadConfig, VadEvent  # noqa: E402

FRAME = 480  # samples: the satellite's 30 ms frames
FRAME_S = 0.03
LEAD_S = 1.0
END_S = 1.0  # our whisper (relaxed) ends the turn this long after the speech
LOUD = 328  # -40 dBFS


def old_gate_module(ref: str) -> ModuleType:
    """satellite/ha_gate.py as committed at ``ref``, loaded as a module of the satellite package."""
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{ref}:satellite/ha_gate.py"], check=True, capture_output=True, text=True
    ).stdout
    spec = importlib.util.spec_from_loader("satellite.ha_gate_old", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    exec(compile(source, f"{ref}:satellite/ha_gate.py", "exec"), module.__dict__)
    return module


@dataclass
class Outcome:
    cut: bool
    ha_end_s: float | None  # where HA ended the command, s into what it received (None: not before our end)
    last_speech_s: float  # the request's last loud frame, s into what HA received
    final_slice_s: float  # of the final pause, what HA got before our end of the turn
    min_silence_left_s: float  # the lowest HA's silence count came before the request's end


def simulate(
    pcm: bytes,
    gate_cls: Any,
    scenario: str,
    *,
    verdict_after: float,
    config: EndOfTurnConfig,
    loud: float = LOUD,
    ha_seconds: float = 0.7,
) -> Outcome:
    """One request through the satellite's detector and gate; HA's end on what it received.
    The request ends at its last 30 ms frame above ``loud`` (RMS; -40 dBFS, more in noise). ``gate_cls``
    None: satellite/ha_gate.py's ``SilenceGate``. ``ha_seconds``: HA's finished speaking detection (its count)."""
    if gate_cls is None:
        from satellite.ha_gate import SilenceGate as gate_cls
    detector = SpeechDetector(VadConfig())
    gate = gate_cls(FRAME_S, config)
    gate.holding = True  # our whisper heard the speech (it says so within the turn's first words)
    samples = np.frombuffer(pcm, "<i2")
    loud_frames = [
        i for i in range(len(samples) // FRAME) if np.sqrt(np.mean(samples[i * FRAME : (i + 1) * FRAME] ** 2.0)) > loud
    ]
    last_loud = loud_frames[-1]
    end_frame = last_loud + round(END_S / FRAME_S)
    ha = HaVad(ha_seconds)
    last_speech_at = 0.0
    final_slice = 0
    lowest = 1.0
    started = False
    quiet = 0
    for i in range(min(len(samples) // FRAME, end_frame)):
        frame = samples[i * FRAME : (i + 1) * FRAME].tobytes()
        event = detector.process(frame)
        if not started:
            if event != VadEvent.START:
                continue
            started = True
            out = [detector.take_preroll()]  # sent as it is (core.py); the gate's view of HA hears it too
            if hasattr(gate, "heard"):
                gate.heard(out[0])
        else:
            out = gate.feed(frame, detector.voiced)
            quiet = 0 if detector.voiced else quiet + 1
            if scenario == "finished" and quiet == round(verdict_after / FRAME_S):
                out += gate.finished()
        for audio in out:
            ha.feed(audio)
            if i > last_loud:
                final_slice += len(audio) // (FRAME * 2)
        if i <= last_loud:
            seg = ha.segmenter
            lowest = min(lowest, seg.silence_left if seg.in_command else seg.silence_seconds)
            if i == last_loud:
                last_speech_at = ha.windows * 0.01
    ended = ha.ended_at * 0.01 if ha.ended_at is not None else None
    cut = ended is not None and ended < last_speech_at
    return Outcome(cut, ended, round(last_speech_at, 2), round(final_slice * FRAME_S, 2), round(lowest, 2))


def run(args: argparse.Namespace) -> dict[str, Any]:
    gates: dict[str, tuple[Any, EndOfTurnConfig]] = {}
    for name in args.gate:
        if name == "new":
            from satellite.ha_gate import SilenceGate

            for seconds in args.ha_silence or [EndOfTurnConfig.ha_silence_seconds]:
                for told in args.mirror or [EndOfTurnConfig.ha_sensitivity]:
                    label = f"new {seconds:g}" if args.ha_silence else "new"
                    label += f" told {told}" if args.mirror else ""
                    gates[label] = (
                        SilenceGate,
                        EndOfTurnConfig(uri="tcp://127.0.0.1:9", ha_silence_seconds=seconds, ha_sensitivity=told),
                    )
        else:
            old = old_gate_module(args.old_ref).SilenceGate
            gates[name] = old, EndOfTurnConfig(uri="tcp://127.0.0.1:9", ha_silence_seconds=0.6)
    rows = []
    for rid, group, voice, pause, speech, tail in build(None, corpus=args.corpus):
        x = (np.clip(speech, -1, 1) * 32767).astype("<i2").tobytes()
        pcm = bytes(int(LEAD_S * 16000) * 2) + x + (tail if group == "corpus" else bytes(int(2.6 * 16000) * 2))
        noise = float(np.sqrt(np.mean(np.frombuffer(tail, "<i2").astype(np.float64) ** 2)))
        loud = max(LOUD, 2 * noise)  # a noisy corpus clip: 6 dB over its noise
        row: dict[str, Any] = {"id": rid, "group": group, "voice": voice, "pause": pause}
        for gate_name, (cls, config) in gates.items():
            for scenario in args.scenarios:
                row[f"{gate_name}/{scenario}"] = simulate(
                    pcm,
                    cls,
                    scenario,
                    verdict_after=args.verdict_after,
                    config=config,
                    loud=loud,
                    ha_seconds=HA_SECONDS[args.ha_sensitivity],
                ).__dict__
        alone = HaVad(HA_SECONDS[args.ha_sensitivity])
        alone.feed(pcm)
        row["ha_alone_ended_s"] = None if alone.ended_at is None else round(alone.ended_at * 0.01, 2)
        rows.append(row)
        print(json.dumps(row), flush=True)
    return {"rows": rows}


def table(rows: list[dict[str, Any]], keys: list[str]) -> list[str]:
    md = [
        "| group | pause (s) | n | "
        + " | ".join(f"{k}: cut / final slice p50 (s) / lowest count p50 (s)" for k in keys)
        + " |",
        "|---|---|---|" + "---|" * len(keys),
    ]
    cells = sorted({(r["group"], r["pause"]) for r in rows})
    for group, pause in cells:
        cell = [r for r in rows if r["group"] == group and r["pause"] == pause]
        parts = []
        for k in keys:
            outs = [r[k] for r in cell]
            parts.append(
                f"{sum(o['cut'] for o in outs)} / {statistics.median(o['final_slice_s'] for o in outs):.2f} / "
                f"{statistics.median(o['min_silence_left_s'] for o in outs):.2f}"
            )
        md.append(f"| {group} | {pause} | {len(cell)} | " + " | ".join(parts) + " |")
    return md


def markdown(res: dict[str, Any]) -> str:
    rows = res["rows"]
    keys = [k for k in rows[0] if "/" in k]
    cut_by = {k: sorted(r["id"] for r in rows if r[k]["cut"]) for k in keys}
    md = [
        f"# HA's own end of the command on our satellite's stream, offline ({res['started']} UTC, load "
        f"{' '.join(res['load_before'])} -> {' '.join(res['load_after'])}, code {res['commit']})",
        "",
        "`bench/ha_count_offline.py`. Cut: HA (MicroVad 1.0.1 + its segmenter, "
        f"{res.get('ha_sensitivity', 'default')}) ended the command before "
        "the request's last loud frame reached it. Final slice: of the final pause, what HA got before our end "
        "(1.0 s after the speech). Lowest count: HA's silence count left, lowest before the request's end "
        "(0.7: HA never counted any).",
        "",
        *table(rows, keys),
        "",
        "Cut requests:",
        "",
        *[f"- {k}: {len(v)}: {', '.join(v)}" for k, v in cut_by.items()],
    ]
    return "\n".join(md) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gate", nargs="+", default=["new", "old"], choices=["new", "old"])
    parser.add_argument("--old-ref", default="main", help="the commit whose satellite/ha_gate.py is `old`")
    parser.add_argument("--scenarios", nargs="+", default=["never", "finished"], choices=["never", "finished"])
    parser.add_argument("--verdict-after", type=float, default=0.3, help="s into a pause our whisper's verdict comes")
    parser.add_argument("--ha-silence", type=float, nargs="*", help="ha_silence_seconds of the new gate to try")
    parser.add_argument(
        "--ha-sensitivity",
        default="default",
        choices=list(HA_SECONDS),
        help="HA's finished speaking detection the requests meet (session 20)",
    )
    parser.add_argument(
        "--mirror",
        nargs="*",
        choices=list(HA_SECONDS),
        help="the HA setting the new gate is told (--ha-finished-speaking), each a gate",
    )
    parser.add_argument("--corpus", action="store_true", help="also the end-of-turn corpus (bench/turn_corpus.py)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "ha_count_offline")
    args = parser.parse_args()
    git = ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"]
    commit = subprocess.run(git, check=True, capture_output=True, text=True)
    res: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        "load_before": Path("/proc/loadavg").read_text().split()[:3],
        "commit": commit.stdout.strip(),
        "ha_sensitivity": args.ha_sensitivity,
    }
    res.update(run(args))
    res["load_after"] = Path("/proc/loadavg").read_text().split()[:3]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(res, indent=1) + "\n")
    args.out.with_suffix(".md").write_text(markdown(res))
    print(markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
