"""Cloud fallback: controller gone → a cloud turn → controller back → local again, plus a
controller reporting ``services-unavailable`` (the same utterance then goes to the cloud).

The cloud is two local fakes speaking the real wire formats: ``FakeDeepgram`` (pre-recorded
STT over a chunked POST answering Deepgram's JSON; Aura TTS answering raw linear16 in a
chunked body) and ``FakeDeepSeek`` (OpenAI-style chat completions as server-sent events).
The mic is a command (``cat FIFO``) the test feeds like a room: silence, and speech when
the test says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Self
from urllib.parse import parse_qs, urlsplit

import pytest
from speech import piper_voice
from test_satellite_service import SatelliteProcess, ScriptedController, Speech, satellite, silence, speaker
from wyoming.error import Error

DEEPGRAM_KEY = "dg-test-key-0123456789"
DEEPSEEK_KEY = "sk-test-key-0123456789"
TRANSCRIPTS = ["what time is it", "and the date", "is it raining"]
REPLY = ["It is", " noon", ". Have", " a nice", " day."]


@pytest.fixture(scope="module")
def speech() -> Speech:
    return Speech(piper_voice())


# --- a tiny HTTP/1.1 server (keep-alive, chunked request and response bodies) ----------
@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


Route = Callable[[Request, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class Fault:
    """What a fake answers instead, for one path: an HTTP ``status`` (5xx), ``hang`` (read the
    request, never answer), or ``delay`` seconds before the first byte of a normal answer."""

    status: int | None = None
    hang: bool = False
    delay: float = 0.0
    times: int = 1_000_000  # then the path works again


class FakeHttpServer:
    """A tiny HTTP/1.1 server. A route that fails (an assert about the request, a bug) answers
    500 and cancels the test's task at once, and ``async with`` then raises that failure: the
    test fails with the real cause, not with a timeout while waiting for what never comes."""

    def __init__(self, routes: dict[str, Route]) -> None:
        self.routes = routes
        self.requests: list[Request] = []
        self.faults: dict[str, Fault] = {}
        self.failures: list[BaseException] = []
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.Task[None]] = set()
        self._test: asyncio.Task[object] | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def __aenter__(self) -> Self:
        self._test = asyncio.current_task()
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._conns):
            task.cancel()
        await asyncio.gather(*self._conns, return_exceptions=True)
        await self._server.wait_closed()
        if self.failures:
            if self._test is not None and self._test.cancelling():
                self._test.uncancel()
            raise AssertionError(f"{type(self).__name__} route failed: {self.failures[0]!r}") from self.failures[0]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conns.add(task)
        try:
            while request := await self._read(reader):
                self.requests.append(request)
                if await self._fault(request, writer):
                    continue
                try:
                    await self.routes[request.path](request, writer)
                except (ConnectionError, asyncio.CancelledError):
                    raise
                except Exception as err:
                    self.failures.append(err)
                    await send_status(writer, 500)
                    if len(self.failures) == 1 and self._test is not None and not self._test.done():
                        self._test.cancel(f"{type(self).__name__} route failed")  # once
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._conns.discard(task)
            writer.close()

    async def _fault(self, request: Request, writer: asyncio.StreamWriter) -> bool:
        """Apply the path's fault; True when the request has been answered by it."""
        fault = self.faults.get(request.path)
        if fault is None or fault.times <= 0:
            return False
        fault.times -= 1
        if fault.delay:
            await asyncio.sleep(fault.delay)  # the slow service being simulated
        if fault.hang:
            await asyncio.Event().wait()  # until the client gives up (the connection is cancelled)
        if fault.status is not None:
            await send_status(writer, fault.status)
            return True
        return False

    @staticmethod
    async def _read(reader: asyncio.StreamReader) -> Request | None:
        line = await reader.readline()
        if not line:
            return None
        method, target, _ = line.decode().split(" ", 2)
        headers: dict[str, str] = {}
        while (header := await reader.readline()) not in (b"\r\n", b""):
            key, _, value = header.decode().partition(":")
            headers[key.strip().lower()] = value.strip()
        body = b""
        if headers.get("transfer-encoding", "").lower() == "chunked":
            while size := int((await reader.readline()).split(b";")[0], 16):
                body += await reader.readexactly(size)
                await reader.readexactly(2)
            await reader.readline()
        else:
            body = await reader.readexactly(int(headers.get("content-length", "0")))
        url = urlsplit(target)
        return Request(method, url.path, parse_qs(url.query), headers, body)


