"""A fresh end-of-turn corpus: requests, voices and speeds no end-of-turn rule was tuned on.

Written in session 29, after every rule in ``wyoming_whisper/endpoint.py`` / ``pause_cuts.py`` /
``policy.py`` was tuned on ``bench/turn_corpus.py``'s tune split. 64 requests as people talk at
home (lights, heating, media, timers, lists; questions short and long; "um"/"uh"; self-corrections;
"stop"/"yes"/"no"), 39 with a 0.3-0.9 s pause mid-sentence, spoken by 8 Kokoro voices that
``turn_corpus`` never uses (``KOKORO_VOICES`` there), at speeds 0.85-1.15, one rendition each, over
the turn corpus's conditions (clean, far-field, noisy). Made at bench time and cached
(``~/.cache/hearth/fresh_corpus``), the pause inserted as ``turn_corpus`` inserts it (Whisper's
word timestamps, then the silence resized to the nominal pause: generation 2).

Split (paused and unpaused apart, 2 of every 4 each way) into ``probe`` (looked at, may be fixed against)
and ``sealed`` (reported only: never tune on it). The spoken text keeps its fillers ("um", "uh");
``Request.text`` (what is judged) leaves them out, since Whisper mostly does not write them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from bench.turn_corpus import CONDITIONS, GENERATION, RATE, Request, Voices, _condition, _render, norm_words, trim
from bench.turn_pauses import fit_pause
from voice_runtime.audio import PCM16_MONO_16K, AudioFormat, convert
from voice_runtime.models import cache_dir, resolve_kokoro_model, resolve_kokoro_voices

FILLERS = {"um", "uh"}
# (spoken text, pause after this many spoken words or 0, "open" / "can-end" as in turn_corpus)
REQUESTS = [
    ("Turn on the lamp in the hallway.", 4, "can-end"),
    ("Dim the dining room lights to thirty percent.", 5, "can-end"),
    ("Make it a bit warmer in here.", 3, "open"),
    ("Set the heating to eighteen degrees.", 4, "open"),
    ("Start a timer for ten minutes for the pasta.", 4, "open"),
    ("Put bread and butter on the grocery list.", 3, "open"),
    ("Play my workout playlist in the kitchen.", 4, "can-end"),
    ("Open the blinds in the bedroom.", 3, "can-end"),
    ("Turn off the, um, the ceiling fan.", 4, "open"),
    ("Set a timer for, uh, twenty minutes.", 5, "open"),
    ("Turn on the kitchen, no, the living room lights.", 4, "can-end"),
    ("Remind me at six, sorry, at seven to take the bins out.", 4, "can-end"),
    ("Play some jazz, actually no, play some classical music.", 3, "can-end"),
    ("Turn the volume down a little.", 4, "can-end"),
    ("What's on my calendar for tomorrow morning?", 4, "open"),
    ("How long until my timer goes off?", 4, "open"),
    ("Add washing up liquid to the shopping list.", 2, "open"),
    ("Switch the hallway light to blue.", 4, "can-end"),
    ("What's the difference between a frog and a toad?", 4, "open"),
    ("How do I get red wine out of a carpet?", 5, "can-end"),
    ("Can you explain how a rainbow forms?", 3, "can-end"),
    ("What should I cook for dinner tonight?", 5, "can-end"),
    ("Is it going to rain this afternoon?", 5, "can-end"),
    ("How many ounces are in a pound?", 3, "can-end"),
    ("What's a good name for a grey cat?", 4, "can-end"),
    ("Tell me something interesting about octopuses.", 4, "can-end"),
    ("What time does, um, the bakery open on Sundays?", 4, "open"),
    ("How do you say thank you in Japanese?", 6, "can-end"),
    ("When did the first person walk on the moon?", 4, "open"),
    ("Could you tell me, uh, how tall the Eiffel Tower is?", 5, "open"),
    ("I was wondering if you could tell me what the best way to store fresh herbs is so they last longer.",
     11, "open"),
    ("My daughter wants to know why cats purr when they are happy.", 5, "can-end"),
    ("Can you give me a quick recipe for pancakes without eggs?", 7, "can-end"),
    ("What's the population of Canada, roughly?", 5, "can-end"),
    ("Explain the rules of chess in simple terms.", 4, "open"),
    ("If I leave now, how long will it take to get to the station?", 4, "can-end"),
    ("How far is it from London to Edinburgh by train?", 6, "open"),
    ("What's the boiling point of water at high altitude?", 5, "can-end"),
    ("Turn the, uh, the porch light on.", 3, "open"),
    ("Skip this song.", 0, ""),
    ("Turn the TV off.", 0, ""),
    ("Pause the podcast.", 0, ""),
    ("Lock the back door.", 0, ""),
    ("Cancel the alarm for tomorrow.", 0, ""),
    ("Why is the sky blue?", 0, ""),
    ("Who sang that song?", 0, ""),
    ("Call her.", 0, ""),
    ("Which planet has the most moons?", 0, ""),
    ("Stop that.", 0, ""),
    ("Yes please.", 0, ""),
    ("No.", 0, ""),
    ("No thanks.", 0, ""),
    ("Cancel.", 0, ""),
    ("Never mind.", 0, ""),
    ("Louder.", 0, ""),
    ("That's all.", 0, ""),
    ("Uh, what's the time in Tokyo?", 0, ""),
    ("Um, play the radio.", 0, ""),
    ("Good night.", 0, ""),
    ("Turn everything off.", 0, ""),
    ("Shuffle my music.", 0, ""),
    ("Dim the lights.", 0, ""),
    ("How's the traffic on the way to work?", 0, ""),
    ("Can you remind me what the name of that actor was who played the doctor in the show we watched last night?",
     0, ""),
]
FRESH_VOICES = ["af_sarah", "am_puck", "bf_alice", "bm_lewis", "af_kore", "am_eric", "bf_lily", "bm_daniel"]
SPEEDS = [0.85, 1.05, 0.95, 1.15, 1.0, 0.9, 1.1]
PAUSES = [0.3, 0.6, 0.9, 0.45, 0.75, 0.5, 0.85, 0.4, 0.7]


class FreshVoices(Voices):
    """Kokoro alone, each voice named ``name@speed``."""

    def __init__(self) -> None:  # no Piper (the fresh corpus has no Piper voice)
        from kokoro_onnx import Kokoro

        self.kokoro = Kokoro(str(resolve_kokoro_model()), str(resolve_kokoro_voices()))
        self.names = list(FRESH_VOICES)

    def speak(self, text: str, voice: str) -> np.ndarray[Any, np.dtype[np.float32]]:
        name, _, speed = voice.partition("@")
        lang = "en-gb" if name.startswith("b") else "en-us"
        audio, rate = self.kokoro.create(text, voice=name, speed=float(speed or 1.0), lang=lang)
        raw = (np.clip(np.asarray(audio, dtype=np.float32), -1, 1) * 32767).astype("<i2").tobytes()
        pcm = convert(raw, AudioFormat(int(rate), 2, 1), PCM16_MONO_16K)
        return trim((np.frombuffer(pcm, dtype="<i2") / 32768).astype(np.float32))


def judged(spoken: str, k: int) -> tuple[str, int]:
    """The text judged (the fillers left out) and the pause's place in its words."""
    kept: list[str] = []
    for w in spoken.split():
        if norm_words(w) and norm_words(w)[0] in FILLERS:
            if kept:
                kept[-1] = kept[-1].rstrip(",")  # "the, um, the" -> "the the"
            continue
        kept.append(w)
    before = sum(1 for w in spoken.split()[:k] if norm_words(w) and norm_words(w)[0] not in FILLERS)
    text = " ".join(kept)
    text = text[0].upper() + text[1:]
    return text, before if k else 0


