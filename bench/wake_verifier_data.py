"""The wake verifier's training corpus: "Okay Nabu" and near misses in many synthetic voices (offline).

Speakers (``speakers``): the TRAIN voices of Kokoro (the wake bench's six tuning voices and eight
voices no wake bench has used) with both its American and British phonemes, ``BLENDS`` new voices
made by mixing two training voices' style vectors at a random weight, and Piper joe with random
length and noise scales. Never used here: the wake bench's held-out voices, the new held-out
voices of ``bench/wake_cascade.py``, and ``FRESH_HELD_OUT`` (kept apart for
``bench/wake_verifier_eval.py``).

Clips: every speaker says a few of ``WAKE_PHRASES`` (positives) and of ``NEAR_MISSES`` (negatives
with similar sounds: "okay", "nah boo", "okay now" ...) and one or two sentences of this repo's
docs, at a random Kokoro speed. Clips are cached in ``--cache`` (one ``.npy`` per clip, 16 kHz
float), so a second run only trains.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.wake_bench import HELD_OUT_VOICES, TUNE_VOICES, floats, pcm  # noqa: E402
from bench.wake_cascade import NEW_HELD_OUT_VOICES  # noqa: E402

EXTRA_TRAIN_VOICES = ("af_alloy", "af_aoede", "af_jessica", "af_nova", "am_echo", "am_fenrir", "am_puck", "am_santa")
TRAIN_VOICES = TUNE_VOICES + EXTRA_TRAIN_VOICES
FRESH_HELD_OUT = ("af_river", "af_kore", "am_onyx", "bf_lily", "bm_fable")  # chosen before any training
BLENDS = 30
PIPER_TAKES = 12
WAKE_PHRASES = ("Okay Nabu.", "Okay, Nabu.", "Okay Nabu, what time is it?", "Ok Nabu, turn on the lights.",
                "Okay Nabu!", "Okay Nabu, what's the weather like?", "Okay, Nabu, play some music.",
                "Okay Nabu, set a timer for five minutes.", "OK Nabu.", "Okay Nabu, stop.")
NEAR_MISSES = ("Okay.", "Okay now.", "Nah boo.", "Okay, no.", "Okay Google.", "Okay, Naomi.", "Okay, nobody.",
               "Okay, bamboo.", "Okay, my boo.", "Okay, nana.", "Okay, now do it.", "A baboon.", "Taboo.",
               "Okay, new boots.", "Okay, let's go.", "Okay, cool.", "Okay, maybe.", "Okay, Nadia.",
               "Oh, kangaroo.", "Okay, navy blue.", "No, boo.", "Okay, not now.", "Okay, number two.",
               "Hey Jarvis.", "Alexa.", "Okay, no problem.", "Okay, nap time.", "Hey, how are you?")
SENTENCES = ("I think we should leave a bit earlier tomorrow morning.", "Can you pass me the salt, please?",
             "The match starts at eight, so we have plenty of time.", "She said the new bakery opened on Monday.",
             "Did anyone remember to water the plants?", "It's going to rain all weekend, apparently.",
             "We need milk, eggs, bread and some apples.", "Turn it down a little, the baby is sleeping.",
             "My brother is coming over for dinner on Friday.", "That was the best film I've seen all year.",
             "The train was late again this morning.", "Let's book the tickets before they sell out.",
             "I can't find my keys anywhere.", "The kids are playing outside in the garden.",
             "He finally fixed the leaking tap in the bathroom.", "Are you done with the newspaper?",
             "In other news, the city council approved the new budget.", "Welcome back to the show, everyone.",
             "And now, the weather for the rest of the week.", "Scientists say the results were surprising.",
             "Nobody knows what happened to the old lighthouse.", "Now, boys, it is time to do your homework.",
             "A new bus route will open next month.", "The concert was cancelled because of the storm.",
             "Could you call me back in about ten minutes?", "I'll make some tea, do you want a cup?",
             "The cat knocked the vase off the table again.", "We walked along the beach until sunset.",
             "Okay, I'll be there in five minutes.", "Okay, that sounds like a plan.",
             "Okay, so what do we do now?", "Now, boot up the computer and log in.",
             "Nobody told me the meeting was moved.", "The panda at the zoo had a baby.")
WAKE_PER_SPEAKER = 5
MISSES_PER_SPEAKER = 4
RATE = 16000

assert not set(TRAIN_VOICES) & {*HELD_OUT_VOICES, *NEW_HELD_OUT_VOICES, *FRESH_HELD_OUT}
assert not set(FRESH_HELD_OUT) & {*HELD_OUT_VOICES, *NEW_HELD_OUT_VOICES}


@dataclass(frozen=True)
class Speaker:
    name: str  # a voice, "blend:a+b@w" or "piper:k"
    lang: str  # Kokoro's phonemizer: en-us or en-gb
    speed: float
    a: str = ""
    b: str = ""
    weight: float = 1.0  # of voice a


@dataclass(frozen=True)
class Clip:
    speaker: str
    text: str
    label: int  # 1: says the wake word
    path: Path


def speakers(seed: int = 5) -> list[Speaker]:
    rng = np.random.default_rng(seed)
    out = [Speaker(v, lang, float(rng.uniform(0.85, 1.2)), v) for v in TRAIN_VOICES for lang in ("en-us", "en-gb")]
    for _ in range(BLENDS):
        a, b = rng.choice(TRAIN_VOICES, 2, replace=False)
        w = float(rng.uniform(0.2, 0.8))
        out.append(Speaker(f"blend:{a}+{b}@{w:.2f}", str(rng.choice(["en-us", "en-gb"])),
                           float(rng.uniform(0.85, 1.2)), str(a), str(b), w))
    out += [Speaker(f"piper:{k}", "", float(rng.uniform(0.85, 1.2))) for k in range(PIPER_TAKES)]
    return out


class Synth:
    def __init__(self) -> None:
        import onnxruntime
        from kokoro_onnx import Kokoro

        from voice_runtime.audio import PCM16_MONO_16K, AudioFormat, convert
        from voice_runtime.models import resolve_kokoro_model, resolve_kokoro_voices

        voices = resolve_kokoro_voices()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1  # a shared 2-core box
        session = onnxruntime.InferenceSession(str(resolve_kokoro_model()), options, providers=["CPUExecutionProvider"])
        self.kokoro = Kokoro.from_session(session, str(voices))
        with np.load(voices) as archive:
            self.styles = {n: np.asarray(archive[n], dtype=np.float32) for n in archive.files}
        self._convert, self._fmt16, self._fmt24 = convert, PCM16_MONO_16K, AudioFormat(24000, 2, 1)
        self._piper: Any = None  # a PiperVoice, loaded on first use

    def say(self, speaker: Speaker, text: str, seed: int) -> np.ndarray:
        if speaker.name.startswith("piper:"):
            return self._piper_say(text, speaker.speed, seed)
        style = self.styles[speaker.a]
        if speaker.b:
            style = speaker.weight * style + (1 - speaker.weight) * self.styles[speaker.b]
        audio, rate = self.kokoro.create(text, voice=style, speed=speaker.speed, lang=speaker.lang)
        assert rate == 24000
        return floats(self._convert(pcm(np.asarray(audio) * 32767), self._fmt24, self._fmt16))

    def _piper_say(self, text: str, length: float, seed: int) -> np.ndarray:
        import io
        import wave

        from piper import PiperVoice
        from piper.config import SynthesisConfig

        from voice_runtime.audio import AudioFormat
        from voice_runtime.models import resolve_piper

        if self._piper is None:
            self._piper = PiperVoice.load(str(resolve_piper()))
        rng = np.random.default_rng(seed)
        config = SynthesisConfig(length_scale=1 / length, noise_scale=float(rng.uniform(0.3, 0.9)),
                                 noise_w_scale=float(rng.uniform(0.3, 0.9)))
        buf = io.BytesIO()
        with wave.open(buf, "wb") as wav:
            self._piper.synthesize_wav(text, wav, syn_config=config)
        buf.seek(0)
        with wave.open(buf, "rb") as wav:
            fmt = AudioFormat(wav.getframerate(), wav.getsampwidth(), wav.getnchannels())
            data = wav.readframes(wav.getnframes())
        return floats(self._convert(data, fmt, self._fmt16))


def plan(seed: int = 5, rounds: int = 99) -> list[tuple[Speaker, str, int]]:
    """(speaker, text, label) for every clip of the training corpus: each speaker's first ``rounds`` clips."""
    rng = np.random.default_rng(seed)
    sentences = SENTENCES  # not in wake_bench's negatives (its doc sentences) nor the long negatives
    table: list[list[tuple[Speaker, str, int]]] = []  # table[k]: every speaker's k-th clip
    for n, speaker in enumerate(speakers(seed)):
        mine = [(speaker, str(t), 1) for t in rng.choice(WAKE_PHRASES, WAKE_PER_SPEAKER, replace=False)]
        misses = [(speaker, str(t), 0) for t in rng.choice(NEAR_MISSES, MISSES_PER_SPEAKER, replace=False)]
        mine = [job for pair in zip(mine, misses + [None] * len(mine), strict=False) for job in pair if job]
        mine += misses[len(mine) // 2:] + [(speaker, sentences[n % len(sentences)], 0)] * int(n % 4 == 0)
        for k, job in enumerate(mine):
            while len(table) <= k:
                table.append([])
            table[k].append(job)
    return [job for jobs in table[:rounds] for job in jobs]  # interleaved: every speaker's first clips first


def build(cache: Path, seed: int = 5, rounds: int = 99, log: bool = True) -> list[Clip]:
    """Synthesise (or load from ``cache``) every clip of :func:`plan`."""
    cache.mkdir(parents=True, exist_ok=True)
    jobs, clips, synth = plan(seed, rounds), [], None
    for i, (speaker, text, label) in enumerate(jobs):
        key = hashlib.sha1(json.dumps([speaker.name, speaker.lang, speaker.speed, text]).encode()).hexdigest()[:16]
        path = cache / f"{key}.npy"
        if not path.exists():
            synth = synth or Synth()
            np.save(path, synth.say(speaker, text, seed + i).astype(np.float32))
            if log and i % 25 == 0:
                print(f"synth {i + 1}/{len(jobs)} {speaker.name} {text!r}", flush=True)
        clips.append(Clip(speaker.name, text, label, path))
    return clips


if __name__ == "__main__":
    out = build(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/wake-cache"),
                rounds=int(sys.argv[2]) if len(sys.argv) > 2 else 99)
    print(f"{len(out)} clips, {sum(c.label for c in out)} with the wake word")
