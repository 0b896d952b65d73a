"""``wyoming-session`` as a user meets it with a bad file, a wrong server or a spare connection.

On the code before these fixes every file case below was a traceback (FileNotFoundError,
JSONDecodeError, UnicodeDecodeError, AttributeError, ValueError), an unreachable server a
ConnectionRefusedError traceback, a server that never answered a TimeoutError traceback after
120 s, an empty session replayed as "OK: 0 events matched", and a client's unused spare
connection was saved as an empty ``-2.jsonl``.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from helpers import connected
from test_runtime_server import INFO
from test_runtime_session import ParrotHandler
from wyoming.event import Event, async_read_event, async_write_event

from voice_runtime.procs import free_port
from voice_runtime.server import ServerConfig, WyomingServer
from voice_runtime.session.__main__ import run as session_cli
from voice_runtime.session.format import RecordedEvent, Session, save_session
from voice_runtime.session.record import Recorder

HEADER = json.dumps({"format": "wyoming-session", "version": 1})


def _session(path: Path) -> Path:
    save_session(Session(events=[RecordedEvent(0.0, "in", Event("say", {"text": "hi"})),
                                 RecordedEvent(0.1, "out", Event("transcript", {"text": "hi"}))]), path)
    return path


def _file(kind: str, tmp_path: Path) -> Path:
    path = tmp_path / f"{kind}.jsonl"
    if kind == "missing":
        return path
    if kind == "truncated":
        whole = _session(tmp_path / "whole.jsonl").read_text()
        path.write_text(whole[:-12])
    else:
        path.write_bytes({"text": b"# notes\n", "binary": b"RIFF\xdc\x00\xff", "empty": b"",
                          "list": b"[1]\n", "no-client-events": HEADER.encode() + b"\n"}[kind])
    return path


@pytest.mark.parametrize("kind, said", [
    ("missing", "no such file"), ("text", "is not a wyoming-session file"),
    ("binary", "not UTF-8 text"), ("empty", "is empty"), ("list", "is not a wyoming-session file"),
    ("truncated", ":3: not a recorded event"), ("no-client-events", "nothing to replay"),
])
def test_a_session_file_that_cannot_be_replayed_is_one_line_and_exit_2(
        kind: str, said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _file(kind, tmp_path)
    with pytest.raises(SystemExit) as stopped:
        session_cli(["replay", str(path), "--server", "tcp://127.0.0.1:9"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("wyoming-session: error: ") and said in err and err.count("\n") == 1, err


def test_replay_against_a_server_that_is_not_there_is_one_line(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        session_cli(["replay", str(_session(tmp_path / "s.jsonl")), "--server", f"tcp://127.0.0.1:{free_port()}"])
    assert stopped.value.code == 2
    assert capsys.readouterr().err.startswith("wyoming-session: error: cannot reach tcp://127.0.0.1:")


async def test_replay_against_a_silent_server_reports_the_gap(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def silent(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)  # reads nothing, answers nothing

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    path = _session(tmp_path / "s.jsonl")
    try:
        # The CLI runs its own loop: run it in a thread (the silent server lives on this one).
        with pytest.raises(SystemExit) as stopped:
            await asyncio.to_thread(session_cli, ["replay", str(path), "--server", f"tcp://127.0.0.1:{port}",
                                                  "--timeout", "0.5"])
    finally:
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()
    assert stopped.value.code == 1
    assert "no complete answer within 0.5 s: the server sent 0 events (none), then nothing" in capsys.readouterr().out


async def test_the_recorder_survives_an_absent_server_and_saves_no_empty_session(tmp_path: Path) -> None:
    port = free_port()
    out = tmp_path / "s.jsonl"
    recorder = Recorder("tcp://127.0.0.1:0", f"tcp://127.0.0.1:{port}", out)
    await recorder.start()
    parrot: WyomingServer | None = None
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", recorder.port)
        assert await asyncio.wait_for(reader.read(), 10) == b""  # the server is not there: this client is closed ...
        writer.close()
        parrot = WyomingServer(ServerConfig(uri=f"tcp://127.0.0.1:{port}"),
                               lambda r, w: ParrotHandler(r, w, info=lambda: INFO))
        await parrot.start()  # ... and the recorder still serves the next one
        _, spare = await asyncio.open_connection("127.0.0.1", recorder.port)  # a spare, never used
        spare.close()
        async with connected(recorder.port or 0) as client:
            await client.send(Event("say", {"text": "hi"}))
            assert (await client.recv_until("audio-stop"))[0].data == {"text": "hi"}
        assert await asyncio.wait_for(recorder.wait_saved(1), 10) == [out]
    finally:
        await recorder.stop()
        if parrot is not None:
            await parrot.stop()
    assert recorder.saved == [out] and not (tmp_path / "s-2.jsonl").exists()  # no empty s-2.jsonl


async def _connect_when_up(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    for _ in range(200):  # the CLI listens from its own thread: readiness polled, bounded (10 s)
        try:
            return await asyncio.open_connection("127.0.0.1", port)
        except ConnectionRefusedError:
            await asyncio.sleep(0.05)
    raise AssertionError(f"nothing listened on {port}")


@pytest.mark.parametrize("answer, code", [("hi", 0), ("bye", 1)])
async def test_play_gives_a_client_the_recorded_server_side_and_compares_what_it_sends(
        answer: str, code: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The recording: the client (an orchestrator, say) sent transcript 'hi' after the server's
    # run-pipeline; played back, the client under test answers `answer`. A ping is ignored.
    path = tmp_path / "sat.jsonl"
    save_session(Session(events=[RecordedEvent(0.0, "out", Event("run-pipeline", {"start_stage": "asr"})),
                                 RecordedEvent(0.5, "in", Event("transcript", {"text": "hi"}))]), path)
    port = free_port()

    def play() -> object:
        try:
            session_cli(["play", str(path), "--listen", f"tcp://127.0.0.1:{port}", "--timeout", "10"])
        except SystemExit as stopped:  # caught in its thread: a SystemExit must not reach the test's loop
            return stopped.code
        return 0

    playing = asyncio.create_task(asyncio.to_thread(play))
    reader, writer = await _connect_when_up(port)
    try:
        assert (await async_read_event(reader) or Event("none")).type == "run-pipeline"
        await async_write_event(Event("ping", {}), writer)
        await async_write_event(Event("transcript", {"text": answer}), writer)
        assert await playing == code
    finally:
        writer.close()
        await asyncio.gather(playing, return_exceptions=True)
    out = capsys.readouterr().out
    assert out.startswith(f"waiting for a client on tcp://127.0.0.1:{port} ...")
    assert ("OK: 2 events matched" if code == 0 else "text expected 'hi', got 'bye'") in out, out
