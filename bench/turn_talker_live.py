"""The talker gate live: wake-word sessions with a TV on, through the whole stack in the room.

Our engines (``wyoming_whisper``, ``wyoming_llama`` ``--max-sentences 1``, ``wyoming_kokoro``),
``voice-orchestrator serve`` and our satellite with its default wake word (okay_nabu) in the
shared room simulator (real time, speaker echo -6 dB / 40 ms, 0.2 s reverb, -60 dBFS noise).
A TV (``bench/turn_background.py``'s clips back to back, ``--tv-db`` under the wake word) plays
all along; every ``SLOT`` seconds "Okay Nabu." (the corpus's voices, at -20 dBFS) is said, then
either nothing (the TV alone) or a tune request ``--softer`` dB under the wake word. Per slot,
the turns the satellite started in it, with what opened each, the orchestrator's outcome and
transcript and the reply (``bench/turn_talker_score.py``; session 19 counted turn lines by the time
they were logged, and a cancelled turn as answered). ``--gate-db 0`` runs the satellite without
the gate (as before).

    flock /tmp/hearth-rt.lock .venv/bin/python bench/turn_talker_live.py [--gate-db 0]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import room_turns_bench as rt  # noqa: E402
from bench.turn_background import active_db, backgrounds  # noqa: E402
from bench.turn_corpus import RATE, build  # noqa: E402
from bench.turn_talker import at_level, speech_of, wake_clip  # noqa: E402
from bench.turn_talker_score import score  # noqa: E402
from voice_runtime.audio import PCM16_MONO_16K, write_wav  # noqa: E402
from voice_runtime.procs import ServiceProcess, free_port, start_service  # noqa: E402

SLOT = 11.0  # seconds per session (the wake word at its start)
WAKE_DBFS = -20.0


def pcm(x: np.ndarray[Any, Any]) -> bytes:
    out: bytes = (np.clip(x, -1, 1) * 32767).astype("<i2").tobytes()
    return out


def write_scenario(out: Path, args: argparse.Namespace) -> tuple[Path, list[dict[str, Any]]]:
    out.mkdir(parents=True, exist_ok=True)
    requests = [r for r in build() if r.split == "tune" and r.noise_dbfs is None][: args.sessions // 2]  # clean, far
    voices = None
    slots: list[dict[str, Any]] = []
    events = []
    for i in range(args.sessions):
        request = requests[i // 2] if i % 2 else None
        voice = request.voice if request else requests[(i // 2) % len(requests)].voice
        wake, voices = wake_clip(voices, voice)
        x = at_level(wake, WAKE_DBFS)
        if request is not None:
            said = speech_of(request)
            said = said * 10 ** ((WAKE_DBFS - args.softer - active_db(said)) / 20)
            x = np.concatenate([x, np.zeros(int(0.3 * RATE), np.float32), said.astype(np.float32)])
        name = f"s{i:02d}.wav"
        write_wav(str(out / name), pcm(x), PCM16_MONO_16K)
        at = 3.0 + i * SLOT
        events.append({"at": at, "wav": name})
        slots.append({"at": at, "request": request.text if request else None, "id": request.id if request else "tv"})
    duration = 3.0 + args.sessions * SLOT
    tv = np.concatenate([np.concatenate([b["audio"], np.zeros(RATE // 2, np.float32)]) for b in backgrounds()])
    tv = np.tile(tv, int(duration * RATE) // len(tv) + 1)[: int(duration * RATE)]
    tv = tv * 10 ** ((WAKE_DBFS + args.tv_db - active_db(tv)) / 20)
    write_wav(str(out / "tv.wav"), pcm(tv), PCM16_MONO_16K)
    events.insert(0, {"at": 0.0, "wav": "tv.wav"})
    scen = out / "scenario.json"
    scen.write_text(json.dumps({"duration": duration, "noise_db": -60, "events": events}))
    return scen, slots


async def run(args: argparse.Namespace) -> int:
    out = args.out or Path(f"/tmp/p17/talker-live-gate{args.gate_db:g}")
    scen, slots = await asyncio.to_thread(write_scenario, out, args)
    engines: dict[str, ServiceProcess] = {}
    load0, began = os.getloadavg(), time.strftime("%H:%M:%S", time.gmtime())
    try:
        engines["whisper"] = await start_service("wyoming_whisper")
        engines["llama"] = await start_service("wyoming_llama", "--max-sentences", "1")
        engines["tts"] = await start_service("wyoming_kokoro")
        port = free_port()
        sat = (
            f"{shlex.quote(sys.executable)} -m satellite --uri tcp://127.0.0.1:{port} --no-tones "
            f"--talker-gate-db {args.gate_db:g} --mic-command 'cat {{mic}}' --snd-command '{{player}}' "
            "--snd-rate 22050"
        )
        go = out / "go"
        go.unlink(missing_ok=True)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        room = await asyncio.create_subprocess_exec(
            sys.executable, str(rt.ROOM), str(scen), "--dir", str(out), "--start-file", str(go), "--run", sat,
            *rt.ECHO, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=str(ROOT), env=env,
        )  # fmt: skip
        orch_log = out / "orchestrator.log"
        orch = None
        try:
            await rt.wait_for(lambda: rt.can_connect(port), 120, "the satellite did not start")
            with orch_log.open("wb") as log:
                orch = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "orchestrator", "serve", "--satellite", f"tcp://127.0.0.1:{port}",
                    "--asr", engines["whisper"].uri, "--handle", engines["llama"].uri, "--tts", engines["tts"].uri,
                    "--log-format", "json", stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log,
                    cwd=str(ROOT), env=env,
                )  # fmt: skip
            await rt.wait_for(lambda: " connected" in orch_log.read_text(errors="replace"), 60, "not connected")
            await asyncio.sleep(2.0)
            mono_to_wall = time.time() - time.monotonic()
            go.touch()
            await room.communicate()
        finally:
            await rt.stop_room(orch, room)
    finally:
        for proc in engines.values():
            await proc.stop()
    result = json.loads((out / "result.json").read_text())
    wall0 = result["t0_monotonic"] + result["wav_offset_s"] + mono_to_wall
    satlog = (out / "run.log").read_text(errors="replace")
    scored = score(slots, satlog, orch_log.read_text(errors="replace"), wall0)  # per turn, by its start
    for slot in slots:
        print(slot["id"], slot["request"], [(r["opened"], r["outcome"], r["transcript"]) for r in slot["turns"]])
    summary = {
        "gate_db": args.gate_db,
        "tv_db": args.tv_db,
        "softer": args.softer,
        "began": began,
        "scenario_wall": wall0,  # the scenario's start on the wall clock (re-scoring)
        "ended": time.strftime("%H:%M:%S", time.gmtime()),
        "load": [load0, os.getloadavg()],
        "wake_detections": satlog.count("wake word okay_nabu detected"),
        **scored,
        "room": result.get("stats"),
    }
    print(json.dumps(summary))
    path = ROOT / "bench" / "results" / "turn_background" / f"talker-live-gate{args.gate_db:g}{args.tag}.json"
    path.write_text(json.dumps({"summary": summary, "slots": slots}, indent=1))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gate-db", type=float, default=12.0)
    parser.add_argument("--tv-db", type=float, default=-25.0)
    parser.add_argument("--softer", type=float, default=6.0)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--out", type=Path, help="the room's working directory")
    parser.add_argument("--tag", default="", help="appended to the result file's name (e.g. -s18)")
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
