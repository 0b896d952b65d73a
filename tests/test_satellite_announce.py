"""What Home Assistant sends a satellite outside a turn: announcements, timers, follow-ups, hooks.

The turn driver runs without audio hardware, as in test_satellite_core (frames fed by hand,
VAD decision injected, ManualClock). The controller events are the ones Home Assistant
2026.2.3's wyoming ``assist_satellite`` sends (read from its source): an announcement is
``audio-start`` (22050 Hz) + ``audio-chunk``s of up to 2048 bytes read from ffmpeg (any
length, odd ones too) + ``audio-stop``, then HA waits for ``played``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import logging
import sys
import wave
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from satellite_harness import CONFIG, REPLY, Link, attach, chunk, feed, running
from state_harness import state
from wyoming.asr import Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event, async_read_event
from wyoming.satellite import PauseSatellite
from wyoming.timer import TimerCancelled, TimerFinished, TimerStarted
from wyoming.tts import Synthesize

from satellite.announce import AnnounceConfig
from satellite.core import Satellite
from satellite.hooks import HooksConfig
from satellite.playback import Playback
from satellite.state import TurnState
from satellite.timers import AlarmConfig
from satellite.tones import ToneConfig, chime, tone_power
from voice_runtime.audio import AudioFormat, convert, write_wav
from voice_runtime.clock import ManualClock

HA_RATE = 22050


def sine(freq: float, seconds: float, rate: int = HA_RATE, level: float = 0.3) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * freq * t) * level * 32767).astype("<i2").tobytes()


async def announce(sat: Satellite, link: Link, pcm: bytes, cuts: tuple[int, ...] = (2047, 1, 2048, 999)) -> None:
    """Send ``pcm`` as Home Assistant's announce does, cut into chunks of the sizes in ``cuts`` (cycled)."""
    await sat.on_controller_event(link, AudioStart(rate=HA_RATE, width=2, channels=1, timestamp=0).event())
    pos, i = 0, 0
    while pos < len(pcm):
        size = cuts[i % len(cuts)]
        await sat.on_controller_event(link, AudioChunk(rate=HA_RATE, width=2, channels=1,
                                                       audio=pcm[pos:pos + size]).event())
        pos, i = pos + size, i + 1
    await sat.on_controller_event(link, AudioStop().event())


async def a_turn_replied(sat: Satellite, link: Link, *before: Event, reply: Event | None = None) -> None:
    """A question (4 voiced frames, then silence), then the controller's ``before`` events and a
    reply (``reply``: its one chunk, default 90 ms at level 3000), which starts playing."""
    feed(sat, "vvv")
    feed(sat, "v.....")
    for event in (*before, REPLY, reply or chunk(90, 3000), AudioStop().event()):
        await sat.on_controller_event(link, event)


async def test_announcement_outside_a_turn_plays_chime_then_audio_then_played() -> None:
    async with running(CONFIG) as sat:
        link = await attach(sat)
        pcm = sine(440.0, 0.3)
        await announce(sat, link, pcm)
        out = b""
        for _ in range(30):  # chime 0.24 s + audio 0.3 s (+ the resampler's tail) = 19 frames
            assert state(sat) == TurnState.ANNOUNCING
            out += feed(sat, ".")
            if state(sat) == TurnState.LISTENING:
                break
        assert state(sat) == TurnState.LISTENING and len(out) == 19 * 960
        await sat.flush()
        assert link.types() == ["played"]
        ding = chime(16000, CONFIG.tones)
        assert out[:len(ding)] == ding
        expected = convert(pcm, AudioFormat(HA_RATE, 2, 1), AudioFormat(16000, 2, 1))
        assert out[len(ding):len(ding) + len(expected)] == expected  # every sample, despite odd cuts
        assert tone_power(out[len(ding):len(ding) + len(expected)], 16000, 440.0) > 0.9


async def test_the_chime_waits_for_the_announcements_first_audio() -> None:
    """HA sends audio-start at once and the audio seconds later (its TTS): the chime goes right before the audio."""
    async with running(CONFIG) as sat:
        link = await attach(sat)
        await sat.on_controller_event(link, AudioStart(rate=HA_RATE, width=2, channels=1).event())
        assert not any(feed(sat, "." * 20))  # 0.6 s of TTS time: silence, not a chime then silence
        pcm = sine(440.0, 0.3)
        await sat.on_controller_event(link, AudioChunk(rate=HA_RATE, width=2, channels=1, audio=pcm).event())
        await sat.on_controller_event(link, AudioStop().event())
        out = feed(sat, "." * 19)
        ding = chime(16000, CONFIG.tones)
        assert out[:len(ding)] == ding and state(sat) == TurnState.LISTENING
        await sat.flush()
        assert link.types() == ["played"]


