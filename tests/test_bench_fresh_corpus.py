"""The fresh end-of-turn corpus's plan (bench/fresh_corpus.py, session 29): what the brief asked of it,
checked without synthesising anything."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo root: bench/

from bench.fresh_corpus import FRESH_VOICES, REQUESTS, judged, plan
from bench.turn_bench import comparable, word_error_rate
from bench.turn_corpus import HELD, KOKORO_VOICES, TUNE


def test_new_requests_and_voices_never_tuned_on() -> None:
    old = {text for text, _, _ in TUNE + HELD}
    assert len(REQUESTS) >= 60 and not old & {judged(text, 0)[0] for text, _, _ in REQUESTS}
    assert len(set(FRESH_VOICES)) >= 6 and not set(FRESH_VOICES) & set(KOKORO_VOICES)


def test_the_plan_pauses_speeds_and_halves() -> None:
    rows = plan()
    paused = [r for r in rows if r["k"]]
    assert len(paused) >= 30 and all(0.3 <= r["pause"] <= 0.9 for r in paused)
    assert {r["kind"] for r in paused} == {"open", "can-end"}
    assert all(0.85 <= float(r["voice"].split("@")[1]) <= 1.15 for r in rows)
    halves = Counter((r["split"], bool(r["k"])) for r in rows)
    assert abs(halves[("probe", True)] - halves[("sealed", True)]) <= 1
    assert abs(halves[("probe", False)] - halves[("sealed", False)]) <= 1
    assert plan() == rows  # deterministic


def test_fillers_are_spoken_but_not_judged() -> None:
    assert judged("Turn off the, um, the ceiling fan.", 4) == ("Turn off the the ceiling fan.", 3)
    assert judged("Uh, what's the time in Tokyo?", 0) == ("What's the time in Tokyo?", 0)
    assert comparable(["turn", "off", "the", "uhm", "the", "fan"]) == ["turn", "off", "the", "the", "fan"]
    assert word_error_rate("Turn off the the ceiling fan.", "Turn off the Uhm, the ceiling fan.") == 0.0
