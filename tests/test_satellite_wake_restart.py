"""The wake word said over a reply, when the VAD opened a barge-in on its first syllables (issue 17).

Session 20's live room (``bench/turn_talker_live.py``, gate on): the user's "Okay Nabu" over a reply
was confirmed as a barge-in by the VAD 0.66 s before the wake word was detected, and detections while
a turn streams were ignored, so "Okay, Naboo." was streamed as the request. Now a detection within
``RESTART_SECONDS`` of the start of a turn opened without the wake word restarts the turn at the wake
word: a ``detection``, then a ``run-pipeline`` with its name (as Home Assistant expects after a wake
word), and the request streamed without the wake word's audio.

Real parts: Piper speaks, the satellite's default wake word chain (micro okay_nabu + its verifier)
detects, the satellite's own turn driver (frame by frame, the talker gate on) streams to a recording
controller link, and the last turn's audio is transcribed by our whisper handler (tiny.en).
"""

from __future__ import annotations

import numpy as np
from speech import speak
from test_satellite_talker_between import after_the_question, turns_of
from test_satellite_talker_gate import floats, norm_words
from whisper_clip import transcript
from wyoming.pipeline import RunPipeline
from wyoming.wake import Detection

from satellite.state import TurnState

WAKE_WORDS = {"okay", "ok", "nabu", "naboo", "nab", "nabo"}


async def test_the_wake_word_over_a_reply_restarts_the_barge_in_it_opened() -> None:
    said = floats(speak("Okay Nabu. What time is it?"))
    x = np.zeros(int(0.6 * 16000) + len(said) + 3 * 16000, np.float32)
    x[int(0.6 * 16000) : int(0.6 * 16000) + len(said)] += said  # over the reply, 0.6 s into it
    link, state = await after_the_question(x, reply=True)
    runs = [RunPipeline.from_event(e) for e in link.received if RunPipeline.is_type(e.type)]
    types = link.types()
    # the question, the barge-in the VAD opened on "Okay", then the same speech restarted at the wake word
    assert [r.wake_word_name for r in runs] == ["okay_nabu", None, "okay_nabu"], types
    barge_in = types.index("run-pipeline", types.index("run-pipeline") + 1)
    detections = [i for i, t in enumerate(types) if t == "detection"]
    assert len(detections) == 2 and barge_in < detections[1] < len(types) - 1 - types[::-1].index("run-pipeline")
    assert Detection.from_event(link.received[[e.type for e in link.received].index("detection")]).name == "okay_nabu"
    assert "audio-stop" not in types[barge_in:types.index("detection", barge_in)]  # no question of its own
    assert state != TurnState.STREAMING
    words = norm_words(await transcript(turns_of(link)[-1]))
    assert "time" in words, words
    assert not WAKE_WORDS & set(words), words  # before: "Okay, Naboo. What time is it?" was the request



async def test_the_wake_word_alone_over_a_reply_is_not_streamed_as_a_request() -> None:
    """Session 20's 1/7: the user's wake word over a reply in a slot where only the TV went on."""
    said = floats(speak("Okay Nabu."))
    x = np.zeros(int(0.6 * 16000) + len(said) + 6 * 16000, np.float32)
    x[int(0.6 * 16000) : int(0.6 * 16000) + len(said)] += said
    link, _ = await after_the_question(x, reply=True)
    runs = [RunPipeline.from_event(e) for e in link.received if RunPipeline.is_type(e.type)]
    assert [r.wake_word_name for r in runs] == ["okay_nabu", None, "okay_nabu"], link.types()
    words = norm_words(await transcript(turns_of(link)[-1]))
    assert not WAKE_WORDS & set(words), words  # before: "Okay, Nabu." was the request
