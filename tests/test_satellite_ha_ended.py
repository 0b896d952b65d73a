"""A run Home Assistant ends on its side: the real satellite process ends the turn at once.

What Home Assistant 2026.2.3 sends (its ``assist_satellite`` entity and ``wyoming/assist_satellite.py``):
``assist_satellite.announce`` first cancels the satellite's running pipeline
(``_cancel_running_pipeline``); the pipeline's ``run-end`` is not forwarded to a Wyoming
satellite, so the next thing the satellite hears is the announcement's ``audio-start``
(22050 Hz, timestamp 0), ``audio-chunk``s and ``audio-stop``, after which HA waits the audio's
length + 0.5 s for ``played``. Seen against the real HA (session 8): the satellite streamed on,
waited for a transcript until its reply timeout and played the announcement only then.
"""

from __future__ import annotations

from pathlib import Path

from helpers import Client
from speech import speak
from test_satellite_service import satellite, silence
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.satellite import RunSatellite

from voice_runtime.audio import PCM16_MONO_16K, AudioFormat, convert, write_wav

HA_FMT = AudioFormat(22050, 2, 1)


async def test_an_announcement_that_ends_the_run_ends_the_turn_and_plays_at_once(tmp_path: Path) -> None:
    mic = silence(0.5) + speak("Turn on the light.") + silence(12.0)
    write_wav(str(tmp_path / "mic.wav"), mic, PCM16_MONO_16K)
    announcement = convert(speak("Dinner is ready."), PCM16_MONO_16K, HA_FMT)
    # This satellite would end the question itself only after 8 s of silence, then wait 2 s for a
    # transcript: played before any audio-stop shows the turn ended on the announcement.
    flags = ("--mic-wav", str(tmp_path / "mic.wav"), "--snd-wav", str(tmp_path / "speaker.wav"),
             "--snd-rate", "16000", "--controller-end-seconds", "8", "--reply-timeout", "2")
    async with satellite(*flags) as sat:
        client = await Client.connect(sat.port)
        try:
            await client.send(RunSatellite())
            before = await client.recv_until("run-pipeline", timeout=30)
            streamed = 0
            while streamed < 0.3 * 16000 * 2:  # the question streams (HA is transcribing)
                event = await client.recv(timeout=30)
                assert event is not None
                before.append(event)
                if AudioChunk.is_type(event.type):
                    streamed += len(AudioChunk.from_event(event).audio)
            await client.send(AudioStart(rate=22050, width=2, channels=1, timestamp=0))
            for i in range(0, len(announcement), 2048):
                await client.send(AudioChunk(rate=22050, width=2, channels=1, audio=announcement[i:i + 2048]))
            await client.send(AudioStop())
            after = await client.recv_until("played", timeout=60)
        finally:
            await client.close()
    types = [e.type for e in before + after]
    assert "audio-stop" not in types, types  # the satellite did not wait for its own end of speech
    assert any("the controller ended the run" in line for line in sat.log)
    assert any("state streaming -> listening on abandoned" in line for line in sat.log)
    assert not any("given up" in line for line in sat.log)  # no reply timeout


async def test_audio_while_streaming_ends_the_turn_unless_an_earlier_reply_is_owed() -> None:
    """In process (the turn table): an announcement's audio-start while a fresh question streams
    ends the turn and plays; the reply of a turn the user has just cut short by speaking again
    (our orchestrator, in flight) is dropped and the new question keeps streaming."""
    from test_satellite_core import CONFIG, attach, feed, running

    from satellite.state import TurnState

    start = AudioStart(rate=22050, width=2, channels=1).event()
    async with running(CONFIG) as sat:
        link = await attach(sat)
        feed(sat, "..vvv")
        assert sat.state == TurnState.STREAMING
        await sat.on_controller_event(link, start)  # Home Assistant cancelled the run for an announcement
        assert sat.state == TurnState.ANNOUNCING
    async with running(CONFIG) as sat:
        link = await attach(sat)
        feed(sat, "..vvv" + "v......")
        assert sat.state == TurnState.WAITING  # the satellite ended the question: a reply is owed
        feed(sat, "vvv")
        assert sat.state == TurnState.STREAMING  # the user goes on: a new turn
        await sat.on_controller_event(link, start)  # the first turn's reply, already on its way
        assert sat.state == TurnState.STREAMING
