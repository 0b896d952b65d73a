"""stdio://: the end of stdin means the client has sent everything, not that it has gone.

``cat request | wyoming-whisper --uri stdio://`` must print the whole answer before exiting:
what was queued is handled and the replies in progress complete (real processes, real models).
"""

from __future__ import annotations

import asyncio
import sys

from helpers import ROOT
from speech import speak
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event, async_read_event, async_write_event
from wyoming.tts import Synthesize

from wyoming_whisper.engine import normalise

ECHO = str(ROOT / "tests" / "echo_service.py")


async def run_stdio(command: list[str], events: list[Event], timeout: float = 120) -> list[Event]:
    """Write every event, close stdin at once, return everything printed until exit."""
    proc = await asyncio.create_subprocess_exec(
        *command, "--uri", "stdio://", cwd=str(ROOT),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdin is not None and proc.stdout is not None
    for event in events:
        await async_write_event(event, proc.stdin)
    proc.stdin.close()
    out: list[Event] = []
    async with asyncio.timeout(timeout):
        while (got := await async_read_event(proc.stdout)) is not None:
            out.append(got)
        assert await proc.wait() == 0
    return out


async def test_queued_events_are_all_answered_after_stdin_closes() -> None:
    out = await run_stdio([sys.executable, ECHO], [Event("echo", {"n": n}) for n in range(20)])
    assert [e.data["n"] for e in out] == list(range(20))


async def test_whisper_transcribes_a_piped_request() -> None:
    pcm = speak("Turn on the kitchen light.")
    events: list[Event] = [Transcribe(language="en").event(), AudioStart(rate=16000, width=2, channels=1).event()]
    events += [AudioChunk(rate=16000, width=2, channels=1, audio=pcm[i:i + 3200]).event()
               for i in range(0, len(pcm), 3200)]
    events.append(AudioStop().event())
    out = await run_stdio([sys.executable, "-m", "wyoming_whisper", "--model", "tiny.en"], events)
    texts = [Transcript.from_event(e).text for e in out if Transcript.is_type(e.type)]
    assert [normalise(t) for t in texts] == ["turn on the kitchen light"]


async def test_tts_speaks_a_piped_request_to_the_end() -> None:
    text = "The front door is locked. The porch light is off, and the heating is set to twenty degrees."
    out = await run_stdio([sys.executable, "-m", "wyoming_kokoro", "--engines", "piper"],
                          [Synthesize(text=text).event()])
    types = [e.type for e in out]
    assert types[0] == "audio-start" and types[-1] == "audio-stop", types[:3] + types[-3:]
    seconds = sum(len(e.payload or b"") for e in out if AudioChunk.is_type(e.type)) / (2 * 22050)
    assert seconds > 4.0
