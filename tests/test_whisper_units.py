"""wyoming_whisper's pure parts: streaming Silero VAD, speech region, utterance bookkeeping."""

from __future__ import annotations

import numpy as np
from speech import speak

from wyoming_whisper.engine import SAMPLE_RATE, normalise, pcm16_to_float
from wyoming_whisper.stream import StreamPolicy, Utterance
from wyoming_whisper.vad import WINDOW, SileroVad, VadPolicy, speech_region

SPEECH = "Turn on the kitchen light."


def silence(seconds: float) -> bytes:
    return bytes(int(seconds * SAMPLE_RATE) * 2)


def test_vad_fed_in_pieces_equals_vad_fed_at_once(vad: SileroVad) -> None:
    audio = pcm16_to_float(silence(0.5) + speak(SPEECH))
    whole = vad.stream()
    whole.feed(audio)
    whole.finish()
    pieces = vad.stream()
    for start in range(0, len(audio), 700):  # not a multiple of the window
        pieces.feed(audio[start : start + 700])
    pieces.finish()
    assert pieces.probs == whole.probs
    assert len(whole.probs) == -(-len(audio) // WINDOW)
    assert max(whole.probs) > 0.9 and min(whole.probs) < 0.1


def test_speech_region_trims_silence_and_finds_none_in_silence(vad: SileroVad) -> None:
    policy = VadPolicy()
    stream = vad.stream()
    stream.feed(pcm16_to_float(silence(3.0)))
    assert speech_region(stream.probs, 3 * SAMPLE_RATE, policy) is None

    speech = speak(SPEECH)  # 0.3 s of silence either side already
    pcm = silence(2.0) + speech + silence(2.0)
    stream = vad.stream()
    stream.feed(pcm16_to_float(pcm))
    stream.finish()
    region = speech_region(stream.probs, len(pcm) // 2, policy)
    assert region is not None
    start, end = region
    speech_start, speech_end = 2.3 * SAMPLE_RATE, (len(pcm) / 2) - 2.3 * SAMPLE_RATE
    assert 1.5 * SAMPLE_RATE < start < speech_start  # lead padding kept, most leading silence cut
    assert speech_end < end < speech_end + 0.6 * SAMPLE_RATE


def test_speculative_final_job_covers_the_final_region(vad: SileroVad) -> None:
    utterance = Utterance(vad.stream(), StreamPolicy(partial_interval=0.5))
    audio = silence(0.5) + speak("Please turn off the lights in the living room and lock the door.") + silence(1.0)
    jobs = []
    step = int(0.1 * SAMPLE_RATE) * 2
    for i in range(0, len(audio), step):
        utterance.add(audio[i : i + step])
        job = utterance.next_job(model_busy=False)
        if job is not None:
            jobs.append(job)
    kinds = [j.kind for j in jobs]
    assert "partial" in kinds and kinds[-1] == "final" and kinds.count("final") == 1, kinds
    partials = [j for j in jobs if j.kind == "partial"]
    assert all(len(a.pcm) < len(b.pcm) for a, b in zip(partials, partials[1:], strict=False))
    utterance.finish_audio()
    assert utterance.region() == jobs[-1].region
    start, end = jobs[-1].region
    assert len(jobs[-1].pcm) == (end - start) * 2 and end < utterance.samples


def test_no_partials_while_the_model_is_busy_and_none_for_silence(vad: SileroVad) -> None:
    utterance = Utterance(vad.stream(), StreamPolicy(partial_interval=0.2))
    utterance.add(silence(0.3) + speak(SPEECH)[: SAMPLE_RATE * 2])
    assert utterance.next_job(model_busy=True) is None
    quiet = Utterance(vad.stream(), StreamPolicy(partial_interval=0.2))
    quiet.add(silence(2.0))
    assert quiet.next_job(model_busy=False) is None and quiet.region() is None


def test_chunks_are_agreed_words_and_concatenate_to_the_final_text(vad: SileroVad) -> None:
    utterance = Utterance(vad.stream(), StreamPolicy())
    sent = [
        utterance.hypothesis("Turn on"),
        utterance.hypothesis("Turn on the kitch"),
        utterance.hypothesis("Turn on the kitchen"),
        utterance.hypothesis("Turn off the kitchen light"),  # contradicts what was sent: nothing new
        utterance.hypothesis("Turn on the kitchen light"),
    ]
    assert sent == ["", "Turn on", " the", "", ""]
    sent.append(utterance.final_delta("Turn on the kitchen light."))
    assert "".join(sent) == "Turn on the kitchen light."


def test_final_that_contradicts_sent_chunks_adds_no_chunk(vad: SileroVad) -> None:
    utterance = Utterance(vad.stream(), StreamPolicy())
    utterance.hypothesis("Open the door")
    assert utterance.hypothesis("Open the door now") == "Open the door"
    assert utterance.final_delta("Close the door.") == ""


def test_voice_events_with_endpointing(vad: SileroVad) -> None:
    utterance = Utterance(vad.stream(), StreamPolicy(endpoint_windows=20))
    utterance.add(silence(0.5) + speak(SPEECH))
    started = utterance.voice_events()
    assert [kind for kind, _ in started] == ["started"] and 500 <= started[0][1] < 1500
    utterance.add(silence(1.0))
    stopped = utterance.voice_events()
    assert [kind for kind, _ in stopped] == ["stopped"] and stopped[0][1] > started[0][1]
    assert utterance.voice_events() == []


def test_normalise() -> None:
    assert normalise(" Turn ON the kitchen-light, please! ") == "turn on the kitchen light please"
    assert normalise("What's on?") == "whats on"
    assert np.float32 == pcm16_to_float(b"\x00\x40").dtype and pcm16_to_float(b"\x00\x40\x01")[0] == 0.5
