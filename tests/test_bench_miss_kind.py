"""The room-turns judge tells a cut from a mishearing (bench/turn_bench.py miss_kind)."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo root: bench/

from bench.turn_bench import miss_kind
from bench.turn_corpus import Request

BASE = Request(
    id="t", split="tune", text="Turn on the kitchen lights.", voice="v", pause_after=3, pause_kind="open",
    pause=0.6, condition="near", gain_db=0.0, noise_dbfs=None, method="split", pcm=b"", speech_end=1.0,
)


def test_whole_is_no_miss() -> None:
    assert miss_kind(BASE, "Turn on the kitchen lights.") is None


def test_words_after_the_pause_missing_is_a_cut() -> None:
    assert miss_kind(BASE, "Turn on the.") == "cut"


def test_a_word_decoded_wrong_after_the_pause_is_misheard() -> None:
    assert miss_kind(BASE, "Turn on the kitchen light.") == "misheard"
    nearest = replace(BASE, text="Where is the nearest pharmacy?", pause_after=4)
    assert miss_kind(nearest, "where is the nearest tour?") == "misheard"
    assert miss_kind(nearest, "Where is the nearest?") == "cut"


def test_the_end_of_turn_inside_the_speech_is_a_cut_even_when_misheard() -> None:
    assert miss_kind(BASE, "Turn on the kitchen nights.", ended_mid_speech=1) == "cut"


def test_one_word_request_heard_wrong_is_misheard_not_cut() -> None:
    yes = replace(BASE, text="Yes.", pause_after=0, pause=0.0, pause_kind="", method="whole")
    assert miss_kind(yes, "Yeah.") == "misheard"


def test_no_pause_request_missing_its_second_half_is_a_cut() -> None:
    long = replace(BASE, text="What is the weather like this week?", pause_after=0, pause=0.0)
    assert miss_kind(long, "What is the weather?") == "cut"
    assert miss_kind(long, "What is the feather like this leak?") == "misheard"


def test_no_transcript_is_lost() -> None:
    assert miss_kind(BASE, "") == "lost"