async def test_an_announcement_during_a_reply_waits_its_turn_and_the_queue_is_bounded() -> None:
    config = dataclasses.replace(CONFIG, announce=AnnounceConfig(chime=False, max_waiting=2))
    async with running(config) as sat:
        link = await attach(sat)
        await a_turn_replied(sat, link)
        for freq in (500.0, 600.0, 700.0):  # three arrive during the reply; room for two
            await announce(sat, link, sine(freq, 0.09))
        assert state(sat) == TurnState.SPEAKING and sat.announcements.waiting == 2
        reply = feed(sat, "...")
        assert np.frombuffer(reply, "<i2").tolist() == [3000] * (len(reply) // 2)  # the reply alone
        feed(sat, ".")
        assert state(sat) == TurnState.ANNOUNCING
        second = feed(sat, "...")
        assert tone_power(second, 16000, 600.0) > 0.8  # the oldest waiting one (500 Hz) was dropped
        feed(sat, ".")
        third = feed(sat, "...")
        assert tone_power(third, 16000, 700.0) > 0.8
        feed(sat, "..")
        assert state(sat) == TurnState.LISTENING
        await sat.flush()
        assert link.types() == ["run-pipeline", "audio-start", "audio-stop", "played", "played", "played"]


async def test_barge_in_on_an_announcement_sends_played_then_a_new_turn() -> None:
    async with running(CONFIG) as sat:
        link = await attach(sat)
        await announce(sat, link, sine(440.0, 2.0))
        assert any(feed(sat, "...."))
        feed(sat, "vvv")
        assert state(sat) == TurnState.ANNOUNCE_BARGE_IN
        assert not any(feed(sat, "v"))  # held at once
        feed(sat, "vvvvvv")  # 0.3 s of speech: confirmed
        assert state(sat) == TurnState.STREAMING and not sat.playback.has_reply
        await sat.flush()
        assert link.types() == ["played", "run-pipeline", "audio-start"]
        feed(sat, "v.....")
        await sat.on_controller_event(link, REPLY)  # the reply of the new turn plays normally
        await sat.on_controller_event(link, chunk(60))
        assert state(sat) == TurnState.SPEAKING


async def test_an_announcement_cut_off_by_a_replaced_controller_plays_what_came_then_listens() -> None:
    async with running(CONFIG) as sat:
        link = await attach(sat)
        await sat.on_controller_event(link, AudioStart(rate=HA_RATE, width=2, channels=1).event())
        await sat.on_controller_event(link, AudioChunk(rate=HA_RATE, width=2, channels=1,
                                                       audio=sine(440.0, 0.1)).event())  # no audio-stop ever
        await announce(sat, link, sine(550.0, 0.1))  # a second one waits
        assert state(sat) == TurnState.ANNOUNCING and sat.announcements.waiting == 1
        second = await attach(sat, "ha-again")  # HA reconnected: the old connection's stream is over
        assert sat.announcements.waiting == 0
        assert any(feed(sat, "." * 14))  # chime 0.24 s + 0.1 s
        assert state(sat) == TurnState.LISTENING and not sat.playback.has_reply
        feed(sat, "vvv")  # a new turn, nothing stuck
        await sat.flush()
        assert second.types() == ["played", "run-pipeline", "audio-start"]


async def test_a_cough_over_an_announcement_resumes_it() -> None:
    async with running(CONFIG) as sat:
        link = await attach(sat)
        await announce(sat, link, sine(440.0, 1.0))
        feed(sat, "..vvv")
        assert state(sat) == TurnState.ANNOUNCE_BARGE_IN
        feed(sat, ".....")
        assert state(sat) == TurnState.ANNOUNCING and any(feed(sat, "."))
        await sat.flush()
        assert link.types() == []


@settings(max_examples=40, deadline=None)
@given(cuts=st.lists(st.integers(min_value=1, max_value=1500), min_size=1, max_size=40),
       header=st.booleans(), rate=st.sampled_from([16000, 22050, 24000]))
def test_any_cut_of_the_reply_byte_stream_plays_the_same_samples(cuts: list[int], header: bool, rate: int) -> None:
    pcm = sine(330.0, 0.1, rate)
    stream = pcm
    if header:
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(rate)
            wav.writeframes(pcm)
        stream = buffer.getvalue()

    def played(pieces: list[bytes]) -> bytes:
        """The reply's samples as the speaker gets them, one frame per piece (underruns pad with silence)."""
        pb = Playback(16000, 30)
        pb.start_reply(AudioFormat(rate, 2, 1))
        samples = b""

        def tick() -> None:
            nonlocal samples
            before = pb.played_reply_bytes
            frame = pb.next_frame()
            taken = pb.played_reply_bytes - before
            assert taken % 2 == 0  # whole samples only, else every later sample is shifted by a byte
            samples += frame[:taken]

        for piece in pieces:
            pb.add_reply(piece)
            tick()
        pb.end_reply()
        while pb.has_reply:
            tick()
        return samples

    pieces, pos, i = [], 0, 0
    while pos < len(stream):
        pieces.append(stream[pos:pos + cuts[i % len(cuts)]])
        pos, i = pos + cuts[i % len(cuts)], i + 1
    whole = played([stream])
    assert played(pieces) == whole
    assert whole == convert(pcm, AudioFormat(rate, 2, 1), AudioFormat(16000, 2, 1))


# --- timers ---------------------------------------------------------------------------
ALARM = dataclasses.replace(CONFIG, alarm=AlarmConfig(seconds=30.0), tones=ToneConfig(enabled=False))


def rings(audio: bytes) -> bool:
    return len(audio) > 0 and tone_power(audio, 16000, 1000.0) > 0.5


async def test_a_finished_timer_rings_until_the_wake_word() -> None:
    async with running(ALARM) as sat:
        link = await attach(sat)
        await sat.on_controller_event(link, TimerStarted(id="t1", total_seconds=300, name="pasta").event())
        assert not any(feed(sat, "..."))
        await sat.on_controller_event(link, TimerFinished(id="t1").event())
        first = feed(sat, "." * 60)  # 1.8 s: beeps (0.54 s), a 1 s gap, beeps again
        assert rings(first) and any(first[-9600:])
        assert sat.alarm.ringing is not None and sat.alarm.ringing.name == "pasta"
        assert sat.on_wake_detected("okay_nabu") is True  # used up by the alarm: no turn
        assert not any(feed(sat, "." * 40))
        assert sat.on_wake_detected() is False  # nothing ringing: a detection starts a turn as usual


async def test_the_alarm_stops_after_its_time_and_on_cancel() -> None:
    async with running(ALARM) as sat:
        link = await attach(sat)
        await sat.on_controller_event(link, TimerFinished(id="unknown-to-us").event())
        assert rings(feed(sat, "." * 20))
        assert isinstance(sat.clock, ManualClock)
        sat.clock.advance(30.0)
        feed(sat, ".")
        assert sat.alarm.ringing is None and not any(feed(sat, "." * 60))
        await sat.on_controller_event(link, TimerFinished(id="t2").event())
        assert rings(feed(sat, "." * 10))
        await sat.on_controller_event(link, TimerCancelled(id="t2").event())
        assert sat.alarm.ringing is None and not any(feed(sat, "." * 10))


async def test_a_timer_rings_even_if_timer_finished_never_comes() -> None:
    async with running(ALARM) as sat:
        link = await attach(sat)
        await sat.on_controller_event(link, TimerStarted(id="t3", total_seconds=60).event())
        assert isinstance(sat.clock, ManualClock)
        sat.clock.advance(62.0)
        assert not any(feed(sat, "."))  # within the grace: the controller's timer-finished may be on its way
        sat.clock.advance(2.0)
        assert rings(feed(sat, "." * 10))


@pytest.mark.parametrize("data", [
    {}, {"id": "x"}, {"id": 5, "total_seconds": 10}, {"id": "x", "total_seconds": "ten"},
    {"id": "x", "total_seconds": -5}, {"id": "x", "total_seconds": 10, "name": ["a"]},
])
async def test_a_malformed_timer_event_is_logged_and_ignored(data: dict[str, object],
                                                             caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    async with running(ALARM) as sat:
        link = await attach(sat)
        await sat.on_controller_event(link, Event("timer-started", data))
        await sat.on_controller_event(link, Event("timer-updated", {"id": "x", "is_active": "yes",
                                                                    "total_seconds": 3}))
        assert "malformed timer-started" in caplog.text and "malformed timer-updated" in caplog.text
        assert sat.timers.timers == {} and sat.alarm.ringing is None
        feed(sat, "vvv")  # still serving: a turn starts
        await sat.flush()
        assert link.types() == ["run-pipeline", "audio-start"]


# --- continue conversation ------------------------------------------------------------
@pytest.mark.parametrize(("text", "follow_up"), [("Which room?", True), ("Done.", False), ("", False)])
async def test_a_reply_that_asks_a_question_opens_a_follow_up(text: str, follow_up: bool) -> None:
    async with running(CONFIG) as sat:
        link = await attach(sat)
        await a_turn_replied(sat, link, Synthesize(text=text).event(), reply=chunk(60))
        feed(sat, "...")
        assert state(sat) == TurnState.LISTENING
        assert sat.follow_up_open is follow_up
        assert isinstance(sat.clock, ManualClock)
        sat.clock.advance(CONFIG.follow_up_seconds + 0.1)
        assert not sat.follow_up_open


# --- event hooks ----------------------------------------------------------------------
async def test_event_command_and_event_uri_are_told_every_state_change(tmp_path: Path) -> None:
    forwarded: list[Event] = []
    closed = asyncio.Event()

    async def peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (event := await async_read_event(reader)) is not None:
            forwarded.append(event)
        writer.close()
        closed.set()

    server = await asyncio.start_server(peer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    log = tmp_path / "events.jsonl"
    command = (sys.executable, "-c", f"import sys; open({str(log)!r}, 'a').write(sys.stdin.read())")
    config = dataclasses.replace(ALARM, hooks=HooksConfig(command=command, uri=f"tcp://127.0.0.1:{port}"))
    try:
        async with running(config) as sat:
            link = await attach(sat)
            await a_turn_replied(sat, link, Transcript(text="what time is it").event(), reply=chunk(60))
            feed(sat, "...")
            await sat.on_controller_event(link, TimerFinished(id="t1").event())
            feed(sat, ".")
            assert sat.on_wake_detected("okay_nabu")
            await sat.on_controller_event(link, PauseSatellite().event())
            assert sat.hooks is not None
            await sat.hooks.flush()
        await asyncio.wait_for(closed.wait(), 5.0)
    finally:
        server.close()
        await server.wait_closed()
    expected = ["streaming-started", "streaming-stopped", "transcript", "speaking", "played", "timer-ringing",
                "wake-detected", "timer-stopped", "muted"]
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [line["type"] for line in lines] == expected
    assert lines[2]["data"] == {"text": "what time is it"} and lines[3]["data"] == {"what": "reply"}
    assert [event.type for event in forwarded] == expected
    assert forwarded[6].data == {"name": "okay_nabu"}


async def test_the_alarm_waits_while_an_announcement_is_waiting_for_its_audio() -> None:
    """HA sends audio-start ~2 s before its TTS has audio: the beeps must not fill that gap."""
    async with running(dataclasses.replace(ALARM, announce=AnnounceConfig(chime=False))) as sat:
        link = await attach(sat)
        await sat.on_controller_event(link, TimerFinished(id="t1").event())
        assert rings(feed(sat, "." * 10))
        feed(sat, "." * 40)  # the first period's gap ends: the next beeps would be due now
        await sat.on_controller_event(link, AudioStart(rate=HA_RATE, width=2, channels=1).event())
        assert state(sat) == TurnState.ANNOUNCING
        assert not any(feed(sat, "." * 60))  # no audio yet, and no beeps
        await sat.on_controller_event(link, AudioStop().event())  # it had no audio after all
        feed(sat, "..")
        assert state(sat) == TurnState.LISTENING
        assert sat.alarm.ringing is not None and rings(feed(sat, "." * 60))  # beeps again after it


async def test_an_event_command_that_cannot_run_is_logged_and_the_satellite_keeps_serving(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    config = dataclasses.replace(CONFIG, hooks=HooksConfig(command=("/nonexistent/led-ring",)))
    async with running(config) as sat:
        link = await attach(sat)
        feed(sat, "vvv")
        assert sat.hooks is not None
        await sat.hooks.flush()
        await sat.flush()
        assert "event command cannot start" in caplog.text
        assert link.types() == ["run-pipeline", "audio-start"]


# --- sounds ---------------------------------------------------------------------------
async def test_awake_wav_replaces_the_listening_tone_and_a_missing_file_is_a_startup_error(tmp_path: Path) -> None:
    chirp = sine(1500.0, 0.2, 22050)
    write_wav(str(tmp_path / "awake.wav"), chirp, AudioFormat(22050, 2, 1))
    config = dataclasses.replace(CONFIG, tones=ToneConfig(enabled=True), awake_wav=str(tmp_path / "awake.wav"))
    async with running(config) as sat:
        await attach(sat)
        feed(sat, "vvv")
        heard = feed(sat, "v" * 7)  # the sound plays from the frame after speech started
        expected = convert(chirp, AudioFormat(22050, 2, 1), AudioFormat(16000, 2, 1))
        assert heard[:len(expected)] == expected
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "satellite", "--timer-finished-wav", str(tmp_path / "missing.wav"),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    _, err = await proc.communicate()
    assert proc.returncode == 2 and b"--timer-finished-wav" in err and b"no such readable file" in err
