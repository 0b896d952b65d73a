"""A looped phrase waits the weak cap (1.2 s with ``default``), not the whole cap (1.875 s).

Session 19's room (the lead's held 2/2): "Lights off." (far) was decoded "Lights after. Lights
after." at its end and the turn waited the cap: 1.89 s of silence, the LLM turns' p95. Every other
loop in session 19's room logs (11 of 14: "Read me? Read me?", "Walk the front door. Walk the front
door.", ...) sat at one of the corpus's 0.3-0.9 s pauses, under the weak cap; the corpus's stored
decodes cut no pause more (``bench/eot_unsure_probe.py``, rule ``loop-weak``). A loop is still never
sent as a speculative transcript: undoubled, "Turn off the lights. Turn off the lights." at the pause
of "... in the living room" is a whole command the orchestrator's command end would act on.

Real Silero VAD over Piper's speech, the decode's text and score set as in
``tests/test_whisper_unsure_open.py`` (its helpers).
"""

from __future__ import annotations

import pytest
from test_whisper_unsure_open import stopped_after, utterance_at_its_verdict

from wyoming_whisper.vad import SileroVad

LOOPS = [
    ("Lights off", "Lights after. Lights after.", -0.82),  # held-62 at its end, session 19
    ("Read me", "Read me? Read me?", -0.5),  # held-58/59 at the pause after "Read me"
    ("Add milk", "Add milk Add milk", -0.91),  # tune-20 at its pause: no final punctuation
]


@pytest.mark.parametrize(("said", "text", "logprob"), LOOPS)
def test_a_looped_phrase_waits_the_weak_cap(vad: SileroVad, said: str, text: str, logprob: float) -> None:
    utterance, kinds = utterance_at_its_verdict(vad, said, text, logprob)
    assert utterance.verdict is not None
    verdict = utterance.verdict[1]
    assert not verdict.finished and verdict.weak, verdict
    assert "looped" in verdict.reason
    waited = stopped_after(utterance, kinds)
    assert 1.15 <= waited < 1.5, waited  # the weak cap, longer than the corpus's 0.9 s pauses; not the cap


def test_a_looped_phrase_heard_sure_waits_the_weak_cap_too(vad: SileroVad) -> None:
    utterance, kinds = utterance_at_its_verdict(vad, "Lights off", "Lights after. Lights after.", -0.2)
    assert utterance.verdict is not None and utterance.verdict[1].weak
    assert 1.15 <= stopped_after(utterance, kinds) < 1.5


def test_a_looped_whole_command_is_never_sent_as_speculative(vad: SileroVad) -> None:
    text = "Turn off the lights. Turn off the lights."
    utterance, _ = utterance_at_its_verdict(vad, "Turn off the lights", text, -0.3)
    assert utterance.verdict is not None and utterance.verdict[1].weak  # waits the weak cap ...
    assert utterance.speculative_text(utterance.verdict[0], text) is None  # ... the orchestrator never sees it
