"""Two controllers, one satellite: the one in charge keeps it (satellite.admission).

A real satellite process (``python -m satellite``, a quiet WAV as the mic); the first controller
is ``FakeHomeAssistant``, a scripted Wyoming client that does what Home Assistant does
(run-satellite, pings, an announcement) and says it is a fake; the second is our real
orchestrator link (:class:`orchestrator.satellite_link.SatelliteLink`, real sockets, a
ManualClock so its back-off waits are read, not slept) or another scripted client.
Before the fix the last controller to connect took the satellite: the first one's
announcement never got ``played``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest
from helpers import Client, connected
from test_reliability_security import satellite_server
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.ping import Ping, Pong
from wyoming.satellite import RunSatellite

from orchestrator.pipeline import Pipeline
from orchestrator.satellite_link import LinkConfig, SatelliteLink
from orchestrator.services import ServicePool
from satellite.admission import BUSY, Admission
from voice_runtime.clock import ManualClock
from voice_runtime.tasks import cancel_and_wait

RATE = 22050


class FakeHomeAssistant:
    """A fake controller (a scripted Wyoming client standing in for Home Assistant). ``pinging``: it
    goes on pinging, as Home Assistant does (every 2 s; here every ``PING_SECONDS``); else after the
    first ping it is silent and reads nothing: a controller whose host went away without a FIN."""

    PING_SECONDS = 0.5

    def __init__(self, client: Client) -> None:
        self.client = client
        self.pinger: asyncio.Task[None] | None = None

    @classmethod
    async def connect(cls, port: int, *, pinging: bool = True) -> FakeHomeAssistant:
        ha = cls(await Client.connect(port))
        await ha.client.send(RunSatellite())
        await ha.client.send(Ping())
        await ha.client.recv_until("pong", timeout=10)
        if pinging:
            ha.pinger = asyncio.create_task(ha._keep_pinging())
        return ha

    async def _keep_pinging(self) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            while not self.client.writer.is_closing():
                await asyncio.sleep(self.PING_SECONDS)  # Home Assistant's ping period, not a synchronisation
                await self.client.send(Ping())

    async def close(self) -> None:
        await cancel_and_wait(self.pinger)
        await self.client.close()

    async def announce(self) -> bool:
        """A 0.2 s announcement; True once the satellite says it was ``played``."""
        await self.client.send(AudioStart(rate=RATE, width=2, channels=1))
        await self.client.send(AudioChunk(rate=RATE, width=2, channels=1, audio=bytes(int(0.2 * RATE) * 2)))
        await self.client.send(AudioStop())
        events = await self.client.recv_until("played", timeout=20)
        return events[-1].type == "played"


async def test_a_second_controller_is_refused_and_the_first_keeps_the_satellite() -> None:
    server = await satellite_server()
    try:
        ha = await FakeHomeAssistant.connect(server.port)
        try:
            assert await server.wait_log("controller attached", timeout=10)
            async with connected(server.port) as second:
                await second.send(RunSatellite())
                refusal = await second.recv(timeout=10)
                assert refusal is not None and Error.is_type(refusal.type), refusal
                assert Error.from_event(refusal).code == BUSY
                assert await second.recv(timeout=10) is None  # then the end of the stream
            assert await ha.announce()  # the first controller still drives the satellite
            assert not any("controller replaced" in line for line in server.log)
            assert sum("refused controller" in line for line in server.log) == 1
        finally:
            await ha.close()
    finally:
        await server.stop()


async def test_our_orchestrator_is_refused_logs_it_once_and_backs_off(caplog: pytest.LogCaptureFixture) -> None:
    server = await satellite_server()
    clock = ManualClock()
    pipeline = Pipeline(ServicePool("asr", []), ServicePool("handle", []), ServicePool("tts", []))
    link = SatelliteLink(LinkConfig(server.uri, ping_interval=1000.0, reconnect_delay=10.0), pipeline, clock=clock)
    task: asyncio.Task[None] | None = None
    try:
        ha = await FakeHomeAssistant.connect(server.port)
        try:
            assert await server.wait_log("controller attached", timeout=10)
            caplog.set_level(logging.DEBUG, logger="orchestrator.satellite_link")
            task = asyncio.create_task(link.run())
            waits: list[float] = []
            async with asyncio.timeout(60):  # the old satellite let the link take over: no retry ever came
                while len(waits) < 3:
                    wait = await clock.next_sleep()
                    if wait == 1000.0:
                        continue  # the link's pinger during a (refused) session
                    waits.append(wait)
                    clock.advance(wait)
            assert waits == [0.5, 1.0, 2.0]  # backed off, not spinning
            assert link.busy and link.sessions >= 3
            busy = [r for r in caplog.records if "busy with another controller" in r.getMessage()]
            assert [r.levelno for r in busy][:1] == [logging.WARNING]
            assert all(r.levelno == logging.DEBUG for r in busy[1:]) and len(busy) >= 2
            assert await ha.announce()
            assert not any("controller replaced" in line for line in server.log)
        finally:
            await ha.close()
    finally:
        await link.stop()
        if task is not None:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        await server.stop()


async def test_a_silent_controller_is_taken_over() -> None:
    """A controller that crashed without closing its socket goes silent; after
    --controller-silent-seconds a new one takes the satellite (the silence is the input here)."""
    server = await satellite_server("--controller-silent-seconds", "0.3")
    try:
        silent = await FakeHomeAssistant.connect(server.port, pinging=False)  # then says nothing more
        try:
            assert await server.wait_log("controller attached", timeout=10)
            await asyncio.sleep(0.5)  # the silence under test, not a synchronisation
            ha = await FakeHomeAssistant.connect(server.port)
            try:
                assert await server.wait_log("takes over", timeout=10)
                assert await ha.announce()
            finally:
                await ha.close()
        finally:
            await silent.close()
    finally:
        await server.stop()


async def test_a_half_open_controller_is_taken_over_once_it_does_not_answer_a_ping() -> None:
    """Home Assistant's host gone without a FIN (session 29, bench/ha_reconnect.py: its restarted self was
    refused and attached only 16 s later): the old connection stays open, takes the satellite's ping and
    never answers. The newcomer takes over at its first try, well inside the 15 s of silence."""
    server = await satellite_server()  # --controller-silent-seconds 15 (the default)
    try:
        gone = await FakeHomeAssistant.connect(server.port, pinging=False)
        try:
            assert await server.wait_log("controller attached", timeout=10)
            ha = await FakeHomeAssistant.connect(server.port)  # main's code: refused (satellite-busy)
            try:
                assert await server.wait_log("no answer to a ping", timeout=10)
                assert await ha.announce()
                assert await gone.client.recv_until("ping", timeout=10)  # it was asked
                assert not any("refused controller" in line for line in server.log)
            finally:
                await ha.close()
        finally:
            await gone.close()
    finally:
        await server.stop()


async def test_a_live_controller_that_answers_the_ping_keeps_the_satellite() -> None:
    """The ping is a question, not a verdict: a controller that only answers (sends nothing by itself)
    keeps the satellite, and the newcomer is refused."""
    server = await satellite_server()
    try:
        ha = await FakeHomeAssistant.connect(server.port, pinging=False)
        try:
            assert await server.wait_log("controller attached", timeout=10)
            async with connected(server.port) as second:
                await second.send(RunSatellite())
                ping = await ha.client.recv_until("ping", timeout=10)  # the satellite asks the one in charge
                await ha.client.send(Pong(text=Ping.from_event(ping[-1]).text))
                refusal = await second.recv(timeout=10)
                assert refusal is not None and Error.is_type(refusal.type), refusal
                assert Error.from_event(refusal).code == BUSY
            assert await ha.announce()
            assert not any("takes over" in line or "controller replaced" in line for line in server.log)
        finally:
            await ha.close()
    finally:
        await server.stop()


def test_admission_refuses_while_heard_and_admits_after_the_silence(caplog: pytest.LogCaptureFixture) -> None:
    clock = ManualClock()
    admission = Admission(clock, silent_seconds=15.0)
    assert admission.refusal(None, "ha") is None  # no controller yet
    admission.heard()
    caplog.set_level(logging.WARNING, logger="satellite.admission")
    for _ in range(5):
        clock.advance(2.0)
        assert admission.refusal("ha", "orchestrator") is not None
        admission.heard()  # Home Assistant's ping
    assert admission.refused == 5
    assert sum("refused controller" in r.getMessage() for r in caplog.records) == 1  # rate-limited
    clock.advance(14.9)
    assert admission.refusal("ha", "orchestrator") is not None
    clock.advance(0.2)  # silent for 15.1 s: a half-open connection of a crashed controller
    assert admission.refusal("ha", "orchestrator") is None


class _Said(logging.Handler):
    """Sets ``event`` once ``times`` records of ``level`` or above contain ``text``."""

    def __init__(self, text: str, times: int = 1, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.text, self.left, self.event = text, times, asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.left -= 1
            if self.left <= 0:
                self.event.set()


async def test_while_another_controller_holds_the_satellite_the_link_says_so_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Home Assistant may hold a satellite for days while hearth serve (zeroconf) keeps trying it.
    # Before: each refused dial also logged "satellite ... connected" at INFO (6 lines for 6 dials).
    server = await satellite_server()
    clock = ManualClock()
    pipeline = Pipeline(ServicePool("asr", []), ServicePool("handle", []), ServicePool("tts", []))
    link = SatelliteLink(LinkConfig(server.uri, ping_interval=1000.0, reconnect_delay=2.0), pipeline, clock=clock)
    caplog.set_level(logging.DEBUG, logger="orchestrator.satellite_link")
    logger = logging.getLogger("orchestrator.satellite_link")
    refused, accepted = _Said("busy with another controller", 6, logging.DEBUG), _Said("connected (")
    logger.addHandler(refused)
    logger.addHandler(accepted)
    ha = await FakeHomeAssistant.connect(server.port)
    task = asyncio.create_task(link.run())

    async def back_off() -> None:  # every wait of the back-off passes at once; the pinger's never does
        while True:
            if (wait := await clock.next_sleep()) != 1000.0:
                clock.advance(wait)

    driver = asyncio.create_task(back_off())
    try:
        await asyncio.wait_for(refused.event.wait(), 60)  # six refused dials, the last ones at the 2 s cap
        said = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
        assert len(said) == 1 and "busy with another controller" in said[0], said
        await ha.close()  # Home Assistant lets go: the link gets in and says so
        await asyncio.wait_for(accepted.event.wait(), 60)
        assert link.info is not None
    finally:
        logger.removeHandler(refused)
        logger.removeHandler(accepted)
        await cancel_and_wait(driver)
        await link.stop()
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        await ha.close()
        await server.stop()
