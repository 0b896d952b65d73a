"""A misheard device request is never done on the wrong device (orchestrator/home/fit.py): the
words of a request that do not fit its device (degrees on a light, a percentage on a lock, a
colour on a switch) are asked about, a temperature is offered to the home's thermostat, and a
clear request is still done at once. Transcripts and scores are tiny.en's, recorded in the room
bench (bench/results/room_latency.md) and bench/home_misheard_bench.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from ha_home import RunningHa
from ha_home import ha_backend as backend

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.home_bench import corpus_home
from bench.home_misheard_corpus import HELD_OUT, TUNE
from bench.home_misheard_judge import RecordingHome
from orchestrator.home.confidence import Hearing
from orchestrator.home.entities import HomeEntity, HomeSnapshot
from orchestrator.home.ha import HaConfig
from orchestrator.intents import IntentRecognizer

SURE = Hearing(avg_logprob=-0.3, no_speech_prob=0.05)
THERMOSTAT_20 = "Did you mean: set the Thermostat to 20 degrees?"


@pytest.fixture(scope="module")
def home() -> tuple[IntentRecognizer, RecordingHome]:
    recording = RecordingHome(corpus_home())
    return IntentRecognizer(home=recording), recording


async def _ask(
    home: tuple[IntentRecognizer, RecordingHome], text: str, conversation: str, hearing: Hearing | None = SURE
) -> str | None:
    recognizer, recording = home
    recording.done, recording.agent = [], []
    answer = await recognizer.answer(text, conversation, hearing=hearing)
    return answer.response if answer else None


@pytest.mark.parametrize(
    ("heard", "hearing"),
    [
        ("Set the firmest up to 20 degrees.", SURE),  # room bench, main 52f8334, held-47 (far+noise)
        ("Set the firmest up to 20 degrees.", Hearing(-0.635, 0.26)),  # bench/results/home_confidence.md
        ("Set the firmest off to 20 degrees.", SURE),  # room bench, session 8
    ],
)
async def test_a_temperature_heard_with_a_name_that_is_no_device_is_offered_to_the_thermostat(
    home: tuple[IntentRecognizer, RecordingHome], heard: str, hearing: Hearing
) -> None:
    """Before: a wildcard light-set "firmest up" to "20 degrees", handed to Home Assistant's own
    agent when heard surely, or "which device?" when not; now the thermostat is offered, and a
    "yes" sets it."""
    recording = home[1]
    assert await _ask(home, heard, f"firmest:{heard}:{hearing}", hearing) == THERMOSTAT_20
    assert recording.done == [] and recording.agent == []  # nothing done, nothing handed on
    assert await _ask(home, "yes", f"firmest:{heard}:{hearing}") == "Done."
    assert [(c.name, c.slots) for c in recording.done] == [
        ("HassClimateSetTemperature", {"name": "Thermostat", "temperature": 20.0})
    ]


@pytest.mark.parametrize(
    ("heard", "reply"),
    [
        ("set the kitchen light to 20 degrees", THERMOSTAT_20),
        ("set the tv to 20 degrees", THERMOSTAT_20),  # HA 2026.2.3's own agent: "Volume set"
        ("set the ceiling fan to 20 degrees", THERMOSTAT_20),  # HA 2026.2.3's own agent: "Speed set", fan on
        ("set the garage door to 20 degrees", THERMOSTAT_20),  # HA 2026.2.3's own agent: garage door opened to 20 %
        ("set the firm stat to 21 degrees", "Did you mean: set the Thermostat to 21 degrees?"),
        ("set the front door to 50 percent", "The Front Door can't do that. Which device did you mean?"),
        ("dim the front door", "The Front Door can't do that. Which device did you mean?"),
        ("turn the coffee maker blue", "The Coffee Maker can't do that. Which device did you mean?"),
        ("lock the kitchen light", "The Kitchen Light can't do that. Which device did you mean?"),
        ("make the thermostat blue", "The Thermostat can't do that. Which device did you mean?"),
    ],
)
async def test_words_that_do_not_fit_the_device_are_asked_about_not_done(
    home: tuple[IntentRecognizer, RecordingHome], heard: str, reply: str
) -> None:
    assert await _ask(home, heard, f"misfit:{heard}") == reply
    assert home[1].done == [] and home[1].agent == []


@pytest.mark.parametrize("said", TUNE + HELD_OUT)
async def test_a_clear_request_is_done_at_once(home: tuple[IntentRecognizer, RecordingHome], said: str) -> None:
    """No extra question on a request heard as said (the bench corpus, written as said)."""
    assert await _ask(home, said, f"clear:{said}") == "Done."
    assert home[1].done and home[1].done[0].name == home[0].recognize(said)[0].name


async def test_a_temperature_with_several_or_no_thermostats_is_asked_or_refused() -> None:
    two = RecordingHome(
        HomeSnapshot(
            entities=(
                HomeEntity("climate.up", "Upstairs Thermostat"),
                HomeEntity("climate.down", "Downstairs Thermostat"),
                HomeEntity("light.hall", "Hall Light"),
            )
        )
    )
    answer = await IntentRecognizer(home=two).answer("set the firmest up to 20 degrees", "two", hearing=SURE)
    assert answer is not None
    assert answer.response == "Which thermostat do you mean: the Upstairs Thermostat or the Downstairs Thermostat?"
    none = RecordingHome(HomeSnapshot(entities=(HomeEntity("light.hall", "Hall Light"),)))
    answer = await IntentRecognizer(home=none).answer("set the hall light to 20 degrees", "none", hearing=SURE)
    assert answer is not None and answer.response == "There is no thermostat in your home."
    assert two.done == none.done == [] and two.agent == none.agent == []


async def test_a_remark_or_a_near_name_is_not_read_as_a_misfit(home: tuple[IntentRecognizer, RecordingHome]) -> None:
    """ "turn on the ceiling fan it's getting warmer" names the fan (with a remark after it): it
    is asked about as the Ceiling Fan, not offered to the thermostat. (Both guard the rule; they
    pass on main too.)"""
    assert await _ask(home, "turn on the ceiling fan it's getting warmer", "warmer") == "Did you mean the Ceiling Fan?"
    # a room the home lacks, only close to a device's name: not asked about as the Living Room Blinds
    assert await _ask(home, "dim the dining room lights", "dining") is None
    assert home[1].agent == ["dim the dining room lights"]  # to HA's own agent, as on main


async def test_words_inside_a_devices_name_are_not_read_as_a_request() -> None:
    """ "Blue Lamp" is a name, not a colour; "Lock Light" is a light, not a lock."""
    recording = RecordingHome(
        HomeSnapshot(entities=(HomeEntity("light.blue", "Blue Lamp"), HomeEntity("light.lock", "Lock Light")))
    )
    recognizer = IntentRecognizer(home=recording)
    for text in ("turn on the blue lamp", "turn off the lock light"):
        answer = await recognizer.answer(text, text, hearing=SURE)
        assert answer is not None and answer.response == "Done.", (text, answer)
    assert [c.slots["name"] for c in recording.done] == ["Blue Lamp", "Lock Light"]


async def test_switch_off_thing_bedroom_lamp_is_asked_about_the_bedroom_lamp() -> None:
    """Room bench held-40 ("Switch off the bedroom lamp." heard "Switch off thing. Bedroom lamp."):
    in a home with a Bedroom Lamp it names that device only with a word too many, so it is asked
    about; a "yes" switches off the Bedroom Lamp (the right device)."""
    recording = RecordingHome(
        HomeSnapshot(
            entities=(HomeEntity("light.bedroom_lamp", "Bedroom Lamp"), HomeEntity("light.bedroom", "Bedroom Light"))
        )
    )
    recognizer = IntentRecognizer(home=recording)
    answer = await recognizer.answer("Switch off thing. Bedroom lamp.", "held-40", hearing=SURE)
    assert answer is not None and answer.response == "Did you mean the Bedroom Lamp?"
    assert recording.done == []
    await recognizer.answer("yes", "held-40")
    assert [(c.name, c.slots) for c in recording.done] == [("HassTurnOff", {"name": "Bedroom Lamp"})]


async def test_real_whisper_far_off_thermostat_request_is_never_done_on_another_device(
    home: tuple[IntentRecognizer, RecordingHome],
) -> None:
    """Real parts: Piper says "Set the thermostat to twenty degrees.", in a reverberant room at
    -14 dB under -40 dBFS hiss (bench/home_misheard_bench.py's far+noise, seed 2); our whisper
    engine (tiny.en) heard it, when measured (2026-12-02), as "Set the thumb a step to 20
    degrees. Set the thumb a step to 20 degrees." at avg_logprob -0.315 (sure), which main handed
    to Home Assistant's own agent. Whatever it hears, nothing but the thermostat at 20 is done,
    nothing goes to HA's agent, and a device action is asked about, not done."""
    import numpy as np
    from speech import speak

    from bench.home_misheard_bench import condition
    from voice_runtime.models import resolve_whisper
    from wyoming_whisper.engine import EngineConfig, WhisperEngine

    clean = (np.frombuffer(speak("Set the thermostat to twenty degrees."), dtype="<i2") / 32768).astype(np.float32)
    engine = WhisperEngine(EngineConfig(model_dir=resolve_whisper("tiny.en")))
    decoded = engine.transcribe(condition(clean, gain=-14.0, noise=-40.0, room=True, seed=2), "en")
    recognizer, recording = home
    recording.done, recording.agent = [], []
    answer = await recognizer.answer(decoded.text, "real", hearing=Hearing.from_context(decoded.confidence()))
    assert recording.agent == [], (decoded.text, recording.agent)
    assert recording.done == [], (decoded.text, answer)
    if recognizer.recognize(decoded.text):
        assert answer is not None and answer.response.endswith("?"), (decoded.text, answer)
        if answer.response == THERMOSTAT_20:
            await recognizer.answer("yes", "real")
            assert [(c.name, c.slots) for c in recording.done] == [
                ("HassClimateSetTemperature", {"name": "Thermostat", "temperature": 20.0})
            ]


@pytest.mark.slow
async def test_the_misheard_thermostat_request_does_nothing_in_home_assistant_until_yes(ha: RunningHa) -> None:
    """A real Home Assistant core: its thermostat and lights are unchanged by the misheard
    request; the "yes" sets the thermostat."""
    async with backend(HaConfig(ha.url, ha.token), loaded=True) as home:
        intents = IntentRecognizer(home=home)
        await ha.call("climate", "set_temperature", {"entity_id": "climate.thermostat", "temperature": 18})
        await ha.wait_state("climate.thermostat", lambda s: s["attributes"].get("temperature") == 18)
        light = (await ha.state("light.kitchen_light"))["state"]
        asked = await intents.answer("Set the firmest up to 20 degrees.", "ha-firmest", hearing=SURE)
        assert asked is not None and asked.response == THERMOSTAT_20, asked
        asked = await intents.answer("set the kitchen light to 20 degrees", "ha-light", hearing=SURE)
        assert asked is not None and asked.response == THERMOSTAT_20, asked
        assert (await ha.state("climate.thermostat"))["attributes"]["temperature"] == 18
        assert (await ha.state("light.kitchen_light"))["state"] == light
        done = await intents.answer("yes", "ha-firmest")
        assert done is not None and not done.response.endswith("?"), done
        await ha.wait_state("climate.thermostat", lambda s: s["attributes"].get("temperature") == 20)
