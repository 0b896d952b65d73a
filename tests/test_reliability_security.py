"""Security on real processes: the allow-list, connection limits and idle timeouts of a server,
API keys kept out of logs, error events and recorded sessions (even when a cloud API echoes
them back), and no subprocess ever started through a shell (a static check of the project's
code, plus a mic command with shell syntax in it that must not be interpreted).

The server under test for the limits is the satellite (``python -m satellite``): it is the one
most often exposed on a home network and it starts without loading a model; the limits are
the shared runtime's, the same in every server.
"""

from __future__ import annotations

import ast
import asyncio
import gc
import json
import os
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from helpers import ROOT, Client, connected, free_port, start_service
from speech import speak
from test_satellite_cloud import FakeHttpServer, Request, Route
from test_satellite_service import silence
from wyoming.asr import Transcript
from wyoming.error import Error
from wyoming.info import Attribution, Describe, Info, Satellite
from wyoming.satellite import RunSatellite

from voice_runtime.audio import PCM16_MONO_16K, write_wav
from voice_runtime.handler import ServiceHandler
from voice_runtime.procs import ServiceProcess
from voice_runtime.server import ServerConfig, WyomingServer, allowed, parse_networks

DEEPGRAM_KEY = "dg-reliability-4f1c9a7e2b"
DEEPSEEK_KEY = "sk-reliability-8d3e6b0a5c"
KEYS = {"DEEPGRAM_API_KEY": DEEPGRAM_KEY, "DEEPSEEK_API_KEY": DEEPSEEK_KEY}


def leaks(text: str) -> list[str]:
    """The keys (or a recognisable half of one) found in ``text``."""
    return [key for key in KEYS.values() if key in text or key[-10:] in text]


SILENT_MIC = Path(tempfile.gettempdir()) / f"hearth-silent-mic-{os.getpid()}.wav"


async def satellite_server(*flags: str, env: dict[str, str] | None = None) -> ServiceProcess:
    """A satellite whose microphone is a quiet room: a short silent WAV, then silence in real time.
    (Not /dev/null: that is no WAV, so the satellite would exit once a controller arms its mic.)"""
    if not SILENT_MIC.exists():
        write_wav(str(SILENT_MIC), silence(0.1), PCM16_MONO_16K)
    return await start_service("satellite", "--no-wake-word", "--mic-wav", str(SILENT_MIC), "--snd-wav", "/dev/null",
                               "--no-tones", *flags, env=env)


async def expect_refusal(port: int, code: str) -> None:
    async with connected(port) as client:
        event = await client.recv(timeout=10)
        assert event is not None and Error.is_type(event.type), event
        assert Error.from_event(event).code == code
        assert await client.recv(timeout=10) is None  # then closed


async def describe_works(client: Client) -> bool:
    await client.send(Describe())
    events = await client.recv_until("info", timeout=10)
    return events[-1].type == "info"


# --- network exposure --------------------------------------------------------------------
async def test_allow_list_refuses_other_networks_and_accepts_listed_ones() -> None:
    refusing = await satellite_server("--allow", "10.0.0.0/8", "--allow", "192.168.0.0/16")
    try:
        await expect_refusal(refusing.port, "forbidden")
        assert await refusing.wait_log("refused client=127.0.0.1 reason=not-in-allow-list", timeout=10)
        assert refusing.proc.returncode is None
    finally:
        await refusing.stop()
    accepting = await satellite_server("--allow", "10.0.0.0/8", "--allow", "127.0.0.0/8")
    try:
        async with connected(accepting.port) as client:
            assert await describe_works(client)
    finally:
        await accepting.stop()
    assert not any("refused" in line for line in accepting.log)


