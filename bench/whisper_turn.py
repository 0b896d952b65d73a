"""A turn's audio transcribed as the whisper server transcribes it (what the user got), offline.

The server does not decode everything the satellite streamed: :class:`wyoming_whisper.stream.Utterance`
keeps Silero's speech region (0.5 s lead or its reach back over loud first words, the endpointing's
0.1 s pad after the speech: ``ENDPOINT_PAD_SECONDS``, the pad an orchestrator's turn gets), and
when tiny.en's final text repeats a phrase the region plus 0.2 s more is decoded again
(``Utterance.loop_retry``). :class:`ServerTurn` runs that same code on the whole stream (the final
decode at audio-stop) with the server's default model and beam; ``whole`` decodes every streamed
sample instead (what ``bench/room_bench.py`` judged before: not what the product heard).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Heard:
    text: str
    region: tuple[int, int] | None  # samples of the stream decoded (None: no speech, nothing decoded)
    looped: bool = False  # the first decode repeated a phrase and was decoded again, longer


class ServerTurn:
    """tiny.en (the server's default), beam 5, the server's VAD region and loop retry."""

    def __init__(self, engine: Any = None) -> None:
        from voice_runtime.models import resolve_whisper, silero_vad
        from wyoming_whisper.__main__ import DEFAULT_MODEL
        from wyoming_whisper.engine import EngineConfig, WhisperEngine
        from wyoming_whisper.vad import SileroVad

        self.engine = engine or WhisperEngine(EngineConfig(resolve_whisper(DEFAULT_MODEL)))
        self.vad = SileroVad(silero_vad())

    def policy(self) -> Any:
        from wyoming_whisper.engine import SAMPLE_RATE
        from wyoming_whisper.policy import ENDPOINT_PAD_SECONDS
        from wyoming_whisper.stream import StreamPolicy
        from wyoming_whisper.vad import WINDOW, VadPolicy

        pad = round(ENDPOINT_PAD_SECONDS * SAMPLE_RATE / WINDOW)
        return StreamPolicy(vad=VadPolicy(pad_windows=pad), settle_windows=pad)

    def __call__(self, pcm: bytes) -> Heard:
        """The final transcript of ``pcm`` (16 kHz mono 16-bit, all of it streamed then audio-stop)."""
        from wyoming_whisper.stream import Utterance

        utterance = Utterance(self.vad.stream(), self.policy())
        utterance.add(pcm)
        utterance.finish_audio()
        region = utterance.region()
        if region is None:
            return Heard("", None)
        text = self.engine.transcribe(utterance.job("final", region).audio(), "en").text
        longer = utterance.loop_retry(region, text)
        if longer is None:
            return Heard(text, region)
        return Heard(self.engine.transcribe(utterance.job("final", longer).audio(), "en").text, longer, True)

    def whole(self, pcm: bytes) -> str:
        """Every streamed sample decoded (no region): the judge ``bench/room_bench.py`` used."""
        audio = (np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], "<i2") / 32768).astype(np.float32)
        return str(self.engine.transcribe(audio, "en").text)
