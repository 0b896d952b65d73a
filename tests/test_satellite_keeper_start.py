"""The kept echo path is loaded and speex trained on it off the event loop, before the mic loop starts (__main__).

Session 29 kept the echo path across processes (satellite.aec_state): at start speex is trained on it with 20 s of
white noise (~0.15 s of CPU on the 2-core box) — on the event loop. Now in a thread (``asyncio.to_thread``), and
awaited before ``Satellite.start`` opens the mic loop: no frame (no first reply) meets a half-set front end.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from pathlib import Path
from typing import Any

import pytest

import satellite.__main__ as entry
from satellite.aec import FrontendConfig
from satellite.audio_io import AudioConfig
from satellite.core import SatelliteConfig
from voice_runtime.server import ServerConfig


class _Started(Exception):
    pass


def test_the_kept_path_is_trained_in_a_thread_before_the_mic_loop(monkeypatch: pytest.MonkeyPatch,
                                                                    tmp_path: Path) -> None:
    seen: list[str] = []

    class Keeper:
        def __init__(self, *args: Any) -> None:
            pass

        def start(self) -> bool:
            seen.append("main thread" if threading.current_thread() is threading.main_thread() else "thread")
            return True

        async def run(self) -> None:
            await asyncio.Event().wait()

    class Sat:
        guard = None

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pass

        async def start(self) -> None:
            seen.append("mic loop")
            raise _Started

        async def stop(self) -> None:
            pass

    class Speaker:
        rate = 22050

    monkeypatch.setattr(entry, "open_audio", lambda audio, frame_bytes: (object(), Speaker()))
    monkeypatch.setattr(entry, "AudioFrontend", lambda config, rate: object())
    monkeypatch.setattr(entry, "Satellite", Sat)
    monkeypatch.setattr(entry, "EchoKeeper", Keeper)
    config = SatelliteConfig()
    config = dataclasses.replace(config, frontend=dataclasses.replace(FrontendConfig(), state_dir=str(tmp_path)))
    with pytest.raises(_Started):
        asyncio.run(entry.serve(config, AudioConfig(), None, ServerConfig("tcp://127.0.0.1:0")))
    assert seen == ["thread", "mic loop"]  # main: trained on the loop's (main) thread
