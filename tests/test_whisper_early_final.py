"""The speculative final decode starts when Silero's score falls (1 window of silence, not the 3 of
the pad) and stands for the whole region when the rest of the pad added no word
(``wyoming_whisper.early``, session 23): a whole command's text is in ~0.06 s sooner, and nothing
is judged before the pad has arrived. On main the first final starts after the whole pad.
"""

from __future__ import annotations

import asyncio
import logging

import pytest
from handler_pair import tiny_whisper, transcribe_stream
from speech import speak
from test_whisper_unsure_open import FRAME, silence
from wyoming.asr import Transcribe

from voice_runtime.speculative import SpeculativeTranscript
from wyoming_whisper.early import EARLY_WINDOWS
from wyoming_whisper.engine import Decoded
from wyoming_whisper.policy import request_policy
from wyoming_whisper.stream import Job, StreamPolicy, Utterance
from wyoming_whisper.vad import WINDOW, SileroVad, VadStream


def default_policy() -> StreamPolicy:
    asked = Transcribe(vad_sensitivity="default", context={"speculative_transcripts": True})
    return request_policy(StreamPolicy(endpoint_max_windows=59), asked)


class ScriptedVad(VadStream):
    """One Silero score per 512-sample window, from a script (0.0 once it runs out); one grid."""

    def __init__(self, script: list[float]) -> None:  # no model: the scores are given
        self.probs = []
        self.levels = []
        self._half = None
        self._script = list(script)
        self._samples = 0

    def feed(self, samples: object) -> None:
        self._samples += len(samples)  # type: ignore[arg-type]
        while self._samples >= WINDOW:
            self._samples -= WINDOW
            p = self._script.pop(0) if self._script else 0.0
            self.probs.append(p)
            self.levels.append(-30.0 if p >= 0.45 else -70.0)

    def finish(self) -> None:
        return None


def finals(utterance: Utterance, pcm: bytes, frame: int) -> list[tuple[Job, int]]:
    """``pcm`` fed ``frame`` bytes at a time, the handler's next_job after each; the final jobs,
    each with the windows scored when it was made."""
    got = []
    for at in range(0, len(pcm), frame):
        utterance.add(pcm[at : at + frame])
        job = utterance.next_job(model_busy=False)
        if job is not None and job.kind == "final":
            got.append((job, len(utterance._vad.probs)))
    return got


SPEECH = [0.0] * 5 + [0.9] * 20  # windows 5-24 speech


def test_a_fallen_score_starts_the_final_after_one_window_and_the_quiet_pad_adopts_it() -> None:
    utterance = Utterance(ScriptedVad(SPEECH + [0.02] * 12), default_policy())
    got = finals(utterance, bytes(2 * WINDOW * 37), 2 * WINDOW)
    pad = utterance.policy.vad.pad_windows
    assert len(got) == 1, got  # one decode: the early one stands for the whole region
    job, scored = got[0]
    assert scored == 25 + EARLY_WINDOWS  # main: 25 + 3 (after the whole pad)
    region = utterance.region()
    assert region is not None and region[1] == (25 + pad) * WINDOW
    assert job.region == (region[0], (25 + EARLY_WINDOWS) * WINDOW)
    assert utterance.decoded_for(job.region) == region


def test_a_pad_that_may_hold_a_word_is_decoded_again_whole() -> None:
    # the soft end of a last word ("penguins"): under the threshold, over the reuse bound
    utterance = Utterance(ScriptedVad(SPEECH + [0.02, 0.25, 0.02] + [0.0] * 9), default_policy())
    got = finals(utterance, bytes(2 * WINDOW * 37), 2 * WINDOW)
    assert [scored for _, scored in got] == [26, 28]
    early, whole = got[0][0], got[1][0]
    assert whole.region == utterance.region()
    assert utterance.decoded_for(early.region) == early.region  # never stands for the whole region


