"""Piper voices through piper-tts (each voice an ``.onnx`` with its ``.onnx.json``)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .engine import EngineError, Samples, ShrinkingSession, Voice, kept_cpu_arena, onnx_providers, pause_after, silence
from .runs import bounded_runs
from .text import has_speech

_LOGGER = logging.getLogger(__name__)


def describe_voice(name: str, model: Path) -> tuple[Voice, int]:
    """A voice's name, language and speakers, and its sample rate, from its JSON config."""
    config = json.loads(model.with_suffix(".onnx.json").read_text(encoding="utf-8"))
    language = config.get("language", {}).get("code") or config.get("espeak", {}).get("voice", "en")
    speakers = tuple(sorted(config.get("speaker_id_map") or {}))
    dataset = config.get("dataset") or name
    quality = config.get("audio", {}).get("quality", "")
    voice = Voice(name, "piper", str(language), f"Piper {dataset} {quality}".strip(), speakers)
    return voice, int(config["audio"]["sample_rate"])


class PiperEngine:
    """Every given voice must share one sample rate (one stream, one format)."""

    provider = "piper"

    def __init__(
        self, models: Mapping[str, Path], *, length_scale: float | None = None, device: str = "cpu",
        max_run_chars: int = 120, threads: int = 1, kept_arena_mb: int = 96,
    ) -> None:
        if not models:
            raise EngineError("no Piper voice given")
        described = {name: describe_voice(name, path) for name, path in models.items()}
        rates = {rate for _voice, rate in described.values()}
        first = next(iter(described.values()))[1]
        if len(rates) > 1:
            kept = {n: d for n, d in described.items() if d[1] == first}
            _LOGGER.warning("piper voices with a rate other than %d Hz are not offered: %s",
                            first, sorted(set(described) - set(kept)))
            described = kept
        self.sample_rate = first
        self.length_scale = length_scale
        self.max_run_chars = max_run_chars  # longest text given to Piper at once (memory)
        self.use_cuda = device == "cuda"
        # One thread per call by default: on 2 shared, busy cores (load 2.5-3) Piper made 6 short
        # sentences in 1.07-1.33 s with one thread against 1.73-2.23 s with two (4 of 5 paired
        # rounds faster; only on a quiet box were two a little faster, 0.93 against 1.01 s).
        # Through Home Assistant (bench/results/ha_announce.md) our audio was all out in 0.18-0.37 s
        # against 0.16-1.06 s. 0: onnxruntime's default, one thread per core.
        self.threads = threads
        # The first MB of the CPU arena kept between runs (kept_cpu_arena; 0: all given back after each run).
        self.kept_arena_mb = 0 if self.use_cuda else kept_arena_mb
        if self.use_cuda:
            onnx_providers(device)  # refuses cuda early when onnxruntime has no CUDA
        self._models = {name: models[name] for name in described}
        self._voices = [voice for voice, _rate in described.values()]
        self._loaded: dict[str, Any] = {}
        self._stop = False  # interrupt()

    def voices(self) -> Sequence[Voice]:
        return self._voices

    def load(self, voice: str) -> Any:
        """The loaded voice (loaded on first use; call at start-up to preload)."""
        if voice not in self._loaded:
            import onnxruntime
            from piper import PiperVoice
            from piper.config import PiperConfig

            _LOGGER.info("loading piper voice=%s", voice)
            model = self._models[voice]
            device = "cuda" if self.use_cuda else "cpu"
            try:
                config = json.loads(model.with_suffix(".onnx.json").read_text(encoding="utf-8"))
                options = onnxruntime.SessionOptions()
                if self.threads > 0:
                    options.intra_op_num_threads = self.threads
                if kept_cpu_arena(self.kept_arena_mb):
                    options.add_session_config_entry("session.use_env_allocators", "1")
                session = onnxruntime.InferenceSession(str(model), sess_options=options,
                                                       providers=onnx_providers(device))
                shrinking = ShrinkingSession(session, device)
                shrinking.interrupt(self._stop)
                self._loaded[voice] = PiperVoice(config=PiperConfig.from_dict(config), session=shrinking)
            except Exception as err:
                raise EngineError(f"cannot load Piper voice {voice}: {err}") from err
        return self._loaded[voice]

    def interrupt(self, stop: bool) -> None:
        self._stop = stop  # (a voice loaded later starts with the flag as it is now)
        for loaded in list(self._loaded.values()):
            loaded.session.interrupt(stop)

    def synthesize(self, text: str, voice: str, speaker: str | None = None) -> Iterator[Samples]:
        if not has_speech(text):
            return
        from piper import SynthesisConfig

        model = self.load(voice)
        config = SynthesisConfig(length_scale=self.length_scale)
        if speaker is not None:
            speaker_id = model.config.speaker_id_map.get(speaker)
            if speaker_id is None and speaker.isdigit():
                speaker_id = int(speaker)
            config.speaker_id = speaker_id
        try:
            # Piper's memory grows with the length of one sentence (a 280-character run-on
            # sentence: ~340 MB): long ones go in runs that end at a clause.
            for run in bounded_runs(text, self.max_run_chars):
                for chunk in model.synthesize(run, syn_config=config):
                    yield np.asarray(chunk.audio_float_array, dtype=np.float32).reshape(-1)
        except Exception as err:
            raise EngineError(f"Piper failed on {len(text)} characters: {err}") from err
        yield silence(pause_after(text) * 0.5, self.sample_rate)
