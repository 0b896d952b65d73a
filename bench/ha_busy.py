"""Two controllers for one satellite: a real Home Assistant (2026.2.3, the rig ../shared/ha2025) and
our orchestrator (``voice-orchestrator serve --satellite …``) both configured for it. What does
each side log, how often does the one refused retry, and how soon does it take over once the
other lets go?

    flock /tmp/ha2025.lock flock /tmp/hearth-rt.lock .venv/bin/python bench/ha_busy.py [--hold 60]

Starts our wyoming_whisper (tiny.en), wyoming_kokoro (Piper) and ``tests/echo_service.py`` (the
orchestrator's conversation service: it is never asked, no turn runs) on free ports, a satellite
(``--no-wake-word``, a silent mic WAV) and then:

* ``ha-first``: the rig's check with ``--satellite … --sat-run --satellite-wait HOLD`` (HA adds
  the satellite and waits HOLD s for a pipeline run that never comes, so it holds the satellite
  that long); once HA is the satellite's controller, the orchestrator starts (``--debug``, so
  every retry is in its log). Read off: the orchestrator's log lines at INFO and above while HA
  holds it (what its user sees), its connection attempts (its debug lines), the satellite's
  refusal lines, and, when the rig stops HA, the seconds from HA's ``controller gone`` to the
  orchestrator's ``controller attached``.
* ``orchestrator-first``: the orchestrator drives the satellite; then the rig's check adds the
  satellite to HA (``--sat-run --satellite-wait HOLD``). Read off: what HA logs
  (home-assistant.log: lines about the satellite, warnings, errors), how often it connects (the
  satellite's refusals, counted in its refusal lines), and whether the orchestrator is disturbed.

Writes ``--out``.md / .json (default bench/results/ha_busy).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ha_compat import Timed, run_check, satellite  # noqa: E402
from bench.ha_rig import Result, loadavg, rig_parser, run_on_rig  # noqa: E402
from voice_runtime.audio import PCM16_MONO_16K, write_wav  # noqa: E402
from voice_runtime.procs import ServiceProcess, start_service  # noqa: E402

ATTACHED = r"controller attached client="
GONE = r"controller gone client="
REFUSED = r"refused controller"
WAV = "bf_alice_okay_nabu_time.wav"  # the rig's own /api/stt check needs one (any speech)


async def orchestrator(services: list[ServiceProcess], sat_port: int, data_dir: Path) -> Timed:
    whisper, tts, handle = services
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "orchestrator", "serve", "--debug", "--satellite", f"tcp://127.0.0.1:{sat_port}",
        "--asr", whisper.uri, "--tts", tts.uri, "--handle", handle.uri, "--data-dir", str(data_dir),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        cwd=str(ROOT),
    )  # fmt: skip
    orch = Timed(proc)
    orch.start()
    return orch


async def wait_for(log: Timed, pattern: str, seconds: float, after: float = float("-inf")) -> tuple[float, str] | None:
    """The first line of ``log`` matching ``pattern`` (polled: the log is another process's)."""
    for _ in range(round(seconds * 10)):
        if (found := log.first(pattern, after)) is not None:
            return found
        await asyncio.sleep(0.1)
    return log.first(pattern, after)


def lines(log: Timed, pattern: str, start: float, end: float) -> list[str]:
    return [line for t, line in log.lines if start <= t <= end and re.search(pattern, line)]


def ha_log(out_dir: str, rig: Path) -> list[str]:
    """Home Assistant's log lines about the satellite, and its warnings and errors."""
    path = rig / "root" / out_dir.lstrip("/") / "home-assistant.log"
    if not path.exists():
        return [f"(no {path})"]
    text = path.read_text(errors="replace").splitlines()
    return [x for x in text if re.search(r"satellite|busy|WARNING|ERROR", x) and "DEBUG" not in x][:40]


async def ha_first(args: argparse.Namespace, work: Path, services: list[ServiceProcess]) -> dict[str, Any]:
    out_dir = f"/tmp/ha_busy_{int(time.time())}_a"
    async with satellite(work / "mic.wav", work / "speaker.wav", "--no-wake-word") as (sat, port):
        check = asyncio.create_task(run_check(args.rig, _check_args(services, port, args.hold, out_dir)))
        ha = await wait_for(sat, ATTACHED, 120)
        if ha is None:
            check.cancel()
            return {"error": "HA never became the controller", "satellite": [x for _, x in sat.lines][-20:]}
        orch = await orchestrator(services, port, work / "orch-a")
        try:
            rc, rig = await check
            gone = await wait_for(sat, GONE, 30, ha[0])
            taken = await wait_for(sat, ATTACHED, 60, gone[0]) if gone else None
            await asyncio.sleep(1.0)  # the last log lines
        finally:
            await orch.stop()
    end = gone[0] if gone else time.monotonic()
    return {
        "rig_exit": rc,
        "ha_attached_at": 0.0,
        "ha_held_s": round(end - ha[0], 1),
        "orchestrator_log_info_while_held": lines(orch, r"level=(info|warning|error)", ha[0], end),
        "orchestrator_busy_lines_debug": len(lines(orch, r"is busy with another controller", ha[0], end)),
        "satellite_refusal_lines": lines(sat, REFUSED, ha[0], end),
        "takeover_s": round(taken[0] - gone[0], 2) if taken and gone else None,
        "orchestrator_after": lines(orch, r"level=(info|warning|error)", end, float("inf"))[:10],
        "ha_log": ha_log(out_dir, args.rig),
        "rig_summary": [x for x in rig if "SUMMARY" in x or " FAIL " in f" {x}"],
        "load": loadavg(),
    }


async def orchestrator_first(args: argparse.Namespace, work: Path, services: list[ServiceProcess]) -> dict[str, Any]:
    out_dir = f"/tmp/ha_busy_{int(time.time())}_b"
    async with satellite(work / "mic.wav", work / "speaker.wav", "--no-wake-word") as (sat, port):
        orch = await orchestrator(services, port, work / "orch-b")
        try:
            ours = await wait_for(sat, ATTACHED, 120)
            if ours is None:
                return {"error": "the orchestrator never became the controller", "orch": [x for _, x in orch.lines]}
            start = time.monotonic()
            rc, rig = await run_check(args.rig, _check_args(services, port, args.hold, out_dir))
            end = time.monotonic()
            await asyncio.sleep(1.0)
        finally:
            await orch.stop()
    refusals = lines(sat, REFUSED, start, end + 1)
    more = sum(int(m.group(1)) for x in refusals if (m := re.search(r"\((\d+) more refused", x)))
    return {
        "rig_exit": rc,
        "ha_ran_s": round(end - start, 1),
        "satellite_refusal_lines": refusals,
        "refused_at_least": len(refusals) + more,
        "controller_changes": lines(sat, f"{ATTACHED}|{GONE}|controller replaced", start, end + 1),
        "orchestrator_log_while_ha_ran": lines(orch, r"level=(warning|error)", start, end + 1),
        "ha_log": ha_log(out_dir, args.rig),
        "rig_summary": [x for x in rig if "SUMMARY" in x or " FAIL " in f" {x}"],
        "load": loadavg(),
    }


def _check_args(services: list[ServiceProcess], port: int, hold: float, out_dir: str) -> list[str]:
    whisper, tts, _ = services
    return [
        "--stt", f"127.0.0.1:{whisper.port}", "--tts", f"127.0.0.1:{tts.port}", "--satellite", f"127.0.0.1:{port}",
        "--sat-run", "--satellite-wait", str(hold), "--wav", str(ROOT / "tests" / "audio" / WAV),
        "--no-pipeline", "--announce", "", "--out", out_dir,
    ]  # fmt: skip


async def run(args: argparse.Namespace) -> Result:
    work = Path(tempfile.mkdtemp(prefix="hearth-ha-busy-"))
    write_wav(str(work / "mic.wav"), bytes(int((args.hold + 120) * 16000) * 2), PCM16_MONO_16K)  # silence
    services: list[ServiceProcess] = []
    res: Result = {"hold_s": args.hold}  # run_on_rig stamps the times and loads
    try:
        services.append(await start_service("wyoming_whisper", "--model", "tiny.en"))
        services.append(await start_service("wyoming_kokoro", "--provider", "piper", "--engines", "piper"))
        services.append(await start_service("echo", command=[sys.executable, str(ROOT / "tests" / "echo_service.py")]))
        for phase in args.phases:
            res[phase] = await (ha_first if phase == "ha-first" else orchestrator_first)(args, work, services)
            print(phase, res[phase], flush=True)
    finally:
        for service in services:
            await service.stop()
    return res


def markdown(res: Result) -> str:
    md = [
        f"# Two controllers for one satellite: real Home Assistant 2026.2.3 + our orchestrator ({res['started']} UTC)",
        "",
        f"`bench/ha_busy.py`, HA holding the satellite {res['hold_s']:g} s; load {' '.join(res['load_before'])} -> "
        f"{' '.join(res.get('load_after', []))} (2 shared cores), finished {res.get('finished')}.",
        "",
    ]
    for phase in ("ha-first", "orchestrator-first"):
        if phase in res:
            md += [f"## {phase}", "", "```"]
            md += [f"{key}: {value}" for key, value in res[phase].items()]
            md += ["```", ""]
    return "\n".join(md)


def passed(res: Result) -> bool:
    return "ha-first" not in res or res["ha-first"].get("takeover_s") is not None


if __name__ == "__main__":
    parser = rig_parser(__doc__, ROOT / "bench" / "results" / "ha_busy")
    parser.add_argument("--hold", type=float, default=60.0, help="seconds HA holds the satellite")
    parser.add_argument(
        "--phases", nargs="+", default=["ha-first", "orchestrator-first"], choices=["ha-first", "orchestrator-first"]
    )
    sys.exit(run_on_rig(parser.parse_args(), run, markdown, passed))
