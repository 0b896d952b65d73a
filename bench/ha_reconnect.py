"""Home Assistant restarts: does it get our satellite, STT and TTS back by itself? (the real rig, session 29)

    flock /tmp/ha2025.lock .venv/bin/python bench/ha_reconnect.py [--out bench/results/ha_reconnect]

Starts our ``wyoming_whisper`` (tiny.en), ``wyoming_kokoro`` (Piper) and satellite (its defaults: wake
word on; a silent mic) on free ports; the rig's check adds all three through HA's own config flows
(``--no-proxy``: HA's config points at our ports, so a restarted HA reaches them again) in a config dir
that is kept. Then HA is started again from that config (``inroot.sh hass -c DIR``), twice:

* ``sigterm``: the running HA (the check's) was stopped with SIGTERM, as ``ha core restart`` does;
* ``sigkill``: this HA is killed with SIGKILL (a crash; the kernel still closes its sockets);
* ``half-open``: HA reaches the satellite through a proxy in this process; the proxy stops passing
  anything on the connection HA has, leaving both ends open (HA's host gone without closing its
  socket: a power cut, a pulled cable), HA is killed and started again: its new connection meets a
  satellite whose old controller looks alive. The satellite lets a controller silent for 15 s go
  (``satellite/admission.py``); HA retries every 10 s. Since session 30 the newcomer's ``run-satellite``
  makes the satellite ping the old one first, and no answer within 3 s lets the newcomer in at once.

Per start, read off: HA's start -> the satellite's ``controller attached`` (HA's connection with
``run-satellite``); the refusals the satellite logged (``satellite-busy``: the old connection was still
its controller); then, through HA's REST API, ``/api/stt`` on our whisper (a spoken request) and
``assist_satellite.announce`` with a message (our TTS, then the satellite: ``played``).

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
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ha_busy import wait_for  # noqa: E402
from bench.ha_compat import run_check, satellite, speak  # noqa: E402
from bench.ha_rig import Result, report_head, rig_parser, run_on_rig  # noqa: E402
from bench.ha_select import _call, _token  # noqa: E402
from voice_runtime.audio import PCM16_MONO_16K, write_wav  # noqa: E402
from voice_runtime.procs import ServiceProcess, free_port, start_service  # noqa: E402
from voice_runtime.tasks import TaskSet  # noqa: E402

ATTACHED = r"controller attached client="
GONE = r"controller gone client="
REFUSED = r"refused controller"
REQUEST = "What is the capital of France?"
ANNOUNCE = "The washing machine is done."


class FreezableProxy:
    """A TCP proxy to ``port``; :meth:`freeze` stops passing bytes on the connections open now and
    leaves their sockets open (the satellite's side of a half-open connection)."""

    def __init__(self, port: int) -> None:
        self.port, self.tasks, self.frozen = port, TaskSet(), False
        self.pumps: list[TaskSet] = []
        self.kept: list[asyncio.StreamWriter] = []

    async def start(self) -> int:
        listen = free_port()
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", listen)
        return listen

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.port)
        pumps = TaskSet()
        self.pumps.append(pumps)
        self.kept += [writer, up_writer]
        pumps.spawn(self._pump(reader, up_writer), name="proxy up")
        pumps.spawn(self._pump(up_reader, writer), name="proxy down")

    @staticmethod
    async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def freeze(self) -> None:
        """Stop every pump running now; their sockets stay open."""
        for pumps in self.pumps:
            await pumps.close()
        self.pumps = []

    async def close(self) -> None:
        await self.freeze()
        self.server.close()
        for writer in self.kept:
            writer.close()


async def start_hass(rig: Path, config: str, log: Path) -> asyncio.subprocess.Process:
    """HA from ``config`` (a path inside the chroot), in its own process group (killed as one)."""
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            str(rig / "inroot.sh"),
            "nice",
            "-n",
            "10",
            "hass",
            "-c",
            config,
            "--skip-pip",
            "--log-no-color",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )


