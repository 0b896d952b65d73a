"""Recognition of the commonest phrasings (weather, temperature, brightness and volume in
percent, timers, "never mind", state questions) with a home's real names as slot lists, and the
sentences said from the states they read. Pure: no server (tests/test_home_domains.py does these
against a real Home Assistant)."""

from __future__ import annotations

from typing import Any

import pytest
from wyoming.asr import Transcribe
from wyoming.info import Describe

from bench.home_bench import SnapshotHome
from orchestrator.home.asr import names_prompt, with_names
from orchestrator.home.entities import HomeArea, HomeEntity, HomeSnapshot, slot_lists
from orchestrator.home.resolve import area_state_answer, by_kind, only_thermostat
from orchestrator.home.speech import state_answer, temperature_sentence
from orchestrator.home.verify import Progress, progress, unconfirmed, unconfirmed_reply
from orchestrator.intents import NO_HOME_REPLY, IntentRecognizer, Recognized

HOME = HomeSnapshot(
    entities=(HomeEntity("light.kitchen", "Kitchen Light", (), "kitchen"),
              HomeEntity("light.bedroom", "Bedroom Light", (), "bedroom"),
              HomeEntity("climate.thermostat", "Thermostat", ("heating",), "hallway"),
              HomeEntity("media_player.tv", "TV", ("television",), "living_room"),
              HomeEntity("weather.home", "Home Forecast"),
              HomeEntity("lock.back_door", "Back Door", (), "kitchen"),
              HomeEntity("switch.coffee_maker", "Coffee Maker", (), "kitchen"),
              HomeEntity("cover.garage_door", "Garage Door", (), "garage", "garage"),
              HomeEntity("cover.blinds", "Living Room Blinds", (), "living_room", "blind")),
    areas=(HomeArea("kitchen", "Kitchen"), HomeArea("bedroom", "Bedroom"), HomeArea("hallway", "Hallway"),
           HomeArea("living_room", "Living Room"), HomeArea("garage", "Garage")),
)


@pytest.fixture(scope="module")
def recognizer() -> IntentRecognizer:
    return IntentRecognizer(home=SnapshotHome(HOME))


@pytest.mark.parametrize(("text", "intent", "slots"), [
    ("what's the weather like today", "HassGetWeather", {}),
    ("how's the weather", "HassGetWeather", {}),
    ("what's the forecast", "HassGetWeather", {}),
    ("set the temperature to 22", "HassClimateSetTemperature", {"temperature": 22}),
    ("what's the temperature", "HassClimateGetTemperature", {}),
    ("dim the bedroom light to 20 percent", "HassLightSet", {"name": "Bedroom Light", "brightness": 20}),
    ("brighten the kitchen light to 100%", "HassLightSet", {"name": "Kitchen Light", "brightness": 100}),
    ("set the kitchen lights to 40%", "HassLightSet", {"area": "kitchen", "brightness": 40, "domain": "light"}),
    ("turn the volume up to 70 percent", "HassSetVolume", {"volume_level": 70}),
    ("is the tv on", "HassGetState", {"name": "TV", "state": "on"}),
    ("unpause the timer", "HassUnpauseTimer", {}),
    ("oh never mind", "HassNevermind", {}),
])
def test_common_phrasings_are_recognised_with_their_slots(
    recognizer: IntentRecognizer, text: str, intent: str, slots: dict[str, object],
) -> None:
    found = recognizer.recognize(text)
    assert [c.name for c in found] == [intent], found
    assert found[0].source != "fallback"
    assert {k: found[0].slots.get(k) for k in slots} == slots


def test_a_command_said_without_a_target_is_marked_for_the_whole_home(recognizer: IntentRecognizer) -> None:
    # Home Assistant fills the satellite's area here; we have none, so the backend picks the only
    # device that fits. A real area said stays the area.
    unscoped = recognizer.recognize("what's the temperature")[0]
    assert unscoped.whole_home and "area" not in unscoped.slots
    scoped = recognizer.recognize("what is the temperature in the hallway")[0]
    assert not scoped.whole_home and scoped.slots["area"] == "hallway"


def test_a_percentage_is_not_swallowed_into_an_unknown_name() -> None:
    found = IntentRecognizer().recognize("dim the garden light to 20 percent")  # no home: wildcard names
    assert found[0].source == "fallback"
    assert found[0].slots == {"name": "garden light", "value": 20}