async def send_json(writer: asyncio.StreamWriter, payload: object) -> None:
    body = json.dumps(payload).encode()
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                 + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    await writer.drain()


async def send_status(writer: asyncio.StreamWriter, status: int) -> None:
    body = json.dumps({"error": {"message": f"fake failure {status}", "type": "server_error"}}).encode()
    writer.write(f"HTTP/1.1 {status} Error\r\nContent-Type: application/json\r\n".encode()
                 + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    await writer.drain()


async def send_chunked(writer: asyncio.StreamWriter, content_type: str, parts: Iterable[bytes]) -> None:
    writer.write(f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
    for part in parts:
        writer.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
        await writer.drain()
    writer.write(b"0\r\n\r\n")
    await writer.drain()


class FakeDeepgram(FakeHttpServer):
    """``/v1/listen`` (pre-recorded STT) and ``/v1/speak`` (Aura TTS), Deepgram's wire formats."""

    def __init__(self, speech: Speech) -> None:
        super().__init__({"/v1/listen": self.listen, "/v1/speak": self.speak})
        self.speech = speech
        self.spoken: list[bytes] = []

    def stt(self) -> list[Request]:
        return [r for r in self.requests if r.path == "/v1/listen"]

    def tts(self) -> list[Request]:
        return [r for r in self.requests if r.path == "/v1/speak"]

    async def listen(self, request: Request, writer: asyncio.StreamWriter) -> None:
        text = TRANSCRIPTS[(len(self.stt()) - 1) % len(TRANSCRIPTS)]
        words = [{"word": w, "start": 0.1 * i, "end": 0.1 * i + 0.1, "confidence": 0.98, "punctuated_word": w}
                 for i, w in enumerate(text.split())]
        await send_json(writer, {
            "metadata": {"request_id": "fake", "duration": len(request.body) / 32000, "channels": 1,
                         "models": ["nova-2"]},
            "results": {"channels": [{"alternatives": [{"transcript": text, "confidence": 0.98, "words": words}]}]},
        })

    async def speak(self, request: Request, writer: asyncio.StreamWriter) -> None:
        assert request.query["sample_rate"] == ["16000"] and request.query["encoding"] == ["linear16"]
        audio = self.speech.mic(json.loads(request.body)["text"])
        self.spoken.append(audio)
        await send_chunked(writer, "audio/l16;rate=16000;channels=1", (audio[i:i + 3001] for i in
                                                                      range(0, len(audio), 3001)))


class FakeDeepSeek(FakeHttpServer):
    """``/v1/chat/completions`` streaming server-sent events, as OpenAI's API does."""

    def __init__(self) -> None:
        super().__init__({"/v1/chat/completions": self.chat})

    async def chat(self, request: Request, writer: asyncio.StreamWriter) -> None:
        body = json.loads(request.body)

        def event(delta: dict[str, str], finish: str | None = None) -> bytes:
            chunk = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_700_000_000,
                     "model": body["model"], "system_fingerprint": "fp_fake",
                     "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
            return f"data: {json.dumps(chunk)}\n\n".encode()

        parts = [event({"role": "assistant", "content": ""})]
        parts += [event({"content": token}) for token in REPLY]
        parts += [event({}, "stop"), b"data: [DONE]\n\n"]
        await send_chunked(writer, "text/event-stream", parts)


# --- the room: a FIFO the satellite's mic command reads ---------------------------------
class Room:
    """Feeds the mic FIFO at twice real time: silence, and speech when asked.

    ``said_at`` holds the mic byte offset where each said piece began (the satellite writes one
    speaker frame per mic frame, so it is the same offset in its speaker WAV)."""

    def __init__(self, fifo: Path) -> None:
        self.fifo = fifo
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.written = 0
        self.said_at: list[int] = []

    def say(self, pcm: bytes) -> None:
        self._queue.put_nowait(pcm)

    async def __aenter__(self) -> Room:
        self._task = asyncio.create_task(self._feed(), name="room")
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    async def _feed(self) -> None:
        fd = await asyncio.to_thread(os.open, self.fifo, os.O_WRONLY)  # waits for the satellite's `cat`
        pipe = os.fdopen(fd, "wb", buffering=0)
        transport, _ = await asyncio.get_running_loop().connect_write_pipe(asyncio.Protocol, pipe)
        try:
            pending = b""
            while True:
                if not pending and not self._queue.empty():
                    pending = self._queue.get_nowait()
                    self.said_at.append(self.written)
                frame, pending = (pending[:960].ljust(960, b"\0"), pending[960:]) if pending else (bytes(960), b"")
                transport.write(frame)
                self.written += len(frame)
                await asyncio.sleep(0.015)  # a mic delivers audio at its own pace (here 2x real time)
        finally:
            transport.close()


@contextlib.asynccontextmanager
async def cloud_satellite(tmp_path: Path, deepgram: FakeDeepgram, deepseek: FakeDeepSeek,
                          *flags: str) -> AsyncIterator[tuple[SatelliteProcess, Room]]:
    fifo = tmp_path / "mic.fifo"
    os.mkfifo(fifo)
    env = {"DEEPGRAM_API_KEY": DEEPGRAM_KEY, "DEEPSEEK_API_KEY": DEEPSEEK_KEY, "ENABLE_CLOUD_FALLBACK": "1"}
    async with satellite("--mic-command", f"cat {fifo}", "--snd-wav", str(tmp_path / "speaker.wav"),
                         "--snd-rate", "16000", "--no-tones", "--deepgram-url", deepgram.url,
                         "--deepseek-url", f"{deepseek.url}/v1", *flags, env=env) as sat, Room(fifo) as room:
        yield sat, room


async def test_controller_gone_cloud_turn_then_local_again(speech: Speech, tmp_path: Path) -> None:
    question = speech.mic("What time is it?") + silence(0.3)
    local_reply = speech.reply("It is noon here.")
    async with FakeDeepgram(speech) as deepgram, FakeDeepSeek() as deepseek, \
            cloud_satellite(tmp_path, deepgram, deepseek, "--local-retry-seconds", "0") as (sat, room):
        await sat.wait_log("cloud fallback on")

        # 1. No controller: the turn runs against the cloud.
        room.say(question)
        await sat.wait_log("on reply-done", 1)
        assert len(deepgram.stt()) == 1 and len(deepseek.requests) == 1
        stt = deepgram.stt()[0]
        assert stt.headers["authorization"] == f"Token {DEEPGRAM_KEY}"
        assert stt.headers.get("transfer-encoding") == "chunked"  # streamed while the user spoke
        assert stt.query["model"] == ["nova-2"] and stt.query["encoding"] == ["linear16"]
        assert stt.query["sample_rate"] == ["16000"]
        assert len(stt.body) >= len(question) - 0.3 * 32000
        chat = json.loads(deepseek.requests[0].body)
        assert deepseek.requests[0].headers["authorization"] == f"Bearer {DEEPSEEK_KEY}"
        assert chat["stream"] is True and chat["model"] == "deepseek-chat"
        assert chat["messages"][-1] == {"role": "user", "content": TRANSCRIPTS[0]}
        assert [json.loads(r.body)["text"] for r in deepgram.tts()] == ["It is noon.", "Have a nice day."]

        # 2. The controller is back: local again, the cloud is not used.
        async with ScriptedController.connect(sat.port, lambda turn: local_reply) as ctl:
            await sat.wait_log("controller attached")
            room.say(question)
            await ctl.wait(lambda: bool(ctl.turns) and ctl.turns[0].played)
            assert len(deepgram.stt()) == 1

            # 3. The controller's services are down: the same utterance goes to the cloud.
            ctl.reply = lambda turn: Error(text="all services down", code="services-unavailable")
            room.say(question)
            await sat.wait_log("on reply-done", 3)
            assert len(ctl.turns) == 2 and ctl.turns[1].stopped and not ctl.turns[1].played
            assert len(deepgram.stt()) == 2
            assert deepgram.stt()[1].body == ctl.turns[1].audio  # the very utterance sent to the controller
            history = json.loads(deepseek.requests[1].body)["messages"]
            assert history[-1]["content"] == TRANSCRIPTS[1]
            assert {"role": "assistant", "content": "It is noon. Have a nice day."} in history

        # 4. Controller gone: cloud. 5. Back: local.
        await sat.wait_log("controller gone")
        room.say(question)
        await sat.wait_log("on reply-done", 4)
        assert len(deepgram.stt()) == 3
        async with ScriptedController.connect(sat.port, lambda turn: local_reply) as ctl:
            await sat.wait_log("controller attached", 2)
            room.say(question)
            await ctl.wait(lambda: bool(ctl.turns) and ctl.turns[0].played)
        assert len(deepgram.stt()) == 3
    # The cloud's replies were played, byte for byte; no key was logged.
    played = speaker(tmp_path / "speaker.wav")
    assert len(deepgram.spoken) == 6
    assert all(audio in played for audio in deepgram.spoken)
    log = "\n".join(sat.log)
    assert DEEPGRAM_KEY not in log and DEEPSEEK_KEY not in log
