"""Hardening round 2 (issue 14), the parts that need no engine: cancellation during cleanup,
bounded histories, stale/black-holed warm spares, the satellite's reply wait and a
``services-unavailable`` arriving after it gave up.

Servers here are real sockets speaking Wyoming (our ``ServiceHandler`` with ``--idle-timeout``
limits, the fault proxy for a black hole); the engine work itself is not needed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from satellite_harness import CONFIG, QuietMic, attach, feed
from state_harness import state
from wyoming.asr import Transcript
from wyoming.error import Error
from wyoming.event import Event
from wyoming.handle import Handled, HandledChunk
from wyoming.info import Info

from orchestrator.honesty import ClaimGuard
from orchestrator.llm_stream import DELTAS_MAX, LlmStream
from orchestrator.services import ServicePool, ServiceUnavailable
from orchestrator.state import LinkMachine, LinkTrigger
from orchestrator.turn import PipelineConfig, TurnResult
from satellite.audio_io import MemorySink
from satellite.core import Satellite
from satellite.state import TurnState
from satellite.vad import SpeechDetector
from voice_runtime.audio import AudioFormat
from voice_runtime.clock import ManualClock
from voice_runtime.faultproxy import FaultProxy
from voice_runtime.handler import ServiceHandler
from voice_runtime.latency import TurnTimer
from voice_runtime.limits import Limits
from voice_runtime.server import ServerConfig, WyomingServer
from voice_runtime.tasks import race, run_together

INFO = Info()


# -- cancellation ----------------------------------------------------------------------------
async def test_a_cancel_landing_during_run_together_cleanup_is_not_swallowed() -> None:
    """A barge-in (cancel) that arrives while run_together is cancelling its children must end
    the caller: before, ``suppress(BaseException)`` around ``await task`` swallowed it and the
    caller went on (here: raised the child's ValueError instead of being cancelled)."""
    cleaning = asyncio.Event()
    release = asyncio.Event()

    async def slow_to_stop() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cleaning.set()
            with contextlib.suppress(asyncio.CancelledError):
                await release.wait()  # a cleanup that takes a while (closing a connection…)

    async def failing() -> None:
        await asyncio.sleep(0)
        raise ValueError("stage failed")

    after_cleanup: list[str] = []

    async def turn() -> None:
        with contextlib.suppress(ValueError):
            await run_together(slow_to_stop(), failing())
        after_cleanup.append("the turn went on")  # must not happen once cancelled

    task = asyncio.create_task(turn())
    await cleaning.wait()
    task.cancel()  # the barge-in, during the cleanup
    release.set()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert task.cancelled()
    assert after_cleanup == []


# -- bounded histories ---------------------------------------------------------------------------
def test_the_orchestrator_turn_machine_history_is_bounded() -> None:
    machine = LinkMachine()
    for _ in range(1000):
        machine.fire(LinkTrigger.RUN_PIPELINE)
        machine.fire(LinkTrigger.AUDIO_STOP)
        machine.fire(LinkTrigger.TURN_DONE_SILENT)
    assert len(machine.history) == machine.max_history
    assert machine.history[-1][2].value == "idle"


# -- the LLM reply's queue ---------------------------------------------------------------------
FLOOD = [f"Part {n} of a long reply. " for n in range(3 * DELTAS_MAX)]


class Flood(ServiceHandler):
    """A conversation service that writes a whole long reply at once, one clause per chunk."""

    sent: asyncio.Event

    async def handle_event(self, event: Event) -> bool:
        if Transcript.is_type(event.type):
            for text in FLOOD:
                await self.write_event(HandledChunk(text=text).event())
            await self.write_event(Handled(text="".join(FLOOD)).event())
            self.sent.set()
        return True


async def test_the_llm_reply_waits_for_the_tts_stage_with_a_bounded_queue() -> None:
    """A reply that streams faster than it is spoken fills at most ``DELTAS_MAX`` pieces, then the
    reader waits for the TTS stage (back-pressure); the TTS stage still gets every clause, in
    order, and the end. Unbounded, the whole reply (3 x DELTAS_MAX clauses) sat in the queue."""
    sent = asyncio.Event()

    def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> Flood:
        flood = Flood(r, w, info=lambda: INFO)
        flood.sent = sent
        return flood

    server = WyomingServer(ServerConfig(uri="tcp://127.0.0.1:0"), handler)
    await server.start()
    pool = ServicePool("handle", [f"tcp://127.0.0.1:{server.port}"])
    clock = ManualClock()
    try:
        async with LlmStream(pool, PipelineConfig(), TurnTimer(clock, clock.now()), TurnResult(),
                             ClaimGuard("I can't do that.")) as llm:
            await llm.ask("tell me everything", "c1")
            reading = asyncio.create_task(llm.read())
            await sent.wait()  # the whole reply is in the socket; only the queue can hold it back
            assert await race(reading, timeout=1.0) is None, "the reader did not wait for the TTS stage"
            assert llm.deltas.qsize() == DELTAS_MAX
            spoken: list[str] = []
            while (delta := await llm.deltas.get()) is not None:
                spoken.append(delta)
            assert "".join(spoken) == "".join(FLOOD) == await reading
    finally:
        await pool.close()
        await server.stop()


# -- warm spares -------------------------------------------------------------------------------
class Quiet(ServiceHandler):
    """Answers describe (the base class does) and nothing else."""

    async def handle_event(self, event: Event) -> bool:
        return True


@contextlib.asynccontextmanager
async def quiet_server(idle_timeout: float = 30.0) -> AsyncIterator[WyomingServer]:
    limits = Limits(idle_timeout=idle_timeout)
    server = WyomingServer(ServerConfig(uri="tcp://127.0.0.1:0", limits=limits),
                           lambda r, w: Quiet(r, w, info=lambda: INFO, limits=limits))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def test_a_stale_warm_spare_is_replaced_not_handed_out() -> None:
    """With ``--idle-timeout`` the server leaves an ``idle-timeout`` error in the spare and
    closes it; the next acquire must hand out a working connection, not that one."""
    async with quiet_server(idle_timeout=0.3) as server:
        pool = ServicePool("asr", [f"tcp://127.0.0.1:{server.port}"])
        try:
            first = await pool.acquire()
            await first.close()
            spare_task = pool._replicas[0].spare_task
            assert spare_task is not None
            await spare_task
            spare = pool._replicas[0].spare
            assert spare is not None
            # The server gives up on the idle spare: an error event, then the close.
            event = await spare.recv(5.0)
            assert Error.is_type(event.type) and Error.from_event(event).code == "idle-timeout"
            # Put the event back, as it sat in the buffer unread: the spare looks alive.
            pool._replicas[0].spare = spare
            # (StreamReader's buffer is private: typeshed does not declare it)
            spare.reader._buffer[:0] = (  # type: ignore[attr-defined]
                b'{"type": "error", "data": {"text": "idle", "code": "idle-timeout"}}\n')
            conn = await pool.acquire()
            assert conn is not spare
            assert Info.is_type((await conn.probe(2.0)).event().type)
            await conn.close()
        finally:
            await pool.close()


async def test_a_black_holed_spare_gives_services_unavailable_at_once() -> None:
    """A warm spare whose server stopped answering (black hole): the pool finds it by its probe
    and says so, instead of handing it out for the stage to wait on."""
    async with quiet_server() as server:
        proxy = FaultProxy("127.0.0.1", server.port or 0)
        await proxy.start()
        pool = ServicePool("tts", [proxy.uri], probe_timeout=0.5)
        try:
            await (await pool.acquire()).close()
            spare_task = pool._replicas[0].spare_task
            assert spare_task is not None
            await spare_task
            assert pool._replicas[0].spare is not None
            proxy.set_mode("drop")
            with pytest.raises(ServiceUnavailable, match="TimeoutError"):
                await pool.acquire()
        finally:
            await pool.close()
            await proxy.stop()


# -- the satellite's wait for a reply ----------------------------------------------------------
class FakeCloud:
    """Records the utterance of a cloud turn and answers with a short silence."""

    def __init__(self) -> None:
        self.audio = b""
        self.done = asyncio.Event()

    async def run_turn(self, audio: AsyncIterator[bytes], sink: Satellite) -> None:
        async for chunk in audio:
            self.audio += chunk
        sink.on_transcript("what time is it")
        sink.on_reply_start(AudioFormat(16000, 2, 1))
        sink.on_reply_audio(bytes(3200))
        sink.on_reply_end()
        self.done.set()


@contextlib.asynccontextmanager
async def satellite(cloud: FakeCloud | None = None) -> AsyncIterator[tuple[Satellite, ManualClock]]:
    clock = ManualClock()
    sat = Satellite(CONFIG, QuietMic(), MemorySink(16000), cloud=cloud, clock=clock)  # type: ignore[arg-type]
    sat.detector = SpeechDetector(CONFIG.vad, is_speech=lambda frame: frame[0] == 1)
    await sat.start()
    try:
        yield sat, clock
    finally:
        await sat.stop()


async def test_the_reply_wait_counts_from_the_last_event_of_the_turn() -> None:
    async with satellite() as (sat, clock):
        link = await attach(sat)
        feed(sat, "..vvv" + "v" * 10 + ".....")
        assert state(sat) == TurnState.WAITING
        for _ in range(3):  # the controller keeps reporting progress, 4 s apart (timeout: 5 s)
            clock.advance(4.0)
            await sat.on_controller_event(link, Transcript(text="what time is it").event())
            feed(sat, ".")
            assert state(sat) == TurnState.WAITING
        clock.advance(CONFIG.thinking_timeout + 0.1)  # then nothing for longer than the timeout (after a transcript)
        feed(sat, ".")
        assert state(sat) == TurnState.LISTENING


async def test_services_unavailable_after_the_reply_timeout_still_goes_to_the_cloud() -> None:
    cloud = FakeCloud()
    async with satellite(cloud) as (sat, clock):
        link = await attach(sat)
        feed(sat, "..vvv" + "v" * 10 + ".....")
        assert state(sat) == TurnState.WAITING
        await sat.flush()
        sent = b"".join(e.payload or b"" for e in link.received if e.type == "audio-chunk")
        clock.advance(CONFIG.reply_timeout + 0.1)
        feed(sat, ".")
        assert state(sat) == TurnState.LISTENING  # gave up on the controller
        await sat.on_controller_event(link, Error(text="down", code="services-unavailable").event())
        assert state(sat) == TurnState.WAITING
        await asyncio.wait_for(cloud.done.wait(), 10)
        assert cloud.audio == sent  # the very utterance the controller got
        assert state(sat) == TurnState.SPEAKING
        # A second, stale services-unavailable changes nothing.
        await sat.on_controller_event(link, Error(text="down", code="services-unavailable").event())
        assert state(sat) == TurnState.SPEAKING
