"""A text decoded unsure that ends in a value command's whole value ends the turn like a sure one.

The room's held-47, "Set the thermostat to ... twenty degrees." (far+noise; the lead's quiet run of
session 20, /tmp/p20/lead-turns-1 whisper.log, 19:37:04-19:37:07 UTC): at the pause after "to" the
speculative decode read "Set the film aside too." (avg_logprob -1.04: unfinished, a "too" for
"to"), at the end "Set the firmest out to 20 degrees." (-0.81): finished words decoded unsure, so
the turn waited the weak cap (1.2 s with ``default``; the orchestrator's command end did not take
it: "firmest out" is no device). That text names its whole value ("to 20 degrees"): what tiny.en
was unsure of is a name, not whether the request goes on. It now ends at the base silence and is
offered as a (not weak) speculative transcript. The mishearings the unsure rule is for (at the
pauses of the same request in the room) still wait the weak cap.

Real Silero VAD over Piper's speech; the texts and scores set as the speculative decode's, as
tests/test_whisper_unsure_open.py does.
"""

from __future__ import annotations

import pytest
from test_whisper_unsure_open import stopped_after, utterance_at_its_verdict

from wyoming_whisper.endpoint import whole_value
from wyoming_whisper.vad import SileroVad

SAID = "Set the thermostat to twenty degrees"


def test_an_unsure_text_with_its_whole_value_ends_at_the_base_silence(vad: SileroVad) -> None:
    text = "Set the firmest out to 20 degrees."
    utterance, kinds = utterance_at_its_verdict(vad, SAID, text, -0.812)
    assert utterance.verdict is not None
    verdict = utterance.verdict[1]
    assert verdict.finished, verdict  # main: weak, "heard unsure (avg_logprob -0.81)"
    region = utterance.verdict[0]
    assert utterance.speculative_text(region, text) == (text, False)  # offered, not weak
    assert stopped_after(utterance, kinds) < 0.5  # the base silence (0.25 s), not the weak cap


# The same request's mishearings at its pause (the room's whisper logs of sessions 19-20).
AT_THE_PAUSE = [
    ("Set the film aside too.", -1.04),
    ("Check the film is done too.", -1.08),
    ("Check the film is dot two.", -1.083),
]


@pytest.mark.parametrize(("text", "logprob"), AT_THE_PAUSE)
def test_unsure_mishearings_without_a_whole_value_still_wait(vad: SileroVad, text: str, logprob: float) -> None:
    utterance, kinds = utterance_at_its_verdict(vad, "Set the thermostat to", text, logprob)
    assert utterance.verdict is not None
    assert not utterance.verdict[1].finished
    assert stopped_after(utterance, kinds) >= 1.15  # the weak cap at least: longer than a 0.9 s pause


def test_whole_value_reads_a_value_commands_number_and_unit() -> None:
    assert whole_value("Set the firmest out to 20 degrees.")
    assert whole_value("Dim the lights to 30%.")
    assert whole_value("Set a timer for 15 minutes.")
    assert not whole_value("Set the thermostat to 20.")  # no unit: the unit may still come
    assert not whole_value("Set the thermostat to 20 degrees")  # no final period: weak anyway
    assert not whole_value("Set the heat to 20 degrees. Set the heat to 20 degrees.")  # a loop
    assert not whole_value("Turn off the lights.")  # no value: the unsure rule decides as before
    assert not whole_value("Check the film is dot two.")