async def test_without_a_home_the_new_phrasings_get_the_honest_answer() -> None:
    intents = IntentRecognizer()
    for text in ("set the temperature to 22", "turn the volume up to 70 percent", "what's the weather like today"):
        match = await intents.answer(text, "satellite:test")
        assert match is not None and match.response == NO_HOME_REPLY, text


def test_temperature_and_on_off_sentences_come_from_the_state() -> None:
    thermostat = {"entity_id": "climate.thermostat", "state": "heat",
                  "attributes": {"friendly_name": "Thermostat", "current_temperature": 21.5, "temperature": 18}}
    assert temperature_sentence(thermostat) == "It's 21.5 degrees; the Thermostat is set to 18."
    sensor = {"entity_id": "sensor.room", "state": "19.0", "attributes": {"friendly_name": "Room"}}
    assert temperature_sentence(sensor) == "It's 19 degrees."
    assert temperature_sentence({**sensor, "state": "unavailable"}) == "The Room has no reading right now."
    assert state_answer("Thermostat", "climate", "on", thermostat).startswith("Yes")
    assert state_answer("TV", "media_player", "on", {"state": "off"}).startswith("No")


@pytest.mark.parametrize(("text", "intent", "slots"), [
    # session 7: the classes behind the held-out-3 misses (bench/home_corpus.TUNE_4)
    ("give me the weather forecast", "HassGetWeather", {}),
    ("what's the weather going to do today", "HassGetWeather", {}),
    ("how warm is it outside today", "HassGetWeather", {}),
    ("what is the temperature indoors", "HassClimateGetTemperature", {}),
    ("what's the heating set to", "HassClimateGetTemperature", {"name": "Thermostat"}),
    ("set the heat to 19.5 degrees", "HassClimateSetTemperature", {"temperature": 19.5}),
    ("turn the thermostat down to 17", "HassClimateSetTemperature", {"temperature": 17}),
    ("make it 20 degrees in here", "HassClimateSetTemperature", {"temperature": 20}),
    ("put the kitchen light at 15 percent", "HassLightSet", {"name": "Kitchen Light", "brightness": 15}),
    ("how long is left", "HassTimerStatus", {}),
    ("ok forget that", "HassNevermind", {}),
    ("never mind then", "HassNevermind", {}),
    ("is the back door still unlocked", "HassGetState", {"name": "Back Door", "state": "unlocked"}),
    ("did i unlock the back door", "HassGetState", {"name": "Back Door", "state": "unlocked"}),
    ("is the coffee maker still on", "HassGetState", {"name": "Coffee Maker", "state": "on"}),
    ("are the lights off in the bedroom", "HassGetState", {"area": "bedroom", "state": "off", "domain": "light"}),
    ("is the garage door still open", "HassGetState", {"name": "Garage Door", "state": "open"}),
    ("are the blinds open", "HassGetState", {"device_class": "blind", "state": "open"}),
    ("close the garage", "HassTurnOff", {"device_class": "garage", "domain": "cover"}),
    ("raise the blinds", "HassTurnOn", {"device_class": "blind", "domain": "cover"}),
    ("play the next track on the television", "HassMediaNext", {"name": "TV"}),
    ("what day of the week is it today", "HassGetCurrentDate", {}),
])
def test_the_held_out_3_classes_are_recognised(
    recognizer: IntentRecognizer, text: str, intent: str, slots: dict[str, object],
) -> None:
    found = recognizer.recognize(text)
    assert [c.name for c in found] == [intent], found
    assert found[0].source != "fallback"
    assert {k: found[0].slots.get(k) for k in slots} == slots


def test_a_part_that_starts_with_its_object_takes_the_verb_before_it(recognizer: IntentRecognizer) -> None:
    found = recognizer.recognize("turn off the kitchen light and the bedroom light")
    assert [(c.name, c.slots.get("name")) for c in found] == [("HassTurnOff", "Kitchen Light"),
                                                                 ("HassTurnOff", "Bedroom Light")]
    found = recognizer.recognize("open the garage door and then the living room blinds")
    assert [(c.name, c.slots.get("name")) for c in found] == [("HassTurnOn", "Garage Door"),
                                                                 ("HassTurnOn", "Living Room Blinds")]


