"""A finished timer's name spoken by the satellite itself (issue 15): Home Assistant 2026 sends
``timer-finished`` (the id only) and speaks nothing, so with ``--tts-uri`` the satellite has the
line synthesized and plays it once ahead of the alarm's beeps. The real satellite process, a
real wyoming_kokoro server (its Piper engine), the speaker output read from a WAV file.
Failures of the TTS server (unreachable, an ``error`` event, garbage, silence) leave the line
out: the alarm rings anyway."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from helpers import Client
from satellite_harness import CONFIG, attach, feed, running
from test_satellite_service import FRAME_MS, rms, satellite, silence, speaker, windows
from wyoming.audio import AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event, async_write_event
from wyoming.info import Info
from wyoming.satellite import RunSatellite
from wyoming.timer import TimerFinished, TimerStarted

from satellite.outside import LINE_ECHO_SECONDS
from satellite.timer_voice import TimerVoiceConfig, TtsFailed, describe, synthesize
from satellite.timers import AlarmConfig
from satellite.tones import ToneConfig, tone_power
from voice_runtime.audio import PCM16_MONO_16K, write_wav
from voice_runtime.clock import ManualClock
from voice_runtime.procs import ServiceProcess, free_port, start_service


@pytest.fixture(scope="module")
async def tts() -> AsyncIterator[ServiceProcess]:
    service = await start_service("wyoming_kokoro", "--provider", "piper", "--engines", "piper")
    try:
        yield service
    finally:
        await service.stop()


def beeps_and_voice(played: bytes) -> tuple[list[int], list[int]]:
    """(windows of the alarm's 1 kHz beeps, loud windows that are neither a beep nor a beep's edge), as
    window indexes."""
    beeps, loud = [], []
    for i, w in enumerate(windows(played)):
        if rms(w) > 0.05 and tone_power(w, 16000, 1000.0) > 0.5:
            beeps.append(i)
        elif rms(w) > 0.02:
            loud.append(i)
    return beeps, [i for i in loud if not {i - 1, i + 1} & set(beeps)]


async def ring(tmp_path: Path, *flags: str, announced: bool = False) -> tuple[bytes, list[str]]:
    """A named timer started and finished, as Home Assistant sends them; the alarm rings 2 s."""
    write_wav(str(tmp_path / "mic.wav"), silence(0.2), PCM16_MONO_16K)
    out = tmp_path / "speaker.wav"
    async with satellite("--mic-wav", str(tmp_path / "mic.wav"), "--snd-wav", str(out), "--snd-rate", "16000",
                         "--timer-alarm-seconds", "2", *flags) as sat:
        client = await Client.connect(sat.port)
        try:
            await client.send(RunSatellite())
            await sat.wait_log("controller attached")
            await client.send(TimerStarted(id="t1", total_seconds=60, name="pasta"))
            finished = TimerFinished(id="t1").event()
            if announced:
                finished.data["announced"] = True  # what our orchestrator sends when it announces the line
            await client.send(finished)
            await sat.wait_log("alarm for timer t1 stopped: rang 2 s")
        finally:
            await client.close()
    return speaker(out), sat.log


async def test_a_named_timer_speaks_its_name_before_the_beeps(tts: ServiceProcess, tmp_path: Path) -> None:
    played, log = await ring(tmp_path, "--tts-uri", tts.uri)
    assert any("timer names spoken by the TTS server" in line for line in log)
    assert any("'Pasta timer is done'" in line and "plays ahead of the beeps" in line for line in log)
    beeps, voice = beeps_and_voice(played)
    assert beeps, "the alarm rang"
    spoken = [i for i in voice if i < beeps[0]]
    assert len(spoken) * FRAME_MS >= 600, f"{len(spoken) * FRAME_MS} ms of voice before the first beep"
    assert not [i for i in voice if i > beeps[0]], "the name is spoken once, ahead of the beeps"


async def test_announced_by_the_controller_it_is_not_said_twice(tts: ServiceProcess, tmp_path: Path) -> None:
    played, log = await ring(tmp_path, "--tts-uri", tts.uri, announced=True)
    assert any("the controller announces it; the satellite does not say it too" in line for line in log)
    beeps, voice = beeps_and_voice(played)
    assert beeps and not [i for i in voice if i < beeps[0]]


async def test_an_unreachable_tts_server_still_rings(tmp_path: Path) -> None:
    uri = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    played, log = await ring(tmp_path, "--tts-uri", uri)
    assert any("--tts-uri: TTS server" in line and "unreachable" in line for line in log)  # at start-up
    assert any("timer t1 rings without its name: TTS server" in line for line in log)
    beeps, voice = beeps_and_voice(played)
    assert len(beeps) >= 3 and not voice


async def _fake_tts(reply: list[Event | bytes]) -> tuple[asyncio.Server, str]:
    """FakeTts: answers any request with ``reply`` (events, raw bytes), then stays silent and open."""
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readline()
        for item in reply:
            if isinstance(item, Event):
                await async_write_event(item, writer)
            else:
                writer.write(item)
        await writer.drain()
        await reader.read()  # until the satellite hangs up
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, f"tcp://127.0.0.1:{server.sockets[0].getsockname()[1]}"


@pytest.mark.parametrize(("reply", "reason"), [
    ([Error(text="no such voice", code="bad-voice").event()], "error bad-voice: no such voice"),
    ([b"this is no wyoming frame\n"], "sent garbage"),
    ([AudioStart(rate=16000, width=2, channels=1).event()], "sent nothing for 0.3 s"),
    ([AudioStart(rate=16000, width=2, channels=1).event(), AudioStop().event()], "sent no audio"),
])
async def test_a_failing_tts_server_gives_a_reason(reply: list[Event | bytes], reason: str) -> None:
    server, uri = await _fake_tts(reply)
    try:
        with pytest.raises(TtsFailed, match=reason):
            await synthesize(TimerVoiceConfig(uri=uri, inactivity=0.3), "Pasta timer is done", PCM16_MONO_16K)
    finally:
        server.close()


def test_a_template_with_other_fields_is_refused() -> None:
    with pytest.raises(ValueError, match="only {name} may be used"):
        TimerVoiceConfig(template="{label} is done")
    with pytest.raises(ValueError, match="is not tcp://HOST:PORT"):
        TimerVoiceConfig(uri="http://example")
    assert TimerVoiceConfig().line("pasta") == "Pasta timer is done"
    assert TimerVoiceConfig().line(None) == "Your timer is done"


async def test_speech_heard_while_the_name_plays_is_its_echo_and_does_not_silence_the_alarm() -> None:
    """Echo of the spoken name (--echo-sim-gain-db -6/-10, wake word mode) silenced the alarm as "speech"
    in 3 of 5 runs before this guard (0 of 4 with the beeps alone; with it 11 of 11 rang to the end)."""
    config = dataclasses.replace(CONFIG, alarm=AlarmConfig(seconds=30.0), tones=ToneConfig(enabled=False))
    async with running(config) as sat:
        link = await attach(sat)
        await sat.on_controller_event(link, TimerStarted(id="t1", total_seconds=60, name="pasta").event())
        await sat.on_controller_event(link, TimerFinished(id="t1").event())
        sat.alarm.line = bytes(range(256)) * 125  # 1 s at 16 kHz: what the TTS server sent, as it were
        feed(sat, ".")
        assert isinstance(sat.clock, ManualClock)
        assert sat.stop_alarm("speech") is False and sat.alarm.ringing is not None
        sat.clock.advance(1.0 + LINE_ECHO_SECONDS - 0.1)
        assert sat.stop_alarm("speech") is False
        sat.clock.advance(0.2)
        assert sat.stop_alarm("speech") is True and sat.alarm.ringing is None
        await sat.on_controller_event(link, TimerFinished(id="t2").event())
        sat.alarm.line = bytes(32000)
        feed(sat, ".")
        assert sat.stop_alarm("wake word") is True  # the wake word (or a button) stops it at any time


@pytest.mark.parametrize(("reply", "reason"), [
    ([Error(text="no such thing", code="bad-event").event()], "sent no info within 0.3 s"),  # skipped, as all but info
    ([b"this is no wyoming frame\n"], "closed the connection"),  # wyoming's reader: None, as at the end
    ([], "sent no info within 0.3 s"),
    (None, "unreachable"),
])
async def test_describe_of_a_failing_tts_server_says_why_and_goes_on(
    reply: list[Event | bytes] | None, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    # The shared probe (voice_runtime.client.describe), bounded by --tts-uri's inactivity.
    server, uri = await _fake_tts(reply or [])
    if reply is None:
        server.close()
        await server.wait_closed()
    try:
        await asyncio.wait_for(describe(TimerVoiceConfig(uri=uri, inactivity=0.3)), 5)
    finally:
        server.close()
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("--tts-uri: ")]
    assert len(said) == 1 and reason in said[0] and "without its name" in said[0], said


async def test_describe_says_when_the_server_speaks_nothing(caplog: pytest.LogCaptureFixture) -> None:
    server, uri = await _fake_tts([Info().event()])  # an answer, but no text-to-speech program
    try:
        await describe(TimerVoiceConfig(uri=uri, inactivity=0.3))
    finally:
        server.close()
    assert any("offers no text-to-speech" in r.getMessage() and "without its name" in r.getMessage()
               for r in caplog.records)
