"""Home Assistant 2026 drives our satellite: the wake word said over HA's reply restarts the barge-in at it.

    flock /tmp/ha2025.lock python bench/ha_restart.py [--rig /tmp/ha2025] [--out bench/results/s22_ha/restart]

The rig (``../shared/ha2025``) runs a real Home Assistant with a logging proxy in front of every Wyoming
server. Started here, on free ports: our ``wyoming_whisper`` (STT) and ``wyoming_kokoro`` with Piper (TTS),
the rig's fake conversation agent (``fake_wyoming.py handle``: it answers every ``transcript`` with
``REPLY``, which repeats what it heard and goes on for a few seconds, and lists every event it got), and
our satellite with its defaults (wake word on), its mic a WAV (Piper) that says, once HA has armed it:

    "Okay Nabu." "What is the capital of France?"   ... GAP_SECONDS ...   "Okay Nabu." "What time is it?"

so the second wake word comes while HA's reply to the first question plays: the satellite's VAD opens a
barge-in on its first syllables; the satellite restarts that turn at the wake word (``satellite.wake_turn``)
or, when the detection comes before the barge-in is confirmed, starts it there. Checked: HA's agent got
exactly two transcripts from the satellite (the question, then the command), the command's without the wake
word; the satellite's own log (detections, restart, run-pipelines, transcripts). The rig's own checks
(STT, TTS, satellite connect/pipeline/announce) run as in ``bench/ha_compat.py``.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ha_compat import run_check, satellite, speak  # noqa: E402
from bench.ha_rig import Result, rig_parser, run_on_rig  # noqa: E402
from voice_runtime.audio import PCM16_MONO_16K, write_wav  # noqa: E402
from voice_runtime.procs import ServiceProcess, free_port, start_service  # noqa: E402

FAKE = Path(__file__).resolve().parents[2] / "shared" / "ha2025" / "fake_wyoming.py"
QUESTION, COMMAND = "What is the capital of France?", "What time is it?"
REPLY = ("I heard you say {text} This answer goes on for a while, so that you can talk over it. It has a second "
         "sentence, and then a third one, which is a little longer than the others.")
# after the question: HA's reply starts 2-6 s after it (its VAD, STT, the agent, TTS; run 1 at load 13: the
# wake word 3.3 s after the transcript still came before the reply) and plays ~9 s
GAP_SECONDS = 7.5
WAKE_WORDS = ("okay", "ok", "nabu", "naboo", "nab")


def words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


async def run(args: Any) -> Result:
    rig = Path(args.rig)
    work = Path(tempfile.mkdtemp(prefix="hearth-ha-restart-"))
    wake, pause = speak("Okay Nabu."), bytes(9600)
    second = b"" if args.no_second_wake else wake + pause  # without it: a barge-in by speech alone (held, then sent)
    mic = (bytes(32000) + wake + pause + speak(QUESTION) + bytes(round(GAP_SECONDS * 32000)) + second
           + speak(COMMAND) + bytes(12 * 32000))
    write_wav(str(work / "mic.wav"), mic, PCM16_MONO_16K)
    write_wav(str(work / "request.wav"), speak(COMMAND), PCM16_MONO_16K)  # the rig's own STT check
    out_dir = f"/tmp/ha_check_hearth_restart_{int(time.time())}"
    services: list[ServiceProcess] = []
    handle_port, handle_report = free_port(), work / "handle.json"
    handle = await asyncio.create_subprocess_exec(
        sys.executable, str(FAKE), "handle", "--port", str(handle_port), "--reply", REPLY,
        "--report", str(handle_report), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    started = time.monotonic()
    try:
        services.append(await start_service("wyoming_whisper", "--model", args.whisper_model))
        services.append(await start_service("wyoming_kokoro", "--provider", "piper", "--engines", "piper"))
        load_start = (await asyncio.to_thread(Path("/proc/loadavg").read_text)).split()[:3]
        code = ROOT if args.code is None else args.code
        async with satellite(work / "mic.wav", work / "speaker.wav", code=code) as (sat, sat_port):
            check = ["--stt", f"127.0.0.1:{services[0].port}", "--tts", f"127.0.0.1:{services[1].port}",
                     "--handle", f"127.0.0.1:{handle_port}", "--satellite", f"127.0.0.1:{sat_port}", "--sat-run",
                     "--wav", str(work / "request.wav"), "--no-pipeline", "--satellite-wait", "60",
                     "--question", "Hello there.",
                     "--announce", "Dinner is ready.", "--out", out_dir]
            rc, lines = await run_check(rig, check)
            await asyncio.sleep(1.0)
            sat_lines = [line for _t, line in sat.lines]
        load_end = (await asyncio.to_thread(Path("/proc/loadavg").read_text)).split()[:3]
        got = json.loads(handle_report.read_text()) if handle_report.exists() else {"received": []}
        transcripts = [e.get("data", {}).get("text", "") for e in got.get("received", [])
                       if e.get("type") == "transcript"]
        return {"rig_exit": rc, "rig_lines": [x for x in lines if re.match(r"(PASS|FAIL|SUMMARY)", x)],
                "handle_transcripts": transcripts, "satellite_log": [
                    x for x in sat_lines if re.search(r"wake word|restart|run-pipeline|transcript=|state |quietly|"
                                                      r"second model|barge-in|talker gate armed|held audio", x)],
                "load_start": load_start, "load_end": load_end, "seconds": round(time.monotonic() - started, 1),
                "when": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
    finally:
        for service in services:
            await service.stop()
        if handle.returncode is None:
            handle.terminate()
            await handle.wait()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
            shutil.rmtree(rig / "root" / out_dir.lstrip("/"), ignore_errors=True)


def verdict(res: Result) -> dict[str, bool]:
    """The command's run reached HA's agent without the wake word, after the question's (the rig's conversation
    check sends its own "Hello there." first: not the satellite's); the second wake word came over HA's reply; the
    satellite restarted the turn at it. (The run the satellite ended for the restart reaches the agent too, with
    the wake word: its reply is dropped; listed in the report.)"""
    ours = [t for t in res["handle_transcripts"] if "hello" not in words(t)]
    log = res["satellite_log"]
    return {
        "the question's run, then the command's reached the agent": len(ours) >= 2 and "capital" in words(ours[0])
        and "time" in words(ours[-1]),
        "no wake word in the command's STT text": bool(ours) and not set(WAKE_WORDS) & set(words(ours[-1])),
        "the second wake word came over HA's reply": any("state speaking -> barge-in" in x for x in log),
        "the satellite restarted the turn at it": any("restarts at the wake word" in x or "restarts at it (" in x
                                                      for x in log),
    }


def markdown(res: Result) -> str:
    v = verdict(res)
    lines = [f"# HA rig: the wake word over HA's reply ({res['when']}, load {' '.join(res['load_start'])} -> "
             f"{' '.join(res['load_end'])}, {res['seconds']} s)", ""]
    lines += [f"- {'PASS' if ok else 'FAIL'} {name}" for name, ok in v.items()]
    lines += ["", "HA's agent got (in order): " + "; ".join(repr(t) for t in res["handle_transcripts"]), "",
              "Rig:", ""]
    lines += [f"    {x}" for x in res["rig_lines"]]
    lines += ["", "Satellite:", ""] + [f"    {x[-220:]}" for x in res["satellite_log"]]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = rig_parser(__doc__, ROOT / "bench" / "results" / "s22_ha" / "restart")
    parser.add_argument("--whisper-model", default="tiny.en")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--code", type=Path, help="run the satellite from this tree (its .venv): a paired run")
    parser.add_argument("--no-second-wake", action="store_true",
                        help='the command over the reply without "Okay Nabu." (a barge-in by speech; session 30: its '
                             "audio is held until no wake word can restart it, then sent; checks 2 and 4 do not apply)")
    args = parser.parse_args()
    return run_on_rig(args, run, markdown, lambda r: all(verdict(r).values()))


if __name__ == "__main__":
    sys.exit(main())
