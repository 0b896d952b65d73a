"""A barge-in without the wake word over Home Assistant's reply: its audio is held while a wake word may restart
it (session 30, ``satellite.wake_restart``), and goes as soon as that is decided, so that a short request is not
ended later than Home Assistant's own silence count would end it (session 31).

Real parts: Piper's question and short requests, the satellite's default wake word chain (microWakeWord okay_nabu
+ its verifier + openWakeWord's second opinion), its own turn driver frame by frame (talker gate on), a recording
controller link that announces Home Assistant's speech-to-text stage (``transcribe``) for every run.
"""

from __future__ import annotations

import logging
import re

import numpy as np
import pytest
from speech import speak
from test_satellite_talker_gate import floats
from test_satellite_wake import Link
from test_satellite_wake_unsure import after_the_question
from wyoming.audio import AudioChunk
from wyoming.pipeline import RunPipeline

from satellite.vad import VadConfig

VAD = VadConfig()
HA_SILENCE_SECONDS = 0.7  # Home Assistant's default "finished speaking" count (it counts the audio it gets)


async def over_the_reply(then: np.ndarray) -> tuple[Link, list[int]]:
    """The question "Okay Nabu. Turn off the lights." for Home Assistant, which ends it and plays a long reply;
    then ``then`` is heard. The link's events, and for each frame of ``then`` how many it had got by its end."""
    got: list[int] = []
    link, *_ = await after_the_question(then, ha=True, got=got)
    return link, got


def request(text: str, at: float = 0.6, after: float = 2.0) -> tuple[np.ndarray, int]:
    """``text`` (Piper) ``at`` s into the reply, then silence; and the frame its speech ends in."""
    said = floats(speak(text))
    said = said[: np.nonzero(np.abs(said) > 0.01)[0][-1] + 1]  # (to its last sample over -40 dBFS)
    start = int(at * 16000)
    x = np.zeros(start + len(said) + int(after * 16000), np.float32)
    x[start : start + len(said)] = said
    return x, (start + len(said)) // VAD.frame_samples


@pytest.mark.parametrize("text", ["Lights off.", "Stop the music."])
async def test_a_short_request_over_the_reply_reaches_home_assistant_before_its_silence_count_ends(text: str) -> None:
    """The barge-in's audio up to the request's end has all been sent once Home Assistant's count of 0.7 s of
    silence after it could end it: HA is not kept waiting by the hold. Before: held until 1.3 s into the turn,
    then sent in one burst (on main, 0.4-0.6 s after HA's count could have ended these)."""
    x, speech_end = request(text)
    link, got = await over_the_reply(x)
    runs = [i for i, e in enumerate(link.received) if e.type == "run-pipeline"]
    assert len(runs) == 2, link.types()  # the question's run, the barge-in's (no wake word: no restart)
    barge_in = runs[1]
    by = speech_end + round(HA_SILENCE_SECONDS / VAD.frame_seconds)
    start = next(k for k, n in enumerate(got) if n > barge_in)  # the frame the barge-in's run began in
    chunks = [sum(AudioChunk.is_type(e.type) for e in link.received[barge_in:n]) for n in got]
    # by then every frame of the turn up to the speech's end had been sent (main: none, held to 1.3 s into it)
    assert chunks[by] >= speech_end - start, (start, speech_end, chunks[start : by + 1])


async def test_the_restarted_turn_keys_its_talker_gate_to_the_wake_word(caplog: pytest.LogCaptureFixture) -> None:
    """ "Okay Nabu.", a pause, "What time is it?" over Home Assistant's reply: the barge-in's run is ended, and when
    it is over the turn restarts at the wake word; its talker gate is armed at the wake word's level (the level
    the question's wake word armed it at: the same voice). Before: at the level of what came after the barge-in's
    run ended (the gate's history is cleared when a turn ends): the pause, -120 dBFS here (-62 on the rig, s30)."""
    caplog.set_level(logging.INFO, "satellite.talker_gate")
    said = np.concatenate([floats(speak("Okay Nabu.")), np.zeros(int(0.6 * 16000), np.float32),
                           floats(speak("What time is it?"))])
    x = np.zeros(int(0.6 * 16000) + len(said) + 3 * 16000, np.float32)
    x[int(0.6 * 16000) : int(0.6 * 16000) + len(said)] = said
    link, _ = await over_the_reply(x)
    assert [RunPipeline.from_event(e).wake_word_name for e in link.received if RunPipeline.is_type(e.type)] == [
        "okay_nabu", None, "okay_nabu"], link.types()
    armed = [float(m.group(1)) for r in caplog.records
             if (m := re.search(r"armed \(wake word\): talker at (-?[\d.]+) dBFS", r.getMessage()))]
    assert len(armed) == 2, armed  # the question's wake word, the restart's
    assert abs(armed[1] - armed[0]) < 3.0, armed


async def test_the_held_audio_goes_when_the_second_model_rejects_the_wake_word(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Piper's "What time is it? in London and in Paris right now?" over Home Assistant's reply: our cascade hears
    the wake word at "it", openWakeWord's model does not: that decides it (no second detection can come within the
    wake gate's 1.5 s refractory period), and the held audio goes then, before the 1.3 s. Before: held to 1.3 s."""
    caplog.set_level(logging.INFO, "satellite.core")
    first = floats(speak("What time is it?"))
    first = first[: np.nonzero(np.abs(first) > 0.01)[0][-1] + 1]
    said = np.concatenate([first, floats(speak("in London and in Paris right now?"))])
    x = np.zeros(int(0.8 * 16000) + len(said) + 3 * 16000, np.float32)
    x[int(0.8 * 16000) : int(0.8 * 16000) + len(said)] = said
    link, _ = await over_the_reply(x)
    assert len([e for e in link.received if RunPipeline.is_type(e.type)]) == 2, link.types()  # no restart
    released = [float(m.group(1)) for r in caplog.records if (m := re.search(
        r"second model does not hear the wake word: the turn's held audio \(\d+ chunks, ([\d.]+) s into it\)",
        r.getMessage()))]
    assert len(released) == 1 and released[0] <= 1.3, [r.getMessage() for r in caplog.records][-12:]
