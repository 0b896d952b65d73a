"""The wake word and then nothing but the TV, in a Home Assistant pipeline (the real rig, session 20).

With the talker gate on (the satellite's default), a slot where the user says "Okay Nabu." and
then nothing streams the room's noise to HA's STT: what does Home Assistant do with it, and what
does the user hear? The satellite (its default wake word and gate, tones on) hears 1 s of TV,
"Okay Nabu." (Piper) and ``--seconds`` more of TV ``--tv-db`` under it; the rig adds it and reads
the pipeline run HA made of it. Read off: the pipeline's events (from the rig's output), the
satellite's log (the error HA sent, the error tone, the gate's summary) and the speaker WAV's
length of sound.

    flock /tmp/ha2025.lock .venv/bin/python bench/ha_empty.py [--tv-db -25] [--repeat 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ha_compat import WAKE, run_check, satellite, speak  # noqa: E402
from bench.ha_rig import Result, rig_parser, run_on_rig  # noqa: E402
from bench.turn_background import active_db, backgrounds  # noqa: E402
from voice_runtime.audio import PCM16_MONO_16K, read_wav, write_wav  # noqa: E402
from voice_runtime.procs import ServiceProcess, start_service  # noqa: E402


def mic_audio(tv_db: float, seconds: float) -> bytes:
    wake = np.frombuffer(speak(WAKE), "<i2").astype(np.float32) / 32768
    n = 16000 + len(wake) + int(seconds * 16000)
    tv = np.concatenate([b["audio"] for b in backgrounds()])
    tv = np.tile(tv, n // len(tv) + 1)[:n]
    x = tv * 10 ** ((active_db(wake) + tv_db - active_db(tv)) / 20)
    x[16000 : 16000 + len(wake)] += wake
    out: bytes = (np.clip(x, -1, 1) * 32767).astype("<i2").tobytes()
    return out


async def one_run(args: argparse.Namespace, work: Path, engines: list[ServiceProcess], n: int) -> dict[str, Any]:
    whisper, tts = engines
    mic, speaker, request = work / f"mic-{n}.wav", work / f"speaker-{n}.wav", work / "request.wav"
    write_wav(str(mic), mic_audio(args.tv_db, args.seconds), PCM16_MONO_16K)
    write_wav(str(request), speak("What time is it?"), PCM16_MONO_16K)  # the rig's own /api/stt check
    async with satellite(mic, speaker) as (sat, port):
        check = ["--stt", f"127.0.0.1:{whisper.port}", "--tts", f"127.0.0.1:{tts.port}", "--satellite",
                 f"127.0.0.1:{port}", "--sat-run", "--wav", str(request), "--no-pipeline", "--announce", "",
                 "--out", f"/tmp/ha_empty_{int(time.time())}_{n}"]  # fmt: skip
        rc, lines = await run_check(args.rig, check)
        await asyncio.sleep(1.0)
    audio = np.frombuffer(read_wav(str(speaker))[0], "<i2") if speaker.exists() else np.zeros(0, np.int16)
    loud = np.abs(audio.astype(np.int32)) > 300
    logged = [line for _, line in sat.lines]

    def found(pattern: str) -> list[str]:
        return [m.group(1) for line in logged if (m := re.search(r'msg="(.*)"$', line)) and re.search(pattern, line)]

    return {
        "n": n,
        "rig_exit": rc,
        "load": os.getloadavg(),
        "pipeline_events": next((x.split("run:", 1)[1].strip() for x in lines if "satellite pipeline run:" in x), None),
        "rig_satellite_pipeline": next((x.strip() for x in lines if "satellite_pipeline" in x), None),
        "satellite": found(r"transcript=|controller error|error tone|talker gate|nothing said|audio-stop"),
        "speaker_sound_s": round(float(loud.sum()) / 16000, 2),  # (tones, a reply) in the speaker WAV
    }


async def run(args: argparse.Namespace) -> Result:
    work = Path(tempfile.mkdtemp(prefix="hearth-ha-empty-"))
    engines: list[ServiceProcess] = []
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    load0 = os.getloadavg()
    runs = []
    try:
        engines.append(await start_service("wyoming_whisper", "--model", "tiny.en"))
        engines.append(await start_service("wyoming_kokoro", "--provider", "piper", "--engines", "piper"))
        for n in range(args.repeat):
            runs.append(await one_run(args, work, engines, n))
            print(json.dumps(runs[-1]), flush=True)
    finally:
        for e in engines:
            await e.stop()
    return {"started": started, "load_before": load0, "tv_db": args.tv_db, "runs": runs}


def markdown(res: Result) -> str:
    md = [f"# The wake word, then only the TV ({res['tv_db']} dB), in an HA pipeline ({res['started']} UTC, "
          f"load {res['load_before'][0]:.2f})", ""]  # fmt: skip
    for r in res["runs"]:
        md += [f"- run {r['n']} (load {r['load'][0]:.2f}): HA's run: {r['pipeline_events']}; speaker sound "
               f"{r['speaker_sound_s']} s; satellite: " + "; ".join(r["satellite"])]  # fmt: skip
    return "\n".join(md) + "\n"


if __name__ == "__main__":
    parser = rig_parser(__doc__, ROOT / "bench" / "results" / "s20_ha" / "ha_empty")
    parser.add_argument("--tv-db", type=float, default=-25.0)
    parser.add_argument("--seconds", type=float, default=8.0, help="of TV after the wake word")
    parser.add_argument("--repeat", type=int, default=1)
    sys.exit(run_on_rig(parser.parse_args(), run, markdown, lambda res: bool(res["runs"])))
