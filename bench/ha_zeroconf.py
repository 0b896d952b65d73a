"""Home Assistant finds our servers and satellite by zeroconf and adds them from what it found (the real rig).

    flock /tmp/ha2025.lock .venv/bin/python bench/ha_zeroconf.py [--out bench/results/ha_zeroconf]

Starts our ``wyoming_whisper``, ``wyoming_kokoro`` (Piper) and satellite (its defaults, a silent mic) with
``--uri tcp://0.0.0.0:PORT --zeroconf``, as README's *With Home Assistant* says. The rig's check onboards a
fresh HA (nothing added), then HA starts again from that config with its ``zeroconf`` integration on (the
rig's config leaves it out). Read off: the ``wyoming`` discovery flows HA made (config_entries/flow/progress
over the WebSocket API: its ``async_step_zeroconf`` connected to what was advertised and got ``info``),
each confirmed as a user would (Configure -> Submit: ``zeroconf_confirm``), the entry's host and port, its
entities, and the satellite's ``controller attached`` (HA drives it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import websockets

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ha_compat import run_check  # noqa: E402
from bench.ha_reconnect import _wait_token, start_hass  # noqa: E402
from bench.ha_rig import Result, plain_report, rig_parser, run_on_rig  # noqa: E402
from voice_runtime.audio import PCM16_MONO_16K, write_wav  # noqa: E402
from voice_runtime.procs import ServiceProcess, free_port, start_service  # noqa: E402

ENGINES = (
    ("wyoming_whisper", ("--model", "tiny.en")),
    ("wyoming_kokoro", ("--provider", "piper", "--engines", "piper")),
)


async def flows(port: int, token: str, seconds: float) -> list[dict[str, Any]]:
    """HA's wyoming discovery flows, polled until three are there or ``seconds`` pass."""
    found: list[dict[str, Any]] = []
    async with websockets.connect(f"ws://127.0.0.1:{port}/api/websocket") as ws:
        await ws.recv()
        await ws.send(json.dumps({"type": "auth", "access_token": token}))
        await ws.recv()
        end, n = time.monotonic() + seconds, 0
        while time.monotonic() < end:
            n += 1
            await ws.send(json.dumps({"id": n, "type": "config_entries/flow/progress"}))
            found = [f for f in json.loads(await ws.recv()).get("result", []) if f.get("handler") == "wyoming"]
            if len(found) >= 3:
                break
            await asyncio.sleep(1.0)
    return found


def _post(url: str, token: str, body: dict[str, Any] | None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        url,
        data=data,
        method="POST" if data is not None else "GET",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"null")


async def run(args: argparse.Namespace) -> Result:
    work = Path(tempfile.mkdtemp(prefix="hearth-ha-zeroconf-"))
    write_wav(str(work / "mic.wav"), bytes(16000 * 2 * 300), PCM16_MONO_16K)
    config = f"/tmp/ha_zeroconf_cfg_{int(time.time())}"
    port = free_port()
    res: Result = {}  # run_on_rig stamps the times and loads
    services: list[ServiceProcess] = []
    try:
        for module, flags in ENGINES:
            p = free_port()
            services.append(await start_service(module, *flags, "--uri", f"tcp://0.0.0.0:{p}", "--zeroconf", port=p))
        p = free_port()
        sat = await start_service(
            "satellite",
            "--uri",
            f"tcp://0.0.0.0:{p}",
            "--zeroconf",
            "--name",
            "hearth-zc",
            "--mic-wav",
            str(work / "mic.wav"),
            "--snd-wav",
            str(work / "speaker.wav"),
            port=p,
        )
        services.append(sat)
        res["ports"] = {s.proc.pid: s.port for s in services}
        rc, lines = await run_check(
            args.rig,
            ["--config", config, "--port", str(port), "--no-pipeline", "--announce", "", "--out", config + "/check"],
        )
        res["onboard_exit"] = rc
        yaml = args.rig / "root" / config.lstrip("/") / "configuration.yaml"
        yaml.write_text(yaml.read_text() + "zeroconf:\n")
        log = yaml.parent / "hass.zeroconf.out"
        t0 = time.monotonic()
        hass = await start_hass(args.rig, config, log)
        try:
            token = await asyncio.to_thread(_wait_token, f"http://127.0.0.1:{port}", 90)
            assert token is not None, "no login"
            found = await flows(port, token, 60)
            res["flows_s"] = round(time.monotonic() - t0, 1)
            res["flows"] = [
                {
                    "title": f.get("context", {}).get("title_placeholders"),
                    "step": f.get("step_id"),
                    "source": f.get("context", {}).get("source"),
                }
                for f in found
            ]
            entries = []
            for f in found:
                done = await asyncio.to_thread(
                    _post, f"http://127.0.0.1:{port}/api/config/config_entries/flow/{f['flow_id']}", token, {}
                )
                entries.append({"type": done.get("type"), "title": done.get("title"), "data": done.get("data")})
            res["entries"] = entries
            await asyncio.sleep(3.0)
            states = await asyncio.to_thread(_post, f"http://127.0.0.1:{port}/api/states", token, None)
            res["entities"] = sorted(
                s["entity_id"] for s in states if s["entity_id"].split(".")[0] in ("stt", "tts", "assist_satellite")
            )
            with contextlib.suppress(TimeoutError):
                await sat.wait_log("controller attached", timeout=15)
            res["satellite_attached"] = any("controller attached" in x for x in sat.log)
            res["advertised"] = [x for s in services for x in s.log if "zeroconf advertised" in x]
        finally:
            os.killpg(hass.pid, signal.SIGTERM)
            await asyncio.wait_for(hass.wait(), 40)
        res["rig"] = [x for x in lines if x.startswith(("PASS", "FAIL", "SUMMARY"))]
    finally:
        for service in services:
            await service.stop()
    return res


def passed(res: Result) -> bool:
    made = [e for e in res.get("entries", []) if e["type"] == "create_entry"]
    return len(made) == 3 and bool(res.get("satellite_attached"))


def markdown(res: Result) -> str:
    return plain_report(
        "Home Assistant 2026.2.3 discovers our services by zeroconf", "bench/ha_zeroconf.py", res, passed(res)
    )


if __name__ == "__main__":
    sys.exit(
        run_on_rig(rig_parser(__doc__, ROOT / "bench" / "results" / "ha_zeroconf").parse_args(), run, markdown, passed)
    )
