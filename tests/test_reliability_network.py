"""Network faults on real processes, injected by ``voice_runtime.faultproxy.FaultProxy``.

Satellite ↔ orchestrator: the real satellite (``python -m satellite``, a WAV as the mic, a WAV
as the speaker, played in real time) is driven by the orchestrator's ``SatelliteLink`` through
a proxy. The first turn's reply is long; in the middle of its audio the link is cut, reset or
turned into a black hole. The link must reconnect (with its reconnect delay), the satellite
must stop the half-played reply and go back to waiting for speech, and the second command,
spoken once the link is back (a ``Room`` feeds the mic FIFO: every step waits for the event
before it, so a loaded box only makes the test slower), must be served as usual.

Orchestrator ↔ engines: delayed links, a TTS stream cut mid-audio, an ASR upload cut
mid-utterance and a black-holed TTS. ASR and TTS are the real peers (wyoming-faster-whisper,
wyoming-piper); replies come from the intent fast path, so no LLM is involved.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import long_answer_intents
from speech import speak
from test_orchestrator_peers import chunks
from test_satellite_cloud import Room
from test_satellite_service import MS, SatelliteProcess, rms, satellite, silence, speaker, windows

from orchestrator.intents import NO_HOME_REPLY, IntentRecognizer
from orchestrator.pipeline import Pipeline, PipelineConfig
from orchestrator.satellite_link import LinkConfig, SatelliteLink
from orchestrator.services import ServicePool
from orchestrator.wavio import WavSink
from voice_runtime.audio import PCM16_MONO_16K, write_wav
from voice_runtime.faultproxy import FaultProxy, Mode
from voice_runtime.procs import ServiceProcess
from voice_runtime.tasks import cancel_and_wait, race

STORY = ("Once upon a time there was a little house by the sea. Every evening the lights came on one by one. "
         "The family inside told long stories until the fire went out.")
FIRST = "Tell me the house rules."
SECOND = "Turn off the hallway light."
SECOND_REPLY = NO_HOME_REPLY
REPLY_CUT_BYTES = 32000  # the fault strikes after ~1 s of reply audio (16 kHz 16-bit mono)
AUDIO_CHUNK = b'{"type": "audio-chunk"'  # how its header line starts (wyoming's json.dumps)


def loud_ms(pcm: bytes) -> int:
    return sum(rms(w) > 0.005 for w in windows(pcm)) * 30


@dataclass
class Timeline:
    mic: Path
    second_start_ms: int
    second_end_ms: int


@contextlib.asynccontextmanager
async def linked(pipeline: Pipeline, proxy_to: int,
                 ping_timeout: float = 1.5) -> AsyncIterator[tuple[SatelliteLink, FaultProxy]]:
    async with linked_task(pipeline, proxy_to, ping_timeout) as (link, proxy, _):
        yield link, proxy


@contextlib.asynccontextmanager
async def linked_task(
    pipeline: Pipeline, proxy_to: int, ping_timeout: float = 1.5,
) -> AsyncIterator[tuple[SatelliteLink, FaultProxy, asyncio.Task[None]]]:
    proxy = FaultProxy("127.0.0.1", proxy_to)
    await proxy.start()
    config = LinkConfig(proxy.uri, ping_interval=0.5, ping_timeout=ping_timeout, reconnect_delay=0.3)
    link = SatelliteLink(config, pipeline)
    task = asyncio.create_task(link.run(), name="satellite link")
    try:
        yield link, proxy, task
    finally:
        await link.stop()
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        await proxy.stop()
        await pipeline.close()


def pipeline_on(peers: tuple[ServiceProcess, ServiceProcess], intents: IntentRecognizer,
                config: PipelineConfig | None = None) -> Pipeline:
    """The link tests' engines. They are healthy: generous connect/probe timeouts, so a describe
    slowed by a loaded box is not taken for a dead engine (that is tested elsewhere)."""
    whisper, piper = peers
    return Pipeline(ServicePool("asr", [whisper.uri], connect_timeout=10.0, probe_timeout=10.0),
                    ServicePool("handle", []),
                    ServicePool("tts", [piper.uri], connect_timeout=10.0, probe_timeout=10.0),
                    intents=intents, config=config)


async def _fault_mid_reply(
    peers: tuple[ServiceProcess, ServiceProcess], tmp_path: Path, mode: Mode,
) -> tuple[SatelliteProcess, SatelliteLink, FaultProxy, Timeline]:
    """Each step waits for the one before it (no fixed timeline): the mic is a FIFO fed by a
    ``Room``; the first command is said once the link is attached, the second once it is back."""
    fifo, out = tmp_path / "mic.fifo", tmp_path / "speaker.wav"
    os.mkfifo(fifo)
    first, second = speak(FIRST), speak(SECOND)  # before the room starts (see test_full_stack)
    # Only the black hole is found by the pong timeout; a reset or a cut is seen by the socket, so
    # there a loaded box's late pong must not end the session before the fault.
    ping_timeout = 3.0 if mode == "drop" else 30.0
    async with satellite("--mic-command", f"cat {fifo}", "--snd-wav", str(out), "--snd-rate", "16000",
                         "--no-tones") as sat, Room(fifo) as room, \
            linked(pipeline_on(peers, long_answer_intents(tmp_path, STORY)), sat.port, ping_timeout) as (link, proxy):
        # The reply is the only audio-start the orchestrator sends to the satellite.
        fault = proxy.fault_at(b'"audio-start"', mode, after=REPLY_CUT_BYTES, direction="up")
        await sat.wait_log("controller attached")
        room.say(first)
        await asyncio.wait_for(fault.fired.wait(), 90)
        await sat.wait_log("controller gone")
        proxy.set_mode("pass")  # the network is back
        await sat.wait_log("controller attached", count=2)
        room.say(second)
        await sat.wait_log("on reply-done", timeout=90)
        turns = await asyncio.wait_for(link.wait_turns(2), 30)
        await asyncio.wait_for(link.wait_played(1), 30)
    timeline = Timeline(fifo, room.said_at[1] // MS, (room.said_at[1] + len(second)) // MS)
    # Two records, one per turn (the cut turn was once recorded twice: tests/test_orchestrator_cancel.py).
    assert link.turns_done == 2 and turns[0] is not turns[1]
    assert "rules" in turns[0].transcript.lower() and turns[0].audio_bytes > REPLY_CUT_BYTES // 2
    answered = turns[1]
    assert answered.error is None and answered.intent is not None and answered.reply == SECOND_REPLY
    assert proxy.connections >= 2  # reconnected
    return sat, link, proxy, timeline


def _assert_reply_stopped_and_next_turn_played(sat: SatelliteProcess, timeline: Timeline, tmp_path: Path) -> None:
    log = "\n".join(sat.log)
    # The half-played reply was stopped, the satellite went back to waiting for speech (then
    # idle without a controller), and was armed again when the link came back.
    assert "state speaking -> listening on error" in log, log
    assert "state listening -> idle on disarm" in log, log
    assert log.count("state idle -> listening on arm") >= 2, log
    assert "turn 2 local run-pipeline" in log and "turn 3" not in log, log
    played = speaker(tmp_path / "speaker.wav")
    before_second = played[: timeline.second_start_ms * MS]
    # At most the audio that got through before the fault (~1 s), never replayed or looped.
    assert loud_ms(before_second) <= 1200, loud_ms(before_second)
    # The story would have lasted ~10 s; the rest of the timeline before the next command is silent.
    reply = played[timeline.second_end_ms * MS:]
    assert loud_ms(reply) >= 800, f"the second reply was not played ({len(played) // MS} ms in the WAV):\n{log[-3000:]}"


@pytest.mark.parametrize("mode", ["truncate", "reset", "drop"])
async def test_link_fault_mid_reply_stops_playback_reconnects_and_serves_next_turn(
    peers: tuple[ServiceProcess, ServiceProcess], tmp_path: Path, mode: Mode,
) -> None:
    sat, link, _, timeline = await _fault_mid_reply(peers, tmp_path, mode)
    _assert_reply_stopped_and_next_turn_played(sat, timeline, tmp_path)
    # The link's own turn machine went through a disconnect and ended idle after ``played``.
    assert any(trigger.value == "disconnect" for _, trigger, _ in link.machine.history)
    assert link.machine.state.value == "idle"


async def test_satellite_stream_cut_inside_a_frame_link_reconnects(
    peers: tuple[ServiceProcess, ServiceProcess], tmp_path: Path,
) -> None:
    """The second command is said once the link is back (a ``Room`` feeds the mic FIFO), not
    after a fixed 9 s gap in a mic WAV: ~20 s of test on a quiet box before."""
    fifo, out = tmp_path / "mic.fifo", tmp_path / "speaker.wav"
    os.mkfifo(fifo)
    first, second = speak(FIRST), speak(SECOND)  # before the room starts (see test_full_stack)
    async with satellite("--mic-command", f"cat {fifo}", "--snd-wav", str(out), "--snd-rate", "16000",
                         "--no-tones") as sat, Room(fifo) as room, \
            linked_task(pipeline_on(peers, IntentRecognizer()), sat.port) as (link, proxy, task):
        # Inside the first audio chunk of the user's utterance.
        fault = proxy.fault_at(AUDIO_CHUNK, "truncate", after=100, direction="down")
        await sat.wait_log("controller attached")
        room.say(first + silence(1.0))  # the whole first command, then quiet, before the second
        await asyncio.wait_for(fault.fired.wait(), 60)
        await sat.wait_log("controller gone")
        back = asyncio.create_task(sat.wait_log("controller attached", count=2, timeout=30))
        if await race(task, back) == 0:
            await cancel_and_wait(back)
            task.result()  # the link died
        await back
        room.say(second)
        await sat.wait_log("on reply-done", timeout=90)
        turns = await asyncio.wait_for(link.wait_turns(2), 30)
    assert turns[-1].error is None and turns[-1].reply == SECOND_REPLY


async def test_delayed_link_serves_a_turn_without_reconnecting(
    peers: tuple[ServiceProcess, ServiceProcess], tmp_path: Path,
) -> None:
    write_wav(str(tmp_path / "mic.wav"), silence(0.5) + speak(SECOND) + silence(6.0), PCM16_MONO_16K)
    out = tmp_path / "speaker.wav"
    async with satellite("--mic-wav", str(tmp_path / "mic.wav"), "--snd-wav", str(out), "--snd-rate", "16000",
                         "--no-tones") as sat, \
            linked(pipeline_on(peers, IntentRecognizer()), sat.port) as (link, proxy):
        proxy.delay = 0.25  # every chunk, both ways: pings too, still inside the 1.5 s timeout
        proxy.set_mode("delay")
        await sat.wait_log("on reply-done", timeout=90)
        turns = await asyncio.wait_for(link.wait_turns(1), 30)
        await asyncio.wait_for(link.wait_played(1), 30)
    assert turns[0].error is None and turns[0].reply == SECOND_REPLY
    assert proxy.connections == 1  # no spurious reconnect
    assert loud_ms(speaker(out)) >= 800


async def test_lossy_link_serves_a_turn_with_the_whole_reply(
    peers: tuple[ServiceProcess, ServiceProcess], tmp_path: Path,
) -> None:
    """Flaky Wi-Fi between satellite and orchestrator: a fifth of the chunks, both ways, stall
    0.3 s as TCP retransmits them. The turn is served on the one connection, the reply is heard
    whole, and nothing is cut or repeated."""
    write_wav(str(tmp_path / "mic.wav"), silence(0.5) + speak(SECOND) + silence(6.0), PCM16_MONO_16K)
    out = tmp_path / "speaker.wav"
    async with satellite("--mic-wav", str(tmp_path / "mic.wav"), "--snd-wav", str(out), "--snd-rate", "16000",
                         "--no-tones") as sat, \
            linked(pipeline_on(peers, IntentRecognizer()), sat.port) as (link, proxy):
        proxy.loss_rate, proxy.retransmit_delay = 0.2, 0.3
        proxy.set_mode("loss")
        await sat.wait_log("on reply-done", timeout=90)
        turns = await asyncio.wait_for(link.wait_turns(1), 30)
        await asyncio.wait_for(link.wait_played(1), 30)
    assert proxy.stalls > 5  # the fault really happened
    assert turns[0].error is None and turns[0].reply == SECOND_REPLY and turns[0].transcript
    assert proxy.connections == 1 and len(link.turns) == 1  # no reconnect, no repeated turn
    assert loud_ms(speaker(out)) >= 800


async def test_fault_proxy_strikes_at_the_chosen_frame_boundary() -> None:
    """The tool itself: a cut armed before the 3rd header of a kind lets exactly the frames
    before it through (the stream is written in one go, so the marker sits inside a chunk)."""
    frames = [AUDIO_CHUNK + b', "n": %d}\n' % n for n in range(5)]

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"".join(frames))
        await writer.drain()
        await reader.read()
        writer.close()

    upstream = await asyncio.start_server(serve, "127.0.0.1", 0)
    proxy = FaultProxy("127.0.0.1", int(upstream.sockets[0].getsockname()[1]))
    await proxy.start()
    try:
        fault = proxy.fault_at(AUDIO_CHUNK, "truncate", after=-len(AUDIO_CHUNK), direction="down", occurrence=3)
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        got = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        await asyncio.wait_for(proxy.idle(), 5)
    finally:
        await proxy.stop()
        upstream.close()
        await upstream.wait_closed()
    assert fault.fired.is_set() and got == b"".join(frames[:2])


# --- orchestrator ↔ engines ---------------------------------------------------------------
async def test_delayed_engine_links_still_give_the_right_reply(peers: tuple[ServiceProcess, ServiceProcess]) -> None:
    whisper, piper = peers
    slow_asr = FaultProxy("127.0.0.1", whisper.port, mode="delay", delay=0.02)
    slow_tts = FaultProxy("127.0.0.1", piper.port, mode="delay", delay=0.1)
    await slow_asr.start()
    await slow_tts.start()
    pipeline = Pipeline(ServicePool("asr", [slow_asr.uri], warm=False), ServicePool("handle", []),
                        ServicePool("tts", [slow_tts.uri], warm=False), intents=IntentRecognizer())
    sink = WavSink()
    try:
        result = await pipeline.run_turn(chunks(speak(SECOND)), sink, conversation_id="d")
    finally:
        for proxy in (slow_asr, slow_tts):
            await proxy.stop()
    assert result.error is None and result.reply == SECOND_REPLY
    types = [e.type for e in sink.events]
    assert types.count("audio-start") == 1 and types[-1] == "audio-stop"
    assert sink.seconds > 1.0


def _tts_cut(piper: ServiceProcess) -> FaultProxy:
    return FaultProxy("127.0.0.1", piper.port)


async def test_tts_cut_before_any_audio_is_retried(
    peers: tuple[ServiceProcess, ServiceProcess], tmp_path: Path,
) -> None:
    whisper, piper = peers
    cut = _tts_cut(piper)
    await cut.start()
    pipeline = Pipeline(ServicePool("asr", [whisper.uri]), ServicePool("handle", []),
                        ServicePool("tts", [cut.uri], warm=False, cooldown=0.0), intents=IntentRecognizer())
    try:
        # At the frame boundary before the first audio chunk: nothing was sent, so TTS is retried.
        fault = cut.fault_at(AUDIO_CHUNK, "truncate", after=-len(AUDIO_CHUNK), direction="down")
        sink = WavSink()
        result = await pipeline.run_turn(chunks(speak(SECOND)), sink, conversation_id="r")
        assert fault.fired.is_set()
        assert result.error is None and result.reply == SECOND_REPLY and sink.seconds > 1.0
        assert cut.connections == 2
        types = [e.type for e in sink.events]
        assert types.count("audio-start") == 1 and types[-1] == "audio-stop" and "error" not in types
        await asyncio.wait_for(cut.idle(), 5)
    finally:
        await cut.stop()
        await pipeline.asr.close()


@pytest.mark.parametrize("after", [-len(AUDIO_CHUNK), 200], ids=["between-frames", "inside-a-frame"])
async def test_tts_stream_cut_mid_audio_ends_turn_with_error_then_recovers(
    peers: tuple[ServiceProcess, ServiceProcess], tmp_path: Path, after: int,
) -> None:
    """The TTS stream is cut about 10 chunks into the reply: between two frames, or inside an
    audio chunk's payload."""
    whisper, piper = peers
    cut = _tts_cut(piper)
    await cut.start()
    pipeline = Pipeline(ServicePool("asr", [whisper.uri]), ServicePool("handle", []),
                        ServicePool("tts", [cut.uri], warm=False, cooldown=0.0),
                        intents=long_answer_intents(tmp_path, STORY))
    try:
        fault = cut.fault_at(AUDIO_CHUNK, "truncate", after=after, direction="down", occurrence=10)
        sink = WavSink()
        broken = await pipeline.run_turn(chunks(speak(FIRST)), sink, conversation_id="c")
        assert fault.fired.is_set()
        assert broken.error is not None and broken.error.code == "tts-failed", broken.error
        assert broken.audio_bytes > 0  # part of the reply went out: no retry, no apology
        assert cut.connections == 1
        types = [e.type for e in sink.events]
        assert types[-1] == "error" and "audio-stop" not in types
        await asyncio.wait_for(cut.idle(), 5)  # nothing left hanging

        sink = WavSink()
        again = await pipeline.run_turn(chunks(speak(SECOND)), sink, conversation_id="c")
        assert again.error is None and again.reply == SECOND_REPLY and sink.seconds > 1.0
    finally:
        await cut.stop()
        await pipeline.asr.close()


