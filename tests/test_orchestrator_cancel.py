"""A cancelled turn stays cancelled, and the satellite link records every turn once.

The flaky ``test_reliability_network::test_link_fault_mid_reply…[reset]`` (session 8) read the
first turn twice from ``link.wait_turns(2)``: the link reset mid-reply, ``_cancel_turn`` cancelled
the turn while it was closing its TTS connection, Python 3.11's ``asyncio.wait_for`` in
``Connection.close`` returned normally because the close completed in the same loop pass (the
cancel was lost), the turn ran on to its ``output-lost`` ending and recorded itself, and
``_cancel_turn`` recorded it again. Both halves are checked here without timing: every loop
position of a cancel during ``Connection.close``, and a turn that outlives its cancellation
(``FakeStubbornPipeline``, fault injection) on a real socket to a scripted satellite.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from wyoming.audio import AudioChunk, AudioStart
from wyoming.event import Event, async_read_event, async_write_event
from wyoming.pipeline import PipelineStage, RunPipeline

from orchestrator.continuation import ContinuationPolicy
from orchestrator.pipeline import Pipeline, TurnError, TurnOutput, TurnResult
from orchestrator.satellite_link import LinkConfig, SatelliteLink
from orchestrator.services import Connection, ServicePool


async def test_a_cancel_during_connection_close_is_never_lost() -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    lost: list[int] = []
    tried = 0
    try:
        for passes in range(12):  # cancel after 0, 1, 2 … loop passes of the close
            conn = await Connection.open(f"tcp://127.0.0.1:{port}")
            closing = asyncio.create_task(conn.close())
            for _ in range(passes):
                await asyncio.sleep(0)
            if closing.done():
                continue  # closed before the cancel: nothing to lose
            tried += 1
            closing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await closing
            if not closing.cancelled():
                lost.append(passes)
    finally:
        server.close()
        await server.wait_closed()
    assert tried >= 3  # the close really was interrupted at several points
    assert lost == [], f"the cancel was swallowed after {lost} loop passes"


class FakeStubbornPipeline(Pipeline):
    """Fault injection: the first turn outlives its cancellation and ends on its own (as a turn
    did when the cancel was swallowed, or does when it ends after ``cancel_and_wait``'s timeout);
    every later turn answers at once."""

    def __init__(self) -> None:
        super().__init__(ServicePool("asr", []), ServicePool("handle", []), ServicePool("tts", []))
        self.calls = 0
        self.first_started = asyncio.Event()

    async def run_turn(self, audio: AsyncIterator[AudioChunk], out: TurnOutput, *, conversation_id: str,
                       result: TurnResult | None = None, end_stage: str = "tts",
                       endpoint_after: float = 0.0) -> TurnResult:
        self.calls += 1
        result = result if result is not None else TurnResult()
        result.transcript = f"question {self.calls}"
        if self.calls == 1:
            self.first_started.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:  # the fault: the cancel is not honoured
                result.error = TurnError("output-lost", "ran on after its cancel")
        return result


async def _run_pipeline(writer: asyncio.StreamWriter) -> None:
    await async_write_event(RunPipeline(start_stage=PipelineStage.ASR, end_stage=PipelineStage.TTS).event(), writer)
    await async_write_event(AudioStart(16000, 2, 1).event(), writer)


@pytest.mark.parametrize("how", ["barge-in", "disconnect"])
async def test_a_turn_that_outlives_its_cancel_is_recorded_once(how: str) -> None:
    pipeline = FakeStubbornPipeline()
    connections = 0

    async def satellite(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        first = connections == 1
        try:
            event: Event | None = await async_read_event(reader)
            assert event is not None and event.type == "run-satellite"
            await _run_pipeline(writer)
            if first:
                await pipeline.first_started.wait()
                if how == "disconnect":
                    return  # the link loses the satellite mid-turn, reconnects, the next turn comes
                await _run_pipeline(writer)  # the user speaks over the first turn
            while await async_read_event(reader) is not None:
                pass
        finally:
            writer.close()

    server = await asyncio.start_server(satellite, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    link = SatelliteLink(LinkConfig(f"tcp://127.0.0.1:{port}", reconnect_delay=0.01,
                                    continuation=ContinuationPolicy(window=0)), pipeline)
    task = asyncio.create_task(link.run())
    try:
        turns = await asyncio.wait_for(link.wait_turns(2), 30)
    finally:
        await link.stop()
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        server.close()
        await server.wait_closed()
    assert [t.transcript for t in turns] == ["question 1", "question 2"]
    assert link.turns_done == 2
    assert turns[0].error is not None and turns[1].error is None
