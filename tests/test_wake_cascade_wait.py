"""A verified wake word starts the turn in the frame whose audio confirmed it, not one frame later.

The cascade's verifier scores live frames in a worker thread. Before, the mic loop put each frame
on the worker's queue and looked for a confirmation at once, so a confirmation made from frame N
was seen at frame N + 1 at the earliest (30 ms later; the listening tone one speaker frame later).
Now, once the worker has caught up with its ring buffer, the loop gives it up to
``wait_seconds`` to score the frame just sent. Real models (microWakeWord, our verifier) on Kokoro
af_heart's "Okay Nabu." (microWakeWord peaks at 0.14: a strict candidate our verifier confirms).
"""

from __future__ import annotations

from pathlib import Path

from satellite.wake import MicroDetector
from satellite.wake_cascade import CascadeDetector
from voice_runtime.audio import read_wav

FRAME = 960  # 30 ms at 16 kHz, 16 bit
CLIP = Path(__file__).parent / "audio" / "af_heart_okay_nabu.wav"


def frames(audio: bytes) -> list[bytes]:
    audio = audio + bytes(-len(audio) % FRAME)
    return [audio[i:i + FRAME] for i in range(0, len(audio), FRAME)]


def cascade(wait_seconds: float) -> CascadeDetector:
    return CascadeDetector(MicroDetector(("okay_nabu",), ()), ["okay_nabu"], who="ours", wait_seconds=wait_seconds)


def test_a_verified_detection_is_seen_in_the_frame_that_confirmed_it() -> None:
    audio = frames(bytes(64000) + read_wav(str(CLIP))[0] + bytes(32000))
    drained = cascade(0.0)  # audio time: the worker finishes each frame before the next one comes
    try:
        seen_next = None
        for i, frame in enumerate(audio):
            if drained.process(frame) is not None:
                seen_next = i  # a confirmation from frame i - 1, picked up with frame i
                break
            drained.drain()
    finally:
        drained.close()
    assert seen_next is not None and drained.by_verifier == 1
    live = cascade(5.0)  # generous: the wait ends as soon as the worker has scored the frame
    try:
        seen = None
        for i, frame in enumerate(audio):
            candidates = live.candidates
            if live.process(frame) is not None:
                seen = i
                break
            if live.candidates != candidates:
                live.drain()  # the ring buffer is caught up before the next frame, as in real time (~80 ms)
    finally:
        live.close()
    assert seen == seen_next - 1, (seen, seen_next)
