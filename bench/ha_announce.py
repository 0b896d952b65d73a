"""Announcement timing through a real Home Assistant 2026.2.3, part by part.

    sudo ../shared/ha2025/setup.sh /tmp/ha2025          # once: the rig (a Debian 13 chroot with HA)
    flock /tmp/ha2025.lock python bench/ha_announce.py [--count 5] [--no-chime] [--out bench/results/ha_announce]

Starts our ``wyoming_kokoro`` (Piper) as HA's TTS and our satellite (defaults; its mic silent,
its speaker a WAV), adds both through HA's own ``wyoming`` config flow (the satellite behind a
timing proxy in this process, which stamps every event both ways), then calls
``assist_satellite.announce`` ``--count`` times each way:

* ``message``: HA has our TTS speak the text (its stream URL, read by ffmpeg);
* ``media_id``: a WAV made beforehand (the same sentences, Piper), served over HTTP by this script,
  so no TTS: only HA's ffmpeg.

Per announcement: the service call's duration; the audio's length (HA's chunks); HA's
``audio-start`` → first chunk (HA's TTS + ffmpeg: HA's own); first chunk → last chunk; last chunk
→ ``played``; and what the satellite adds: ``played`` − first chunk − the audio's length (the
chime, 0.24 s unless ``--no-chime``, plus the 30 ms frame the audio waits for, minus the audio's
trailing near-silence, which the satellite does not play: ``quiet_tail_not_played_s`` from its
log). For a ``message`` a second proxy in front of our TTS server splits HA's part: ``audio-start``
→ HA asks our server; our server's first / all audio (ours) and its engine time (``--debug`` log:
``engine_calls`` [characters, gate wait, run] each); its last audio → HA's first chunk (HA's TTS
view + ffmpeg: HA's conversion ffmpeg gives nothing out until its input ends or ~5 s of audio
have come, so for a short message HA's first chunk waits for our last audio, not our first).
Target (issue 15): the call returns and ``played`` comes within the
audio's length + 0.5 s. Load average before and after; hold ``flock /tmp/ha2025.lock``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import http.server
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from wyoming.event import async_read_event, async_write_event  # noqa: E402

from bench.ha_rig import rig_parser, run_on_rig  # noqa: E402
from voice_runtime.audio import PCM16_MONO_16K, write_wav  # noqa: E402
from voice_runtime.procs import ServiceProcess, start_service  # noqa: E402

MESSAGES = [
    "Dinner is ready. Please come to the kitchen.",
    "The washing machine has finished.",
    "Someone is at the front door.",
    "It is time to leave for school.",
    "The garage door is still open.",
    "Please remember to take out the bins tonight.",
    "The oven has reached two hundred degrees.",
    "Grandma is on her way and will arrive soon.",
]
CONFIG = """homeassistant:
  name: hearth announce bench
  latitude: 0
  longitude: 0
  elevation: 0
  unit_system: metric
  time_zone: UTC
  currency: EUR
  country: US
  language: en
  internal_url: http://127.0.0.1:{port}
http:
  server_host: 127.0.0.1
  server_port: {port}
api:
config:
websocket_api:
stt:
tts:
ffmpeg:
media_source:
intent:
conversation:
assist_pipeline:
assist_satellite:
logger:
  default: warning
