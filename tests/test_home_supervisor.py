"""`hearth serve`: one command runs the home server, restarts a crashing service with backoff
while the others keep serving, reports status, stops cleanly on SIGTERM; config errors name
the key; the systemd units it writes pass `systemd-analyze verify`."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT, connected, free_port
from wyoming.info import Describe, Info

from voice_runtime.home.config import ConfigError, load_config
from voice_runtime.home.supervisor import SERVICE_BACKOFF
from voice_runtime.home.units import UnitOptions, home_unit, satellite_unit
from voice_runtime.procs import ServiceProcess


def write(tmp: Path, text: str) -> Path:
    path = tmp / "hearth.toml"
    path.write_text(text)
    return path


def test_defaults_and_command_lines() -> None:
    config = load_config(None)
    assert [s.name for s in config.services if s.enabled] == ["whisper", "kokoro", "llama", "orchestrator"]
    assert config.command("whisper", "py") == ["py", "-m", "wyoming_whisper", "--uri", "tcp://127.0.0.1:10300"]
    assert config.command("orchestrator", "py") == [
        "py", "-m", "orchestrator", "serve", "--asr", "tcp://127.0.0.1:10300", "--tts", "tcp://127.0.0.1:10200",
        "--handle", "tcp://127.0.0.1:10450", "--discover"]


def test_satellites_and_a_disabled_engine(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, 'satellites = ["tcp://10.0.0.5:10700"]\n[llama]\nenabled = false\n'
                                         '[satellite]\nenabled = true\nargs = ["--no-tones"]\n'))
    command = config.command("orchestrator", "py")
    assert "--handle" not in command and "--discover" not in command
    assert command[-4:] == ["--satellite", "tcp://10.0.0.5:10700", "--satellite", "tcp://127.0.0.1:10700"]
    assert config.command("satellite", "py")[-1] == "--no-tones"


@pytest.mark.parametrize(("text", "named"), [
    ("colour = 1\n", "'colour'"),
    ("[whisper]\nmodel = 'tiny'\n", "'model' in [whisper]"),
    ("[kokoro]\nport = 'x'\n", "[kokoro] 'port' must be a int"),
    ("[kokoro]\nport = 70000\n", "port must be 1-65535"),
    ("[llama]\nargs = ['--uri', 'tcp://0.0.0.0:1']\n", "must not set --uri"),
    ("[orchestrator]\nport = 1\n", "[orchestrator] has no port"),
    ("satellites = ['192.168.1.2']\n", "tcp:// or unix://"),
    ("host = \n", "not valid TOML"),
])
def test_config_errors_name_the_key(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    assert named in str(caught.value)


def test_backoff_doubles_to_a_cap() -> None:
    # the wait before start n + 1 after n quick exits
    assert [SERVICE_BACKOFF.delay(n - 1) for n in (1, 2, 3, 4, 7, 20)] == [1.0, 2.0, 4.0, 8.0, 60.0, 60.0]


def test_units_are_hardened_and_verify(tmp_path: Path) -> None:
    opts = UnitOptions(user="hearth", venv=Path(sys.prefix), cache_dir=tmp_path / "cache",
                       state_dir=Path("/var/lib/hearth"), config=None)
    home = home_unit(opts)
    for line in ("User=hearth", "ProtectSystem=strict", "NoNewPrivileges=yes", "Restart=on-failure",
                 "StateDirectory=hearth", f"Environment=HEARTH_CACHE_DIR={tmp_path / 'cache'}"):
        assert line in home
    assert f"ExecStart={sys.prefix}/bin/hearth serve --state-dir /var/lib/hearth" in home
    sat = satellite_unit(opts, ["--uri", "tcp://0.0.0.0:10700", "--mic-command", "arecord -r 16000"])
    assert "SupplementaryGroups=audio" in sat and "'arecord -r 16000'" in sat
    verify = shutil.which("systemd-analyze")
    if verify is None:
        return  # the text checks above still ran; verify where systemd is installed
    (tmp_path / "hearth.service").write_text(home.replace("User=hearth", "User=root"))
    (tmp_path / "hearth-satellite.service").write_text(sat.replace("User=hearth", "User=root"))
    done = subprocess.run([verify, "verify", str(tmp_path / "hearth.service"),
                           str(tmp_path / "hearth-satellite.service")], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_the_home_unit_keeps_timers_where_it_may_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Under the unit, home folders are read-only (ProtectHome) and only ReadWritePaths are writable:
    the orchestrator's timers folder must be one of them, or it stops at start ("--data-dir
    /root/.local/share/hearth: timers cannot be kept there (Read-only file system)") and the
    supervisor restarts it forever. Read as the orchestrator reads it (its parser, the unit's env)."""
    from orchestrator.__main__ import build_parser

    opts = UnitOptions(user="hearth", venv=Path(sys.prefix), cache_dir=tmp_path / "cache",
                       state_dir=Path("/var/lib/hearth"), config=None)
    unit = home_unit(opts)
    assert "ProtectHome=read-only" in unit
    writable = [Path(p) for line in unit.splitlines() if line.startswith("ReadWritePaths=")
                for p in line.removeprefix("ReadWritePaths=").split()]
    for line in unit.splitlines():
        if line.startswith("Environment="):
            name, _, value = line.removeprefix("Environment=").partition("=")
            monkeypatch.setenv(name, value)
    data_dir = build_parser().parse_args(["serve"]).data_dir
    assert any(data_dir == p or p in data_dir.parents for p in writable), (data_dir, writable)


