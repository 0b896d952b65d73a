"""Record/replay/show of Wyoming sessions, on real sockets against an in-process service."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from helpers import connected
from test_runtime_server import INFO
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event, async_read_event, async_write_event

from voice_runtime.faultproxy import FaultProxy
from voice_runtime.handler import ServiceHandler
from voice_runtime.server import ServerConfig, WyomingServer
from voice_runtime.session import (
    CompareRules,
    compare,
    load_session,
    replay_as_server,
    replay_session,
    save_session,
)
from voice_runtime.session.__main__ import run as session_cli
from voice_runtime.session.format import RecordedEvent, Session
from voice_runtime.session.record import Recorder
from voice_runtime.session.show import render


class ParrotHandler(ServiceHandler):
    """Answers 'say' with a transcript of its text and an audio block of len(text) * 0.1 s."""

    async def handle_event(self, event: Event) -> bool:
        if event.type == "say":
            text = str(event.data["text"])
            if event.data.get("shout"):
                text = text.upper()
            await self.write_event(Event("transcript", {"text": text}))
            await self.write_event(AudioStart(16000, 2, 1).event())
            samples = b"\x00\x00" * int(1600 * len(text))
            for i in range(0, len(samples), 3200):
                await self.write_event(AudioChunk(16000, 2, 1, samples[i:i + 3200]).event())
            await self.write_event(AudioStop().event())
            return True
        return await super().handle_event(event)


@pytest.fixture
async def parrot() -> AsyncIterator[WyomingServer]:
    srv = WyomingServer(ServerConfig(uri="tcp://127.0.0.1:0"), lambda r, w: ParrotHandler(r, w, info=lambda: INFO))
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


async def test_record_then_replay_matches_and_detects_a_change(parrot: WyomingServer, tmp_path: Path) -> None:
    out = tmp_path / "s.jsonl"
    recorder = Recorder("tcp://127.0.0.1:0", f"tcp://127.0.0.1:{parrot.port}", out)
    await recorder.start()
    try:
        async with connected(recorder.port or 0) as client:
            await client.send(Event("say", {"text": "hello there", "api_key": "should-not-be-saved"}))
            events = await client.recv_until("audio-stop")
            assert events[0].data == {"text": "hello there"}
    finally:
        # The proxy writes the file when the connection ends; wait for it before stopping.
        await asyncio.wait_for(recorder.wait_saved(1), 10)
        await recorder.stop()
    assert recorder.saved == [out]
    raw = out.read_text()
    assert "should-not-be-saved" not in raw and "[redacted]" in raw

    session = load_session(out)
    assert [e.dir for e in session.events][:2] == ["in", "out"]
    assert session.events[0].event.type == "say"
    shown = render(session)
    assert "→ say" in shown and "← audio-chunk ×" in shown and "1.10 s" in shown

    uri = f"tcp://127.0.0.1:{parrot.port}"
    session.events[0].event.data["api_key"] = "x"  # the server ignores it
    report = await replay_session(session, uri)
    assert report.ok, report.describe()

    # Same session, but the server now behaves differently: the replay must say so.
    session.events[0].event.data["shout"] = True
    changed = await replay_session(session, uri, rules=CompareRules(text="exact"))
    assert not changed.ok and any("text expected 'hello there'" in d for d in changed.differences)
    # ... and the normalized rule forgives case only.
    assert (await replay_session(session, uri)).ok


def test_compare_rules() -> None:
    def audio(seconds: float) -> list[Event]:
        return [AudioStart(16000, 2, 1).event()] + [
            AudioChunk(16000, 2, 1, b"\x00" * 3200).event() for _ in range(int(seconds * 10))
        ] + [AudioStop().event()]

    expected = [Event("transcript", {"text": "Turn on the light."}), *audio(1.0)]
    assert compare(expected, [Event("transcript", {"text": "turn on the light"}), *audio(1.1)]) == []
    diffs = compare(expected, [Event("transcript", {"text": "turn off the light"}), *audio(2.0)])
    assert any("text expected" in d for d in diffs) and any("audio duration" in d for d in diffs)
    assert compare(expected, [*audio(1.0)]) != []
    err_a = [Event("error", {"text": "x", "code": "a"})]
    assert compare(err_a, [Event("error", {"text": "x", "code": "b"})]) != []


def test_session_file_round_trip_and_validation(tmp_path: Path) -> None:
    session = Session(server="tcp://h:1", note="n")
    session.events.append(RecordedEvent(0.5, "in", Event("audio-chunk", {"rate": 16000}, b"\x01\x02")))
    path = tmp_path / "a.jsonl"
    save_session(session, path)
    loaded = load_session(path)
    assert loaded.events[0].event.payload == b"\x01\x02" and loaded.server == "tcp://h:1"
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"format": "wyoming-session", "version": 1}) + "\n" + '{"t": 0, "dir": "sideways"}\n')
    with pytest.raises(ValueError, match="bad.jsonl:2"):
        load_session(bad)


def test_cli_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    session = Session()
    session.events.append(RecordedEvent(0.0, "in", Event("transcribe", {"language": "en"})))
    path = tmp_path / "s.jsonl"
    save_session(session, path)
    session_cli(["show", str(path)])
    assert '→ transcribe {"language": "en"}' in capsys.readouterr().out


async def test_replay_as_server_plays_the_server_side_to_a_connecting_client() -> None:
    session = Session()
    session.events += [
        RecordedEvent(0.0, "in", Event("run-satellite")),
        RecordedEvent(0.1, "out", Event("run-pipeline", {"start_stage": "asr", "end_stage": "tts"})),
        RecordedEvent(0.2, "in", Event("transcript", {"text": "Hello there."})),
        RecordedEvent(0.3, "out", Event("played")),
        RecordedEvent(0.4, "in", Event("done")),
    ]

    async def client(port: int, answer: str) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            await async_write_event(Event("run-satellite"), writer)
            first = await async_read_event(reader)
            assert first is not None and first.type == "run-pipeline"
            await async_write_event(Event("transcript", {"text": answer}), writer)
            second = await async_read_event(reader)
            assert second is not None and second.type == "played"  # only after our transcript
            await async_write_event(Event("done"), writer)
        finally:
            writer.close()

    for answer, ok in (("hello there", True), ("goodbye", False)):
        port: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        replay = asyncio.create_task(replay_as_server(session, started=port, step_timeout=10))
        await client(await port, answer)
        report = await replay
        assert report.ok is ok, report.describe()


@pytest.mark.parametrize("chunks", [1, 3, 8], ids=["fewer-chunks", "as-recorded", "more-chunks"])
async def test_replay_as_server_waits_for_the_whole_reply_however_it_is_chunked(chunks: int) -> None:
    """The recording has the reply in 3 chunks; a live client may send 1 or 8. ``played`` goes
    out only after the client's ``audio-stop`` either way, and the report matches."""
    fmt = {"rate": 16000, "width": 2, "channels": 1}
    session = Session()
    session.events += [RecordedEvent(0.0, "in", Event("run-satellite")),
                       RecordedEvent(0.1, "in", Event("audio-start", fmt))]
    session.events += [RecordedEvent(0.2, "in", Event("audio-chunk", fmt, bytes(3200))) for _ in range(3)]
    session.events += [RecordedEvent(0.3, "in", Event("audio-stop")), RecordedEvent(0.4, "out", Event("played"))]
    port: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    replay = asyncio.create_task(replay_as_server(session, started=port, step_timeout=10))
    reader, writer = await asyncio.open_connection("127.0.0.1", await port)
    try:
        for event in [Event("run-satellite"), Event("audio-start", fmt),
                      *[Event("audio-chunk", fmt, bytes(9600 // chunks)) for _ in range(chunks)]]:
            await async_write_event(event, writer)
        # Nothing may come back before audio-stop, even once as many chunks as recorded are in.
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(async_read_event(reader), 0.5)
        await async_write_event(Event("audio-stop"), writer)
        played = await asyncio.wait_for(async_read_event(reader), 10)
        assert played is not None and played.type == "played"
    finally:
        writer.close()
    report = await replay
    assert report.ok, report.describe()


async def test_fault_proxy_modes() -> None:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(1000):
            writer.write(data)
            await writer.drain()
        writer.close()

    upstream = await asyncio.start_server(echo, "127.0.0.1", 0)
    proxy = FaultProxy("127.0.0.1", int(upstream.sockets[0].getsockname()[1]), truncate_after=5)
    await proxy.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(b"abc")
        assert await asyncio.wait_for(reader.readexactly(3), 5) == b"abc"
        proxy.set_mode("reset")
        with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
            writer.write(b"x")
            await writer.drain()
            await asyncio.wait_for(reader.readexactly(1), 5)
        writer.close()
        proxy.set_mode("truncate")
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(b"0123456789")
        assert await asyncio.wait_for(reader.read(), 5) == b"01234"
        writer.close()
    finally:
        await proxy.stop()
        upstream.close()
        await upstream.wait_closed()
