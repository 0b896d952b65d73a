"""wyoming_whisper as a user meets it: one real server process (Whisper tiny.en, Silero VAD)
shared by the module, real sockets, speech made by Piper at test time.

Audio is paced like a microphone (real time) where streaming behaviour is under test; no
test synchronises on time: each waits for the events it expects.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from helpers import Client, ServiceProcess, connected, start_service
from speech import speak, speak_paused
from wyoming.asr import Transcribe, Transcript, TranscriptChunk
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe, Info

from voice_runtime.audio import PCM16_MONO_16K, AudioFormat, convert
from voice_runtime.speculative import SpeculativeTranscript
from wyoming_whisper.engine import normalise

COMMAND = "Turn on the kitchen light."
LONG = "Please turn off the lights in the living room and lock the front door before we go to bed."
CHUNK_SECONDS = 0.1


@pytest.fixture(scope="module")
async def server() -> AsyncIterator[ServiceProcess]:
    service = await start_service("wyoming_whisper", "--model", "tiny.en", "--max-seconds", "20")
    try:
        yield service
    finally:
        await service.stop()


def chunks(pcm: bytes, fmt: AudioFormat, seconds: float = CHUNK_SECONDS) -> list[bytes]:
    size = fmt.frames_bytes(seconds)
    return [pcm[i : i + size] for i in range(0, len(pcm), size)]


async def send_audio(client: Client, pcm: bytes, fmt: AudioFormat = PCM16_MONO_16K, *, realtime: bool = True,
                     stop: bool = True, seconds: float = CHUNK_SECONDS) -> None:
    """audio-start, the audio in chunks (paced like a microphone if ``realtime``), audio-stop."""
    await client.send(AudioStart(rate=fmt.rate, width=fmt.width, channels=fmt.channels))
    loop = asyncio.get_running_loop()
    begin = loop.time()
    for i, piece in enumerate(chunks(pcm, fmt, seconds)):
        await client.send(AudioChunk(rate=fmt.rate, width=fmt.width, channels=fmt.channels, audio=piece))
        if realtime:
            await asyncio.sleep(max(0.0, begin + (i + 1) * seconds - loop.time()))  # pacing, not sync
    if stop:
        await client.send(AudioStop())


async def transcribe(port: int, pcm: bytes, fmt: AudioFormat = PCM16_MONO_16K, *, realtime: bool = True) -> list[Event]:
    async with connected(port) as client:
        await client.send(Transcribe(language="en"))
        await send_audio(client, pcm, fmt, realtime=realtime)
        return await client.recv_until("transcript-stop")


def final_text(events: list[Event]) -> str:
    finals = [Transcript.from_event(e).text for e in events if Transcript.is_type(e.type)]
    assert len(finals) == 1, [e.type for e in events]
    return finals[0]


def assert_stream_order(events: list[Event]) -> None:
    types = [e.type for e in events]
    assert types[0] == "transcript-start", types
    assert types[-2:] == ["transcript", "transcript-stop"], types
    assert set(types[1:-2]) <= {"transcript-chunk"}, types


async def test_describe_advertises_installed_streaming_model(server: ServiceProcess) -> None:
    async with connected(server.port) as client:
        await client.send(Describe())
        event = await client.recv()
    assert event is not None
    (program,) = Info.from_event(event).asr
    assert program.installed and program.supports_transcript_streaming and program.requires_external_vad
    (model,) = program.models
    assert model.name == "tiny.en" and model.installed and model.languages == ["en"]


async def test_spoken_command_streamed_in_real_time(server: ServiceProcess) -> None:
    events = await transcribe(server.port, speak(COMMAND))
    assert_stream_order(events)
    assert normalise(final_text(events)) == normalise(COMMAND)
    # Every chunk is an append-only piece of the final text.
    streamed = "".join(TranscriptChunk.from_event(e).text for e in events if e.type == "transcript-chunk")
    assert streamed == final_text(events)


async def test_partials_arrive_before_audio_stop_and_final_equals_one_shot(server: ServiceProcess) -> None:
    pcm = speak(LONG) + bytes(16000 * 2)  # a second of silence after it, as a client VAD would send
    async with connected(server.port) as client:
        await client.send(Transcribe(language="en"))
        await send_audio(client, pcm, stop=False)
        # audio-stop is held back until a partial has arrived: it must come while audio flows.
        early = await client.recv_until("transcript-chunk")
        await client.send(AudioStop())
        events = early + await client.recv_until("transcript-stop")
    assert_stream_order(events)
    streamed = final_text(events)
    assert TranscriptChunk.from_event(early[-1]).text.strip()
    # The same audio in one piece (no streaming, no partials): the same transcript.
    one_shot = final_text(await transcribe(server.port, pcm, realtime=False))
    assert normalise(streamed) == normalise(one_shot)
    assert {"lights", "living", "room", "front", "door"} <= set(normalise(streamed).split())


async def test_silence_gives_an_empty_transcript(server: ServiceProcess) -> None:
    events = await transcribe(server.port, bytes(2 * 16000 * 2), realtime=False)
    assert_stream_order(events)
    assert final_text(events) == ""


async def test_44k1_stereo_input_is_converted(server: ServiceProcess) -> None:
    stereo = AudioFormat(44100, 2, 2)
    pcm = convert(speak(COMMAND), PCM16_MONO_16K, stereo)
    events = await transcribe(server.port, pcm, stereo, realtime=False)
    assert normalise(final_text(events)) == normalise(COMMAND)


async def test_two_concurrent_clients_get_their_own_text(server: ServiceProcess) -> None:
    texts = ["Open the garage door.", "What is the weather like tomorrow?"]
    results = await asyncio.gather(*(transcribe(server.port, speak(t)) for t in texts))
    assert [normalise(final_text(r)) for r in results] == [normalise(t) for t in texts]


async def test_four_clients_finishing_at_once_each_get_their_own_text(server: ServiceProcess) -> None:
    # Sent as fast as possible, the four finals wait for the model together and are batched
    # (the batch's order must not mix the texts up).
    texts = ["Turn on the kitchen lights.", "What time is it?", "Switch off the bedroom lamp.",
             "How many legs does a spider have?"]
    results = await asyncio.gather(*(transcribe(server.port, speak(t), realtime=False) for t in texts))
    assert [normalise(final_text(r)) for r in results] == [normalise(t) for t in texts]


async def expect_error(client: Client, code: str) -> None:
    event = await client.recv(timeout=30)
    assert event is not None and Error.is_type(event.type), event
    assert Error.from_event(event).code == code


async def test_bad_input_gets_error_codes_and_the_server_keeps_serving(server: ServiceProcess) -> None:
    fmt = PCM16_MONO_16K
    async with connected(server.port) as client:
        await client.send_raw(b"\x00\xffnot json at all\n")
        await expect_error(client, "bad-json")

        await client.send(Event("transcribe", {"language": 7}))  # found by bench/fuzz_bench.py
        await expect_error(client, "bad-event")

        await client.send(AudioChunk(rate=16000, width=2, channels=1, audio=bytes(640)))
        await expect_error(client, "audio-not-started")

        await client.send(AudioStart(rate=16000, width=2, channels=1))
        await client.send(AudioStop())
        empty = await client.recv(timeout=30)  # an empty transcript: Home Assistant waits for one (not an error)
        assert empty is not None and Transcript.is_type(empty.type), empty
        assert Transcript.from_event(empty).text == ""

        await client.send(AudioStart(rate=16000, width=2, channels=1))
        await client.send(AudioChunk(rate=16000, width=2, channels=1, audio=bytes(640)))
        await client.send(AudioChunk(rate=22050, width=2, channels=1, audio=bytes(640)))
        await expect_error(client, "format-changed")
        await client.send(AudioStop())  # the refused stream's stop is dropped quietly

        await client.send(AudioStart(rate=16000, width=2, channels=1))
        await client.send(AudioChunk(rate=16000, width=2, channels=1, audio=bytes(fmt.frames_bytes(21.0))))
        await expect_error(client, "audio-too-long")

        await client.send(Event("audio-start", {"rate": "fast", "width": 2, "channels": 1}))
        await expect_error(client, "unsupported-format")

        await client.send(Event("audio-chunk", {"rate": 16000}, b"\x01\x02\x03"))
        await expect_error(client, "bad-event")

        # The same connection still transcribes (with an odd-length garbage chunk in the stream).
        await client.send(AudioStart(rate=16000, width=2, channels=1))
        await client.send(AudioChunk(rate=16000, width=2, channels=1, audio=b"\x7f"))
        await send_audio(client, speak(COMMAND), realtime=False)
        events = await client.recv_until("transcript-stop")
    assert normalise(final_text(events)) == normalise(COMMAND)


async def test_disconnect_mid_utterance_leaves_the_server_serving(server: ServiceProcess) -> None:
    async with connected(server.port) as client:
        await client.send(Transcribe(language="en"))
        await send_audio(client, speak(LONG), stop=False, realtime=False)
        await client.send(Describe())  # answered once the audio before it has been read
        assert await client.recv() is not None
    events = await transcribe(server.port, speak(COMMAND), realtime=False)
    assert normalise(final_text(events)) == normalise(COMMAND)
    # The first connection's end was seen (its decodes cancelled) before the second one's transcript.
    log = "\n".join(server.log)
    assert "disconnected mid-utterance" in log
    assert log.index("disconnected mid-utterance") < log.rindex("transcript='")


async def test_server_side_endpointing_emits_voice_events_and_answers_before_audio_stop() -> None:
    service = await start_service("wyoming_whisper", "--model", "tiny.en", "--endpoint-silence", "0.5",
                                  "--partial-interval", "0", "--no-warmup")
    try:
        async with connected(service.port) as client:
            await client.send(Describe())
            info = await client.recv()
            assert info is not None and not Info.from_event(info).asr[0].requires_external_vad
            # A continuous stream, no audio-stop: the server decides when the speech ended.
            await client.send(Transcribe(language="en"))
            await send_audio(client, speak(COMMAND) + bytes(2 * 16000 * 2), realtime=False, stop=False)
            events = await client.recv_until("transcript-stop")
            await client.send(AudioStop())  # the client's late stop gets nothing more
            await client.send(Describe())
            after = await client.recv()
        types = [e.type for e in events]
        assert types[0] == "voice-started" and types.index("voice-stopped") < types.index("transcript"), types
        assert types[-2:] == ["transcript", "transcript-stop"], types
        assert normalise(final_text(events)) == normalise(COMMAND)
        assert after is not None and after.type == "info"
    finally:
        await service.stop()


async def test_vad_sensitivity_in_transcribe_turns_endpointing_on_for_that_request(server: ServiceProcess) -> None:
    """The module's server has no --endpoint-silence: a client asks for it per request (and
    for no partial transcripts); the next plain request gets the server's defaults again."""
    audio = speak(LONG) + bytes(2 * 16000 * 2)  # speech, then 2 s of silence and no audio-stop
    async with connected(server.port) as client:
        await client.send(Transcribe(language="en", vad_sensitivity="aggressive",
                                     context={"partial_transcripts": False}))
        await send_audio(client, audio, realtime=False, stop=False)
        events = await client.recv_until("transcript-stop")
        await client.send(AudioStop())
        types = [e.type for e in events]
        assert types[0] == "voice-started" and types.index("voice-stopped") < types.index("transcript"), types
        assert "transcript-chunk" not in types[: types.index("voice-stopped")], types  # no partials
        text = normalise(final_text(events))  # the whole sentence: not cut at a pause (tiny.en may drop "the")
        assert text.startswith("please turn off") and text.endswith("before we go to bed"), text

        # A plain transcribe on the same connection: no endpointing, partials while paced.
        await client.send(Transcribe(language="en"))
        await send_audio(client, speak(LONG), realtime=True)
        plain = await client.recv_until("transcript-stop")
        assert "voice-stopped" not in [e.type for e in plain]
        assert any(TranscriptChunk.is_type(e.type) for e in plain[:-2])
        assert normalise(final_text(plain)).endswith("before we go to bed")


