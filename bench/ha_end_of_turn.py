"""A real Home Assistant (2026.2.3, the rig ../shared/ha2025) drives our satellite: does
``--end-of-turn-uri`` (our whisper's end of turn from meaning, satellite/ha_turn.py) keep a paused
question whole and end a complete one sooner than HA's own silence detector?

    flock /tmp/ha2025.lock flock /tmp/hearth-rt.lock .venv/bin/python bench/ha_end_of_turn.py [--repeat 2]

Starts our wyoming_whisper (tiny.en) and wyoming_kokoro (Piper) on free ports, then for each
request and mode a fresh satellite (``--no-wake-word``; its mic a WAV: 1 s of silence, the
request, silence) and the rig's check (``--satellite … --sat-run``: HA adds it, makes a pipeline
with our engines and its own agent, and the satellite runs it when it hears the request). HA's
"finished speaking detection" stays at its default (0.7 s of silence). Modes: ``ha`` (HA's
detector alone, as without the option) and ``ours`` (``--end-of-turn-uri`` = the same whisper).

``CLOSE_PAUSES`` (session 16): two or three pauses after words that read finished, less than 1 s
of speech apart, which Home Assistant adds up; run them alone with ``--requests``.

Read off per run: the transcript HA got (its STT through the same whisper server), whether it is
whole (every word of the request's end in it), and the end of turn: the satellite's
``audio-stop`` (sent on HA's ``voice-stopped`` in ``ha`` mode, on our whisper's in ``ours``) in mic
time minus the end of the speech in the mic WAV (energy, 10 ms windows above -40 dBFS).

Also read off: HA's STT end (the ``transcript`` HA sends the satellite, on the mic's timeline:
end of speech -> transcript), the wait from ``audio-stop`` to it (HA's STT decode; slower when our
whisper is busy with the second stream?), and the whisper server's CPU seconds (user + system,
all threads, ``/proc/PID/stat``) from the satellite's ``run-pipeline`` to the end of the run: in
``ours`` mode the same server decodes the question twice (HA's STT stream and ours). The rig's own
``/api/stt`` check of the request comes before the satellite's run, outside that window.

``--tap DIR`` keeps what HA heard of each run (``bench/ha_tap.py``: a proxy between HA and the
satellite); every run's ``ha_replay_ended_s`` is HA's end of the command replayed on it (MicroVad +
HA's segmenter, ``satellite/ha_vad.py``: None when HA would not have ended it before our audio-stop).

Writes ``--out``.md / .json (default bench/results/ha_end_of_turn); ``--append`` adds the runs to
those already in ``--out``.json (several short runs, each under the locks, one report).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ha_compat import WAKE, run_check, satellite, speak  # noqa: E402
from bench.ha_eot_audio import CLOSE_PAUSES, KINDS, LEAD, REQUESTS, S17, mic_audio  # noqa: E402
from bench.ha_rig import Result, loadavg, rig_parser, run_on_rig  # noqa: E402
from bench.ha_select import set_sensitivity  # noqa: E402
from bench.ha_tap import audio_tap, replay  # noqa: E402
from satellite.ha_turn import SENSITIVITIES, EndOfTurnConfig  # noqa: E402
from voice_runtime.audio import PCM16_MONO_16K, write_wav  # noqa: E402
from voice_runtime.procs import ServiceProcess, free_port, start_service  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (all its threads) so far."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime: fields 14 and 15 of stat(5)


class CpuClock:
    """Samples a process's CPU seconds every ``interval`` s (monotonic time, seconds)."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid = pid
        self.interval = interval
        self.samples: list[tuple[float, float]] = []

    async def run(self) -> None:
        while True:
            self.samples.append((time.monotonic(), cpu_seconds(self.pid)))
            await asyncio.sleep(self.interval)

    def at(self, when: float) -> float:
        """The CPU seconds of the last sample at or before ``when`` (the first sample if none)."""
        before = [cpu for t, cpu in self.samples if t <= when]
        return before[-1] if before else self.samples[0][1]


