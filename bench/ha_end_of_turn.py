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

Read off per run: the transcript HA got (its STT through the same whisper server), whether it is
whole (every word of the request's end in it), and the end of turn: the satellite's
``audio-stop`` (sent on HA's ``voice-stopped`` in ``ha`` mode, on our whisper's in ``ours``) in mic
time minus the end of the speech in the mic WAV (energy, 10 ms windows above -40 dBFS).

Writes ``--out``.md / .json (default bench/results/ha_end_of_turn).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ha_compat import run_check, satellite, speak  # noqa: E402
from bench.ha_rig import Result, rig_parser, run_on_rig  # noqa: E402
from voice_runtime.audio import PCM16_MONO_16K, write_wav  # noqa: E402
from voice_runtime.procs import ServiceProcess, start_service  # noqa: E402

REQUESTS = {  # name: (parts spoken with a pause between, the pause (s), words the transcript must have)
    # the pauses (0.9 s, its longest): after a word that cannot end a request ...
    "timer-0.9": (("Set a timer for", "fifteen minutes."), 0.9, ("minutes",)),
    "capital-0.9": (("What is the capital of", "Australia?"), 0.9, ("australia",)),
    "lights-0.9": (("Turn on the", "kitchen lights."), 0.9, ("kitchen",)),
    # ... and after words that can
    "moon-0.9": (("How far away", "is the moon from the earth?"), 0.9, ("moon",)),
    "egg-0.9": (("How long does it take", "to boil an egg?"), 0.9, ("egg",)),
    "living-0.9": (("Turn off the lights", "in the living room."), 0.9, ("living",)),
    # pauses Home Assistant's default detector cuts (it ends ~1.3 s after the speech)
    "timer-1.5": (("Set a timer for", "fifteen minutes."), 1.5, ("minutes",)),
    "capital-1.5": (("What is the capital of", "Australia?"), 1.5, ("australia",)),
    # complete requests
    "time": (("What time is it?",), 0.0, ("time",)),
    "off": (("Turn off the kitchen lights.",), 0.0, ("kitchen",)),
}
LEAD = 1.0  # s of silence before the request in the mic WAV


def mic_audio(parts: tuple[str, ...], pause: float) -> tuple[bytes, float]:
    """The mic WAV's audio and the end of its speech (s)."""
    gap = bytes(int(max(0.0, pause - 0.6) * 16000) * 2)  # speak() pads 0.3 s each side
    speech = gap.join(speak(p) for p in parts)
    pcm = bytes(int(LEAD * 16000) * 2) + speech + bytes(8 * 16000 * 2)
    samples = np.frombuffer(pcm, "<i2").astype(np.float64)
    loud = [i for i in range(0, len(samples) - 160, 160) if np.sqrt(np.mean(samples[i : i + 160] ** 2)) > 328]
    return pcm, (loud[-1] + 160) / 16000


def loadavg() -> list[str]:
    with open("/proc/loadavg", encoding="ascii") as f:
        return f.read().split()[:3]


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
    parts, pause, words = REQUESTS[name]
    pcm, speech_end = mic_audio(parts, pause)
    mic = work / f"{name}-{mode}-{n}.wav"
    write_wav(str(mic), pcm, PCM16_MONO_16K)
    request = work / f"{name}.wav"  # the rig's own /api/stt check: the request alone
    write_wav(str(request), pcm[int(LEAD * 16000) * 2 : int((speech_end + 0.3) * 16000) * 2], PCM16_MONO_16K)
    flags = [
        "--no-wake-word",
        *(["--end-of-turn-uri", whisper.uri, "--end-of-turn-sensitivity", args.sensitivity] if mode == "ours" else []),
    ]
    out_dir = f"/tmp/ha_eot_{int(time.time())}_{n}"
    async with satellite(mic, work / "speaker.wav", *flags) as (sat, port):
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
        rc, lines = await run_check(args.rig, check)
        await asyncio.sleep(0.5)
    load = loadavg()
    stop = sat.first(r"audio-stop to the controller at mic")
    stop_mic = float(re.search(r"at mic ([\d.]+)s", stop[1]).group(1)) if stop else None  # type: ignore[union-attr]
    ours = sat.first("end of turn from .* request is complete")
    down = sat.first("unavailable")
    transcript = sat.first("transcript=")
    text = re.search(r"transcript='(.*)'", transcript[1]).group(1) if transcript else None  # type: ignore[union-attr]
    pipeline = next((x for x in lines if "satellite_pipeline" in x), "")
    held = sat.first(r"s of pauses not sent")
    asked = sat.first(r"Home Assistant transcribes .* at mic")
    live = sat.first(r"our whisper hears the speech at mic")
    return {
        "request": name,
        "mode": mode,
        "n": n,
        "rig_exit": rc,
        "load": load,
        "transcript": text,
        "whole": text is not None and all(w in text.lower() for w in words),
        "ended_by": "our whisper" if ours else "home assistant",
        "end_of_turn_s": round(stop_mic - speech_end, 3) if stop_mic is not None else None,
        "speech_end_s": round(speech_end, 3),
        "audio_stop_mic_s": stop_mic,
        "held_back": held[1] if held else None,
        "ha_transcribe": asked[1] if asked else None,
        "whisper_live": live[1] if live else None,
        "fallback_logged": down[1] if down else None,
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
    return {
        "started": started,
        "sensitivity": args.sensitivity,
        "finished": time.strftime("%H:%M:%S", time.gmtime()),
        "load_before": load_before,
        "load_after": loadavg(),
        "runs": runs,
    }


def markdown(res: Result) -> str:
    runs = res["runs"]
    md = [
        f"# Home Assistant 2026.2.3 + our satellite: end of turn from our whisper ({res['started']} UTC)",
        "",
        f"`bench/ha_end_of_turn.py`, the real HA rig, HA's finished speaking detection at its default (0.7 s); "
        f"our wyoming_whisper tiny.en for HA's STT and for `--end-of-turn-uri` (`--end-of-turn-sensitivity "
        f"{res.get('sensitivity', 'default')}`). Load {' '.join(res['load_before'])}"
        f" -> {' '.join(res['load_after'])} (2 shared cores). End of turn: the satellite's audio-stop minus the "
        "end of speech, on the mic's timeline.",
        "",
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
        default="default",
        choices=["aggressive", "default", "relaxed"],
        help="--end-of-turn-sensitivity of the satellite in mode ours",
    )
    parser.add_argument("--requests", nargs="+", default=list(REQUESTS), choices=list(REQUESTS))
    sys.exit(run_on_rig(parser.parse_args(), run, markdown, passed))
