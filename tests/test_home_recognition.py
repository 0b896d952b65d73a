"""Recognition of the commonest phrasings (weather, temperature, brightness and volume in
percent, timers, "never mind", state questions) with a home's real names as slot lists, and the
sentences said from the states they read. Pure: no server (tests/test_home_domains.py does these
against a real Home Assistant)."""

from __future__ import annotations

import pytest

from orchestrator.home.entities import HomeArea, HomeEntity, HomeSnapshot, slot_lists
from orchestrator.home.speech import state_answer, temperature_sentence
from orchestrator.intents import NO_HOME_REPLY, IntentRecognizer, Recognized

HOME = HomeSnapshot(
    entities=(HomeEntity("light.kitchen", "Kitchen Light", (), "kitchen"),
              HomeEntity("light.bedroom", "Bedroom Light", (), "bedroom"),
              HomeEntity("climate.thermostat", "Thermostat", ("heating",), "hallway"),
              HomeEntity("media_player.tv", "TV", ("television",), "living_room"),
              HomeEntity("weather.home", "Home Forecast")),
    areas=(HomeArea("kitchen", "Kitchen"), HomeArea("bedroom", "Bedroom"), HomeArea("hallway", "Hallway"),
           HomeArea("living_room", "Living Room")),
)


class SnapshotHome:
    """Slot lists only; nothing is executed."""

    def __init__(self) -> None:
        self._lists = slot_lists(HOME)

    def slot_lists(self):  # type: ignore[no-untyped-def]
        return self._lists

    async def execute(self, command: Recognized) -> str:
        return command.name

    async def converse(self, text: str, conversation_id: str, *, part: bool = False) -> str | None:
        return None


@pytest.fixture(scope="module")
def recognizer() -> IntentRecognizer:
    return IntentRecognizer(home=SnapshotHome())


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