def test_a_score_that_did_not_fall_waits_for_the_pad_as_before() -> None:
    utterance = Utterance(ScriptedVad(SPEECH + [0.25, 0.02, 0.02] + [0.0] * 9), default_policy())
    got = finals(utterance, bytes(2 * WINDOW * 37), 2 * WINDOW)
    assert [scored for _, scored in got] == [28]


def test_an_early_decode_done_before_the_pad_is_re_keyed_to_the_whole_region() -> None:
    utterance = Utterance(ScriptedVad(SPEECH + [0.02] * 12), default_policy())
    pcm = bytes(2 * WINDOW)
    job = None
    for _ in range(26):
        utterance.add(pcm)
        made = utterance.next_job(model_busy=False)
        job = made if made is not None and made.kind == "final" else job
    assert job is not None
    utterance.speculated = (job.region, Decoded("Turn on the kitchen lights."))  # done at 1 quiet window
    for _ in range(2):
        utterance.add(pcm)
        assert utterance.next_job(model_busy=False) is None
    assert utterance.adopted == "done"  # the handler sends its text now
    region = utterance.region()
    assert region is not None and utterance.speculated is not None and utterance.speculated[0] == region
    assert utterance.speculative_text(region, "Turn on the kitchen lights.") is not None


def test_an_early_text_is_never_sent_before_the_pad_has_arrived() -> None:
    utterance = Utterance(ScriptedVad(SPEECH + [0.02] * 12), default_policy())
    pcm = bytes(2 * WINDOW)
    job = None
    while job is None:
        utterance.add(pcm)
        made = utterance.next_job(model_busy=False)
        job = made if made is not None and made.kind == "final" else None
    text = "Turn on the kitchen lights."
    utterance.speculated = (job.region, Decoded(text))  # a decode faster than a window
    assert utterance.region() == job.region  # nothing newer came yet
    assert utterance.speculative_text(job.region, text) is None  # the orchestrator could end the turn on it


def test_no_early_final_without_endpointing() -> None:
    utterance = Utterance(ScriptedVad(SPEECH + [0.02] * 12), StreamPolicy())
    got = finals(utterance, bytes(2 * WINDOW * 37), 2 * WINDOW)
    assert all(scored >= 25 + StreamPolicy().settle_windows for _, scored in got)


def test_real_speech_starts_its_final_one_window_into_the_silence(vad: SileroVad) -> None:
    utterance = Utterance(vad.stream(), default_policy())
    got = finals(utterance, speak("Set the thermostat to 20 degrees.") + silence(0.5), FRAME)
    region = utterance.region()
    assert region is not None
    pad = utterance.policy.vad.pad_windows
    assert len(got) == 1, [(j.region, s) for j, s in got]
    # started with the pad's first window in (a 30 ms frame may bring a little more), not the whole pad
    assert got[0][0].region[1] < region[1] - (pad - EARLY_WINDOWS - 1) * WINDOW  # main: region[1]
    assert utterance.decoded_for(got[0][0].region) == region


def test_the_server_sends_the_early_text_and_its_transcript_is_that_decode(
    vad: SileroVad, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> list[str]:
        async with tiny_whisper(vad, StreamPolicy(endpoint_max_windows=59)) as (whisper, reader):
            audio = speak("Set the thermostat to 20 degrees.") + silence(1.0)
            events = await transcribe_stream(whisper, reader, audio, {"speculative_transcripts": True})
        speculative = [SpeculativeTranscript.from_event(e).text for e in events if e.type == "transcript-speculative"]
        final = [str(e.data["text"]) for e in events if e.type == "transcript"]
        return speculative + final

    with caplog.at_level(logging.INFO, logger="wyoming_whisper.handler"):
        texts = asyncio.run(scenario())
    assert len(texts) == 2 and texts[0] == texts[1], texts
    assert "thermostat" in texts[1].lower()
    starts = [r for r in caplog.records if "speculative final decode starts" in r.getMessage()]
    assert len(starts) == 1, [r.getMessage() for r in caplog.records]
    assert any("the early decode" in r.getMessage() for r in caplog.records)  # main: no early decode
