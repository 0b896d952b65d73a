"""Pause cuts a transcript rule can tell: texts tiny.en wrote at a request's pause that read as
finished on main, so the turn ended there (session 22, bench/eot_sure_probe.py on the end-of-turn
corpus's room-like streams; bench/results/s22_eot.md):

* "the" cut at the pause heard as "then" / "them" / "they": "Switch off then." (held-40), "Switch
  off them." (held-41), "Read me then." (held-59), "What is they?" (tune-07); the room's whisper logs
  of sessions 19-21 hold "Switch off then." and "Read me then." as turns that ended there;
* a verb that gives something to "me" with nothing given yet: "Read me?" (held-58; the room's
  session 19 cont-run2 ended there);
* "turn" / "switch" with no on/off/up/down or value: "Turn the bedroom lights." (tune-27/28, "...
  down to fifty percent");
* "going" with its "to" still to come: "What's the weather going?" (tune-13/14).

Session 28 (wyoming_whisper/pause_cuts.py; bench/turn_bench.py's real-time run of the tune split with
serve's default, 2026-12-05, bench/results/s28_turn.md):

* a work without its title: "who wrote the novel." (tune-21, clean, 0.3 s pause) and "to wrote the
  novel." (tune-22, far+noise, 0.75 s) for "Who wrote the novel ... Pride and Prejudice?";
* a possessive determiner heard as a pronoun: "Remind me to call mine." (tune-12, far+noise, 0.75 s)
  for "Remind me to call my ... mother tomorrow.".

Session 29 (the fresh corpus's probe half, bench/turn_bench.py --corpus fresh, 2026-12-05, main: both
serve's default and 0.7 s of silence ended it there):

* a conditional clause without its main clause: "If I leave now." (probe-36, noisy, 0.7 s pause; its
  first part decoded at -0.49) for "If I leave now, how long will it take to get to the station?".

Each now waits for more speech up to the cap, and is not sent as a speculative transcript. The
whole requests (and requests like them) still read as finished: no stream's end changed on the
corpus, nor any final transcript of the room logs that was not such a cut.

Real Silero VAD over Piper's speech up to the pause; the recorded text and avg_logprob set as the
speculative decode's, as tests/test_whisper_unsure_open.py does.
"""

from __future__ import annotations

import pytest
from test_whisper_unsure_open import stopped_after, utterance_at_its_verdict

from wyoming_whisper.endpoint import judge
from wyoming_whisper.vad import SileroVad

# (said up to the pause, what tiny.en wrote there, its avg_logprob): the corpus's room-like streams
AT_THE_PAUSE = [
    ("Switch off the", "Switch off then.", -0.592),
    ("Switch off the", "Switch off them.", -0.682),
    ("Read me the", "Read me then.", -0.353),
    ("What is the", "What is they?", -0.11),
    ("Read me the", "Read me?", -0.564),
    ("Turn the bedroom lights", "Turn the bedroom lights.", -0.238),
    ("What's the weather going", "What's the weather going?", -0.216),
    ("Who wrote the novel", "who wrote the novel.", -0.248),  # session 28 (pause_cuts)
    ("Who wrote the novel", "to wrote the novel.", -0.583),
    ("Remind me to call my", "Remind me to call mine.", -0.279),
    ("If I leave now", "If I leave now.", -0.491),  # session 29: the fresh corpus's probe-36 (noisy, 0.7 s)
]

FINISHED = [
    "Switch off the bedroom lamp.",
    "Read me the news headlines from today.",
    "What is the capital of Australia?",
    "Turn the bedroom lights down to 50%.",
    "What's the weather going to be like tomorrow?",
    "Turn the lights on.",
    "Turn the volume up.",
    "Switch to the news.",
    "Turn the heat to 20.",
    "Switch it off then.",
    "What are they?",
    "How is it going?",
    "Where are you going?",
    "Keep going.",
    "Tell me a joke.",
    "Play me a song.",
    "Excuse me.",
    "Turn off the lights.",
    # session 28 (pause_cuts): the whole requests and requests like them
    "Who wrote the novel Pride and Prejudice?",
    "Remind me to call my mother tomorrow.",
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
    # session 29 (pause_cuts: a conditional clause without its main clause)
    "If I leave now, how long will it take to get to the station?",
    "If I leave now how long will it take?",
    "If it rains tomorrow remind me to take an umbrella.",
    "If it is cold, turn on the heating.",
    "If I go now will I be late?",
]


@pytest.mark.parametrize(("said", "text", "logprob"), AT_THE_PAUSE)
def test_a_pause_text_that_no_request_ends_in_waits(vad: SileroVad, said: str, text: str, logprob: float) -> None:
    utterance, kinds = utterance_at_its_verdict(vad, said, text, logprob)
    assert utterance.verdict is not None
    region, verdict = utterance.verdict
    assert not verdict.finished and not verdict.weak, verdict  # main: finished, the turn ended at 0.25 s
    assert utterance.speculative_text(region, text) is None  # no reply is prepared on it
    assert stopped_after(utterance, kinds) >= 1.5  # the cap (1.875 s): longer than a 0.9 s pause


@pytest.mark.parametrize("text", FINISHED)
def test_whole_requests_still_read_finished(text: str) -> None:
    assert judge(text).finished, judge(text)


@pytest.mark.parametrize(("said", "text", "logprob"), AT_THE_PAUSE)
def test_the_same_words_without_a_period_are_not_weak(said: str, text: str, logprob: float) -> None:
    verdict = judge(text.rstrip(".?"))
    assert not verdict.finished and not verdict.weak  # the whole cap, not the weak cap (nor the command end)