def _post_stt(base: str, token: str, entity: str, wav: bytes) -> tuple[int, dict[str, Any], float]:
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "audio/wav",
        "X-Speech-Content": "format=wav; codec=pcm; sample_rate=16000; bit_rate=16; channel=1; language=en",
    }
    req = urllib.request.Request(f"{base}/api/stt/{entity}", data=wav, headers=headers, method="POST")
    t0 = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"null"), time.monotonic() - t0
    except urllib.error.HTTPError as err:
        return err.code, {"error": err.read().decode(errors="replace")[:200]}, time.monotonic() - t0


def _announce(base: str, token: str, entity: str) -> None:
    body = json.dumps({"entity_id": entity, "message": ANNOUNCE, "preannounce": False}).encode()
    req = urllib.request.Request(
        f"{base}/api/services/assist_satellite/announce",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        r.read()


def _wait_token(base: str, seconds: float) -> str | None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        with contextlib.suppress(urllib.error.URLError, OSError, RuntimeError, KeyError, ValueError):
            return _token(base)
        time.sleep(0.3)
    return None


async def one_start(
    rig: Path, config: str, *, port: int, log: Path, sat: Any, wav: bytes
) -> tuple[dict[str, Any], Any]:
    """Start HA from ``config``; what it got back (see the module's docstring) and its process."""
    t0 = time.monotonic()
    proc = await start_hass(rig, config, log)
    attached = await wait_for(sat, ATTACHED, 60, t0)
    base = f"http://127.0.0.1:{port}"
    token = await asyncio.to_thread(_wait_token, base, 60)
    res: dict[str, Any] = {"attached_s": round(attached[0] - t0, 2) if attached else None}
    if token is None:
        res["error"] = "no login"
        return res, proc
    states = await asyncio.to_thread(_call, base + "/api/states", None, token)
    ids = [s["entity_id"] for s in states]
    res["entities"] = sorted(e for e in ids if e.split(".")[0] in ("stt", "tts", "assist_satellite"))
    stt = next((e for e in ids if e.startswith("stt.")), None)
    if stt:
        status, body, took = await asyncio.to_thread(_post_stt, base, token, stt, wav)
        res["stt"] = {
            "status": status,
            "text": body.get("text") if isinstance(body, dict) else body,
            "seconds": round(took, 2),
        }
    entity = next((e for e in ids if e.startswith("assist_satellite.")), None)
    if entity:
        t1 = time.monotonic()
        try:
            await asyncio.to_thread(_announce, base, token, entity)
            res["announce_call_s"] = round(time.monotonic() - t1, 2)
        except (urllib.error.URLError, OSError) as err:
            res["announce_error"] = repr(err)
        played = await wait_for(sat, r"announcement played", 10, t1)
        res["announce_played"] = played[1] if played else None
    return res, proc


async def stop_hass(
    proc: asyncio.subprocess.Process, sig: signal.Signals, sat: Any, *, gone: bool = True
) -> dict[str, Any]:
    """Stop HA with ``sig``; with ``gone``, wait (up to 20 s) for the satellite to see its connection close."""
    t0 = time.monotonic()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(proc.wait(), 40)
    seen = await wait_for(sat, GONE, 20, t0) if gone else None
    return {"signal": sig.name, "satellite_saw_gone_s": round(seen[0] - t0, 2) if seen else None}


async def run(args: argparse.Namespace) -> Result:
    work = Path(tempfile.mkdtemp(prefix="hearth-ha-reconnect-"))
    request = speak(REQUEST)
    write_wav(str(work / "mic.wav"), bytes(16000 * 2 * 400), PCM16_MONO_16K)  # silence, longer than the run
    write_wav(str(work / "request.wav"), bytes(8000) + request + bytes(16000), PCM16_MONO_16K)
    wav = (work / "request.wav").read_bytes()
    config = f"/tmp/ha_reconnect_cfg_{int(time.time())}"  # inside the chroot
    port = free_port()
    log = args.rig / "root" / config.lstrip("/") / "hass.restarts.out"
    res: Result = {}  # run_on_rig stamps the times and loads
    services: list[ServiceProcess] = []
    try:
        services.append(await start_service("wyoming_whisper", "--model", "tiny.en"))
        services.append(await start_service("wyoming_kokoro", "--provider", "piper", "--engines", "piper"))
        async with satellite(work / "mic.wav", work / "speaker.wav") as (sat, sat_port):
            proxy = FreezableProxy(sat_port)
            proxy_port = await proxy.start()
            check = [
                "--stt",
                f"127.0.0.1:{services[0].port}",
                "--tts",
                f"127.0.0.1:{services[1].port}",
                "--satellite",
                f"127.0.0.1:{proxy_port}",
                "--no-proxy",
                "--config",
                config,
                "--port",
                str(port),
                "--wav",
                str(work / "request.wav"),
                "--expect",
                REQUEST,
                "--no-pipeline",
                "--announce",
                ANNOUNCE,
                "--out",
                config + "/check",
            ]
            t0 = time.monotonic()
            rc, lines = await run_check(args.rig, check)
            gone = await wait_for(sat, GONE, 20, t0)
            res["first"] = {
                "rig_exit": rc,
                "rig": [x for x in lines if x.startswith(("PASS", "FAIL", "SUMMARY"))],
                "satellite_saw_gone_after_check": bool(gone),
            }
            log.parent.mkdir(parents=True, exist_ok=True)
            res["after_sigterm"], proc = await one_start(args.rig, config, port=port, log=log, sat=sat, wav=wav)
            res["stop"] = await stop_hass(proc, signal.SIGKILL, sat)
            res["after_sigkill"], proc = await one_start(args.rig, config, port=port, log=log, sat=sat, wav=wav)
            await proxy.freeze()  # HA's host vanishes: nothing more either way, both sockets left open
            res["stop_half_open"] = await stop_hass(proc, signal.SIGKILL, sat, gone=False)
            t0 = time.monotonic()
            res["after_half_open"], proc = await one_start(args.rig, config, port=port, log=log, sat=sat, wav=wav)
            res["half_open_refusals"] = [x for t, x in sat.lines if t >= t0 and REFUSED in x]
            res["stop_last"] = await stop_hass(proc, signal.SIGTERM, sat)
            await proxy.close()
            res["refusals"] = [x for _, x in sat.lines if REFUSED in x]
            res["satellite"] = [x for _, x in sat.lines if "controller" in x or "announcement played" in x]
    finally:
        for service in services:
            await service.stop()
    text = log.read_text(errors="replace").splitlines() if log.exists() else []
    res["ha_log"] = [x for x in text if ("WARNING" in x or "ERROR" in x) and ("wyoming" in x or "satellite" in x)][:20]
    return res


def passed(res: Result) -> bool:
    return all(
        (r := res.get(k, {})).get("attached_s") is not None and (r.get("stt") or {}).get("status") == 200
        and bool(r.get("announce_played"))
        for k in ("after_sigterm", "after_sigkill", "after_half_open")
    )  # fmt: skip


def markdown(res: Result) -> str:
    md = [
        *report_head("Home Assistant 2026.2.3 restarts: satellite, STT and TTS back", "bench/ha_reconnect.py", res,
                     passed(res)),
        "| HA start | HA start -> satellite attached (s) | /api/stt | announce call (s) | announcement |",
        "|---|---|---|---|---|",
    ]
    for key, what in (
        ("after_sigterm", "after SIGTERM (restart)"),
        ("after_sigkill", "after SIGKILL (crash)"),
        ("after_half_open", "after a half-open connection (host gone, SIGKILL behind a frozen proxy)"),
    ):
        r = res.get(key, {})
        stt = r.get("stt") or {}
        md.append(
            f"| {what} | {r.get('attached_s')} | {stt.get('status')} {stt.get('text')!r} in {stt.get('seconds')} s "
            f"| {r.get('announce_call_s')} | {r.get('announce_played') or r.get('announce_error')} |"
        )
    md += ["", "```", *[f"{k}: {v}" for k, v in res.items() if not k.startswith("after_")], "```", ""]
    return "\n".join(md)


if __name__ == "__main__":
    sys.exit(
        run_on_rig(rig_parser(__doc__, ROOT / "bench" / "results" / "ha_reconnect").parse_args(), run, markdown, passed)
    )
