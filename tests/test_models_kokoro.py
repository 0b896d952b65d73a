"""Kokoro voices and models on demand, against FakeHub serving the Kokoro ONNX repo's layout
(``voices/NAME.bin``: raw float32 510 x 1 x 256; ``onnx/model_quantized.onnx``). The voice the
fake serves is built from two installed voices, so the real model can speak with it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fake_hub import FakeHub, kokoro_repo
from helpers import connected, start_service
from speech import transcribe
from wyoming.audio import AudioChunk, AudioStart
from wyoming.info import Describe, Info
from wyoming.tts import Synthesize, SynthesizeVoice

from voice_runtime import modelctl
from voice_runtime.audio import AudioFormat
from voice_runtime.cli import ATTRIBUTION
from voice_runtime.hub import HubError
from voice_runtime.models import KOKORO_VOICE_BYTES, kokoro_voice_files, model_dirs, resolve_kokoro_voices

FETCHED = "af_fetched"  # not among the packaged English voices, so it must come from the hub


def blended_voice() -> bytes:
    """A valid voice no package has: the mean of two installed ones."""
    with np.load(resolve_kokoro_voices()) as packaged:
        style = (packaged["af_heart"] + packaged["af_bella"]) / 2
    data: bytes = style.astype("<f4").tobytes()  # (np.load's arrays are untyped)
    assert len(data) == KOKORO_VOICE_BYTES
    return data


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    repo = kokoro_repo({FETCHED: blended_voice(), "bf_broken": b"\0" * 1000},
                       {"model_quantized.onnx": bytes(range(256)) * 4500})
    with FakeHub(repos={modelctl.KOKORO_REPO: repo}) as fake:
        monkeypatch.setenv("HF_ENDPOINT", fake.url)
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        monkeypatch.delenv("HEARTH_OFFLINE", raising=False)
        yield fake


def test_kokoro_voices_and_models_by_name(tmp_path: Path, hub: FakeHub) -> None:
    dirs = model_dirs(download_dir=tmp_path)
    with pytest.raises(modelctl.ModelNotFound, match=f"did you mean {FETCHED}"):
        modelctl.fetch("af_fetchd", dirs=dirs)
    with pytest.raises(HubError, match="not a Kokoro voice"):
        modelctl.fetch("bf_broken", dirs=dirs)
    got = modelctl.fetch(FETCHED, dirs=dirs)
    assert got == tmp_path / "kokoro" / "voices" / f"{FETCHED}.bin"
    assert got.read_bytes() == hub.repos[modelctl.KOKORO_REPO][f"voices/{FETCHED}.bin"]
    assert kokoro_voice_files(dirs) == {FETCHED: got}
    model = modelctl.fetch("kokoro-int8", dirs=dirs)
    assert model == tmp_path / "kokoro" / "model_quantized.onnx"
    assert modelctl.resolve_or_fetch_kokoro_model("kokoro-int8", dirs) == model  # found now, no request
    assert all(modelctl.verify_installed(dirs).values())
    listed = modelctl.listing(dirs=dirs)
    assert f"kokoro   {FETCHED}" in listed and "kokoro-int8" in listed
    assert modelctl.remove(FETCHED, dirs) == [got]
    assert kokoro_voice_files(dirs) == {}


async def test_the_kokoro_server_speaks_with_a_voice_it_fetched(tmp_path: Path, hub: FakeHub) -> None:
    """`wyoming-kokoro --voice af_fetched --download-dir D`: fetched at start into D, offered in
    describe, and what it says with that voice is heard back by Whisper."""
    service = await start_service("wyoming_kokoro", "--provider", "kokoro", "--engines", "kokoro", "--voice", FETCHED,
                                  "--download-dir", str(tmp_path), "--no-warmup", timeout=300,
                                  env={"HF_ENDPOINT": hub.url})
    try:
        assert any(f"fetching kokoro voice={FETCHED}" in line for line in service.log)
        assert (tmp_path / "kokoro" / "voices" / f"{FETCHED}.bin").is_file()
        async with connected(service.port) as client:
            await client.send(Describe())
            info = Info.from_event((await client.recv_until("info"))[-1])
            assert FETCHED in {v.name for p in info.tts for v in p.voices}
            assert [p.attribution for p in info.tts] == [ATTRIBUTION]  # the same project credit everywhere
            await client.send(Synthesize(text="Turn on the kitchen light.", voice=SynthesizeVoice(name=FETCHED)))
            events = await client.recv_until("audio-stop")
    finally:
        await service.stop()
    start = AudioStart.from_event(next(e for e in events if AudioStart.is_type(e.type)))
    pcm = b"".join(AudioChunk.from_event(e).audio for e in events if AudioChunk.is_type(e.type))
    assert len(pcm) > start.rate * start.width * 0.5  # at least half a second of speech
    heard = transcribe(pcm, AudioFormat(start.rate, start.width, start.channels))
    assert "kitchen" in heard.lower(), heard

