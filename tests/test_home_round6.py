"""Home control round 6 (issue 16), offline (no servers): the request classes held-out set 8
missed, in new wordings (bench/home_tune_9.py), recognised by general rules (a state asked for:
"can i have / i need / make sure X on|locked"; "put/flip/get X on"; hedges after "could you";
a reason after the request; covers "put down"; "pause that"; volume "on" a player; a device kind
in a room; timer wordings; "how late is it"; "actually nothing"); with no home every device
request among them gets the honest answer; questions near those rules still reach the LLM; and
a looped transcript ("open the garage door open the garage door") is asked about before a
lock, door, garage or alarm is touched."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/ is imported as a package

from home_shared import bench_home, no_home

from bench.home_bench import judge
from bench.home_corpus import Case
from bench.home_tune_9 import TUNE_9, TUNE_9_NO_HOME, TUNE_9_NOT
from orchestrator.home.confidence import Hearing, near_name
from orchestrator.home.entities import HomeArea, HomeEntity, HomeSnapshot
from orchestrator.home.phrasing import looped
from orchestrator.home.resolve import by_kind
from orchestrator.intents import HOME_INTENTS, NO_HOME_REPLY, IntentRecognizer, Recognized

_DEVICE = [c for c in TUNE_9 + TUNE_9_NO_HOME if c[1] is not None and c[1] in HOME_INTENTS]


@pytest.fixture(scope="module")
def recognizer() -> IntentRecognizer:
    return bench_home()


@pytest.mark.parametrize("case", TUNE_9, ids=[c[0] for c in TUNE_9])
def test_the_classes_held_out_8_missed_are_recognised(recognizer: IntentRecognizer, case: Case) -> None:
    ok, got = judge(recognizer, case)
    assert ok, got


@pytest.mark.parametrize("text", [c[0] for c in TUNE_9_NOT])
def test_questions_near_the_new_rules_go_to_the_llm(recognizer: IntentRecognizer, text: str) -> None:
    assert recognizer.recognize(text) == [], text
    assert no_home().recognize(text) == [], text


@pytest.mark.parametrize("text", [c[0] for c in _DEVICE])
async def test_without_a_home_device_requests_get_the_honest_answer(text: str) -> None:
    answer = await no_home().answer(text, "sat")
    assert answer is not None and answer.response == NO_HOME_REPLY, (text, answer)


def test_a_kind_said_in_a_room_is_the_device_of_that_room() -> None:
    home = HomeSnapshot(entities=(HomeEntity("switch.ceiling_fan", "Ceiling Fan", (), "bedroom"),
                                  HomeEntity("fan.desk", "Desk Fan", (), "office")),
                        areas=(HomeArea("bedroom", "Bedroom"), HomeArea("office", "Office"),
                               HomeArea("kitchen", "Kitchen")))
    asked = Recognized("HassGetState", {"kind": "fan", "state": "on", "area": "bedroom"}, "extra", "")
    assert by_kind(home, asked) == Recognized("HassGetState", {"state": "on", "name": "Ceiling Fan"}, "extra", "")
    assert by_kind(home, Recognized("HassTurnOn", {"kind": "fan", "area": "kitchen"}, "extra", "")) == (
        "There is no fan in the Kitchen.")
    assert by_kind(home, Recognized("HassTurnOn", {"kind": "fan"}, "extra", "")) == (
        "Which fan do you mean: the Ceiling Fan or the Desk Fan?")


@pytest.mark.parametrize(("text", "loop"), [
    ("open the garage door open the garage door", True),
    ("turn on the turn on the kitchen light", True),
    ("open the garage door open the garage", True),
    ("open the garage door", False),
    ("turn the light on and the fan on", False),
    ("bye bye", False),
])
def test_a_transcript_that_repeats_itself_is_a_loop(text: str, loop: bool) -> None:
    assert looped(text) is loop


@pytest.mark.parametrize("text", ["open the garage door open the garage door",
                                  "close the garage door close the garage door close the garage door close the"])
async def test_a_loop_that_is_one_sentence_said_again_is_done(text: str) -> None:
    """bench/home_loops.py: such loops were right 36 of 36 (beam 5 and greedy), at an
    avg_logprob as high as -0.1; asking about each would have stopped no wrong action."""
    answer = await bench_home().answer(text, f"loop:{text}", hearing=Hearing(avg_logprob=-0.15, no_speech_prob=0.1))
    assert answer is not None and answer.response in ("HassTurnOn", "HassTurnOff"), answer  # executed


async def test_a_loop_that_is_not_one_sentence_is_unsure() -> None:
    """Greedy tiny.en on "Close the garage door." in hiss (-0.235, so not unsure by its score):
    the home's own agent would have been asked about a device named "to the right floor close
    to the right floor ... close to the left"."""
    text = "close to the right floor close to the right floor close to the right floor close to the left"
    answer = await bench_home().answer(text, "loop:irregular", hearing=Hearing(avg_logprob=-0.235, no_speech_prob=0.1))
    assert answer is not None and answer.response == "Sorry, I didn't catch which device. Which one?", answer


def test_a_name_misheard_by_a_sound_or_two_is_asked_about() -> None:
    """Heard for "Turn off the bedroom light." in bench/home_loops.py (avg_logprob -0.26 to -0.38,
    so not unsure by score; ratios 0.72 and 0.74, under the old 0.75)."""
    names = ["Kitchen Light", "Bedroom Light", "Garage Door", "Reading Lamp"]
    assert near_name("bed in light", names) == "Bedroom Light"
    assert near_name("bedroom's life", names) == "Bedroom Light"
    assert near_name("porch light", names) is None  # a device this home lacks is not taken for another