async def test_allow_list_over_ipv6_and_for_ipv4_clients_seen_through_ipv6() -> None:
    """A server on ``tcp://[::1]``: an IPv6 client is matched against IPv6 networks; an IPv4
    client that reaches an IPv6 socket (``::ffff:a.b.c.d``) against the IPv4 networks."""
    info = Info(satellite=Satellite(name="v6", description="", attribution=Attribution("t", ""), installed=True,
                                    version="1"))
    for allow, welcome in ((("::1/128",), True), (("127.0.0.0/8", "fd00::/8"), False)):
        server = WyomingServer(ServerConfig(uri="tcp://[::1]:0", allow=allow),
                               lambda r, w: ServiceHandler(r, w, info=lambda: info))
        await server.start()
        try:
            client = await Client.connect(server.port or 0, host="::1")
            try:
                if welcome:
                    assert await describe_works(client)
                else:
                    event = await client.recv(timeout=10)
                    assert event is not None and Error.from_event(event).code == "forbidden"
            finally:
                await client.close()
        finally:
            await server.stop()
    v4 = parse_networks(("192.168.1.0/24",))
    assert allowed("::ffff:192.168.1.5", v4) and allowed("192.168.1.5", v4)
    assert not allowed("::ffff:10.0.0.5", v4) and not allowed("fe80::1%eth0", v4) and not allowed("bogus", v4)
    assert allowed("fe80::1%eth0", parse_networks(("fe80::/10",)))


async def test_connection_limit_refuses_the_extra_client_and_frees_its_slot() -> None:
    server = await satellite_server("--max-connections", "2")
    try:
        first, second = await Client.connect(server.port), await Client.connect(server.port)
        try:
            assert await describe_works(first) and await describe_works(second)
            await expect_refusal(server.port, "too-many-connections")
            assert await describe_works(first) and await describe_works(second)  # unaffected
            await first.send(RunSatellite())
            assert await server.wait_log("controller attached", timeout=10)
        finally:
            await first.close()
        assert await server.wait_log("controller gone", timeout=10)
        try:
            # The slot is free once the server has finished with the closed connection.
            for _ in range(100):
                third = await Client.connect(server.port)
                await third.send(Describe())
                answer = await third.recv(timeout=10)
                if answer is not None and answer.type == "info":
                    break
                await third.close()
            assert answer is not None and answer.type == "info"
            await third.close()
        finally:
            await second.close()
    finally:
        await server.stop()


async def test_idle_connection_is_closed_with_idle_timeout() -> None:
    server = await satellite_server("--idle-timeout", "0.5")
    try:
        async with connected(server.port) as client:
            assert await describe_works(client)
            event = await client.recv(timeout=10)  # then silence from us
            assert event is not None and Error.from_event(event).code == "idle-timeout"
            assert await client.recv(timeout=10) is None
    finally:
        await server.stop()


