"""Kokoro-82M (int8 ONNX) through kokoro-onnx: the English voices from kokoro-js (an ``.npz``) plus
single voices fetched from the hub (``NAME.bin``: raw float32, 510 x 1 x 256)."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from .engine import EngineError, Samples, ShrinkingSession, Voice, onnx_providers, pause_after, silence
from .text import has_speech

_LOGGER = logging.getLogger(__name__)
SAMPLE_RATE = 24000
VOICE_SHAPE = (510, 1, 256)
# Voice name prefixes: first letter is the language (Kokoro v1.0's; phonemes from espeak-ng, so
# only the English ones are measured here), second the gender.
_LANGUAGES = {"a": ("en_US", "en-us", "American English"), "b": ("en_GB", "en-gb", "British English"),
              "e": ("es_ES", "es", "Spanish"), "f": ("fr_FR", "fr-fr", "French"), "h": ("hi_IN", "hi", "Hindi"),
              "i": ("it_IT", "it", "Italian"), "j": ("ja_JP", "ja", "Japanese"),
              "p": ("pt_BR", "pt-br", "Brazilian Portuguese"), "z": ("zh_CN", "cmn", "Mandarin Chinese")}
_GENDERS = {"f": "female", "m": "male"}


def load_voice_file(path: Path) -> np.ndarray:
    """One hub voice file (``voices/NAME.bin``), checked: float32 510 x 1 x 256, all finite."""
    raw = np.fromfile(path, dtype="<f4")
    if raw.size != int(np.prod(VOICE_SHAPE)) or not np.isfinite(raw).all():
        raise EngineError(f"{path} is not a Kokoro voice (float32 {'x'.join(map(str, VOICE_SHAPE))}, finite)")
    return raw.reshape(VOICE_SHAPE)


def list_voices(voices_path: Path, extra: Mapping[str, Path] | None = None) -> list[Voice]:
    """The voices in a voices ``.npz`` (reads only its index) and the ``extra`` voice files."""
    with np.load(voices_path) as archive:
        names = sorted({*archive.files, *(extra or {})})
    found: list[Voice] = []
    for name in names:
        accent = _LANGUAGES.get(name[:1])
        if accent is None or len(name) < 3 or name[2] != "_":
            continue
        gender = _GENDERS.get(name[1:2], "")
        found.append(Voice(name, "kokoro", accent[0], f"Kokoro {accent[2]} {gender} {name[3:]}".replace("  ", " ")))
    return found


class KokoroEngine:
    provider = "kokoro"
    sample_rate = SAMPLE_RATE

    def __init__(self, model_path: Path, voices_path: Path, *, speed: float = 1.0, device: str = "cpu",
                 extra_voices: Mapping[str, Path] | None = None) -> None:
        if not 0.5 <= speed <= 2.0:
            raise ValueError(f"Kokoro speed must be between 0.5 and 2.0, got {speed}")
        import onnxruntime
        from kokoro_onnx import Kokoro

        self.speed = speed
        self._styles = {name: load_voice_file(path) for name, path in (extra_voices or {}).items()}
        self._voices = list_voices(voices_path, extra_voices)
        if not self._voices:
            raise EngineError(f"{voices_path} holds no Kokoro voices")
        session = onnxruntime.InferenceSession(str(model_path), providers=onnx_providers(device))
        self.session = ShrinkingSession(session, device)
        self._kokoro = Kokoro.from_session(self.session, str(voices_path))
        self._lang = {v.name: _LANGUAGES[v.name[0]][1] for v in self._voices}

    def voices(self) -> Sequence[Voice]:
        return self._voices

    def interrupt(self, stop: bool) -> None:
        self.session.interrupt(stop)

    def synthesize(self, text: str, voice: str, speaker: str | None = None) -> Iterator[Samples]:
        if not has_speech(text):
            return
        try:
            style = self._styles.get(voice)  # a fetched voice file, else a voice of the .npz by name
            audio, rate = self._kokoro.create(text, voice=voice if style is None else style, speed=self.speed,
                                              lang=self._lang[voice])
        except ValueError as err:
            # Text kokoro-onnx cannot phonemize (symbols, scripts without a voice): skip it.
            _LOGGER.warning("kokoro skipped %d characters: %s", len(text), err)
            return
        except Exception as err:
            raise EngineError(f"Kokoro failed on {len(text)} characters: {err}") from err
        if rate != SAMPLE_RATE:
            raise EngineError(f"Kokoro returned {rate} Hz audio, expected {SAMPLE_RATE}")
        yield np.asarray(audio, dtype=np.float32).reshape(-1)
        yield silence(pause_after(text), SAMPLE_RATE)