async def endpointed(port: int, pcm: bytes, endpoint: str) -> str:
    """The transcript the server ends on its own (aggressive sensitivity, no audio-stop)."""
    async with connected(port) as client:
        await client.send(Transcribe(language="en", vad_sensitivity="aggressive",
                                     context={"partial_transcripts": False, "endpoint": endpoint}))
        await send_audio(client, pcm, realtime=True, stop=False)
        events = await client.recv_until("transcript-stop")
        await client.send(AudioStop())
    types = [e.type for e in events]
    assert types.index("voice-stopped") < types.index("transcript"), types
    return normalise(final_text(events))


async def test_a_pause_after_the_does_not_end_the_request(server: ServiceProcess) -> None:
    """"Turn on the ... kitchen lights" with 0.6 s of silence after "the": the transcript of the
    speech so far is unfinished, so the server waits and hears the whole request. Silence alone
    (the old rule, 0.25 s) cuts it at the pause."""
    paused = speak_paused("Turn on the kitchen lights.", 3, 0.6) + bytes(2 * 16000 * 2)
    whole = await endpointed(server.port, paused, "semantic")
    assert whole.startswith("turn on the") and whole.endswith("kitchen lights"), whole
    cut = await endpointed(server.port, paused, "silence")
    assert "kitchen" not in cut and cut.startswith("turn on"), cut


