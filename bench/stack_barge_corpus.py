"""What ``bench/room_stack_barge.py`` says: questions with long replies, and questions spoken over them.

Session 11's fresh set, written before any run and used by nothing else in the repository (none of
its sentences appears in another bench, corpus or test): the interrupting questions are each
spoken by a different voice (four Kokoro voices, two accents, and Piper's), none of them the
assistant's own (Kokoro ``af_heart`` or Piper's default voice, whichever ``--provider auto``
picks, is only the reply). Each line names the words a reply about it contains (its subject or its
answer), so the judge can tell whether the reply after an interruption is about the new question
or still about the old one (not whether the small LLM got the fact right). "What color is an
emerald?" was first written "colour" (session 11's runs were synthesized from that: the
same phonemes); whisper writes "color", so the spelling counted as an error.

The interruptions' onsets are spread over ``ONSETS_S`` after the reply's first audible sample
(the room's anchor), cycling, so the judge sees both early and late barge-ins.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from bench.wake_verifier_data import Synth

RATE = 16000
PAD_S = 0.3  # silence either side of every clip, as tests/speech.py


@dataclass(frozen=True)
class Line:
    text: str
    voice: str  # a Kokoro voice, or "piper"
    lang: str  # Kokoro's phonemizer (en-us / en-gb); "" for Piper
    words: tuple[str, ...]  # a reply about it (its subject or answer) names one


# Long questions: the default system prompt asks for one or two short sentences, so these ask for
# what takes the most of them (a reply of several seconds).
QUESTIONS = (
    Line("Tell me a story about a brave little fox who had to cross a wide river.", "piper", "",
         ("fox", "river")),
    Line("Explain, step by step, how to bake a loaf of bread at home.", "piper", "",
         ("bread", "dough", "flour", "oven", "yeast")),
    Line("Describe the four seasons of the year and what happens in each one.", "piper", "",
         ("season", "spring", "summer", "autumn", "winter", "fall")),
    Line("Tell me everything you know about the planet Jupiter and its moons.", "piper", "",
         ("jupiter", "moon", "planet", "gas", "giant")),
)
WARM_UP = Line("Tell me a joke about a cat.", "piper", "", ("cat",))

INTERRUPTIONS = (
    Line("How many strings does a violin have?", "am_michael", "en-us", ("violin", "four", "4")),
    Line("Hang on, what is the largest desert in Africa?", "bf_emma", "en-gb", ("desert", "sahara")),
    Line("Which country is the Eiffel Tower in?", "af_nicole", "en-us", ("eiffel", "france", "paris")),
    Line("What gas do plants take in from the air?", "bm_george", "en-gb", ("plant", "carbon", "co2")),
    Line("How many players does a soccer team have on the field?", "piper", "", ("soccer", "eleven", "11")),
    Line("Excuse me, how many sides does a hexagon have?", "am_eric", "en-us", ("hexagon", "six", "6")),
    Line("Where is the Great Wall?", "bf_emma", "en-gb", ("great wall", "china")),
    Line("What color is an emerald?", "am_michael", "en-us", ("emerald", "green")),
)
ONSETS_S = (0.8, 1.1, 1.4, 1.7, 2.0)  # speech onset after the reply's first audible sample


def synthesize(line: Line) -> bytes:
    """16 kHz mono 16-bit PCM with ``PAD_S`` of silence either side."""
    if line.voice == "piper":
        import sys

        sys.path.insert(1, str(Path(__file__).resolve().parent.parent / "tests"))
        from speech import speak

        return speak(line.text)
    from bench.wake_bench import pcm
    from bench.wake_verifier_data import Speaker

    audio = _synth().say(Speaker(line.voice, line.lang, 1.0, line.voice), line.text, 0)
    audio = audio * min(1.0, 0.5 * 32767 / (np.max(np.abs(audio)) + 1e-9))  # peak -6 dBFS, as Piper's
    pad = np.zeros(int(PAD_S * RATE))
    return pcm(np.concatenate([pad, audio, pad]))


@functools.cache
def _synth() -> Synth:
    from bench.wake_verifier_data import Synth

    return Synth()


def lead_in_s(pcm16: bytes) -> float:
    """Seconds of the clip before its speech (the room's own onset rule: 10 ms frames within
    35 dB of the loudest)."""
    x = np.frombuffer(pcm16, "<i2").astype(np.float64)
    n = len(x) // 160
    e = 10 * np.log10(np.mean(np.square(x[: n * 160].reshape(n, 160)), axis=1) + 1e-12)
    return float(np.nonzero(e > e.max() - 35)[0][0]) * 0.01


def mentions(text: str, words: tuple[str, ...]) -> bool:
    low = text.lower()
    return any(w in low for w in words)
