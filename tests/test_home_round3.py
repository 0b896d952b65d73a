"""Round 3 of issue 16: the classes HELD_OUT_5 missed (a greeting before the command, indirect
questions, the time or date said alone, timer status in other words, a cover at half, how warm
it is in the house, what to take for the weather), and, with no home connected, the device
phrasings that still reached the LLM: a room's temperature, "kitchen light on", "start the coffee
maker", "switch the lights on in the kitchen"; "all the lights" done at once. No server."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/ is imported as a package

from home_shared import bench_home
from home_shared import no_home as shared_no_home

from bench.home_bench import judge
from bench.home_corpus import Case
from orchestrator.home.entities import HomeEntity, HomeSnapshot
from orchestrator.home.ha import HaConfig, HomeAssistant
from orchestrator.home.phrasing import trim
from orchestrator.intents import NO_HOME_REPLY, IntentRecognizer, Recognized

# The 8 HELD_OUT_5 misses and a sibling of each class (now a tuning set, like TUNE_5).
TUNE_6: list[Case] = [
    ("time please", "HassGetCurrentTime", {}),
    ("the time", "HassGetCurrentTime", {}),
    ("do you know what time it is", "HassGetCurrentTime", {}),
    ("do you happen to know what day it is", "HassGetCurrentDate", {}),
    ("hey what time is it now", "HassGetCurrentTime", {}),
    ("hello what's today's date", "HassGetCurrentDate", {}),
    ("what's the status of my timer", "HassTimerStatus", {}),
    ("how is the pizza timer going", "HassTimerStatus", {"name": "pizza"}),
    ("check on my timer", "HassTimerStatus", {}),
    ("hey could you turn off the reading lamp please", "HassTurnOff", {"name": "reading lamp"}),
    ("hi lock the back door", "HassTurnOn", {"name": "back door"}),
    ("open the living room blinds halfway", "HassSetPosition", {"name": "living room blinds", "position": 50}),
    ("lower the blinds half way", "HassSetPosition", {"position": 50}),
    ("how warm is it in the house", "HassClimateGetTemperature", {}),
    ("how cold is it indoors", "HassClimateGetTemperature", {}),
    ("do i need an umbrella today", "HassGetWeather", {}),
    ("should i take a jacket", "HassGetWeather", {}),
    ("can you check if the front door is locked", "HassGetState", {"name": "front door", "state": "locked"}),
]


@pytest.fixture(scope="module")
def recognizer() -> IntentRecognizer:
    return bench_home()


@pytest.fixture(scope="module")
def no_home() -> IntentRecognizer:
    return shared_no_home()


@pytest.mark.parametrize("case", TUNE_6, ids=[c[0] for c in TUNE_6])
def test_the_classes_held_out_5_missed_are_recognised(recognizer: IntentRecognizer, case: Case) -> None:
    ok, got = judge(recognizer, case)
    assert ok, got


@pytest.mark.parametrize(("said", "short"), [
    ("hey what time is it now", "what time is it"),
    ("do you know what time it is", "what time it is"),
    ("any idea when the timer ends", "when the timer ends"),
    ("could you check whether the garage door is open", "is the garage door open"),
    ("can you see if my lights are on", "are my lights on"),
    ("hey", "hey"),
    ("do you know why the sky is blue", "do you know why the sky is blue"),
])
def test_greetings_and_indirect_questions_are_trimmed(said: str, short: str) -> None:
    assert trim(said) == short


@pytest.mark.parametrize("text", [
    "what is the temperature of the thermostat", "how warm is it in the hallway",
    "what is the temperature in the hallway",
    "kitchen light on", "bedroom light off", "start the coffee maker", "switch the lights on in the kitchen",
    "how warm is it in the house", "hey could you turn off the reading lamp please", "open the blinds halfway",
])
async def test_without_a_home_these_device_phrasings_get_the_honest_answer(no_home: IntentRecognizer,
                                                                          text: str) -> None:
    match = await no_home.answer(text, "satellite:test")
    assert match is not None and match.response == NO_HOME_REPLY, text


@pytest.mark.parametrize("text", [
    "what's the temperature in paris", "how cold is it in antarctica", "start a story about a dragon", "hold on",
    "hey how are you", "do you know why the sky is blue", "what is the date of easter next year",
    "turn the page on that story",
])
async def test_without_a_home_general_questions_near_them_still_go_to_the_llm(no_home: IntentRecognizer,
                                                                              text: str) -> None:
    assert await no_home.answer(text, "satellite:test") is None


class FakeSlowLights(HomeAssistant):
    """Fault injection: each light's command (and its confirmation) lasts until every light's has
    started, as three slow lights would. Nothing reaches a Home Assistant."""

    def __init__(self) -> None:
        super().__init__(HaConfig("http://127.0.0.1:9", "unused"))
        self.snapshot = HomeSnapshot(entities=tuple(HomeEntity(f"light.{n}", f"{n.title()} Light") for n in "abc"))
        self.started: list[str] = []
        self.all_started = asyncio.Event()

    async def execute(self, command: Recognized) -> str:
        if command.slots.get("every"):
            return await super().execute(command)
        self.started.append(str(command.slots["name"]))
        if len(self.started) == len(self.snapshot.entities):
            self.all_started.set()
        await self.all_started.wait()
        return f"Turned on the {command.slots['name']}. "


async def test_all_the_lights_are_done_and_confirmed_at_once_not_one_after_another() -> None:
    home = FakeSlowLights()
    try:
        async with asyncio.timeout(10):  # one after another, the first light would wait for ever
            reply = await home.execute(Recognized("HassTurnOn", {"domain": "light", "every": True}, "extra",
                                                  "turn on all the lights"))
    finally:
        await home.close()
    assert reply == "Turned on the A Light. Turned on the B Light. Turned on the C Light."
    assert sorted(home.started) == ["A Light", "B Light", "C Light"]
