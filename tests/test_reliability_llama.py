"""``llama-server`` killed (SIGKILL) or hung (SIGSTOP) in the middle of a reply, during a
turn the orchestrator runs for the real satellite (``python -m satellite``, its mic a FIFO fed by
a ``Room``: the second question is said once the apology has played and llama-server is back,
not at a fixed time, so a loaded box makes the test slower, not wrong).

The turn must end with an ``error`` event and the spoken apology (nothing was spoken yet),
``wyoming_llama`` must restart its llama-server (the hang is found by the health check, run
every second here), and the satellite's next question must be answered by the new one, with
no connection left open and no task leaked (the autouse fixture). ASR and TTS are the peers
(wyoming-faster-whisper, wyoming-piper); the LLM is our ``wyoming_llama`` on SmolLM2.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from helpers import start_service
from speech import speak
from test_reliability_network import linked, loud_ms
from test_satellite_cloud import Room
from test_satellite_service import MS, SatelliteProcess, satellite, speaker

from orchestrator.intents import IntentRecognizer
from orchestrator.pipeline import APOLOGY, Pipeline, TurnResult
from orchestrator.services import ServicePool
from voice_runtime.faultproxy import FaultProxy
from voice_runtime.procs import ServiceProcess

FIRST = "What is the capital of France?"
SECOND = "How many legs does a spider have?"


@pytest.fixture(scope="module")
async def llama() -> AsyncIterator[ServiceProcess]:
    service = await start_service(
        "wyoming_llama", "--threads", "1", "--context-size", "1024", "--max-tokens", "40", "--temperature", "0",
        "--health-interval", "1", "--health-timeout", "1", "--restart-delay", "0.2",
        "--warm-up-slots", "1",  # the restart is under test, not the warm-up (tests/test_llama_warmup.py)
    )
    try:
        yield service
    finally:
        await service.stop()


def llama_server_pid(service: ServiceProcess) -> int:
    """The llama-server child of the wyoming_llama process (its only child)."""
    children: list[str] = []
    for task in Path(f"/proc/{service.pid}/task").iterdir():
        children += (task / "children").read_text().split()
    assert len(children) == 1, children
    return int(children[0])


async def _fault_mid_reply(peers: tuple[ServiceProcess, ServiceProcess], llama: ServiceProcess, tmp_path: Path,
                           sig: signal.Signals) -> tuple[SatelliteProcess, list[TurnResult], int, int, tuple[int, int]]:
    """… and where (ms, in the mic's and so the speaker WAV's timeline) the second question was said."""
    whisper, piper = peers
    fifo = tmp_path / "mic.fifo"
    os.mkfifo(fifo)
    first, second = speak(FIRST), speak(SECOND)  # before the room starts (see test_full_stack)
    # wyoming_llama listens before its llama-server is up; on a CPU whose build crashes at start-up a
    # second llama-server follows the first: wait for the start to be over before taking its pid.
    assert await llama.wait_log("llama-server ready pid=", timeout=120)
    restarts = sum("llama-server ready pid=" in line for line in llama.log)
    to_llama = FaultProxy("127.0.0.1", llama.port)
    await to_llama.start()
    pipeline = Pipeline(ServicePool("asr", [whisper.uri]), ServicePool("handle", [to_llama.uri], warm=False),
                        ServicePool("tts", [piper.uri]), intents=IntentRecognizer())
    old_pid = llama_server_pid(llama)
    try:
        async with satellite("--mic-command", f"cat {fifo}", "--snd-wav", str(tmp_path / "speaker.wav"),
                             "--snd-rate", "16000", "--no-tones") as sat, Room(fifo) as room, \
                linked(pipeline, sat.port) as (link, to_satellite):
            apology_sent = to_satellite.fault_at(APOLOGY.encode(), "pass", direction="up")
            # The first piece of the reply on its way to the orchestrator: strike now.
            first_piece = to_llama.fault_at(b'"handled-chunk"', "pass", direction="down")
            await sat.wait_log("controller attached")
            room.say(first)
            await asyncio.wait_for(first_piece.fired.wait(), 120)
            os.kill(old_pid, sig)
            try:
                # The failed turn and its apology played, llama-server back: the next question.
                await asyncio.wait_for(link.wait_played(1), 120)
                assert await llama.wait_log("llama-server ready pid=", count=restarts + 1, timeout=120)
                room.say(second)
                turns = await asyncio.wait_for(link.wait_turns(2), 120)
                # `played` for the apology, then for the second reply
                await asyncio.wait_for(link.wait_played(2), 60)
            finally:
                if sig == signal.SIGSTOP:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(old_pid, signal.SIGCONT)
            await asyncio.wait_for(to_llama.idle(), 10)  # the turns closed their LLM connections
            assert apology_sent.fired.is_set()  # the apology's synthesize went to the satellite
    finally:
        await to_llama.stop()
    said = room.said_at[1] // MS
    return sat, turns, old_pid, llama_server_pid(llama), (said, said + len(second) // MS)


def _assert_error_apology_and_next_turn(turns: list[TurnResult], old_pid: int, new_pid: int) -> None:
    failed, served = turns[0], turns[1]
    assert "france" in failed.transcript.lower()
    assert failed.error is not None and failed.error.code.startswith("llm-"), failed.error
    assert failed.audio_bytes > MS * 1000  # the apology (and only it: no reply audio before the fault)
    assert served.error is None and served.reply.strip(), served.error
    assert "spider" in served.transcript.lower() and served.audio_bytes > 0
    assert new_pid != old_pid


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGSTOP], ids=["killed", "hung"])
async def test_llama_server_fails_mid_reply_error_apology_restart_next_turn(
    peers: tuple[ServiceProcess, ServiceProcess], llama: ServiceProcess, tmp_path: Path, sig: signal.Signals,
) -> None:
    sat, turns, old_pid, new_pid, (second_start, second_end) = await _fault_mid_reply(peers, llama, tmp_path, sig)
    _assert_error_apology_and_next_turn(turns, old_pid, new_pid)
    log = "\n".join(llama.log)
    if sig == signal.SIGKILL:
        assert f"llama-server pid={old_pid} exited" in log, log[-3000:]
    else:
        assert f"llama-server pid={old_pid} hung; killing and restarting" in log, log[-3000:]
    assert f"llama-server ready pid={new_pid}" in log
    sat_log = "\n".join(sat.log)
    assert "controller error code=llm-" in sat_log, sat_log
    played = speaker(tmp_path / "speaker.wav")
    assert loud_ms(played[second_end * MS:]) >= 500, \
        f"the second reply was not played (said {second_start}-{second_end} ms, {len(played) // MS} ms played):\n" + \
        sat_log[-4000:]
    assert loud_ms(played[:second_start * MS]) >= 1000, "the spoken apology was not played"