def parse_python(path: Path) -> ast.Module:
    """``ast.parse`` with the garbage collector held off. On CPython 3.11.7 a finalizer that
    formats a traceback while ``ast.parse`` is building nodes (asyncio logging a task's
    unretrieved exception does) re-enters the AST converter and corrupts its depth count:
    ``SystemError: AST constructor recursion depth mismatch`` (fixed in later 3.11 releases)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return ast.parse(path.read_text(encoding="utf-8"), str(path))
    finally:
        if enabled:
            gc.enable()


def test_every_server_binds_to_loopback_by_default() -> None:
    """Exposure is opt-in: the default URI of every server is loopback only."""
    packages = ["satellite", "wyoming_whisper", "wyoming_kokoro", "wyoming_llama"]
    for package in packages:  # (a package's flags may live beside its __main__: wyoming_llama/flags.py)
        files = [ROOT / package / name for name in ("__main__.py", "flags.py") if (ROOT / package / name).exists()]
        defaults = [kw.value.value for tree in map(parse_python, files) for node in ast.walk(tree)
                    if isinstance(node, ast.Call) for kw in node.keywords
                    if kw.arg == "default_uri" and isinstance(kw.value, ast.Constant)]
        assert defaults and all(str(d).startswith("tcp://127.0.0.1:") for d in defaults), (package, defaults)


@pytest.mark.parametrize("line", [b"[" * 5000 + b"\n", b'{"type": "ping", "n": ' + b"7" * 5000 + b"}\n"],
                         ids=["deep-nesting", "huge-integer"])
async def test_json_the_parser_chokes_on_gets_bad_json_and_keeps_the_connection(line: bytes) -> None:
    server = await satellite_server()
    try:
        async with connected(server.port) as client:
            await client.send_raw(line)  # a 5 KB header: well inside the 64 KiB cap
            event = await client.recv(timeout=10)
            assert event is not None and Error.is_type(event.type), event
            assert Error.from_event(event).code == "bad-json"
            assert await describe_works(client)  # a bad header line is not fatal
    finally:
        await server.stop()
    assert not any(line.startswith("Traceback") for line in server.log)


# --- secrets --------------------------------------------------------------------------------
class FakeEchoingCloud(FakeHttpServer):
    """Deepgram and DeepSeek endpoints that refuse every request with 401 and, as some APIs do,
    quote the credentials they were given in the error body."""

    def __init__(self) -> None:
        routes: dict[str, Route] = {path: self.refuse for path in ("/v1/listen", "/v1/speak", "/v1/chat/completions")}
        super().__init__(routes)

    async def refuse(self, request: Request, writer: asyncio.StreamWriter) -> None:
        body = json.dumps({"error": {"message": f"Invalid credentials: {request.headers.get('authorization')}",
                                     "type": "authentication_error", "code": "invalid_api_key"}}).encode()
        writer.write(b"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n"
                     + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        await writer.drain()


@pytest.fixture
async def echoing_cloud() -> AsyncIterator[FakeEchoingCloud]:
    async with FakeEchoingCloud() as cloud:
        yield cloud


async def test_satellite_never_logs_the_cloud_keys_even_when_the_cloud_echoes_them(
    echoing_cloud: FakeEchoingCloud, tmp_path: Path,
) -> None:
    write_wav(str(tmp_path / "mic.wav"), silence(0.5) + speak("What time is it?") + silence(3.0), PCM16_MONO_16K)
    sat = await start_service(
        "satellite", "--no-wake-word", "--mic-wav", str(tmp_path / "mic.wav"), "--mic-wav-fast", "--snd-wav",
        str(tmp_path / "out.wav"), "--no-tones", "--enable-cloud-fallback", "--deepgram-url", echoing_cloud.url,
        "--deepseek-url", f"{echoing_cloud.url}/v1", "--debug", env=KEYS,
    )
    try:
        assert await sat.wait_log("cloud turn failed", timeout=60)
        cmdline = (await asyncio.to_thread(Path(f"/proc/{sat.pid}/cmdline").read_bytes)).decode(errors="replace")
    finally:
        await sat.stop()
    requests = echoing_cloud.requests
    assert requests and requests[0].headers["authorization"] == f"Token {DEEPGRAM_KEY}"  # the key was used
    log = "\n".join(sat.log)
    assert leaks(log) == [], [line for line in sat.log if leaks(line)]
    assert leaks(cmdline) == []  # keys come from the environment, never from flags


async def test_llama_key_stays_out_of_logs_errors_and_recorded_sessions(
    echoing_cloud: FakeEchoingCloud, tmp_path: Path,
) -> None:
    llama = await start_service("wyoming_llama", "--provider", "openai-compatible", "--base-url",
                                f"{echoing_cloud.url}/v1", "--debug", env=KEYS)
    port = free_port()
    out = tmp_path / "session.jsonl"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voice_runtime.session", "record", "--listen", f"tcp://127.0.0.1:{port}",
        "--server", llama.uri, "--out", str(out), stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, cwd=str(ROOT), env={**os.environ, **KEYS},
    )
    recorder = ServiceProcess(proc, f"tcp://127.0.0.1:{port}", port)
    try:
        assert await recorder.wait_log("listening uri=", timeout=30)
        async with connected(port) as client:
            # A careless client puts a key in the context and the text: the file must not keep it.
            await client.send(Transcript(text=f"my key is {DEEPSEEK_KEY}, what is two plus two?",
                                         context={"conversation_id": "sec", "api_key": DEEPGRAM_KEY}))
            answers = await client.recv_until("error", timeout=120)
        assert await recorder.wait_log("saved", timeout=30)
    finally:
        await recorder.stop()
        await llama.stop()
    assert echoing_cloud.requests[0].headers["authorization"] == f"Bearer {DEEPSEEK_KEY}"
    error = Error.from_event(answers[-1])
    assert leaks(error.text or "") == [], error.text  # not in what a client is told
    assert leaks("\n".join(llama.log)) == [], [line for line in llama.log if leaks(line)]
    assert leaks("\n".join(recorder.log)) == []
    recorded = out.read_text(encoding="utf-8")
    assert leaks(recorded) == [], recorded[:2000]
    events = [json.loads(line) for line in recorded.splitlines()[1:]]
    sent = next(e for e in events if e["dir"] == "in" and e["type"] == "transcript")
    assert sent["data"]["context"]["api_key"] == "[redacted]" and "what is two plus two" in sent["data"]["text"]
    assert any(e["dir"] == "out" and e["type"] == "error" for e in events)


# --- subprocesses never through a shell --------------------------------------------------------
PROJECT_PACKAGES = ("voice_runtime", "wyoming_whisper", "wyoming_kokoro", "wyoming_llama", "orchestrator",
                    "satellite", "bench", "scripts", "tests")
SHELL_CALLS = {"system", "popen", "create_subprocess_shell", "getoutput", "getstatusoutput"}


def shell_uses(path: Path, root: Path = ROOT) -> list[str]:
    found = []
    for node in ast.walk(parse_python(path)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        where = f"{path.relative_to(root)}:{node.lineno}"
        if name in SHELL_CALLS:
            found.append(f"{where} {name}()")
        for kw in node.keywords:
            if kw.arg == "shell" and not (isinstance(kw.value, ast.Constant) and kw.value.value is False):
                found.append(f"{where} shell=")
    return sorted(found)


def test_no_project_code_runs_a_subprocess_through_a_shell() -> None:
    files = [p for package in PROJECT_PACKAGES for p in (ROOT / package).rglob("*.py")]
    assert len(files) > 50
    found = [use for path in files for use in shell_uses(path)]
    assert found == []


def test_the_shell_check_finds_what_it_looks_for(tmp_path: Path) -> None:
    """The control for the check above."""
    sample = tmp_path / "sample.py"
    sample.write_text("import asyncio, os, subprocess\nos.system('ls')\nsubprocess.run('ls', shell=True)\n"
                      "subprocess.run(['ls'], shell=False)\nasyncio.create_subprocess_shell('ls')\n",
                      encoding="utf-8")
    assert shell_uses(sample, tmp_path) == ["sample.py:2 system()", "sample.py:3 shell=",
                                            "sample.py:5 create_subprocess_shell()"]


async def test_mic_command_with_shell_syntax_is_not_run_by_a_shell(tmp_path: Path) -> None:
    raw = tmp_path / "mic.raw"
    raw.write_bytes(bytes(3200))
    pwned = tmp_path / "pwned"
    sat = await start_service("satellite", "--no-wake-word", "--mic-command", f"cat {raw}; touch {pwned}", "--snd-wav",
                              str(tmp_path / "out.wav"), "--no-tones")
    try:
        async with connected(sat.port) as client:
            await client.send(RunSatellite())  # arms the satellite: the mic command starts
            assert await sat.wait_log("microphone ended", timeout=30)
            # it exits by itself when its microphone ends (after closing mic and speaker), not on our stop
            code = await asyncio.wait_for(sat.proc.wait(), timeout=30)
    finally:
        await sat.stop()
    assert not pwned.exists(), "the mic command went through a shell"
    assert code != 0