def test_a_device_said_by_its_kind_is_the_only_one_of_that_kind_or_a_question(
    recognizer: IntentRecognizer,
) -> None:
    garage = by_kind(HOME, recognizer.recognize("open the garage")[0])
    assert not isinstance(garage, str) and garage.slots == {"name": "Garage Door"}
    two = HomeSnapshot(entities=(*HOME.entities, HomeEntity("cover.b2", "Bedroom Blinds", (), "bedroom", "blind")))
    assert by_kind(two, recognizer.recognize("lower the blinds")[0]) == (
        "Which blind do you mean: the Living Room Blinds or the Bedroom Blinds?")
    assert by_kind(HomeSnapshot(), recognizer.recognize("lower the blinds")[0]) == "There is no blind in your home."
    heat = only_thermostat(HOME, recognizer.recognize("set the heat to 21")[0])
    assert not isinstance(heat, str) and heat.slots == {"temperature": 21, "name": "Thermostat"}
    assert only_thermostat(HomeSnapshot(), recognizer.recognize("set the heat to 21")[0]) == (
        "There is no thermostat in your home.")


def test_the_lights_of_an_area_are_answered_from_their_states(recognizer: IntentRecognizer) -> None:
    asked = recognizer.recognize("are the lights on in the kitchen")[0]
    assert area_state_answer(HOME, asked, [{"entity_id": "light.kitchen", "state": "on"}]) == (
        "Yes, the Kitchen Light is on.")
    assert area_state_answer(HOME, asked, [{"entity_id": "light.kitchen", "state": "off"}]) == (
        "No, no lights are on in the Kitchen.")
    garage = recognizer.recognize("are the lights on in the garage")[0]
    assert area_state_answer(HOME, garage, []) == "There are no lights in the Garage."


def test_the_homes_names_go_to_speech_to_text_as_its_prompt() -> None:
    lists = slot_lists(HOME)
    prompt = names_prompt(lists)
    assert prompt is not None and prompt.startswith("Kitchen Light, Bedroom Light, Thermostat, TV, Home Forecast")
    assert prompt.endswith("Kitchen, Bedroom, Hallway, Living Room, Garage.") and prompt.count("TV") == 1
    assert len(names_prompt(lists, limit=40) or "") <= 41
    asked = Transcribe(language="en", context={"endpoint_after": 1.5}).event()
    sent = Transcribe.from_event(with_names(asked, lists))
    assert sent.language == "en" and sent.context == {"endpoint_after": 1.5, "initial_prompt": prompt}
    other = Describe().event()
    assert with_names(other, lists) is other
    assert with_names(asked, slot_lists(HomeSnapshot())) is asked  # no names: as it was


def test_a_done_action_is_read_from_the_state_asked_for() -> None:
    def cmd(name: str, **slots: object) -> Recognized:
        return Recognized(name, dict(slots), "official", "")

    door = {"entity_id": "cover.garage_door", "state": "opening", "attributes": {}}
    assert progress(cmd("HassTurnOn"), door) is Progress.MOVING
    assert progress(cmd("HassTurnOn"), {**door, "state": "open"}) is Progress.DONE
    lamp = {"entity_id": "light.kitchen", "state": "on", "attributes": {"brightness": 77}}
    assert progress(cmd("HassLightSet", brightness=30), lamp) is Progress.DONE  # 30 % of 255 = 76.5
    assert progress(cmd("HassLightSet", brightness=80), lamp) is Progress.NOT_YET
    assert progress(cmd("HassTurnOff"), lamp) is Progress.NOT_YET
    assert progress(cmd("HassMediaNext"), {"entity_id": "media_player.tv", "state": "playing"}) is None
    states: dict[str, dict[str, Any]] = {
        "cover.garage_door": door, "switch.kettle": {"entity_id": "switch.kettle", "state": "off"},
        "light.kitchen": lamp}
    targets = {"cover.garage_door": "Garage Door", "switch.kettle": "Kettle", "light.kitchen": "Kitchen Light"}
    pending = unconfirmed(cmd("HassTurnOn"), targets, states)
    assert pending == {"cover.garage_door": Progress.MOVING, "switch.kettle": Progress.NOT_YET}
    assert unconfirmed_reply(targets, pending, states, 2.0) == (
        "I asked your home, but the Kettle has not changed after 2 seconds. The Garage Door is opening. "
        "The rest is done.")
