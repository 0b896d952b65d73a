"""The orchestrator as users run it: ``ask`` from a WAV, the metrics endpoint, a Wyoming intent
service before the LLM, and services found by zeroconf."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from helpers import ROOT
from speech import speak, speak_to_wav
from test_orchestrator_peers import chunks
from wyoming.event import Event
from wyoming.info import Attribution, Info, IntentModel, IntentProgram
from wyoming.intent import Entity, Intent, NotRecognized, Recognize

from orchestrator.intents import IntentRecognizer
from orchestrator.metrics import MetricsServer
from orchestrator.pipeline import Pipeline, PipelineConfig
from orchestrator.services import ServicePool, discover_services
from orchestrator.wavio import WavSink
from voice_runtime.audio import read_wav
from voice_runtime.faultproxy import FaultProxy
from voice_runtime.handler import ServiceHandler
from voice_runtime.procs import ServiceProcess, free_port, start_service
from voice_runtime.retry import RetryPolicy
from voice_runtime.server import ServerConfig, WyomingServer


async def test_ask_prints_transcript_reply_and_breakdown_and_writes_the_reply(
    peers: tuple[ServiceProcess, ServiceProcess], tmp_path: Path,
) -> None:
    whisper, piper = peers
    question = speak_to_wav("What time is it?", tmp_path / "q.wav")
    out = tmp_path / "reply.wav"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "orchestrator", "ask", "--wav", str(question), "--out", str(out),
        "--asr", whisper.uri, "--tts", piper.uri, "--handle", f"tcp://127.0.0.1:{free_port()}",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=str(ROOT),
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 120)
    text = stdout.decode()
    assert proc.returncode == 0, stderr.decode()[-2000:]
    assert "you said:  'What time is it?'" in text
    assert "reply:     'It is " in text and "(intent HassGetCurrentTime)" in text
    assert "latency from end of speech: transcript=" in text and "first_audio_sent=" in text
    pcm, fmt = read_wav(str(out))
    assert fmt.rate == 16000 and fmt.seconds(len(pcm)) > 0.5


async def test_metrics_endpoint_serves_the_turns_latencies(
    peers: tuple[ServiceProcess, ServiceProcess],
) -> None:
    whisper, piper = peers
    pipeline = Pipeline(ServicePool("asr", [whisper.uri]), ServicePool("handle", []),
                        ServicePool("tts", [piper.uri]), intents=IntentRecognizer())
    metrics = MetricsServer(pipeline.monitor)
    await metrics.start()
    try:
        result = await pipeline.run_turn(chunks(speak("What time is it?")), WavSink(), conversation_id="m")
        assert result.error is None
        reader, writer = await asyncio.open_connection("127.0.0.1", metrics.port)
        writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        body = (await asyncio.wait_for(reader.read(), 10)).decode()
        writer.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", metrics.port)
        writer.write(b"GET /nope HTTP/1.1\r\n\r\n")
        missing = (await asyncio.wait_for(reader.read(), 10)).decode()
        writer.close()
    finally:
        await metrics.stop()
        await pipeline.close()
    assert body.startswith("HTTP/1.1 200 OK")
    assert 'hearth_stage_seconds_count{stage="first_audio_sent"} 1' in body
    assert 'hearth_stage_seconds{stage="transcript",quantile="0.5"}' in body
    assert "hearth_turns_total 1" in body
    assert missing.startswith("HTTP/1.1 404")


ATTR = Attribution("tests", "")
INTENT_INFO = Info(intent=[IntentProgram(
    name="house", description="house intents", attribution=ATTR, installed=True, version="1",
    models=[IntentModel(name="house", description="", attribution=ATTR, installed=True, version="1",
                        languages=["en"])],
)])


class HouseIntents(ServiceHandler):
    """A small Wyoming intent service: it knows one sentence."""

    async def handle_event(self, event: Event) -> bool:
        if Recognize.is_type(event.type):
            text = Recognize.from_event(event).text.lower()
            if "garage" in text:
                reply = Intent(name="OpenGarage", entities=[Entity("door", "garage")], text="Opening the garage.")
                await self.write_event(reply.event())
            else:
                await self.write_event(NotRecognized(text="Sorry?").event())
            return True
        return await super().handle_event(event)


async def intent_service() -> WyomingServer:
    server = WyomingServer(ServerConfig(uri="tcp://127.0.0.1:0"),
                           lambda r, w: HouseIntents(r, w, info=lambda: INTENT_INFO))
    await server.start()
    return server


async def test_intent_service_answers_before_the_llm(peers: tuple[ServiceProcess, ServiceProcess]) -> None:
    whisper, piper = peers
    house = await intent_service()
    asked: list[int] = []

    async def no_llm(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        asked.append(1)  # counts who asks the "LLM", then hangs up on them
        writer.close()

    llm = await asyncio.start_server(no_llm, "127.0.0.1", 0)
    llm_uri = f"tcp://127.0.0.1:{llm.sockets[0].getsockname()[1]}"
    pipeline = Pipeline(ServicePool("asr", [whisper.uri]), ServicePool("handle", [llm_uri], warm=False),
                        ServicePool("tts", [piper.uri]), intents=None,
                        intent_service=ServicePool("intent", [f"tcp://127.0.0.1:{house.port}"], warm=False),
                        config=PipelineConfig(llm_retry=RetryPolicy(delays=())))
    try:
        opened = await pipeline.run_turn(chunks(speak("Please open the garage door.")), WavSink(),
                                         conversation_id="i")
        assert opened.error is None and opened.intent is not None and opened.intent.name == "OpenGarage"
        assert opened.reply == "Opening the garage." and opened.audio_bytes > 0
        assert not asked
        other = await pipeline.run_turn(chunks(speak("Why is the sky blue?")), WavSink(), conversation_id="i")
        assert other.intent is None and asked  # not recognised: the LLM was asked
        # It hangs up before answering the pool's describe probe: not a reachable service.
        assert other.error is not None and other.error.code == "services-unavailable"
    finally:
        await pipeline.close()
        llm.close()
        await llm.wait_closed()
        await house.stop()


async def test_discover_services_by_zeroconf_on_loopback() -> None:
    name = f"hearth-test-asr-{free_port()}"
    whisper = await start_service("wyoming_whisper", "--model", "tiny.en", "--zeroconf", "--zeroconf-name", name)
    try:
        found = await discover_services(timeout=2.0, interface="127.0.0.1")
    finally:
        await whisper.stop()
    assert whisper.uri in found["asr"]
    assert whisper.uri not in found["tts"] + found["handle"]


async def test_pool_keeps_a_warm_spare_and_round_robins(peers: tuple[ServiceProcess, ServiceProcess]) -> None:
    whisper, _ = peers
    a = FaultProxy("127.0.0.1", whisper.port)
    b = FaultProxy("127.0.0.1", whisper.port)
    await a.start()
    await b.start()
    pool = ServicePool("asr", [a.uri, b.uri])
    try:
        first = await pool.acquire()  # replica a, and a spare for a is being opened
        second = await pool.acquire()  # round robin: replica b
        assert (first.uri, second.uri) == (a.uri, b.uri)
        for replica in pool._replicas:
            assert replica.spare_task is not None
            await replica.spare_task
        third = await pool.acquire()  # a again: its warm spare, no new connection needed
        assert third.uri == a.uri and a.connections == 2
        for conn in (first, second, third):
            await conn.close()
    finally:
        await pool.close()
        await a.stop()
        await b.stop()
