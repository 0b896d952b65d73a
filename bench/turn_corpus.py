"""The end-of-turn benchmark's corpus: requests spoken by 6 voices, some with a pause mid-sentence.

Made at bench time and cached (``~/.cache/hearth/turn_corpus``; nothing large is committed).
Voices: five Kokoro voices and Piper joe. A paused request is spoken whole (so the voice keeps
its mid-sentence intonation at the pause), the word boundary found with Whisper's word
timestamps (moved to the quietest 10 ms within 60 ms), and silence inserted there; when the
boundary cannot be found the two halves are spoken apart (split synthesis). The cache holds that
rendering with the nominal pause as exact zeros (generation 1: the voices' quiet word ends made the
silence heard 0-0.48 s longer); generation 2, the default, resizes the zeros so that the silence
measured around them (``bench/turn_pauses.py``: below -40 dBFS, 10 ms windows) is the nominal
pause. ``bench/prosody_probe.py`` reads the cache itself (generation 1). Conditions cycle
over clean, far-field (-20..0 dB) and noisy (white noise at -40..-30 dBFS) variants.

The ``held`` split was written before the rules in ``wyoming_whisper/endpoint.py`` were tuned
and is reported apart; nothing was tuned on it.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.turn_pauses import fit_pause
from voice_runtime.audio import PCM16_MONO_16K, AudioFormat, convert
from voice_runtime.models import cache_dir, resolve_kokoro_model, resolve_kokoro_voices, resolve_piper

RATE = 16000
GENERATION = 2  # 1: sessions 6-17's corpus, each pause the inserted zeros (see bench/results/turn_pauses.md)
LEAD = 0.3  # silence before the speech
# (text, pause after this many words or 0, "open": the word before the pause cannot end a
# request / "can-end": it can, as in "how far away ... is the moon")
TUNE = [
    ("How far away is the moon from the earth?", 3, "can-end"),
    ("Turn on the kitchen lights.", 3, "open"),
    ("Set a timer for fifteen minutes.", 4, "open"),
    ("What is the capital of Australia?", 3, "open"),
    ("Can you play some music by the Beatles?", 5, "can-end"),
    ("Remind me to call my mother tomorrow.", 5, "open"),
    ("What's the weather going to be like tomorrow?", 5, "open"),
    ("Turn off the lights in the living room.", 4, "can-end"),
    ("How many days are there in a leap year?", 6, "open"),
    ("Add milk and eggs to the shopping list.", 3, "open"),
    ("Who wrote the novel Pride and Prejudice?", 4, "can-end"),
    ("Set an alarm for seven thirty in the morning.", 4, "open"),
    ("Tell me a joke about penguins.", 4, "can-end"),
    ("Turn the bedroom lights down to fifty percent.", 4, "can-end"),
    ("Stop.", 0, ""),
    ("What time is it?", 0, ""),
    ("Turn on the kitchen lights.", 0, ""),
    ("Pause the music.", 0, ""),
    ("Cancel the timer.", 0, ""),
    ("What's the weather today?", 0, ""),
    ("Thank you.", 0, ""),
    ("Turn the volume up.", 0, ""),
    ("How old is the universe?", 0, ""),
]
HELD = [
    ("What is the tallest mountain in the world?", 3, "open"),
    ("Switch off the bedroom lamp.", 3, "open"),
    ("Play the next song on my playlist.", 5, "open"),
    ("How long does it take to boil an egg?", 5, "can-end"),
    ("Set the thermostat to twenty degrees.", 4, "open"),
    ("Where is the nearest pharmacy?", 4, "open"),
    ("Open the garage door and turn on the porch light.", 5, "open"),
    ("How far away is Mars?", 3, "can-end"),
    ("Lock the front door please.", 4, "can-end"),
    ("What time does the store close?", 3, "open"),
    ("Read me the news headlines from today.", 3, "open"),
    ("Next song.", 0, ""),
    ("Good morning.", 0, ""),
    ("Lights off.", 0, ""),
    ("Yes.", 0, ""),
    ("What day is it?", 0, ""),
    ("Volume down.", 0, ""),
]
KOKORO_VOICES = ["af_heart", "am_michael", "bf_emma", "bm_george", "af_nicole", "am_adam", "bf_isabella"]
PAUSES = [0.3, 0.45, 0.6, 0.75, 0.9]
# (name, gain dB, noise dBFS or None)
CONDITIONS = [
    ("clean", 0.0, None),
    ("far", -20.0, None),
    ("noisy", -10.0, -40.0),
    ("noisy", 0.0, -30.0),
    ("far+noise", -14.0, -40.0),
]


@dataclass(frozen=True)
class Request:
    id: str
    split: str  # "tune" or "held"
    text: str
    voice: str
    pause_after: int  # words before the pause (0: none)
    pause_kind: str
    pause: float  # seconds
    condition: str
    gain_db: float
    noise_dbfs: float | None
    method: str  # "aligned", "split" or "whole"
    pcm: bytes  # 16 kHz mono 16-bit, LEAD s of silence, then the speech; no trailing silence
    speech_end: float  # seconds from the start to the last voiced sample
    clean: bytes = field(default=b"", repr=False)  # the clean source: no lead, gain or noise

    def words_after_pause(self) -> list[str]:
        return norm_words(self.text)[self.pause_after :] if self.pause_after else []


def clean_source(request: Request) -> np.ndarray[Any, np.dtype[np.float32]]:
    """The request's clean rendering (float, -1..1): before the lead, the gain and the noise."""
    return (np.frombuffer(request.clean, dtype="<i2") / 32768).astype(np.float32)


