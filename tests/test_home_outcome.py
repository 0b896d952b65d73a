"""What a turn did with a home command, as its log line says it: a request only asked about or
refused is not logged as done. Before, "Set the firmest up to 20 degrees." (the wildcard
light-set) was logged ``intent=HassLightSet`` whether the home set a light, the assistant asked
"Did you mean: set the Thermostat to 20 degrees?", or no home was connected."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.home_bench import corpus_home
from bench.home_misheard_judge import RecordingHome
from orchestrator.home.confidence import Hearing
from orchestrator.home.entities import HomeEntity, HomeSnapshot
from orchestrator.home.speech import UNREACHABLE
from orchestrator.intents import (
    ACTED,
    ANSWERED,
    ASKED,
    FAILED,
    NO_HOME,
    REFUSED,
    IntentMatch,
    IntentRecognizer,
    Recognized,
)
from orchestrator.turn import TurnResult

SURE = Hearing(avg_logprob=-0.3, no_speech_prob=0.05)
FIRMEST = "Set the firmest up to 20 degrees."


class FakeUnreachableHome(RecordingHome):
    """Fault injection: Home Assistant cannot be reached."""

    async def execute(self, command: Recognized) -> str:
        self.done.append(command)
        return UNREACHABLE


@pytest.fixture(scope="module")
def home() -> tuple[IntentRecognizer, RecordingHome]:
    recording = RecordingHome(corpus_home())
    return IntentRecognizer(home=recording), recording


async def _answer(recognizer: IntentRecognizer, text: str, conversation: str) -> IntentMatch:
    answer = await recognizer.answer(text, conversation, hearing=SURE)
    assert answer is not None, text
    return answer


def _logged(match: IntentMatch) -> str:
    return TurnResult(intent=match).what_done


async def test_a_request_only_asked_about_is_logged_as_asked(home: tuple[IntentRecognizer, RecordingHome]) -> None:
    recognizer, recording = home
    recording.done = []
    asked = await _answer(recognizer, FIRMEST, "asked")
    assert asked.response == "Did you mean: set the Thermostat to 20 degrees?"
    assert _logged(asked) == "intent=HassLightSet done=asked"  # the template's intent, kept apart
    assert recording.done == []
    yes = await _answer(recognizer, "yes", "asked")
    assert _logged(yes) == "intent=HassClimateSetTemperature done=acted"
    assert [c.name for c in recording.done] == ["HassClimateSetTemperature"]
    no_thanks = await _answer(recognizer, "set the kitchen light to 20 degrees", "no")
    assert no_thanks.done == ASKED
    assert (await _answer(recognizer, "no", "no")).done == ANSWERED


async def test_no_home_and_no_thermostat_are_not_logged_as_done() -> None:
    none = await _answer(IntentRecognizer(), FIRMEST, "none")
    assert _logged(none) == "intent=HassLightSet done=no-home" and none.done == NO_HOME
    lights = RecordingHome(HomeSnapshot(entities=(HomeEntity("light.hall", "Hall Light"),)))
    refused = await _answer(IntentRecognizer(home=lights), FIRMEST, "lights")
    assert refused.response == "There is no thermostat in your home."
    assert refused.done == REFUSED and lights.done == []


async def test_done_failed_and_answered_are_told_apart(home: tuple[IntentRecognizer, RecordingHome]) -> None:
    recognizer, recording = home
    assert (await _answer(recognizer, "turn on the kitchen light", "on")).done == ACTED
    assert (await _answer(recognizer, "what time is it", "time")).done == ANSWERED
    unreachable = FakeUnreachableHome(corpus_home())
    failed = await _answer(IntentRecognizer(home=unreachable), "turn on the kitchen light", "down")
    assert failed.response == UNREACHABLE and failed.done == FAILED
    assert TurnResult().what_done == "intent=- done=-"  # the LLM answered
