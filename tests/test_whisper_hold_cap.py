"""A continuation whose new audio holds no speech Silero hears ends at the cap after the hold
(``wyoming_whisper.stream`` HOLD_CAP), not never.

The room's held-54 ("Lock the front door ... please.", af_nicole, noisy; session 19's lead run,
tests/test_cut_merged_miss.py): the orchestrator merged the new turn, re-sending the first part
(2.1 s, ``context.endpoint_after``) and then 3.0 s of new audio with a quiet "please" that whisper's
Silero did not score as speech. Speech that ends inside the re-sent part ends nothing, so whisper
never ended that stream: the satellite did, 3.0 s into the new audio. Now it ends once the cap
(1.875 s with ``default``) has passed after the hold with no speech, like any unfinished text.

Real Silero VAD over Piper's first part; the new part is silence (what Silero heard of it).
"""

from __future__ import annotations

from speech import speak
from test_whisper_unsure_open import FRAME, silence
from wyoming.asr import Transcribe

from wyoming_whisper.engine import SAMPLE_RATE
from wyoming_whisper.policy import request_policy
from wyoming_whisper.stream import StreamPolicy, Utterance
from wyoming_whisper.vad import WINDOW, SileroVad


def continued(vad: SileroVad, first: bytes) -> Utterance:
    after = len(first) / 2 / SAMPLE_RATE
    policy = request_policy(
        StreamPolicy(endpoint_max_windows=round(1.5 * SAMPLE_RATE / WINDOW)),
        Transcribe(vad_sensitivity="default", context={"endpoint_after": round(after, 3)}),
    )
    return Utterance(vad.stream(), policy)


def feed(utterance: Utterance, pcm: bytes) -> list[tuple[str, float]]:
    """``pcm`` 30 ms at a time; each voice event with the stream's length (s) when it came."""
    got: list[tuple[str, float]] = []
    for at in range(0, len(pcm), FRAME):
        utterance.add(pcm[at : at + FRAME])
        got += [(kind, utterance.seconds) for kind, _ in utterance.voice_events()]
    return got


def test_no_speech_after_the_re_sent_part_ends_at_the_cap(vad: SileroVad) -> None:
    first = speak("Lock the front door.") + silence(0.3)
    utterance = continued(vad, first)
    endpoint = utterance.policy.endpoint()
    assert endpoint is not None
    events = feed(utterance, first + silence(3.0))
    stopped = [at for kind, at in events if kind == "stopped"]
    assert stopped, events  # main: never ended (the satellite did, 3.0 s into the new audio)
    waited = stopped[0] - len(first) / 2 / SAMPLE_RATE
    assert endpoint.cap - 0.05 <= waited <= endpoint.cap + 0.1, waited  # the cap after the hold, no sooner


def test_speech_after_the_re_sent_part_still_decides_as_before(vad: SileroVad) -> None:
    first = speak("Lock the front door.") + silence(0.3)
    utterance = continued(vad, first)
    events = feed(utterance, first + silence(0.5) + speak("please") + silence(0.1))
    assert "stopped" not in [kind for kind, _ in events]  # its text not judged yet: no end in 0.1 s