"""
Stamp = tuple[float, str, str, int, dict[str, Any]]  # (monotonic s, "HA>" or "<SAT", type, payload bytes, data)


class TimingProxy:
    """A Wyoming proxy that keeps the time of every event (pings left out), at most ``limit`` of them."""

    def __init__(self, upstream_port: int, limit: int = 200_000) -> None:
        self.upstream_port = upstream_port
        self.events: deque[Stamp] = deque(maxlen=limit)
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter, way: str) -> None:
            while (event := await async_read_event(src)) is not None:
                if event.type not in ("ping", "pong"):
                    self.events.append((time.monotonic(), way, event.type, len(event.payload or b""),
                                        dict(event.data or {})))
                await async_write_event(event, dst)

        tasks = [asyncio.create_task(pump(reader, up_writer, "HA>")),
                 asyncio.create_task(pump(up_reader, writer, "<SAT"))]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for w in (writer, up_writer):
                w.close()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def seen(self, event_type: str) -> bool:
        return any(e[2] == event_type for e in self.events)


def measure(events: list[Stamp], called: float, returned: float) -> dict[str, Any]:
    """One announcement's figures from the proxy's stamps between the call and its return (+ 1 s)."""
    start = next(e for e in events if e[1] == "HA>" and e[2] == "audio-start")
    rate, width = int(start[4].get("rate", 22050)), int(start[4].get("width", 2))
    chunks = [e for e in events if e[1] == "HA>" and e[2] == "audio-chunk" and e[0] >= start[0]]
    stop = next((e for e in events if e[1] == "HA>" and e[2] == "audio-stop" and e[0] >= start[0]), None)
    played = next((e for e in events if e[1] == "<SAT" and e[2] == "played" and e[0] >= start[0]), None)
    audio = sum(c[3] for c in chunks) / (rate * width)
    first, last = (chunks[0][0], chunks[-1][0]) if chunks else (None, None)

    def span(a: float | None, b: float | None) -> float | None:
        return round(b - a, 3) if a is not None and b is not None else None

    call = returned - called
    return {
        "call_s": round(call, 3), "audio_s": round(audio, 3), "chunks": len(chunks),
        "call_to_audio_start_s": span(called, start[0]), "audio_start_to_first_chunk_s": span(start[0], first),
        "first_to_last_chunk_s": span(first, last), "last_chunk_to_played_s": span(last, played[0] if played else None),
        "audio_stop_to_played_s": span(stop[0] if stop else None, played[0] if played else None),
        "satellite_adds_s": round(played[0] - first - audio, 3) if played and first is not None else None,
        "played_to_return_s": span(played[0] if played else None, returned),
        "call_over_audio_s": round(call - audio, 3),
        "played_within_audio_plus_half": bool(played and stop and played[0] - stop[0] <= audio + 0.5),
        "call_within_audio_plus_half": call <= audio + 0.5,
    }


def tts_parts(tts: list[Stamp], sat: list[Stamp]) -> dict[str, Any]:
    """Where HA's ``audio-start`` → first chunk went for a ``message``: HA asking our TTS server, our
    server's first audio (ours), its last audio → HA's first chunk to the satellite (HA's TTS
    view and ffmpeg). All None for a ``media_id`` (no TTS)."""
    ask = next((e[0] for e in tts if e[1] == "HA>" and e[2] in ("synthesize-start", "synthesize")), None)
    first = next((e[0] for e in tts if e[1] == "<SAT" and e[2] == "audio-chunk"), None)
    last = next((e[0] for e in reversed(tts) if e[1] == "<SAT" and e[2] == "audio-chunk"), None)
    start = next((e[0] for e in sat if e[1] == "HA>" and e[2] == "audio-start"), None)
    chunk = next((e[0] for e in sat if e[1] == "HA>" and e[2] == "audio-chunk"), None)

    def span(a: float | None, b: float | None) -> float | None:
        return round(b - a, 3) if a is not None and b is not None else None

    seq = [(round(e[0] - start, 3) if start is not None else None, e[1], e[2]) for e in tts if e[2] != "audio-chunk"]
    return {"tts_events": seq, "audio_start_to_tts_request_s": span(start, ask),
            "our_tts_first_audio_s": span(ask, first),
            "our_tts_all_audio_s": span(ask, last), "tts_last_audio_to_first_chunk_s": span(last, chunk)}


def engine_calls(log: list[str]) -> dict[str, Any]:
    """Our server's engine calls from its --debug log: [characters, gate wait s, engine run s] each."""
    calls = [[int(m[1]), float(m[2]), float(m[3])] for line in log
             if (m := re.search(r"chars=(\d+) gate_wait=([\d.]+)s run=([\d.]+)s", line))]
    return {"engine_calls": calls, "our_engine_run_s": round(sum(c[2] for c in calls), 3) if calls else None}


