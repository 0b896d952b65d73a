"""A second fresh end-of-turn probe set (session 30): short home commands, and paused medium ones.

Written after session 29's fresh corpus (``bench/fresh_corpus.py``) showed a whole short command
reading unfinished on its sealed half ("Stop that.": "ends in 'that'", the 1.9 s cap) and the room's
far "Lights off." waiting on a weak end mark. Its sealed half is not looked at for rules; this set
is: 48 requests as people say them at home, mostly what ends a turn in one or two words ("Stop
that.", "Lights off.", "Never mind.", "Pause.", "Louder.", "Cancel the timer.", "What's that?",
"Thanks.", "Skip this.", "Who's that?", ...), 16 medium ones with a 0.3-0.9 s pause, 12 of them
after a word that cannot end a request ("Turn off the | bathroom light.", "Call my | sister.") and 4
after one that can. Spoken by 8 Kokoro voices no end-of-turn corpus used before (``turn_corpus``,
``fresh_corpus``, ``turn_background``) at speeds 0.85-1.15, over the turn corpus's conditions
(clean, far-field, noisy), rendered and cached as ``fresh_corpus`` renders
(``~/.cache/hearth/fresh2_corpus``). One split, ``probe2``: every request may be looked at.

    .venv/bin/python -m bench.fresh2_corpus        # build the cache, list the set
    .venv/bin/python bench/turn_bench.py --corpus fresh2 --configs silence-default,semantic-default
"""

from __future__ import annotations

from typing import Any

from bench.fresh_corpus import build_rows
from bench.turn_corpus import CONDITIONS, RATE, Request
from voice_runtime.models import cache_dir

# (spoken text, pause after this many spoken words or 0, "open" / "can-end" as in turn_corpus)
REQUESTS = [
    ("Stop that.", 0, ""),
    ("Lights off.", 0, ""),
    ("Never mind.", 0, ""),
    ("Pause.", 0, ""),
    ("Louder.", 0, ""),
    ("Cancel the timer.", 0, ""),
    ("What's that?", 0, ""),
    ("Thanks.", 0, ""),
    ("Turn off the bathroom light.", 3, "open"),
    ("Cancel that.", 0, ""),
    ("Skip this.", 0, ""),
    ("Repeat that.", 0, ""),
    ("Set an alarm for half past six.", 4, "open"),
    ("Who's that?", 0, ""),
    ("Resume.", 0, ""),
    ("Quieter please.", 0, ""),
    ("Add eggs and milk to the list.", 3, "open"),
    ("Next.", 0, ""),
    ("Go back.", 0, ""),
    ("Volume up.", 0, ""),
    ("What's the weather like in Manchester tomorrow?", 5, "open"),
    ("Mute.", 0, ""),
    ("Thank you.", 0, ""),
    ("Forget it.", 0, ""),
    ("Can you put the kettle on?", 2, "open"),
    ("Kitchen lights on.", 0, ""),
    ("Fan off.", 0, ""),
    ("Keep going.", 0, ""),
    ("Play something by Fleetwood Mac.", 3, "open"),
    ("Say that again.", 0, ""),
    ("Turn it up.", 0, ""),
    ("What time is it?", 0, ""),
    ("Remind me to water the plants.", 3, "open"),
    ("Is it cold outside?", 0, ""),
    ("Undo that.", 0, ""),
    ("Okay, stop.", 0, ""),
    ("How many days until Christmas?", 4, "open"),
    ("Hold on.", 0, ""),
    ("Heating off.", 0, ""),
    ("Read that again.", 0, ""),
    ("Turn the heating up to twenty one degrees.", 5, "open"),
    ("Call my sister.", 2, "open"),
    ("What is the capital of Australia?", 5, "open"),
    ("Switch on the garden lights.", 3, "open"),
    ("Turn off the lights in the garage.", 4, "can-end"),
    ("Play some music for the kids.", 3, "can-end"),
    ("What's the weather for the weekend?", 3, "can-end"),
    ("Stop the music in the bedroom.", 3, "can-end"),
]
FRESH2_VOICES = ["af_river", "am_onyx", "bm_fable", "af_nova", "am_liam", "af_jessica", "am_echo", "af_aoede"]
SPEEDS = [1.0, 0.9, 1.1, 0.85, 1.15, 0.95, 1.05]
PAUSES = [0.6, 0.9, 0.4, 0.75, 0.3, 0.85, 0.5, 0.7, 0.45]


def plan() -> list[dict[str, Any]]:
    """Each request's voice, speed, pause and condition (deterministic); all in split ``probe2``."""
    rows = []
    for n, (spoken, k, kind) in enumerate(REQUESTS):
        condition, gain, noise = CONDITIONS[(n * 3 + n // 4) % len(CONDITIONS)]
        rows.append({"n": n + 1, "spoken": spoken, "k": k, "kind": kind, "split": "probe2",
                     "voice": f"{FRESH2_VOICES[n % len(FRESH2_VOICES)]}@{SPEEDS[n % len(SPEEDS)]}",
                     "pause": PAUSES[n % len(PAUSES)] if k else 0.0,
                     "condition": condition, "gain": gain, "noise": noise})
    return rows


def build() -> list[Request]:
    """The set (cached); ids ``probe2-NN``."""
    return build_rows(plan(), cache_dir() / "fresh2_corpus", ("probe2",))


if __name__ == "__main__":
    for r in build():
        print(f"{r.id} {r.voice:16s} {r.method:7s} {r.condition:9s} pause {r.pause:.2f} after {r.pause_after} "
              f"{r.pause_kind:7s} {r.speech_end:5.2f}s {r.text}")
    print(RATE)