def test_the_satellite_unit_keeps_its_echo_path_where_it_may_write(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The satellite keeps its learned echo path (satellite/aec_state.py) in ``--state-dir``, by default
    ``$HEARTH_DATA_DIR/satellite``; under the unit the home folder is read-only, so without the unit's
    HEARTH_DATA_DIR every write failed ("cannot keep the echo path") and each start was cold."""
    from satellite.__main__ import build_parser

    opts = UnitOptions(user="hearth", venv=Path(sys.prefix), cache_dir=tmp_path / "cache",
                       state_dir=Path("/var/lib/hearth"), config=None)
    unit = satellite_unit(opts, ["--uri", "tcp://0.0.0.0:10700"])
    assert "ProtectHome=read-only" in unit
    writable = [Path(p) for line in unit.splitlines() if line.startswith("ReadWritePaths=")
                for p in line.removeprefix("ReadWritePaths=").split()]
    monkeypatch.delenv("SATELLITE_STATE_DIR")  # tests/conftest.py: '' for the satellites tests start
    monkeypatch.delenv("HEARTH_DATA_DIR")
    for line in unit.splitlines():
        if line.startswith("Environment="):
            name, _, value = line.removeprefix("Environment=").partition("=")
            monkeypatch.setenv(name, value)
    state_dir = Path(build_parser().parse_args(["--uri", "tcp://0.0.0.0:10700"]).state_dir)
    assert any(p in state_dir.parents for p in writable), (state_dir, writable)


async def test_hearth_serve_uses_its_own_engines_not_others_found_by_zeroconf(tmp_path: Path) -> None:
    """With no satellites configured hearth runs the orchestrator with --discover (to find satellites);
    that used to add every ASR/TTS/LLM/intent service zeroconf found on the network to its own engines
    as round-robin replicas (checked 2026-12-02: a second whisper advertised on the LAN joined the pool)."""
    from orchestrator.__main__ import build_config, build_parser, build_pipeline
    from orchestrator.services import discover_services
    from voice_runtime.latency import LatencyMonitor
    from voice_runtime.procs import start_service

    name = f"someone-elses-asr-{free_port()}"
    other = await start_service("wyoming_whisper", "--model", "tiny.en", "--zeroconf", "--zeroconf-name", name)
    try:
        found = await discover_services(timeout=2.0, interface="127.0.0.1")
        assert other.uri in found["asr"]  # it is there to be found
        command = load_config(None).command("orchestrator", "py")[3:]
        assert command[-1] == "--discover"
        args = build_parser().parse_args([*command, "--discover-interface", "127.0.0.1",
                                          "--discover-seconds", "2.0", "--data-dir", str(tmp_path)])
        pipeline = await build_pipeline(build_config(args), LatencyMonitor())
        try:
            assert pipeline.asr.uris == ["tcp://127.0.0.1:10300"], pipeline.asr.uris
        finally:
            await pipeline.close()
    finally:
        await other.stop()


async def test_serve_restarts_a_crashing_service_while_the_others_serve(tmp_path: Path) -> None:
    tts_port, stt_port = free_port(), free_port()
    config = write(tmp_path, f"""
state_dir = "{tmp_path / 'state'}"
[whisper]
port = {stt_port}
args = ["--model", "no-such-model"]
[kokoro]
port = {tts_port}
args = ["--provider", "piper", "--engines", "piper", "--no-warmup"]
[llama]
enabled = false
[orchestrator]
enabled = false
""")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voice_runtime.home", "serve", "--config", str(config),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        cwd=str(ROOT))
    home = ServiceProcess(proc, "", 0)
    try:
        assert await home.wait_log("service=kokoro ", timeout=120)
        assert await home.wait_log("listening uri=", timeout=180)  # kokoro's own line, relayed
        assert await home.wait_log("service=whisper exited", count=2, timeout=120)
        restarts = [line for line in home.log if "service=whisper exited" in line]
        assert "restart 1 in 1s" in restarts[0] and "restart 2 in 2s" in restarts[1], restarts
        async with connected(tts_port) as client:  # the others keep serving
            await client.send(Describe())
            info = await client.recv()
            assert info is not None and Info.is_type(info.type)
        status = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "voice_runtime.home", "status", "--config", str(config),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, cwd=str(ROOT))
        out = (await status.communicate())[0].decode()
        assert status.returncode == 1, out  # whisper is not running
        kokoro_line = next(line for line in out.splitlines() if line.strip().startswith("kokoro"))
        assert "running" in kokoro_line and "answers describe" in kokoro_line, out
        assert "backoff" in next(line for line in out.splitlines() if line.strip().startswith("whisper")), out
        pids = [int(p) for p in (await asyncio.to_thread(_kokoro_pids, tmp_path / "state" / "status.json"))]
    finally:
        code = await home.stop(signal.SIGTERM, timeout=60)
    assert code == 0 and any("all services stopped" in line for line in home.log)
    assert all(_gone(pid) for pid in pids), pids


def _kokoro_pids(path: Path) -> list[int]:
    import json

    state = json.loads(path.read_text())
    return [state["services"]["kokoro"]["pid"]]


def _gone(pid: int) -> bool:
    """The process no longer runs (no /proc entry, or a zombie nobody reaped yet)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


def test_status_without_a_supervisor_says_so(tmp_path: Path) -> None:
    config = write(tmp_path, f'state_dir = "{tmp_path}"\n')
    done = subprocess.run([sys.executable, "-m", "voice_runtime.home", "status", "--config", str(config)],
                          capture_output=True, text=True, cwd=str(ROOT), env={**os.environ}, check=False)
    assert done.returncode == 1 and "no supervisor status" in done.stdout
