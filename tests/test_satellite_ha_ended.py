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
from state_harness import state
from test_satellite_service import satellite, silence
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.satellite import RunSatellite
from wyoming.tts import Synthesize
from wyoming.vad import VoiceStarted, VoiceStopped

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
    from satellite_harness import CONFIG, attach, feed, running

    from satellite.state import TurnState

    start = AudioStart(rate=22050, width=2, channels=1).event()
    async with running(CONFIG) as sat:
        link = await attach(sat)
        feed(sat, "..vvv")
        assert state(sat) == TurnState.STREAMING
        await sat.on_controller_event(link, start)  # Home Assistant cancelled the run for an announcement
        assert state(sat) == TurnState.ANNOUNCING
    async with running(CONFIG) as sat:
        link = await attach(sat)
        feed(sat, "..vvv" + "v......")
        assert state(sat) == TurnState.WAITING  # the satellite ended the question: a reply is owed
        feed(sat, "vvv")
        assert state(sat) == TurnState.STREAMING  # the user goes on: a new turn
        await sat.on_controller_event(link, start)  # the first turn's reply, already on its way
        assert state(sat) == TurnState.STREAMING


async def test_a_run_home_assistant_ends_without_an_answer_ends_the_turn(tmp_path: Path) -> None:
    """Home Assistant 2026.2.3 with an empty answer (its pipeline skips TTS, ``run-end`` is not
    forwarded): ``transcribe``, ``voice-started``, ``voice-stopped``, ``transcript`` and then
    nothing. The real satellite ends the turn ``--answer-timeout`` after the transcript, long
    before its ``--reply-timeout`` (60 s: the test's wait would time out on the old code)."""
    question = speak("Never mind.")
    mic = silence(0.5) + question + silence(30.0)
    write_wav(str(tmp_path / "mic.wav"), mic, PCM16_MONO_16K)
    flags = ("--mic-wav", str(tmp_path / "mic.wav"), "--snd-wav", str(tmp_path / "speaker.wav"),
             "--snd-rate", "16000", "--controller-end-seconds", "8", "--reply-timeout", "60",
             "--answer-timeout", "1")
    async with satellite(*flags) as sat:
        client = await Client.connect(sat.port)
        try:
            await client.send(RunSatellite())
            await client.recv_until("run-pipeline", timeout=30)
            await client.send(Transcribe(language="en"))  # HA's STT_START
            await client.send(VoiceStarted(timestamp=300))
            streamed = 0
            while streamed < len(question) + 0.3 * 16000 * 2:  # HA's VAD waits for the end of the question
                event = await client.recv(timeout=30)
                assert event is not None
                if AudioChunk.is_type(event.type):
                    streamed += len(AudioChunk.from_event(event).audio)
            await client.send(VoiceStopped(timestamp=1200))
            await client.send(Transcript(text="Never mind."))  # HA's STT_END; then nothing
            await sat.wait_log("it had nothing to say", timeout=30)
            await sat.wait_log("state waiting -> listening", timeout=10)
        finally:
            await client.close()
    assert not any("given up" in line for line in sat.log)


async def test_the_answer_timeout_needs_home_assistants_run_and_ends_on_any_sign_of_an_answer() -> None:
    """In process: only a run that began with ``transcribe`` (Home Assistant's STT stage) ends
    ``answer_timeout`` after its transcript; ``synthesize`` or reply audio keeps it; a reply that
    comes after the turn ended plays as an announcement instead of being dropped."""
    import dataclasses

    from satellite_harness import CONFIG, attach, feed, running

    from satellite.state import TurnState
    from voice_runtime.clock import ManualClock

    config = dataclasses.replace(CONFIG, reply_timeout=20.0, answer_timeout=2.0)
    reply = AudioStart(rate=22050, width=2, channels=1).event()
    for opening, answer, after in (
        ([Transcribe(language="en").event()], [], TurnState.LISTENING),  # HA, nothing to say
        ([], [], TurnState.WAITING),  # our orchestrator: a slow LLM may take longer
        ([Transcribe(language="en").event()], [Synthesize(text="Sure.").event()], TurnState.WAITING),
    ):
        async with running(config) as sat:
            link = await attach(sat)
            assert isinstance(sat.clock, ManualClock)
            feed(sat, "..vvv")
            for event in opening:
                await sat.on_controller_event(link, event)
            feed(sat, "v")
            for event in (Transcript(text="Never mind.").event(), *answer):
                await sat.on_controller_event(link, event)
            assert state(sat) == TurnState.WAITING
            sat.clock.advance(2.1)
            feed(sat, ".")
            assert sat.state == after, (opening, answer)
            if after == TurnState.LISTENING:
                await sat.on_controller_event(link, reply)  # a late answer after all: heard
                assert state(sat) == TurnState.ANNOUNCING
