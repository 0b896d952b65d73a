"""The end-to-end bench's questions (spoken by Kokoro) and its sound detector; ``bench/e2e_bench.py``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.e2e_report import QUESTION_VOICE, Question
from voice_runtime.audio import PCM16_MONO_16K, AudioFormat, convert, from_float, read_wav, to_float, write_wav
from voice_runtime.models import resolve_kokoro_model, resolve_kokoro_voices

QUESTIONS = [
    "What is the capital of France?",
    "Turn on the kitchen lights.",
    "How many legs does a spider have?",
    "What time is it?",
    "Why is the sky blue?",
    "Switch off the bedroom lamp.",
    "Give me a tip for sleeping better.",
    "Set a timer for five minutes.",
    "What is the boiling point of water?",
    "Tell me a short joke.",
    "Turn off the porch light.",
    "Who wrote Romeo and Juliet?",
    "What day is it today?",
    "How far away is the moon?",
    "Turn on the living room fan.",
    "What should I cook for dinner tonight?",
    "Name a planet in our solar system.",
    "Set a timer for ten minutes.",
    "What is two plus two?",
    "How do I make a cup of tea?",
    "Switch on the garden lights.",
    "What is the largest ocean on Earth?",
]
LEAD_SECONDS = 1.5
TRAIL_SECONDS = 1.0
SILENCE_THRESHOLD = 300  # |sample| above this (16-bit, about -40 dBFS) counts as sound

def make_questions(folder: Path, count: int) -> list[Question]:
    """Speak the questions with Kokoro (run in a child process: keeps Kokoro out of our RSS)."""
    from kokoro_onnx import Kokoro

    kokoro = Kokoro(str(resolve_kokoro_model()), str(resolve_kokoro_voices()))
    questions = []
    for index, text in enumerate((QUESTIONS * 2)[:count]):
        samples, rate = kokoro.create(text, voice=QUESTION_VOICE, speed=1.0, lang="en-us")
        pcm = convert(from_float(np.asarray(samples, dtype=np.float32), 2), AudioFormat(rate, 2, 1), PCM16_MONO_16K)
        voiced = np.flatnonzero(np.abs(np.frombuffer(pcm, dtype="<i2").astype(np.int32)) > SILENCE_THRESHOLD)
        end = (voiced[-1] + 1) / 16000 if voiced.size else 0.0
        lead, trail = b"\x00\x00" * int(LEAD_SECONDS * 16000), b"\x00\x00" * int(TRAIL_SECONDS * 16000)
        path = folder / f"q{index:02d}.wav"
        write_wav(str(path), lead + pcm + trail, PCM16_MONO_16K)
        questions.append(Question(text, path, LEAD_SECONDS + end))
    return questions


def first_sound(path: Path, after: float) -> float | None:
    """Seconds into ``path`` of the first sample louder than the threshold at or after ``after``."""
    pcm, fmt = read_wav(str(path))
    samples = np.abs(to_float(pcm, fmt.width, fmt.channels)[:, 0]) * 32768
    start = int(after * fmt.rate)
    loud = np.flatnonzero(samples[start:] > SILENCE_THRESHOLD)
    return (start + int(loud[0])) / fmt.rate if loud.size else None
