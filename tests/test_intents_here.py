"""A light command said without a place ("Lights off.") means the satellite's own area, as Home
Assistant reads it (orchestrator/home/here.py): done there through the intents, answered honestly
when no home or no area is known, and a whole command for the command end."""

from __future__ import annotations

import asyncio

import pytest
from home_shared import no_home
from wyoming.info import Attribution, Info, Satellite

from bench.home_bench import SnapshotHome
from orchestrator.command_end import complete_command
from orchestrator.home.entities import HomeArea, HomeEntity, HomeSnapshot, slot_lists
from orchestrator.home.here import NO_AREA_REPLY, unknown_area_reply
from orchestrator.intents import ACTED, NO_HOME, NO_HOME_REPLY, REFUSED, IntentRecognizer, Recognized
from orchestrator.pipeline import Pipeline
from orchestrator.satellite_link import LinkConfig, SatelliteLink
from orchestrator.services import ServicePool

HOME = HomeSnapshot(
    entities=(HomeEntity("light.kitchen", "Kitchen Light", (), "kitchen"),
              HomeEntity("light.bedroom", "Bedroom Light", (), "bedroom"),
              HomeEntity("media_player.tv", "TV", ("television",), "living_room")),
    areas=(HomeArea("kitchen", "Kitchen"), HomeArea("bedroom", "Bedroom"), HomeArea("living_room", "Living Room")),
)


class RecordingHome(SnapshotHome):
    """The snapshot's names; every command it is asked to do is kept."""

    def __init__(self) -> None:
        super().__init__(HOME)
        self.done: list[Recognized] = []

    async def execute(self, command: Recognized) -> str:
        self.done.append(command)
        return "Turned off the lights."


@pytest.fixture(scope="module")
def recognizer() -> IntentRecognizer:
    return IntentRecognizer(home=RecordingHome())


@pytest.fixture
def home(recognizer: IntentRecognizer) -> RecordingHome:
    assert isinstance(recognizer.home, RecordingHome)
    recognizer.home.done.clear()
    recognizer.areas.clear()
    return recognizer.home


@pytest.mark.parametrize("text", ["Lights off.", "Turn off the lights.", "lights out", "Switch off the light."])
async def test_a_light_command_without_a_place_is_done_in_the_satellites_area(
    recognizer: IntentRecognizer, home: RecordingHome, text: str
) -> None:
    recognizer.areas["satellite:kitchen"] = "kitchen"  # as the satellite's --area says it: any case
    match = await recognizer.answer(text, "satellite:kitchen")
    assert match is not None and match.done == ACTED
    assert [(c.name, c.slots) for c in home.done] == [("HassTurnOff", {"domain": "light", "area": "kitchen"})]


async def test_each_satellite_gets_its_own_area(recognizer: IntentRecognizer, home: RecordingHome) -> None:
    recognizer.areas.update({"satellite:a": "Living Room", "satellite:b": "Bedroom"})
    await recognizer.answer("Turn on the lights.", "satellite:a")
    await recognizer.answer("Turn on the lights.", "satellite:b")
    assert [c.slots.get("area") for c in home.done] == ["living_room", "bedroom"]


async def test_a_named_area_is_kept_whatever_the_satellites_area(
    recognizer: IntentRecognizer, home: RecordingHome
) -> None:
    recognizer.areas["satellite:kitchen"] = "Kitchen"
    await recognizer.answer("Turn off the lights in the bedroom.", "satellite:kitchen")
    assert [c.slots.get("area") for c in home.done] == ["bedroom"]


async def test_without_a_known_area_nothing_is_done_and_the_reply_says_why(
    recognizer: IntentRecognizer, home: RecordingHome
) -> None:
    unknown = await recognizer.answer("Lights off.", "satellite:nowhere")
    recognizer.areas["satellite:garden"] = "Garden"  # not an area of this home
    elsewhere = await recognizer.answer("Lights off.", "satellite:garden")
    assert unknown is not None and (unknown.response, unknown.done) == (NO_AREA_REPLY, REFUSED)
    assert elsewhere is not None and (elsewhere.response, elsewhere.done) == (unknown_area_reply("Garden"), REFUSED)
    assert home.done == []


async def test_without_a_home_lights_off_gets_the_no_home_answer_not_the_llm() -> None:
    match = await no_home().answer("Lights off.", "satellite:kitchen")
    assert match is not None and (match.name, match.response, match.done) == ("HassTurnOff", NO_HOME_REPLY, NO_HOME)


def test_lights_off_is_a_whole_command_for_the_command_end(recognizer: IntentRecognizer) -> None:
    # as "Turn off the lights." already was (through the wildcard, as a device named "lights")
    assert recognizer.recognize("Lights off.")[0].here
    assert complete_command(recognizer, "Lights off.") and complete_command(no_home(), "lights on")


async def test_the_link_gives_the_intents_its_satellites_area_from_the_satellites_info() -> None:
    recognizer = IntentRecognizer(home=RecordingHome())
    pipeline = Pipeline(ServicePool("asr", []), ServicePool("handle", []), ServicePool("tts", []), intents=recognizer)
    link = SatelliteLink(LinkConfig("tcp://127.0.0.1:1"), pipeline)
    info = Info(satellite=Satellite(name="hall", description="", attribution=Attribution("tests", ""),
                                    installed=True, version="1", area="Kitchen"))
    await link._on_event(info.event(), None, asyncio.Event())  # type: ignore[arg-type]  # Info needs no connection
    match = await recognizer.answer("Lights off.", link.owner)
    assert match is not None and match.done == ACTED
    assert isinstance(recognizer.home, RecordingHome) and recognizer.home.done[0].slots["area"] == "kitchen"


async def test_in_x_and_y_only_the_part_without_a_place_gets_the_satellites_area(
    recognizer: IntentRecognizer, home: RecordingHome
) -> None:
    recognizer.areas["satellite:bedroom"] = "Bedroom"
    await recognizer.answer("Turn the lights off and the TV on.", "satellite:bedroom")
    assert [(c.name, c.slots) for c in home.done] == [
        ("HassTurnOff", {"domain": "light", "area": "bedroom"}), ("HassTurnOn", {"name": "TV"})]


async def test_without_a_known_area_the_homes_only_device_of_the_kind_is_meant() -> None:
    """As "turn the fan off" already meant the only fan (orchestrator/home/resolve.py), so does "I'd like the
    fan off" said on a satellite with no area; the lights, two of them, are still not guessed."""
    home = RecordingHome()
    home._lists = slot_lists(HomeSnapshot(
        entities=(*HOME.entities, HomeEntity("fan.ceiling", "Ceiling Fan", (), "bedroom")), areas=HOME.areas))
    recognizer = IntentRecognizer(home=home)
    fan = await recognizer.answer("I'd like the fan off.", "satellite:nowhere")
    lights = await recognizer.answer("Lights off.", "satellite:nowhere")
    assert fan is not None and fan.done == ACTED
    assert [(c.name, c.slots) for c in home.done] == [("HassTurnOff", {"domain": "fan", "name": "Ceiling Fan"})]
    assert lights is not None and (lights.response, lights.done) == (NO_AREA_REPLY, REFUSED)
