"""With the talker gate on, a turn's first ``audio-chunk`` is never empty (session 19, the real HA rig).

The gate holds the turn's pre-roll back (nothing of it may go out as heard yet), so the satellite sent an
``audio-chunk`` with no audio right after ``audio-start``. Home Assistant 2026.2.3's satellite entity
reads its queue with ``while chunk := await self._audio_queue.get()``: an empty chunk ends its STT stream
there. On the rig (``bench/ha_compat.py`` with ``SATELLITE_TALKER_GATE_DB=12``, 16:00 and 16:01) HA's
VAD heard nothing, the pipeline gave no transcript and ended 40 s later, 2 runs of 2; with the empty chunk
left out, 9 of 9 checks passed (16:02).
"""

from __future__ import annotations

from speech import speak
from test_satellite_talker_stream import run


async def test_no_empty_audio_chunk_goes_to_the_controller() -> None:
    """As bench/ha_compat.py's mic: 1 s of digital silence, "Okay Nabu.", 0.3 s, the request, silence."""
    audio = bytes(32000) + speak("Okay Nabu.") + bytes(9600) + speak("Set a timer for three seconds.") + bytes(96000)
    turn, sat = await run(audio)
    assert sat.talker is not None and sat.talker.opened >= 1
    assert turn.chunks, "the turn streamed audio"
    assert all(chunk.audio for chunk in turn.chunks), [len(chunk.audio) for chunk in turn.chunks[:3]]