async def test_asr_upload_cut_mid_utterance_is_resent_to_a_replica(
    peers: tuple[ServiceProcess, ServiceProcess],
) -> None:
    whisper, piper = peers
    cut = FaultProxy("127.0.0.1", whisper.port, mode="truncate", truncate_after=20000, truncate_direction="up")
    await cut.start()
    pipeline = Pipeline(ServicePool("asr", [cut.uri, whisper.uri], warm=False), ServicePool("handle", []),
                        ServicePool("tts", [piper.uri], warm=False), intents=IntentRecognizer())
    try:
        result = await pipeline.run_turn(chunks(speak(SECOND)), WavSink(), conversation_id="u")
    finally:
        await cut.stop()
    assert result.error is None and result.reply == SECOND_REPLY
    assert cut.connections == 1
    await asyncio.wait_for(cut.idle(), 5)


async def test_black_holed_tts_times_out_and_the_next_turn_works(
    peers: tuple[ServiceProcess, ServiceProcess],
) -> None:
    whisper, piper = peers
    hole = FaultProxy("127.0.0.1", piper.port, mode="drop")
    await hole.start()
    # 3 s: the honest no-home answer is twice as long as the old confirmation, and Piper needs
    # more than 1 s for it on a loaded 2-core machine.
    config = PipelineConfig(tts_timeout=3.0)
    pipeline = Pipeline(ServicePool("asr", [whisper.uri]), ServicePool("handle", []),
                        ServicePool("tts", [hole.uri], warm=False), intents=IntentRecognizer(), config=config)
    try:
        sink = WavSink()
        lost = await pipeline.run_turn(chunks(speak(SECOND)), sink, conversation_id="b")
        # The pool's probe finds the black hole: the engine is down, the satellite may fall back.
        assert lost.error is not None and lost.error.code == "services-unavailable", lost.error
        assert lost.audio_bytes == 0 and sink.seconds == 0.0  # nothing to speak with: no apology
        assert [e.type for e in sink.events].count("error") == 1
        await asyncio.wait_for(hole.idle(), 5)  # the turn closed its TTS connections

        hole.set_mode("pass")
        sink = WavSink()
        again = await pipeline.run_turn(chunks(speak(SECOND)), sink, conversation_id="b")
        assert again.error is None and again.reply == SECOND_REPLY and sink.seconds > 1.0
    finally:
        await hole.stop()
        await pipeline.asr.close()
