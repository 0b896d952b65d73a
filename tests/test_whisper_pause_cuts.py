"""Pause cuts of session 28 (wyoming_whisper/pause_cuts.py): texts tiny.en wrote at a request's pause
that read as finished on main, so the turn ended there, in bench/turn_bench.py's real-time run of the
tune split with serve's default (semantic-default, 2026-12-05 00:39-00:46 UTC; the same texts and
avg_logprobs streamed again at 00:49):

* a work without its title: "who wrote the novel." (tune-21, clean, 0.3 s pause) and "to wrote the
  novel." (tune-22, far+noise, 0.75 s) for "Who wrote the novel ... Pride and Prejudice?";
* a possessive determiner heard as a pronoun: "Remind me to call mine." (tune-12, far+noise, 0.75 s)
  for "Remind me to call my ... mother tomorrow.".

Each now waits for more speech up to the cap, and is not sent as a speculative transcript; the whole
requests, and requests like them, still read as finished.

Real Silero VAD over Piper's speech up to the pause; the recorded text and avg_logprob set as the
speculative decode's, as tests/test_whisper_pause_words.py does.
"""

from __future__ import annotations

import pytest
from test_whisper_unsure_open import stopped_after, utterance_at_its_verdict

from voice_runtime.models import silero_vad
from wyoming_whisper.endpoint import judge
from wyoming_whisper.vad import SileroVad

# (said up to the pause, what tiny.en wrote there, its avg_logprob, the request said whole)
AT_THE_PAUSE = [
    ("Who wrote the novel", "who wrote the novel.", -0.248, "Who wrote the novel Pride and Prejudice?"),
    ("Who wrote the novel", "to wrote the novel.", -0.583, "Who wrote the novel Pride and Prejudice?"),
    ("Remind me to call my", "Remind me to call mine.", -0.279, "Remind me to call my mother tomorrow."),
]

FINISHED = [
    "Who painted the Mona Lisa?",
    "Who wrote this book?",
    "Who directed the movie Jaws?",
    "Play the song.",
    "Read the book.",
    "What is the best novel?",
    "Write the song.",
    "Is that mine?",
    "Those are ours.",
    "Call my mother.",
    "Which one is yours?",
]


@pytest.fixture(scope="module")
def vad() -> SileroVad:
    return SileroVad(silero_vad())


@pytest.mark.parametrize(("said", "text", "logprob", "whole"), AT_THE_PAUSE)
def test_the_text_at_the_pause_waits_and_the_whole_request_ends(
    vad: SileroVad, said: str, text: str, logprob: float, whole: str
) -> None:
    utterance, kinds = utterance_at_its_verdict(vad, said, text, logprob)
    assert utterance.verdict is not None
    region, verdict = utterance.verdict
    assert not verdict.finished and not verdict.weak, verdict  # main: finished, the turn ended at 0.25 s
    assert utterance.speculative_text(region, text) is None  # no reply is prepared on it
    assert stopped_after(utterance, kinds) >= 1.5  # the cap (1.875 s): longer than a 0.9 s pause
    assert judge(whole).finished  # the request said whole ends at the base silence


@pytest.mark.parametrize("text", FINISHED)
def test_whole_requests_still_read_finished(text: str) -> None:
    assert judge(text).finished, judge(text)
