"""Home Assistant 2026 drives our satellite: a very short request said over HA's reply WITHOUT the wake word
(a barge-in; its audio is held while a wake word may restart the turn, ``satellite.wake_restart``) -- does the
hold end it later than HA's own silence count would?

    flock /tmp/ha2025.lock flock /tmp/hearth-rt.lock .venv/bin/python bench/ha_barge_short.py \\
        [--codes ours /work/main] [--commands "Lights off." ...] [--repeat 1]

The rig (``../shared/ha2025``) runs a real Home Assistant. Started here on free ports: our ``wyoming_whisper``
(tiny.en, HA's STT) and ``wyoming_kokoro`` (Piper, HA's TTS), the rig's fake conversation agent (it answers
every transcript with a long reply), and per run a fresh satellite (defaults: wake word on) from each tree in
``--codes`` (``ours``: this one; a path: that tree, with its own .venv; the runs alternate, paired), its mic a
WAV (Piper) that says, once HA has armed it::

    "Okay Nabu." "What is the capital of France?"   ... 7.5 s (HA's reply plays) ...   COMMAND   ... silence

Read off per run, on the mic's timeline: the end of the command's speech (10 ms windows over -40 dBFS), the
satellite's ``audio-stop`` for the barge-in's run (sent on HA's ``voice-stopped``: HA's 0.7 s silence count over
the audio it got) and HA's ``transcript`` (its STT through our whisper), each minus that end; what HA's agent got.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ha_compat import Timed, run_check, satellite, speak  # noqa: E402
from bench.ha_eot_audio import loud_windows  # noqa: E402
from bench.ha_restart import FAKE, QUESTION, REPLY  # noqa: E402
from bench.ha_rig import Result, loadavg, report_head, rig_parser, run_on_rig  # noqa: E402
from bench.ha_tap import AudioTap, audio_tap, replay  # noqa: E402
from voice_runtime.audio import PCM16_MONO_16K, write_wav  # noqa: E402
from voice_runtime.procs import ServiceProcess, free_port, start_service  # noqa: E402

GAP_SECONDS = 7.5  # after the question: HA's reply starts 2-6 s after it and plays ~9 s (bench/ha_restart.py)
COMMANDS = ("Lights off.", "Stop the music.", "Turn it down.")


def words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def mic_s(line: str) -> float | None:
    found = re.search(r"at mic ([\d.]+)s", line)
    return float(found.group(1)) if found else None


def last(sat: Timed, pattern: str) -> tuple[float, str] | None:
    return next(((t, line) for t, line in reversed(sat.lines) if re.search(pattern, line)), None)


def agent_heard(report: Path) -> list[dict[str, Any]]:
    """Every event the fake agent got so far."""
    received: list[dict[str, Any]] = json.loads(report.read_text())["received"] if report.exists() else []
    return received


def hold_cost(tap: AudioTap, began: float | None) -> dict[str, Any]:
    """Where HA's segmenter ends the barge-in's run on the audio it got (``replay``: s into that run's stream),
    when HA had that much of it (s after the run began: ``began``, the satellite's ``run-pipeline`` log line,
    monotonic), and how much later that was than in real time (the pre-roll at once, then every 30 ms frame as
    heard): the hold's cost to HA's end."""
    after = tap.stops[0] if tap.stops else None
    chunks = [(t, audio) for t, audio in tap.chunks if after is not None and t > after]
    if not chunks:
        return {"ha_end_in_stream_s": None, "ha_had_it_s": None, "hold_cost_s": None}
    ended = replay(b"".join(audio for _, audio in chunks))["ended_s"]
    if ended is None:
        return {"ha_end_in_stream_s": None, "ha_had_it_s": None, "hold_cost_s": None}
    total, t0, had = 0, (began - tap.t0) if began is not None else chunks[0][0], None
    for t, audio in chunks:
        total += len(audio)
        if total >= ended * 32000:
            had = t - t0
            break
    realtime = ended - len(chunks[0][1]) / 32000  # the pre-roll came at once, the rest as heard
    return {"ha_end_in_stream_s": ended, "ha_had_it_s": None if had is None else round(had, 3),
            "hold_cost_s": None if had is None else round(max(0.0, had - realtime), 3)}


async def one_run(args: argparse.Namespace, work: Path, engines: list[ServiceProcess], handle: tuple[int, Path],
                  *, code: str, command: str, n: int) -> dict[str, Any]:
    handle_port, handle_report = handle
    lead = bytes(32000) + speak("Okay Nabu.") + bytes(9600) + speak(QUESTION) + bytes(round(GAP_SECONDS * 32000))
    said = speak(command)
    loud = loud_windows(said)
    speech_end = (len(lead) // 2 + loud[-1] + 160) / 16000
    mic = work / f"mic-{n}.wav"
    write_wav(str(mic), lead + said + bytes(10 * 32000), PCM16_MONO_16K)
    write_wav(str(work / "request.wav"), said, PCM16_MONO_16K)  # the rig's own STT check
    out_dir = f"/tmp/ha_check_hearth_barge_{int(time.time())}_{n}"
    tree = ROOT if code == "ours" else Path(code)
    before = len(await asyncio.to_thread(agent_heard, handle_report))
    try:
        async with (satellite(mic, work / f"speaker-{n}.wav", code=tree) as (sat, sat_port),
                    audio_tap(sat_port) as (tap, tap_port)):
            check = ["--stt", f"127.0.0.1:{engines[0].port}", "--tts", f"127.0.0.1:{engines[1].port}",
                     "--handle", f"127.0.0.1:{handle_port}", "--satellite", f"127.0.0.1:{tap_port}", "--sat-run",
                     "--wav", str(work / "request.wav"), "--no-pipeline", "--satellite-wait", "45",
                     # (the rig waits for the first reply's `played`, then announces: HA keeps running meanwhile)
                     "--question", "Hello there.", "--announce", "Dinner is ready.", "--out", out_dir]
            rc, _lines = await run_check(args.rig, check)
            await asyncio.sleep(1.0)
    finally:
        shutil.rmtree(args.rig / "root" / out_dir.lstrip("/"), ignore_errors=True)
    if args.logs is not None:
        args.logs.mkdir(parents=True, exist_ok=True)
        log = "\n".join(f"{t:.3f} {line}" for t, line in sat.lines) + "\n"
        await asyncio.to_thread((args.logs / f"{n}-{code.strip('/').replace('/', '_')}.log").write_text, log)
    got = await asyncio.to_thread(agent_heard, handle_report)
    transcripts = [e.get("data", {}).get("text", "") for e in got[before:]
                   if e.get("type") == "transcript"]
    stop = last(sat, r"audio-stop to the controller at mic")
    heard = last(sat, r"transcript=")
    stop_mic = mic_s(stop[1]) if stop else None
    barge = sat.first(r"barge-in after")
    held = sat.first(r"held audio|no wake word .* in a burst")
    run = last(sat, r"turn \d+ local run-pipeline")
    ha_end = hold_cost(tap, run[0] if run else None)
    ok = stop_mic is not None and stop_mic > speech_end - 1.5 and heard is not None and stop is not None
    return {
        "code": code, "command": command, "n": n, "rig_exit": rc, "load": loadavg(),
        "speech_end_mic_s": round(speech_end, 3), "audio_stop_mic_s": stop_mic,
        "end_of_turn_s": round(stop_mic - speech_end, 3) if ok and stop_mic is not None else None,
        "stt_end_s": round(stop_mic + heard[0] - stop[0] - speech_end, 3)  # type: ignore[index,operator]
        if ok else None,
        "agent_got": transcripts, "barge_in": barge[1][-120:] if barge else None,
        "held": held[1][-160:] if held else None,
        **ha_end,
        "whole": any(set(words(command)) <= set(words(t)) for t in transcripts[-1:]),
    }


async def run(args: argparse.Namespace) -> Result:
    work = Path(tempfile.mkdtemp(prefix="hearth-ha-barge-"))
    services: list[ServiceProcess] = []
    handle_port, handle_report = free_port(), work / "handle.json"
    handle = await asyncio.create_subprocess_exec(
        sys.executable, str(FAKE), "handle", "--port", str(handle_port), "--reply", REPLY,
        "--report", str(handle_report), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    runs: list[dict[str, Any]] = []
    try:
        services.append(await start_service("wyoming_whisper", "--model", "tiny.en"))
        services.append(await start_service("wyoming_kokoro", "--provider", "piper", "--engines", "piper"))
        k = 0
        for _ in range(args.repeat):
            for command in args.commands:
                for code in args.codes:
                    runs.append(await one_run(args, work, services, (handle_port, handle_report), code=code,
                                              command=command, n=k))
                    print(runs[-1], flush=True)
                    k += 1
    finally:
        for service in services:
            await service.stop()
        if handle.returncode is None:
            handle.terminate()
            await handle.wait()
        shutil.rmtree(work, ignore_errors=True)
    return {"runs": runs}


def figures(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):.2f} (n={len(values)}, {min(values):.2f}-{max(values):.2f})"


def markdown(res: Result) -> str:
    lines = report_head("HA rig: a short request over HA's reply without the wake word", "bench/ha_barge_short.py",
                        res, passed(res))
    lines += ["| code | end of speech -> audio-stop p50 (n, range) s | end of speech -> HA's transcript p50 s | "
              "the hold's cost to HA's end p50 s | whole |", "|---|---|---|---|---|"]
    for code in dict.fromkeys(r["code"] for r in res["runs"]):
        cell = [r for r in res["runs"] if r["code"] == code]
        lines.append(f"| {code} | {figures([r['end_of_turn_s'] for r in cell if r['end_of_turn_s'] is not None])} | "
                     f"{figures([r['stt_end_s'] for r in cell if r['stt_end_s'] is not None])} | "
                     f"{figures([r['hold_cost_s'] for r in cell if r.get('hold_cost_s') is not None])} | "
                     f"{sum(r['whole'] for r in cell)}/{len(cell)} |")
    lines += ["", "| code | command | audio-stop s | transcript s | HA's end in its stream s / had it s / hold's "
              "cost s | HA's agent got | held | load |", "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['code']} | {r['command']} | {r['end_of_turn_s']} | {r['stt_end_s']} | "
              f"{r.get('ha_end_in_stream_s')} / {r.get('ha_had_it_s')} / {r.get('hold_cost_s')} | "
              f"{'; '.join(repr(t) for t in r['agent_got'])} | {r['held'] or '-'} | {' '.join(r['load'])} |"
              for r in res["runs"]]
    return "\n".join(lines) + "\n"


def passed(res: Result) -> bool:
    return all(r["whole"] for r in res["runs"])


def main() -> int:
    parser = rig_parser(__doc__, ROOT / "bench" / "results" / "ha_barge_short")
    parser.add_argument("--codes", nargs="+", default=["ours"], help='"ours" (this tree) or another tree\'s path')
    parser.add_argument("--commands", nargs="+", default=list(COMMANDS))
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--logs", type=Path, help="keep each run's satellite log in this folder")
    return run_on_rig(parser.parse_args(), run, markdown, passed)


if __name__ == "__main__":
    sys.exit(main())