async def test_speculative_transcript_comes_before_the_end_and_equals_the_final(server: ServiceProcess) -> None:
    """Asked for, the text of the speculative final decode is sent as soon as it reads as finished,
    before ``voice-stopped``, and the final transcript is that text. "Turn on the ..." at the
    pause reads as unfinished: nothing is sent for it. Not asked for (Home Assistant): never sent."""
    paused = speak_paused("Turn on the kitchen lights.", 3, 0.6) + bytes(2 * 16000 * 2)
    for asked in (True, False):
        async with connected(server.port) as client:
            await client.send(Transcribe(language="en", vad_sensitivity="default",
                                         context={"partial_transcripts": False, "speculative_transcripts": asked}))
            await send_audio(client, paused, realtime=True, stop=False)
            events = await client.recv_until("transcript-stop")
            await client.send(AudioStop())
        types = [e.type for e in events]
        speculative = [SpeculativeTranscript.from_event(e).text for e in events
                       if SpeculativeTranscript.is_type(e.type)]
        if not asked:
            assert speculative == [], types
            continue
        assert len(speculative) == 1, (types, speculative)
        assert types.index("transcript-speculative") < types.index("voice-stopped"), types
        assert speculative[0] == final_text(events) and normalise(speculative[0]).endswith("kitchen lights")