@contextlib.contextmanager
def serve_files(folder: Path) -> Any:
    """A plain HTTP server for the pre-made announcement WAVs (HA's ffmpeg reads them)."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="media files", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join(5)


def make_media(texts: list[str], folder: Path) -> list[str]:
    from piper import PiperVoice

    from voice_runtime.audio import AudioFormat, convert
    from voice_runtime.models import resolve_piper

    voice = PiperVoice.load(str(resolve_piper()))
    names = []
    for i, text in enumerate(texts):
        pcm = b"".join(chunk.audio_int16_bytes for chunk in voice.synthesize(text))
        write_wav(str(folder / f"a{i}.wav"), convert(pcm, AudioFormat(voice.config.sample_rate, 2, 1),
                                                     PCM16_MONO_16K), PCM16_MONO_16K)
        names.append(f"a{i}.wav")
    return names


async def add_wyoming(client: Any, port: int) -> str:
    flow = (await client.post("/api/config/config_entries/flow", json={"handler": "wyoming"})).json()
    res = (await client.post(f"/api/config/config_entries/flow/{flow['flow_id']}",
                             json={"host": "127.0.0.1", "port": port})).json()
    if res.get("type") != "create_entry":
        raise RuntimeError(f"wyoming config flow for port {port}: {res}")
    return str(res["result"]["entry_id"])


async def entity_of(ha: Any, entry_id: str, domain: str) -> str:
    for _ in range(40):
        for entity in await ha.ws({"type": "config/entity_registry/list"}):
            if entity.get("config_entry_id") == entry_id and entity["entity_id"].startswith(domain + "."):
                return str(entity["entity_id"])
        await asyncio.sleep(0.5)  # polling HA's registry: nothing to wait on instead
    raise RuntimeError(f"no {domain} entity for entry {entry_id}")


@contextlib.asynccontextmanager
async def satellite(args: argparse.Namespace, work: Path) -> AsyncIterator[ServiceProcess]:
    write_wav(str(work / "mic.wav"), bytes(3200), PCM16_MONO_16K)  # then silence
    flags = ["--name", "hearth-announce", "--mic-wav", str(work / "mic.wav"), "--snd-wav", str(work / "speaker.wav"),
             "--snd-rate", "16000", *(["--no-announce-chime"] if args.no_chime else [])]
    sat = await start_service("satellite", *flags)
    try:
        yield sat
    finally:
        await sat.stop()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    import httpx

    from bench.ha_modern_bench import chroot_ha

    work = Path(tempfile.mkdtemp(prefix="hearth-ha-announce-"))
    texts = (MESSAGES * 4)[:args.count]
    media = await asyncio.to_thread(make_media, texts, work)
    uptime = [os.getloadavg()]
    # --debug: the server logs each engine call's gate wait and run time (engine_calls below)
    tts = await start_service("wyoming_kokoro", "--provider", "piper", "--engines", "piper", "--debug")
    rows: list[dict[str, Any]] = []
    version = "?"
    try:
        async with satellite(args, work) as sat:
            proxy, tts_proxy = TimingProxy(sat.port), TimingProxy(tts.port)
            await proxy.start()
            await tts_proxy.start()
            try:
                async with chroot_ha(args, lambda port: CONFIG.format(port=port)) as ha, \
                        httpx.AsyncClient(base_url=ha.url, timeout=120,
                                          headers={"Authorization": f"Bearer {ha.token}"}) as client:
                    version = (await client.get("/api/config")).json().get("version")
                    tts_entity = await entity_of(ha, await add_wyoming(client, tts_proxy.port), "tts")
                    engine = await ha.ws({"type": "tts/engine/get", "engine_id": tts_entity})
                    lang = next(x for x in engine["provider"]["supported_languages"] if x.startswith("en"))
                    pipe = await ha.ws({"type": "assist_pipeline/pipeline/create", "name": "hearth", "language": "en",
                                        "conversation_engine": "conversation.home_assistant",
                                        "conversation_language": "en", "stt_engine": None, "stt_language": None,
                                        "tts_engine": tts_entity, "tts_language": lang, "tts_voice": None,
                                        "wake_word_entity": None, "wake_word_id": None})
                    await ha.ws({"type": "assist_pipeline/pipeline/set_preferred", "pipeline_id": pipe["id"]})
                    sat_entity = await entity_of(ha, await add_wyoming(client, proxy.port), "assist_satellite")
                    for _ in range(120):
                        if proxy.seen("run-satellite"):
                            break
                        await asyncio.sleep(0.25)  # HA connects in its own time: poll the proxy's record
                    await asyncio.sleep(2.0)  # the satellite arms and opens its mic and speaker
                    with serve_files(work) as base:
                        for kind in ("message", "media_id"):
                            for i, text in enumerate(texts):
                                body: dict[str, Any] = {"entity_id": sat_entity, "preannounce": False}
                                body.update({"message": text} if kind == "message" else
                                            {"media_id": f"{base}/{media[i]}"})
                                n0, t0, l0 = len(proxy.events), len(tts_proxy.events), len(tts.log)
                                called = time.monotonic()
                                response = await client.post("/api/services/assist_satellite/announce", json=body)
                                returned = time.monotonic()
                                response.raise_for_status()
                                await asyncio.sleep(1.0)  # a late `played` would still be recorded
                                row = measure(list(proxy.events)[n0:], called, returned)
                                row.update(tts_parts(list(tts_proxy.events)[t0:], list(proxy.events)[n0:]))
                                row.update(engine_calls(tts.log[l0:]))
                                tail = [x for x in sat.log if "quiet_tail_ms=" in x][-1:]
                                found = re.search(r"quiet_tail_ms=(\d+)", tail[0]) if tail else None
                                row["quiet_tail_not_played_s"] = int(found.group(1)) / 1000 if found else None
                                rows.append({"kind": kind, "text": text, **row})
                                print(json.dumps(rows[-1]), flush=True)
                    uptime.append(os.getloadavg())
            finally:
                await proxy.stop()
                await tts_proxy.stop()
    finally:
        await tts.stop()
        if not args.keep_config:
            shutil.rmtree(work, ignore_errors=True)
    return {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "ha_version": version,
            "chime": not args.no_chime, "load_avg_before_after": uptime, "rows": rows}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))], 3)


COLUMNS = ["call_s", "audio_s", "call_over_audio_s", "audio_start_to_first_chunk_s", "audio_start_to_tts_request_s",
           "our_tts_first_audio_s", "our_tts_all_audio_s", "our_engine_run_s", "tts_last_audio_to_first_chunk_s",
           "first_to_last_chunk_s", "last_chunk_to_played_s", "audio_stop_to_played_s", "satellite_adds_s",
           "quiet_tail_not_played_s", "played_to_return_s"]


def markdown(res: dict[str, Any]) -> str:
    loads = " / ".join(" ".join(f"{v:.2f}" for v in x) for x in res["load_avg_before_after"])
    lines = [f"# Announcements through Home Assistant {res['ha_version']} ({res['when']})", "",
             f"`bench/ha_announce.py`, chime {'on' if res['chime'] else 'off (--no-announce-chime)'}; load average "
             f"before / after {loads} (2 cores, shared).", "",
             "| kind | n | " + " | ".join(f"{c} p50 / p95" for c in COLUMNS) + " | call within audio + 0.5 s |",
             "|---|---|" + "---|" * (len(COLUMNS) + 1)]
    for kind in ("message", "media_id"):
        rows = [r for r in res["rows"] if r["kind"] == kind]
        if not rows:
            continue
        cells = []
        for c in COLUMNS:
            vals = [r[c] for r in rows if r[c] is not None]
            cells.append(f"{pct(vals, 0.5)} / {pct(vals, 0.95)}" if vals else "-")
        within = sum(r["call_within_audio_plus_half"] for r in rows)
        lines.append(f"| {kind} | {len(rows)} | " + " | ".join(cells) + f" | {within}/{len(rows)} |")
    lines += ["", "Each announcement:", "", "| kind | " + " | ".join(COLUMNS) + " |", "|---|" + "---|" * len(COLUMNS)]
    lines += [f"| {r['kind']} | " + " | ".join(str(r[c]) for c in COLUMNS) + " |" for r in res["rows"]]
    med = statistics.median([r["call_s"] for r in res["rows"]]) if res["rows"] else None
    lines += ["", f"Median service call over both kinds: {med} s."]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = rig_parser(__doc__, ROOT / "bench/results/ha_announce")
    parser.add_argument("--count", type=int, default=5, help="announcements of each kind")
    parser.add_argument("--no-chime", action="store_true", help="run the satellite with --no-announce-chime")
    return run_on_rig(parser.parse_args(), run, markdown,
                      lambda res: all(r["played_within_audio_plus_half"] for r in res["rows"]))


if __name__ == "__main__":
    sys.exit(main())
