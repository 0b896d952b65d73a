"""Home control round 4 (issue 16): the request classes held-out set 6 missed, recognised by
general rules (other words, spoken durations, polite openings); no home, every one gets the honest
answer; and a device action heard unsurely, or naming a device only nearly, is asked about, not
done (a real Home Assistant core's states are checked)."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import pytest
from ha_home import RunningHa
from ha_home import ha_backend as backend
from speech import speak
from stack import Stack
from test_orchestrator_peers import chunks
from wyoming.event import Event

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/ is imported as a package

from home_shared import bench_home, no_home

from bench.home_bench import judge
from bench.home_corpus import Case
from orchestrator.home.confidence import Hearing, near_name
from orchestrator.home.ha import HaConfig
from orchestrator.intents import ASKED, NO_HOME_REPLY, IntentRecognizer
from orchestrator.pipeline import Pipeline, TurnResult
from orchestrator.services import ServicePool

# The classes of HELD_OUT_6's misses, in new wordings (not its phrasings).
CLASSES: list[Case] = [
    ("set a timer for half an hour", "HassStartTimer", {"minutes": 30}),
    ("start a timer for an hour and a half", "HassStartTimer", {"hours": 1, "minutes": 30}),
    ("set a tea timer for an hour", "HassStartTimer", {"name": "tea", "hours": 1}),
    ("put ten more minutes on the timer", "HassIncreaseTimer", {"minutes": 10}),
    ("give it two more minutes", "HassIncreaseTimer", {"minutes": 2}),
    ("extend my timer by 3 minutes", "HassIncreaseTimer", {"minutes": 3}),
    ("freeze the timer", "HassPauseTimer", {}),
    ("keep going with the timer", "HassUnpauseTimer", {}),
    ("how long before the timer rings", "HassTimerStatus", {}),
    ("would you mind turning on the bedroom light", "HassTurnOn", {"name": "bedroom light"}),
    ("would it be possible to lock the back door", "HassTurnOn", {"name": "back door"}),
    ("go ahead and open the garage door", "HassTurnOn", {"name": "garage door"}),
    ("power down the ceiling fan", "HassTurnOff", {"name": "ceiling fan"}),
    ("fire up the ceiling fan", "HassTurnOn", {"name": "ceiling fan"}),
    ("roll down the living room blinds", "HassTurnOff", {}),
    ("put the living room blinds at 60 percent", "HassSetPosition", {"position": 60}),
    ("set the bedroom light to full brightness", "HassLightSet", {"name": "bedroom light", "brightness": 100}),
    ("is the tv still playing", "HassGetState", {"name": "tv", "state": "playing"}),
    ("are the living room blinds down", "HassGetState", {"state": "closed"}),
    ("how's the weather looking today", "HassGetWeather", {}),
    ("what time do we have", "HassGetCurrentTime", {}),
]
# Other words that are not a device request: they still go to the LLM.
NOT_DEVICES = [
    "kill the spider",
    "fire up the grill",
    "cut the cake",
    "roll up the sleeves",
    "open a conversation about philosophy with me",
    "hold the door",
    "start up a business",
]


_NO_HOME = no_home()


@pytest.fixture(scope="module")
def recognizer() -> IntentRecognizer:
    return bench_home()


@pytest.mark.parametrize("case", CLASSES, ids=[c[0] for c in CLASSES])
def test_the_classes_held_out_6_missed_are_recognised(recognizer: IntentRecognizer, case: Case) -> None:
    ok, got = judge(recognizer, case)
    assert ok, got


@pytest.mark.parametrize("text", NOT_DEVICES)
def test_other_words_without_a_device_go_to_the_llm(recognizer: IntentRecognizer, text: str) -> None:
    assert recognizer.recognize(text) == [], text
    assert _NO_HOME.recognize(text) == [], text


@pytest.mark.parametrize(
    "text",
    [
        "would you mind switching off the kitchen light",
        "fire up the coffee maker",
        "go ahead and shut the garage door",
        "roll up the living room blinds",
        "is the television still playing",
        "are the living room blinds up",
    ],
)
async def test_without_a_home_these_get_the_honest_answer(text: str) -> None:
    match = await _NO_HOME.answer(text, "satellite:test")
    assert match is not None and match.response == NO_HOME_REPLY, text


def test_a_near_name_is_the_device_it_nearly_names() -> None:
    names = ["Kitchen Light", "Bedroom Lamp", "Front Door", "Thermostat"]
    assert near_name("in bedroom lamp", names) == "Bedroom Lamp"
    assert near_name("kitten light", names) == "Kitchen Light"
    assert near_name("firmest off", names) is None
    assert near_name("spider", names) is None


def test_hearing_is_read_from_the_transcript_context() -> None:
    assert Hearing.from_context({"avg_logprob": -0.9, "no_speech_prob": 0.1}).unsure
    assert Hearing.from_context({"avg_logprob": -0.2, "no_speech_prob": 0.9}).unsure
    assert not Hearing.from_context({"avg_logprob": -0.2, "no_speech_prob": 0.1}).unsure
    assert not Hearing.from_context(None).unsure  # a server that says nothing: nothing is unsure
    assert not Hearing.from_context({"avg_logprob": "x"}).unsure


@pytest.mark.slow
async def test_an_unsure_or_near_device_action_is_asked_about_and_done_only_on_yes(ha: RunningHa) -> None:
    unsure = Hearing(avg_logprob=-0.9, no_speech_prob=0.2)
    sure = Hearing(avg_logprob=-0.1, no_speech_prob=0.01)
    async with backend(HaConfig(ha.url, ha.token)) as home:
        await asyncio.wait_for(home.loaded.wait(), 60)
        intents = IntentRecognizer(home=home)
        await intents.answer("turn off the kitchen light", "sat", hearing=sure)
        await ha.wait_state("light.kitchen_light", lambda s: s["state"] == "off")

        asked = await intents.answer("turn on the kitchen light", "sat", hearing=unsure)
        assert asked is not None and asked.response.endswith("?"), asked
        assert "turn on the kitchen light" in asked.response
        assert (await ha.state("light.kitchen_light"))["state"] == "off"  # not done
        done = await intents.answer("yes please", "sat")
        assert done is not None and "kitchen light" in done.response.lower(), done
        await ha.wait_state("light.kitchen_light", lambda s: s["state"] == "on")

        # A name that is not a device but nearly one: asked about, even when heard surely; "no" ends it.
        near = await intents.answer("switch off in kitchen light", "sat", hearing=sure)
        assert near is not None and near.response == "Did you mean the Kitchen Light?", near
        assert (await ha.state("light.kitchen_light"))["state"] == "on"
        refused = await intents.answer("no", "sat")
        assert refused is not None and refused.response == "Okay, I won't."
        assert (await ha.state("light.kitchen_light"))["state"] == "on"

        # Questions are safe: answered even when heard unsurely.
        state = await intents.answer("is the kitchen light on", "sat", hearing=unsure)
        assert state is not None and state.response.lower().startswith("yes"), state
        # "yes" with no question open is not an action.
        assert await intents.answer("yes", "sat") is None


def _noisy(pcm: bytes, gain_db: float, noise_dbfs: float, seed: int) -> bytes:
    import numpy as np

    clean = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768
    hiss = np.random.default_rng(seed).standard_normal(len(clean)).astype(np.float32) * 10 ** (noise_dbfs / 20)
    mixed = np.clip(clean * 10 ** (gain_db / 20) + hiss, -1, 1)
    return (mixed * 32767).astype("<i2").tobytes()


@pytest.mark.slow
async def test_a_command_our_whisper_heard_unsurely_is_asked_about_through_the_pipeline(
    stack: Stack, ha: RunningHa, caplog: pytest.LogCaptureFixture
) -> None:
    """The real transcript path: our whisper server says how sure it was in the transcript's
    context, the pipeline hands it to the intents, and Home Assistant's state shows what was done.
    "Open the garage door." under loud hiss (measured: transcribed right, avg_logprob -0.88) is
    asked about; said clearly, it is done. The turn's log line says which (``done=``)."""
    caplog.set_level(logging.INFO, logger="orchestrator.pipeline")
    async with backend(HaConfig(ha.url, ha.token)) as home:
        await asyncio.wait_for(home.loaded.wait(), 60)
        intents = IntentRecognizer(home=home)  # one, for the set-up and the pipeline (compiling costs ~1 s)
        await intents.answer("close the garage door", "setup")
        await ha.wait_state("cover.garage_door", lambda s: s["attributes"].get("current_position") == 0)
        pipeline = Pipeline(
            ServicePool("asr", [stack.whisper.uri]),
            ServicePool("handle", [stack.llama.uri]),
            ServicePool("tts", [stack.tts.uri]),
            intents=intents,
        )
        try:
            unsure = TurnResult()
            await pipeline.run_turn(
                chunks(_noisy(speak("Open the garage door."), -14.0, -32.0, 7)),
                _Events(),
                conversation_id="hiss",
                result=unsure,
                end_stage="handle",
            )
            assert unsure.error is None, unsure.error
            assert "garage door" in unsure.transcript.lower(), unsure.transcript
            assert unsure.reply.startswith("I'm not sure I heard that right."), unsure.reply
            assert (await ha.state("cover.garage_door"))["attributes"]["current_position"] == 0  # not done
            assert unsure.intent is not None and unsure.intent.done == ASKED, unsure.intent
            assert "conversation=hiss intent=HassTurnOn done=asked " in caplog.text, caplog.text
            sure = TurnResult()
            await pipeline.run_turn(
                chunks(speak("Open the garage door.")),
                _Events(),
                conversation_id="clear",
                result=sure,
                end_stage="handle",
            )
            assert sure.error is None and not sure.reply.startswith("I'm not sure"), sure.reply
            await ha.wait_state("cover.garage_door", lambda s: s["attributes"].get("current_position") == 100)
            assert "conversation=clear intent=HassTurnOn done=acted " in caplog.text, caplog.text
        finally:
            await pipeline.close()


class _Events:
    async def event(self, event: Event) -> None:
        pass
