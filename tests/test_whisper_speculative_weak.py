"""Weak speculative transcripts (``context.speculative_weak``): the whisper server sends the text
of a speculative final whose words read finished but that would wait the weak cap (no final
. ? !, or decoded unsure), marked ``weak``, so the orchestrator can end the turn itself when the
text is a whole command (``orchestrator/command_end.py``). Not asked for, such a text is not sent
(as before); a finished one is sent as before, weak only when its decode was unsure.

Real Silero VAD over Piper's "Next song" and 1 s of silence; the texts are what tiny.en wrote for
such clips (``bench/eot_period_probe.py``: "next song" without its period).
"""

from __future__ import annotations

import pytest
from speech import speak
from wyoming.asr import Transcribe

from voice_runtime.speculative import SpeculativeTranscript
from wyoming_whisper.engine import SAMPLE_RATE, Decoded
from wyoming_whisper.policy import request_policy
from wyoming_whisper.stream import StreamPolicy, Utterance
from wyoming_whisper.vad import WINDOW, SileroVad

FRAME = 960  # bytes: the satellite's 30 ms frames


def settled(vad: SileroVad, context: dict[str, object]) -> tuple[Utterance, tuple[int, int]]:
    """An utterance of "Next song" and the region of its speculative final decode."""
    base = StreamPolicy(endpoint_max_windows=round(1.5 * SAMPLE_RATE / WINDOW))
    utterance = Utterance(vad.stream(), request_policy(base, Transcribe(vad_sensitivity="default", context=context)))
    audio = speak("Next song") + bytes(SAMPLE_RATE * 2)
    for at in range(0, len(audio), FRAME):
        utterance.add(audio[at : at + FRAME])
        job = utterance.next_job(model_busy=False)
        if job is not None and job.kind == "final":
            return utterance, job.region
    raise AssertionError("no speculative final decode started")


def spoken(utterance: Utterance, region: tuple[int, int], text: str, logprob: float) -> tuple[str, bool] | None:
    utterance.speculated = (region, Decoded(text, logprob, 0.01))
    return utterance.speculative_text(region, text)


def test_a_weak_text_is_sent_marked_weak_only_when_asked_for(vad: SileroVad) -> None:
    utterance, region = settled(vad, {"speculative_transcripts": True, "speculative_weak": True})
    assert spoken(utterance, region, "next song", -0.37) == ("next song", True)
    assert spoken(utterance, region, "Next song.", -0.37) == ("Next song.", False)
    assert spoken(utterance, region, "Next song.", -0.94) == ("Next song.", True)  # unsure: waits the weak cap
    assert spoken(utterance, region, "turn on the", -0.3) is None  # unfinished: never

    utterance, region = settled(vad, {"speculative_transcripts": True})
    assert spoken(utterance, region, "next song", -0.37) is None
    assert spoken(utterance, region, "Next song.", -0.37) == ("Next song.", False)


def test_the_weak_flag_round_trips_and_is_checked() -> None:
    event = SpeculativeTranscript(text="next song", weak=True).event()
    assert event.data == {"text": "next song", "weak": True}
    assert SpeculativeTranscript.from_event(event) == SpeculativeTranscript("next song", True)
    assert SpeculativeTranscript(text="Next song.").event().data == {"text": "Next song."}  # as before
    event.data["weak"] = "yes"
    with pytest.raises(TypeError):
        SpeculativeTranscript.from_event(event)
