"""The light satellite install (what a Raspberry Pi gets): a fresh venv with only the `[satellite]` extra.

``pip install '<repo>[satellite]'`` into a new venv (pip's own cache keeps it to about half a
minute after the first run), then: no server dependency came with it, and the installed ``voice-satellite``
(not this source tree) hears "Okay Nabu" in a WAV, streams the question to a scripted controller,
plays the reply and answers ``played``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT, connected, start_service
from speech import speak
from wyoming.asr import Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.pipeline import RunPipeline
from wyoming.satellite import RunSatellite
from wyoming.tts import Synthesize

from voice_runtime.audio import PCM16_MONO_16K, read_wav, write_wav

# What a satellite must never pull in: the speech/LLM servers' engines.
SERVER_ONLY = ("faster_whisper", "ctranslate2", "onnxruntime", "kokoro_onnx", "piper", "openai", "hassil",
               "torch", "llama_cpp")
SATELLITE_NEEDS = ("satellite", "wyoming", "numpy", "webrtcvad", "pymicro_wakeword", "pyopen_wakeword",
                   "pywebrtc_audio", "pyaudio")
PACKAGES = ("voice_runtime", "wyoming_whisper", "wyoming_kokoro", "wyoming_llama", "orchestrator", "satellite")
CLEAN_ENV = {"PYTHONPATH": "", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}  # nothing from this source tree


@pytest.fixture(scope="module")
def light_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new venv with only ``pip install '.[satellite]'`` (a copy of the source: the build writes into it)."""
    work = tmp_path_factory.mktemp("light")
    src = work / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    for package in PACKAGES:
        shutil.copytree(ROOT / package, src / package, ignore=shutil.ignore_patterns("__pycache__"))
    venv = work / "venv"
    env = {**os.environ, **CLEAN_ENV}
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120, env=env)
    # this venv's pip installs into the new one (pip --python): no ensurepip, ~25 s with a warm pip cache;
    # no byte-compiling of every installed file (numpy's thousand): what runs compiles on import
    pip = subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
                          "--no-compile", f"{src}[satellite]"],
                         check=False, capture_output=True, text=True, timeout=900, cwd=work, env=env)
    assert pip.returncode == 0, pip.stderr[-3000:]
    return venv


def test_the_satellite_extra_pulls_no_server_dependency(light_venv: Path) -> None:
    probe = ("import importlib.util, json, sys; "
             "print(json.dumps({m: (s.origin if (s := importlib.util.find_spec(m)) else None) for m in sys.argv[1:]}))")
    out = subprocess.run([str(light_venv / "bin" / "python"), "-c", probe, *SERVER_ONLY, *SATELLITE_NEEDS],
                         check=True, capture_output=True, text=True, timeout=60, cwd=light_venv,
                         env={**os.environ, **CLEAN_ENV})
    found = json.loads(out.stdout)
    assert {m: found[m] for m in SERVER_ONLY} == dict.fromkeys(SERVER_ONLY)
    missing = [m for m in SATELLITE_NEEDS if found[m] is None]
    assert missing == []
    assert str(found["satellite"]).startswith(str(light_venv))  # the installed copy, not this tree
    assert (light_venv / "bin" / "voice-satellite").exists()
    assert not list(light_venv.rglob("llama-server*"))
    assert (Path(str(found["satellite"])).parent / "wake_verifier_okay_nabu.npz").is_file()  # package data


async def test_the_installed_satellite_wakes_streams_and_plays(light_venv: Path, tmp_path: Path) -> None:
    mic, heard = tmp_path / "mic.wav", tmp_path / "heard.wav"
    question = speak("What time is it?")
    write_wav(str(mic), bytes(16000) + speak("Okay Nabu.") + question + bytes(96000), PCM16_MONO_16K)
    reply = speak("It is noon.")
    sat = await start_service(
        "satellite", "--mic-wav", str(mic), "--snd-wav", str(heard), "--snd-rate", "16000", "--no-tones",
        command=[str(light_venv / "bin" / "voice-satellite")], env=CLEAN_ENV)
    try:
        async with connected(sat.port) as client:
            await client.send(RunSatellite())
            streamed = await client.recv_until("audio-stop", timeout=60)
            types = [e.type for e in streamed if e.type not in ("audio-chunk", "ping", "pong")]
            assert types[:3] == ["detection", "run-pipeline", "audio-start"]
            run = RunPipeline.from_event(streamed[types.index("run-pipeline")])
            assert run.start_stage == "asr" and run.wake_word_name == "okay_nabu"
            audio = b"".join(AudioChunk.from_event(e).audio for e in streamed if e.type == "audio-chunk")
            assert len(audio) >= len(question) // 2  # the question was streamed, not just the wake word
            await client.send(Transcript(text="What time is it?"))
            await client.send(Synthesize(text="It is noon."))
            await client.send(AudioStart(rate=16000, width=2, channels=1))
            for pos in range(0, len(reply), 2048):
                await client.send(AudioChunk(rate=16000, width=2, channels=1, audio=reply[pos:pos + 2048]))
            await client.send(AudioStop())
            assert (await client.recv_until("played", timeout=60))[-1].type == "played"
    finally:
        await sat.stop()
    out, fmt = read_wav(str(heard))
    assert fmt == PCM16_MONO_16K
    assert reply[32000:48000] in out  # the reply reached the speaker untouched