@pytest.mark.parametrize(("field", "value"), [("vad_sensitivity", "sleepy"),
                                             ("context", {"speculative_transcripts": "yes"}),
                                             ("context", {"partial_transcripts": "no"}),
                                             ("context", {"endpoint": "psychic"}),
                                             ("context", {"initial_prompt": 42}),
                                             ("context", {"initial_prompt": "x" * 2001})])
async def test_bad_transcribe_options_get_bad_event(server: ServiceProcess, field: str, value: object) -> None:
    async with connected(server.port) as client:
        await client.send(Event("transcribe", {"language": "en", field: value}))
        reply = await client.recv()
        assert reply is not None and Error.is_type(reply.type)
        assert Error.from_event(reply).code == "bad-event"
        events = await transcribe(server.port, speak(COMMAND), realtime=False)  # others still served
        assert normalise(final_text(events)) == normalise(COMMAND)


async def test_an_initial_prompt_in_transcribe_brings_in_the_names_it_lists(server: ServiceProcess) -> None:
    # tiny.en hears "Turn on the Zor Black Slant." without the name; the orchestrator sends the
    # home's names as context.initial_prompt (orchestrator/home/asr.py).
    pcm = speak("Turn on the Zorblax lamp.")
    plain = normalise(final_text(await transcribe(server.port, pcm, realtime=False)))
    assert "zorblax" not in plain, plain
    async with connected(server.port) as client:
        await client.send(Transcribe(language="en", context={"initial_prompt": "Zorblax Lamp, Kitchen."}))
        await send_audio(client, pcm, realtime=False)
        prompted = normalise(final_text(await client.recv_until("transcript-stop")))
    assert prompted == "turn on the zorblax lamp", prompted


async def test_the_orchestrators_asr_pool_sends_the_homes_names(server: ServiceProcess) -> None:
    from orchestrator.home.asr import with_names
    from orchestrator.home.entities import HomeArea, HomeEntity, HomeSnapshot, slot_lists
    from orchestrator.services import ServicePool

    lists = slot_lists(HomeSnapshot(entities=(HomeEntity("light.z", "Zorblax Lamp", (), "kitchen"),),
                                    areas=(HomeArea("kitchen", "Kitchen"),)))
    pool = ServicePool("asr", [f"tcp://127.0.0.1:{server.port}"], warm=False,
                       rewrite=lambda event: with_names(event, lists))
    conn = await pool.acquire()
    try:
        await conn.send(Transcribe(language="en", context={"partial_transcripts": False}))  # as the pipeline does
        pcm = speak("Turn on the Zorblax lamp.")
        await conn.send(AudioStart(rate=16000, width=2, channels=1))
        for piece in chunks(pcm, PCM16_MONO_16K):
            await conn.send(AudioChunk(rate=16000, width=2, channels=1, audio=piece))
        await conn.send(AudioStop())
        while not Transcript.is_type((event := await conn.recv(timeout=30)).type):
            pass
        assert normalise(Transcript.from_event(event).text) == "turn on the zorblax lamp"
    finally:
        await conn.close()
        await pool.close()