def norm_words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("-", " ")).split()


class Voices:
    """Kokoro and Piper, loaded once, speaking 16 kHz mono float."""

    def __init__(self) -> None:
        from kokoro_onnx import Kokoro
        from piper import PiperVoice

        self.kokoro = Kokoro(str(resolve_kokoro_model()), str(resolve_kokoro_voices()))
        have = set(self.kokoro.get_voices())
        self.names = [v for v in KOKORO_VOICES if v in have][:5] + ["piper:joe"]
        self.piper = PiperVoice.load(str(resolve_piper()))

    def speak(self, text: str, voice: str) -> np.ndarray[Any, np.dtype[np.float32]]:
        if voice.startswith("piper:"):
            return piper_speech(self.piper, text)
        lang = "en-gb" if voice.startswith("b") else "en-us"
        audio, rate = self.kokoro.create(text, voice=voice, speed=1.0, lang=lang)
        raw = (np.clip(np.asarray(audio, dtype=np.float32), -1, 1) * 32767).astype("<i2").tobytes()
        pcm = convert(raw, AudioFormat(int(rate), 2, 1), PCM16_MONO_16K)
        return trim((np.frombuffer(pcm, dtype="<i2") / 32768).astype(np.float32))


def piper_speech(piper: Any, text: str) -> np.ndarray[Any, np.dtype[np.float32]]:
    """``text`` spoken by a loaded ``PiperVoice`` as the corpus's Piper voice: 16 kHz mono float,
    trimmed at -45 dBFS."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as wav:
        piper.synthesize_wav(text, wav)
    buf.seek(0)
    with wave.open(buf, "rb") as wav:
        fmt = AudioFormat(wav.getframerate(), wav.getsampwidth(), wav.getnchannels())
        pcm = convert(wav.readframes(wav.getnframes()), fmt, PCM16_MONO_16K)
    return trim((np.frombuffer(pcm, dtype="<i2") / 32768).astype(np.float32))


def trim(x: np.ndarray[Any, np.dtype[np.float32]]) -> np.ndarray[Any, np.dtype[np.float32]]:
    voiced = np.flatnonzero(np.abs(x) > 10 ** (-45 / 20))
    return x[voiced[0] : voiced[-1] + 1] if len(voiced) else x


def _hear(whisper: Any, x: np.ndarray[Any, np.dtype[np.float32]], *, timestamps: bool = False) -> list[Any]:
    segments, _ = whisper.transcribe(x, language="en", beam_size=1, word_timestamps=timestamps)
    return [w for s in segments for w in (s.words or [])] if timestamps else [s.text for s in segments]


def _cuts(x: np.ndarray[Any, np.dtype[np.float32]], text: str, k: int, whisper: Any) -> list[int]:
    """Candidate sample indices between word k and k+1 of ``text`` in ``x``: the quietest 10 ms
    spots near where Whisper's word timestamps (tiny.en: often 0.1 s off) put the boundary."""
    timed = [(norm_words(w.word), w.start, w.end) for w in _hear(whisper, x, timestamps=True)]
    heard = [(ws[0], a, b) for ws, a, b in timed if ws]
    ref = norm_words(text)
    for i in range(len(heard) - 1):
        if heard[i][0] == ref[k - 1] and heard[i + 1][0] == ref[k]:
            middle = int((heard[i][2] + heard[i + 1][1]) / 2 * RATE)
            break
    else:
        return []
    frame, hop = RATE // 100, RATE // 200
    starts = list(range(max(0, middle - RATE // 4), min(len(x) - frame, middle + RATE // 6), hop))
    energy = [float(np.mean(x[s : s + frame] ** 2)) for s in starts]
    minima = [i for i in range(1, len(energy) - 1) if energy[i] <= energy[i - 1] and energy[i] <= energy[i + 1]]
    return [starts[i] + frame // 2 for i in sorted(minima, key=lambda i: energy[i])[:3]]


def _render(
    voices: Voices, whisper: Any, text: str, *, voice: str, k: int, pause: float
) -> tuple[np.ndarray[Any, np.dtype[np.float32]], str]:
    """The request spoken, with the pause inserted at the first candidate boundary after which
    Whisper still hears (nearly) every word; split synthesis if none."""
    whole = voices.speak(text, voice)
    if not k:
        return whole, "whole"
    gap = np.zeros(int(pause * RATE), dtype=np.float32)
    ref = norm_words(text)
    for cut in _cuts(whole, text, k, whisper):
        paused = np.concatenate([whole[:cut], gap, whole[cut:]])
        first = norm_words(" ".join(_hear(whisper, np.concatenate([whole[:cut], gap]))))
        # k words heard before the pause (the last may be misheard: a final "the" sounds like
        # "that"), so the next word was not cut in two (the oracle pass checks the whole clip).
        if len(first) == k and first[: k - 1] == ref[: k - 1]:
            return paused, "aligned"
    words = text.split()
    first_half, second = voices.speak(" ".join(words[:k]), voice), voices.speak(" ".join(words[k:]), voice)
    return np.concatenate([first_half, gap, second]), "split"


def build(folder: Path | None = None, *, generation: int = GENERATION) -> list[Request]:
    """The whole corpus (cached), in a fixed order: tune first, then held. ``generation`` 1: the
    pause is the inserted zeros (the cached rendering as it is); 2: the zeros resized so that the
    silence measured around them is the nominal pause (``bench/turn_pauses.py``)."""
    folder = folder or cache_dir() / "turn_corpus"
    folder.mkdir(parents=True, exist_ok=True)
    voices: Voices | None = None
    whisper: Any = None
    requests = []
    n = 0
    for split, table in (("tune", TUNE), ("held", HELD)):
        for text, k, kind in table:
            renditions = 2 if k else 1
            for r in range(renditions):
                name_index = (n * 2 + r) % 6
                pause = PAUSES[(n + r * 2) % len(PAUSES)] if k else 0.0
                condition, gain, noise = CONDITIONS[(n + r * 3) % len(CONDITIONS)]
                n += 1
                key = hashlib.sha1(f"{text}|{name_index}|{k}|{pause}".encode()).hexdigest()[:16]
                wav, meta = folder / f"{key}.raw", folder / f"{key}.json"
                if not (wav.exists() and meta.exists()):
                    if voices is None:
                        from faster_whisper import WhisperModel

                        from voice_runtime.models import resolve_whisper

                        voices = Voices()
                        whisper = WhisperModel(str(resolve_whisper("tiny.en")), device="cpu", compute_type="int8")
                    voice = voices.names[name_index]
                    x, method = _render(voices, whisper, text, voice=voice, k=k, pause=pause)
                    wav.write_bytes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())
                    meta.write_text(json.dumps({"voice": voice, "method": method}))
                info = json.loads(meta.read_text())
                clean = (np.frombuffer(wav.read_bytes(), dtype="<i2") / 32768).astype(np.float32)
                if k and generation >= 2:
                    clean = fit_pause(clean, pause)
                requests.append(
                    _condition(
                        split,
                        f"{split}-{n:02d}",
                        text,
                        info,
                        k=k,
                        kind=kind,
                        pause=pause,
                        condition=condition,
                        gain=gain,
                        noise=noise,
                        clean=clean,
                    )
                )
    return requests


def _condition(
    split: str,
    rid: str,
    text: str,
    info: dict[str, str],
    *,
    k: int,
    kind: str,
    pause: float,
    condition: str,
    gain: float,
    noise: float | None,
    clean: np.ndarray[Any, np.dtype[np.float32]],
) -> Request:
    lead = np.zeros(int(LEAD * RATE), dtype=np.float32)
    x = np.concatenate([lead, clean * 10 ** (gain / 20)])
    speech_end = len(x) / RATE
    if noise is not None:
        rng = np.random.default_rng(int(hashlib.sha1(rid.encode()).hexdigest()[:8], 16))
        x = x + rng.standard_normal(len(x)).astype(np.float32) * 10 ** (noise / 20)
    pcm = (np.clip(x, -1, 1) * 32767).astype("<i2").tobytes()
    return Request(
        rid,
        split,
        text,
        info["voice"],
        k,
        kind,
        pause,
        condition,
        gain,
        noise,
        info["method"],
        pcm,
        speech_end,
        (np.clip(clean, -1, 1) * 32767).astype("<i2").tobytes(),
    )


def with_noise_after(
    request: Request, rng: np.random.Generator, seconds: float = 1.5
) -> np.ndarray[Any, np.dtype[np.float32]]:
    """The request's audio (float, -1..1) and ``seconds`` of noise after it at its noise level
    (-70 dBFS without one), drawn from ``rng``: what the offline end-of-turn probes decode."""
    tail = rng.standard_normal(int(seconds * RATE)).astype(np.float32)
    tail *= 10 ** ((request.noise_dbfs if request.noise_dbfs is not None else -70) / 20)
    return np.concatenate([np.frombuffer(request.pcm, "<i2").astype(np.float32) / 32768, tail])


def noise_tail(request: Request, seconds: float) -> bytes:
    """``seconds`` of what follows the speech: silence, or the request's noise."""
    count = int(seconds * RATE)
    if request.noise_dbfs is None:
        return bytes(count * 2)
    rng = np.random.default_rng(len(request.pcm))
    tail = rng.standard_normal(count).astype(np.float32) * float(10 ** (request.noise_dbfs / 20))
    out: bytes = (np.clip(tail, -1, 1) * 32767).astype("<i2").tobytes()
    return out
