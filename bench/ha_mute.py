"""Home Assistant's mute switch for our satellite: ``pause-satellite``, then back (the real rig, session 29).

    flock /tmp/ha2025.lock .venv/bin/python bench/ha_mute.py [--out bench/results/ha_mute]

HA 2026.2.3 (``wyoming/assist_satellite.py`` ``_muted_changed``): turning the satellite device's
``switch.*_mute`` on cancels any run and sends ``pause-satellite``; its loop then waits for the switch to
go off and connects again (``run-satellite``). The rig's check adds our satellite (defaults, a silent mic)
with a kept config; HA starts again from it; then, through HA's REST API: mute on, mute off, and an
announcement. Read off the satellite's log: ``paused by controller`` and the state change to idle, the
controller's connection, the arming again after mute off, and the announcement played.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ha_busy import wait_for  # noqa: E402
from bench.ha_compat import run_check, satellite  # noqa: E402
from bench.ha_reconnect import ANNOUNCE, _announce, _wait_token, start_hass, stop_hass  # noqa: E402
from bench.ha_rig import Result, plain_report, rig_parser, run_on_rig  # noqa: E402
from voice_runtime.audio import PCM16_MONO_16K, write_wav  # noqa: E402
from voice_runtime.procs import ServiceProcess, free_port, start_service  # noqa: E402


def _api(base: str, token: str, path: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    req = urllib.request.Request(base + path, data=data, headers=headers, method="GET" if data is None else "POST")
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"null")


async def switch(base: str, token: str, entity: str, on: bool) -> str:
    """Turn ``entity`` on or off; its state after."""
    await asyncio.to_thread(_api, base, token, f"/api/services/switch/turn_{'on' if on else 'off'}",
                            {"entity_id": entity})  # fmt: skip
    return str((await asyncio.to_thread(_api, base, token, f"/api/states/{entity}"))["state"])


async def muted(args: argparse.Namespace, sat: Any, config: str, port: int) -> dict[str, Any]:
    log = args.rig / "root" / config.lstrip("/") / "hass.mute.out"
    t0 = time.monotonic()
    hass = await start_hass(args.rig, config, log)
    res: dict[str, Any] = {}
    try:
        armed = await wait_for(sat, r"state idle -> listening on arm", 60, t0)
        base = f"http://127.0.0.1:{port}"
        token = await asyncio.to_thread(_wait_token, base, 60)
        assert armed is not None and token is not None, "HA never drove the satellite"
        states = await asyncio.to_thread(_api, base, token, "/api/states")
        mute = next(s["entity_id"] for s in states if s["entity_id"].startswith("switch.") and "mute" in s["entity_id"])
        t1 = time.monotonic()
        res["mute_on_state"] = await switch(base, token, mute, True)
        paused = await wait_for(sat, r"paused by controller", 10, t1)
        idle = await wait_for(sat, r"-> idle on disarm", 10, t1)
        res["paused_s"] = round(paused[0] - t1, 2) if paused else None
        res["idle_s"] = round(idle[0] - t1, 2) if idle else None
        await asyncio.sleep(3.0)
        res["while_muted"] = [x for t, x in sat.lines if t >= t1 and ("controller" in x or "state " in x)]
        t2 = time.monotonic()
        res["mute_off_state"] = await switch(base, token, mute, False)
        again = await wait_for(sat, r"-> listening on arm", 30, t2)
        res["armed_again_s"] = round(again[0] - t2, 2) if again else None
        t3 = time.monotonic()
        entity = next(s["entity_id"] for s in states if s["entity_id"].startswith("assist_satellite."))
        await asyncio.to_thread(_announce, base, token, entity)
        played = await wait_for(sat, r"announcement played", 10, t3)
        res["announce_after_unmute"] = played[1] if played else None
        res["satellite"] = [
            x for t, x in sat.lines if t >= t1 and ("controller" in x or "state " in x or "paused" in x)
        ]
    finally:
        res["stop"] = await stop_hass(hass, signal.SIGTERM, sat)
    return res


async def run(args: argparse.Namespace) -> Result:
    work = Path(tempfile.mkdtemp(prefix="hearth-ha-mute-"))
    write_wav(str(work / "mic.wav"), bytes(16000 * 2 * 300), PCM16_MONO_16K)
    write_wav(str(work / "request.wav"), bytes(16000 * 2), PCM16_MONO_16K)
    config, port = f"/tmp/ha_mute_cfg_{int(time.time())}", free_port()
    res: Result = {"announce": ANNOUNCE}  # run_on_rig stamps the times and loads
    services: list[ServiceProcess] = []
    try:
        services.append(await start_service("wyoming_kokoro", "--provider", "piper", "--engines", "piper"))
        async with satellite(work / "mic.wav", work / "speaker.wav") as (sat, sat_port):
            add = ["--tts", f"127.0.0.1:{services[0].port}", "--satellite", f"127.0.0.1:{sat_port}", "--no-proxy",
                   "--config", config, "--port", str(port), "--wav", str(work / "request.wav"), "--no-pipeline",
                   "--announce", "", "--out", config + "/check"]  # fmt: skip
            rc, _lines = await run_check(args.rig, add)
            res["add_exit"] = rc
            res.update(await muted(args, sat, config, port))
    finally:
        for service in services:
            await service.stop()
    return res


def passed(res: Result) -> bool:
    return bool(res.get("paused_s") is not None and res.get("armed_again_s") is not None
                and res.get("announce_after_unmute"))  # fmt: skip


def markdown(res: Result) -> str:
    return plain_report(
        "Home Assistant 2026.2.3 mutes our satellite and unmutes it", "bench/ha_mute.py", res, passed(res)
    )


if __name__ == "__main__":
    sys.exit(run_on_rig(rig_parser(__doc__, ROOT / "bench" / "results" / "ha_mute").parse_args(), run, markdown,
                        passed))  # fmt: skip