def plan() -> list[dict[str, Any]]:
    """Each request's voice, speed, pause, condition and split (deterministic)."""
    rows = []
    paused = unpaused = 0
    for n, (spoken, k, kind) in enumerate(REQUESTS):
        index = paused if k else unpaused
        # 0, 3 of every 4 probe: the voices (by n) and kinds mix in both halves
        split = "probe" if index % 4 in (0, 3) else "sealed"
        if k:
            paused += 1
        else:
            unpaused += 1
        condition, gain, noise = CONDITIONS[(n * 2 + n // 5) % len(CONDITIONS)]
        rows.append({"n": n + 1, "spoken": spoken, "k": k, "kind": kind, "split": split,
                     "voice": f"{FRESH_VOICES[n % len(FRESH_VOICES)]}@{SPEEDS[n % len(SPEEDS)]}",
                     "pause": PAUSES[n % len(PAUSES)] if k else 0.0,
                     "condition": condition, "gain": gain, "noise": noise})
    return rows


def build(folder: Path | None = None) -> list[Request]:
    """The fresh corpus (cached), probe first, then sealed; ids ``probe-NN`` / ``sealed-NN``."""
    return build_rows(plan(), folder or cache_dir() / "fresh_corpus", ("probe", "sealed"))


def build_rows(rows: list[dict[str, Any]], folder: Path, order: tuple[str, ...]) -> list[Request]:
    """The requests of ``rows`` (:func:`plan`'s shape) rendered once into ``folder`` and conditioned,
    split by split in ``order``; ids ``<split>-NN`` (also ``bench/fresh2_corpus.py``'s)."""
    folder.mkdir(parents=True, exist_ok=True)
    voices: FreshVoices | None = None
    whisper: Any = None
    out: dict[str, list[Request]] = {name: [] for name in order}
    for row in rows:
        spoken, k = row["spoken"], row["k"]
        key = hashlib.sha1(f"{spoken}|{row['voice']}|{k}|{row['pause']}".encode()).hexdigest()[:16]
        wav, meta = folder / f"{key}.raw", folder / f"{key}.json"
        if not (wav.exists() and meta.exists()):
            if voices is None:
                from faster_whisper import WhisperModel

                from voice_runtime.models import resolve_whisper

                voices = FreshVoices()
                whisper = WhisperModel(str(resolve_whisper("tiny.en")), device="cpu", compute_type="int8")
            x, method = _render(voices, whisper, spoken, voice=row["voice"], k=k, pause=row["pause"])
            wav.write_bytes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())
            meta.write_text(json.dumps({"voice": row["voice"], "method": method}))
        info = json.loads(meta.read_text())
        clean = (np.frombuffer(wav.read_bytes(), dtype="<i2") / 32768).astype(np.float32)
        if k and GENERATION >= 2:
            clean = fit_pause(clean, row["pause"])
        text, before = judged(spoken, k)
        split = row["split"]
        out[split].append(_condition(split, f"{split}-{row['n']:02d}", text, info, k=before, kind=row["kind"],
                                     pause=row["pause"], condition=row["condition"], gain=row["gain"],
                                     noise=row["noise"], clean=clean))
    return [r for name in order for r in out[name]]


if __name__ == "__main__":
    for r in build():
        print(f"{r.id} {r.voice:16s} {r.method:7s} {r.condition:9s} pause {r.pause:.2f} after {r.pause_after} "
              f"{r.pause_kind:7s} {r.speech_end:5.2f}s {r.text}")
    print(RATE)