def nearest_rank(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) by nearest rank: a value that was measured (p95 of 4 = the largest)."""
    ranked = sorted(values)
    return ranked[max(0, math.ceil(q * len(ranked)) - 1)]


async def one_run(
    args: argparse.Namespace,
    work: Path,
    engines: tuple[ServiceProcess, ServiceProcess],
    *,
    name: str,
    mode: str,
    n: int,
) -> dict[str, Any]:
    whisper, tts = engines
    cpu = CpuClock(whisper.pid)
    sampler = asyncio.create_task(cpu.run(), name="whisper cpu")
    parts, pause, words = REQUESTS[name]
    pcm, speech_end = mic_audio(
        parts,
        pause,
        measured=name in CLOSE_PAUSES or name in S17,
        aligned=name.endswith("-aligned"),
        plain=name.endswith("-plain"),
    )
    mic = work / f"{name}-{mode}-{n}.wav"
    request = work / f"{name}.wav"  # the rig's own /api/stt check: the request alone
    write_wav(str(request), pcm[int(LEAD * 16000) * 2 : int((speech_end + 0.3) * 16000) * 2], PCM16_MONO_16K)
    # session 20: time for bench/ha_select.py to set HA's select, and "Okay Nabu." 0.3 s before the request
    # (the satellite then runs with its wake word, and so with the talker gate, on by default)
    lead = bytes(int(args.lead * 16000) * 2) + (speak(WAKE) if args.wake else b"")
    cut = int((LEAD - 0.3) * 16000) * 2 if args.wake else 0
    pcm, speech_end = lead + pcm[cut:], speech_end + (len(lead) - cut) / 32000
    write_wav(str(mic), pcm, PCM16_MONO_16K)
    flags = [
        *([] if args.wake else ["--no-wake-word"]),
        *(["--end-of-turn-uri", whisper.uri, "--end-of-turn-sensitivity", args.sensitivity] if mode == "ours" else []),
        *(
            ["--ha-finished-speaking", args.ha_sensitivity]
            if mode == "ours" and args.ha_sensitivity and args.tell
            else []
        ),
    ]
    out_dir = f"/tmp/ha_eot_{int(time.time())}_{n}"
    async with (
        satellite(mic, work / "speaker.wav", *flags) as (sat, sat_port),
        audio_tap(sat_port) as (tap, port),
    ):
        check = [
            "--stt",
            f"127.0.0.1:{whisper.port}",
            "--tts",
            f"127.0.0.1:{tts.port}",
            "--satellite",
            f"127.0.0.1:{port}",
            "--sat-run",
            "--wav",
            str(request),
            "--no-pipeline",
            "--announce",
            "",
            "--out",
            out_dir,
        ]
        selected: asyncio.Task[dict[str, Any]] | None = None
        if args.ha_sensitivity:
            ha_port = free_port()
            check += ["--port", str(ha_port)]
            selected = asyncio.create_task(set_sensitivity(ha_port, args.ha_sensitivity), name="ha select")
        rc, lines = await run_check(args.rig, check)
        chosen = await selected if selected is not None else None
        await asyncio.sleep(0.5)
    if args.tap is not None:
        args.tap.mkdir(parents=True, exist_ok=True)
        tap.save(args.tap, f"{name}-{mode}-{n}")
    heard = replay(b"".join(audio for _, audio in tap.chunks))  # HA's segmenter on what HA got, offline
    end = time.monotonic()
    await asyncio.sleep(2 * cpu.interval)
    sampler.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await sampler
    load = loadavg()
    run_pipeline = sat.first(r"local run-pipeline")
    whisper_cpu = cpu.at(end) - cpu.at(run_pipeline[0] - 0.1) if run_pipeline else None
    stop = sat.first(r"audio-stop to the controller at mic")
    stop_mic = float(re.search(r"at mic ([\d.]+)s", stop[1]).group(1)) if stop else None  # type: ignore[union-attr]
    # ours ended THIS turn only if its line's mic time is the audio-stop's (a later turn's line, after HA
    # cut the first and the rig ran the rest as a second pipeline, is not: session 16 counted those)
    ours_line = sat.first(r"end of turn from .* request is complete \(mic [\d.]+s\)")
    ours_mic = float(re.search(r"\(mic ([\d.]+)s\)", ours_line[1]).group(1)) if ours_line else None  # type: ignore[union-attr]
    ours = ours_mic is not None and stop_mic is not None and abs(ours_mic - stop_mic) < 0.15
    down = sat.first("unavailable")
    transcript = sat.first("transcript=")
    # repr: "What's …", which the log line escapes as \"What's …\"
    said = re.search(r"transcript=(['\"])(.*)\1", transcript[1].replace('\\"', '"')) if transcript else None
    text = said.group(2) if said else None
    pipeline = next((x for x in lines if "satellite_pipeline" in x), "")
    stt_end = (
        round(stop_mic + transcript[0] - stop[0] - speech_end, 3)
        if transcript and stop and stop_mic is not None
        else None
    )
    held = sat.first(r"s of pauses not sent")
    asked = sat.first(r"Home Assistant transcribes .* at mic")
    live = sat.first(r"our whisper hears the speech at mic")
    set_at = chosen["set_at"] if chosen else None
    return {
        "request": name,
        "mode": mode,
        "n": n,
        "wake_word": args.wake,
        "satellite_told": "--ha-finished-speaking" in flags,
        "ha_sensitivity": chosen["state"] if chosen else None,  # HA's select as read back (None: not set)
        "ha_set_before_the_run": bool(set_at and run_pipeline and set_at < run_pipeline[0]),
        "talker_gate": sat.first("talker gate armed") is not None,
        "rig_exit": rc,
        "load": load,
        "transcript": text,
        "whole": text is not None and all(w in text.lower() for w in words),
        "ended_by": "our whisper" if ours else "home assistant",
        "end_of_turn_s": round(stop_mic - speech_end, 3) if stop_mic is not None else None,
        "speech_end_s": round(speech_end, 3),
        "audio_stop_mic_s": stop_mic,
        "stt_end_s": stt_end,  # end of speech -> HA's transcript at the satellite
        "stop_to_transcript_s": round(transcript[0] - stop[0], 3) if transcript and stop else None,
        "whisper_cpu_s": round(whisper_cpu, 2) if whisper_cpu is not None else None,
        "held_back": held[1] if held else None,
        "ha_transcribe": asked[1] if asked else None,
        "whisper_live": live[1] if live else None,
        "fallback_logged": down[1] if down else None,
        "ha_replay_ended_s": heard["ended_s"],  # HA's end of the command replayed (s into HA's stream)
        "ha_stream_s": heard["stream_s"],
        "rig_pipeline": pipeline.strip(),
        "rig_fails": [x.strip() for x in lines if re.search(r"\bFAIL ", x)],
    }


async def run(args: argparse.Namespace) -> Result:
    work = Path(tempfile.mkdtemp(prefix="hearth-ha-eot-"))
    services: list[ServiceProcess] = []
    runs: list[dict[str, Any]] = []
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    load_before = loadavg()
    try:
        services.append(await start_service("wyoming_whisper", "--model", "tiny.en"))
        services.append(await start_service("wyoming_kokoro", "--provider", "piper", "--engines", "piper"))
        for n in range(args.repeat):
            for name in args.requests:
                for mode in args.modes:
                    runs.append(await one_run(args, work, (services[0], services[1]), name=name, mode=mode, n=n))
                    print(runs[-1], flush=True)
    finally:
        for service in services:
            await service.stop()
    session = {
        "started": started,
        "sensitivity": args.sensitivity,
        "ha_sensitivity": args.ha_sensitivity or "default (not set)",
        "wake_word": args.wake,
        "finished": time.strftime("%H:%M:%S", time.gmtime()),
        "load_before": load_before,
        "load_after": loadavg(),
    }
    for r in runs:
        r["session"] = started
    earlier = json.loads(args.out.with_suffix(".json").read_text("utf-8")) if args.append else {}
    return {"sessions": [*earlier.get("sessions", []), session], "runs": [*earlier.get("runs", []), *runs]}


def _figures(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):.2f} / {nearest_rank(values, 0.95):.2f}"


def summary(runs: list[dict[str, Any]]) -> list[str]:
    """One row per request kind and mode: cuts, end of turn, HA's STT end, whisper CPU (p50 / p95)."""
    md = [
        "| kind | mode | n | cut | end of speech -> audio-stop p50 / p95 (s) | end of speech -> HA's transcript "
        "p50 / p95 (s) | audio-stop -> transcript p50 / p95 (s) | whisper CPU per request p50 / p95 (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for kind in dict.fromkeys(KINDS[r["request"]] for r in runs):
        for mode in ("ha", "ours"):
            cell = [r for r in runs if KINDS[r["request"]] == kind and r["mode"] == mode]
            if not cell:
                continue

            def col(key: str, cell: list[dict[str, Any]] = cell) -> str:
                return _figures([r[key] for r in cell if r.get(key) is not None])

            md.append(
                f"| {kind} | {mode} | {len(cell)} | {sum(not r['whole'] for r in cell)} | {col('end_of_turn_s')} | "
                f"{col('stt_end_s')} | {col('stop_to_transcript_s')} | {col('whisper_cpu_s')} |"
            )
    return md


def markdown(res: Result) -> str:
    runs = res["runs"]
    sessions = res.get("sessions") or [res]  # reports before session 15: one run, its fields at the top
    loads = "; ".join(
        f"{s['started']}-{s['finished']} load {' '.join(s['load_before'])} -> {' '.join(s['load_after'])}"
        for s in sessions
    )
    md = [
        f"# Home Assistant 2026.2.3 + our satellite: end of turn from our whisper ({sessions[0]['started']} UTC)",
        "",
        f"`bench/ha_end_of_turn.py`, the real HA rig, HA's finished speaking detection "
        f"{sessions[0].get('ha_sensitivity', 'default (not set)')} (aggressive 0.25 s, default 0.7, relaxed 1.25); "
        f"{'the wake word before the request (talker gate on); ' if sessions[0].get('wake_word') else ''}"
        f"our wyoming_whisper tiny.en for HA's STT and for `--end-of-turn-uri` (`--end-of-turn-sensitivity "
        f"{sessions[0].get('sensitivity', 'default')}`). Runs (UTC, 2 shared cores): {loads}. End of turn: the "
        "satellite's audio-stop minus the end of speech, on the mic's timeline.",
        "",
    ]
    if all("whisper_cpu_s" in r for r in runs):
        md += [*summary(runs), "", "p95 by nearest rank (of 4: the largest). Per run:", ""]
    md += [
        "| request | mode | n | whole | heard | ended by | end of turn (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in dict.fromkeys(r["request"] for r in runs):
        for mode in ("ha", "ours"):
            cell = [r for r in runs if r["request"] == name and r["mode"] == mode]
            eot = [r["end_of_turn_s"] for r in cell if r["end_of_turn_s"] is not None]
            heard = "; ".join(repr(r["transcript"]) for r in cell)
            by = ", ".join(sorted({r["ended_by"] for r in cell}))
            figure = f"{statistics.median(eot):.2f} median ({', '.join(f'{x:.2f}' for x in eot)})" if eot else "-"
            md.append(
                f"| {name} | {mode} | {len(cell)} | {sum(r['whole'] for r in cell)}/{len(cell)} | {heard} | "
                f"{by} | {figure} |"
            )
    return "\n".join(md) + "\n"


def passed(res: Result) -> bool:
    runs = res["runs"]
    ours = [r for r in runs if r["mode"] == "ours"]
    return bool(ours) and all(r["whole"] for r in ours)


if __name__ == "__main__":
    parser = rig_parser(__doc__, ROOT / "bench" / "results" / "ha_end_of_turn")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--modes", nargs="+", default=["ha", "ours"], choices=["ha", "ours"])
    parser.add_argument(
        "--sensitivity",
        default=EndOfTurnConfig().sensitivity,
        choices=SENSITIVITIES,
        help="--end-of-turn-sensitivity of the satellite in mode ours (default: the satellite's)",
    )
    parser.add_argument("--tap", type=Path, help="keep what HA heard of each run here (bench/ha_tap.py)")
    parser.add_argument("--append", action="store_true", help="add to the runs already in --out.json")
    parser.add_argument("--requests", nargs="+", default=list(REQUESTS), choices=list(REQUESTS))
    parser.add_argument(
        "--ha-sensitivity",
        choices=SENSITIVITIES,
        help="set HA's finished speaking detection for the satellite (bench/ha_select.py)",
    )
    parser.add_argument(
        "--wake",
        action="store_true",
        help='"Okay Nabu." before the request; the satellite with its wake word (the talker gate on)',
    )
    parser.add_argument(
        "--tell",
        action="store_true",
        help="mode ours: tell the satellite HA's setting too (--ha-finished-speaking; session 20)",
    )
    parser.add_argument("--lead", type=float, default=0.0, help="s of silence before it all (time to set the select)")
    sys.exit(run_on_rig(parser.parse_args(), run, markdown, passed))
