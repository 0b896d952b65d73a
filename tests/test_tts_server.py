"""wyoming_kokoro as a user meets it: a real server process, real models, real sockets.

One server process (both engines) is shared by the module; Whisper tiny.en listens to what
it says. Kokoro is slow on 2 cores, so its texts here are short.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from helpers import ROOT, Client, connected, free_port, start_service
from speech import whisper_model
from wyoming.audio import AudioChunk, AudioStart
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeVoice,
)

from voice_runtime.audio import AudioFormat, convert, to_float
from voice_runtime.models import piper_voices, resolve_kokoro_voices
from wyoming_kokoro.kokoro_engine import list_voices

PIPER = "en_US-joe-medium"
KOKORO = "af_heart"


# -- the shared server process -------------------------------------------------------------
@dataclass
class ServerLog:
    lines: list[str] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)

    def pump(self, stream: Any) -> None:
        for raw in stream:
            with self.cond:
                self.lines.append(raw.decode(errors="replace").rstrip())
                self.cond.notify_all()

    def wait_for(self, pattern: str, start: int = 0, timeout: float = 120.0) -> re.Match[str]:
        """The first line from index ``start`` on that matches ``pattern`` (waits for it)."""
        regex = re.compile(pattern)
        found: list[re.Match[str]] = []

        def seen() -> bool:
            found[:] = [m for line in self.lines[start:] if (m := regex.search(line))][:1]
            return bool(found)

        with self.cond:
            if not self.cond.wait_for(seen, timeout):
                raise AssertionError(f"no log line matching {pattern!r}; last lines:\n" + "\n".join(self.lines[-20:]))
        return found[0]


@dataclass
class Server:
    port: int
    log: ServerLog


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "wyoming_kokoro", "--uri", f"tcp://127.0.0.1:{port}", "--provider", "kokoro",
         "--max-text-chars", "2000"],
        cwd=str(ROOT), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    log = ServerLog()
    pump = threading.Thread(target=log.pump, args=(proc.stderr,), daemon=True)
    pump.start()
    try:
        log.wait_for("listening uri=", timeout=180)
        yield Server(port, log)
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        pump.join(5)


@pytest.fixture(scope="module")
def whisper() -> Any:
    return whisper_model()  # the session's one tiny.en (tests/speech.py), not a second load


# -- helpers --------------------------------------------------------------------------------
@dataclass
class Heard:
    events: list[Event]

    @property
    def types(self) -> list[str]:
        return [e.type for e in self.events]

    @property
    def formats(self) -> set[tuple[int, int, int]]:
        found = {(s.rate, s.width, s.channels) for s in map(AudioStart.from_event, self._of("audio-start"))}
        found |= {(c.rate, c.width, c.channels) for c in map(AudioChunk.from_event, self._of("audio-chunk"))}
        return found

    @property
    def pcm(self) -> bytes:
        return b"".join(AudioChunk.from_event(e).audio for e in self._of("audio-chunk"))

    @property
    def seconds(self) -> float:
        (rate, width, channels), = self.formats
        return len(self.pcm) / (rate * width * channels)

    def _of(self, kind: str) -> list[Event]:
        return [e for e in self.events if e.type == kind]

    def assert_framed(self, *, streaming: bool) -> None:
        """One audio-start, chunks, one audio-stop (then synthesize-stopped), one format."""
        types = [t for t in self.types if t != "audio-chunk"]
        assert types == (["audio-start", "audio-stop"] + (["synthesize-stopped"] if streaming else [])), self.types
        first, last = self.types.index("audio-start"), self.types.index("audio-stop")
        assert all(t == "audio-chunk" for t in self.types[first + 1 : last])
        assert len(self.formats) == 1, self.formats


def transcribe(model: Any, heard: Heard) -> str:
    (rate, width, channels), = heard.formats
    pcm16k = convert(heard.pcm, AudioFormat(rate, width, channels), AudioFormat(16000, 2, 1))
    audio = to_float(pcm16k, 2, 1).reshape(-1).astype(np.float32)
    segments, _ = model.transcribe(audio, language="en", beam_size=1)
    return " ".join(s.text for s in segments)  # drained here, in the caller's thread


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def assert_heard(expected: str, transcript: str) -> None:
    want, got = words(expected), set(words(transcript))
    missing = [w for w in want if w not in got]
    assert len(missing) <= len(want) // 6, f"heard {transcript!r} for {expected!r} (missing {missing})"


async def synthesize(client: Client, text: str, voice: str | None) -> Heard:
    await client.send(Synthesize(text=text, voice=SynthesizeVoice(name=voice) if voice else None))
    return Heard(await client.recv_until("audio-stop"))


async def read_stream(client: Client) -> Heard:
    return Heard(await client.recv_until("synthesize-stopped"))


def tokens(text: str) -> list[str]:
    """Roughly how an LLM streams: words with their leading space, punctuation attached."""
    return re.findall(r"\s*\S+", text)


# -- tests ----------------------------------------------------------------------------------
async def test_describe_lists_installed_voices_and_streaming(server: Server) -> None:
    async with connected(server.port) as client:
        await client.send(Describe())
        event = await client.recv()
        assert event is not None
        (program,) = Info.from_event(event).tts
        assert program.installed and program.supports_synthesize_streaming
        names = {v.name for v in program.voices}
        expected = {v.name for v in list_voices(resolve_kokoro_voices())} | set(piper_voices())
        assert names == expected and KOKORO in names and PIPER in names
        languages = {v.name: v.languages for v in program.voices}
        assert languages[KOKORO] == ["en_US"] and languages["bf_emma"] == ["en_GB"] and languages[PIPER] == ["en_US"]
        assert all(v.installed for v in program.voices)


@pytest.mark.parametrize(
    ("voice", "rate", "text"),
    [
        (PIPER, 22050, "The quick brown fox jumps over the lazy dog. Please turn on the kitchen lights."),
        (KOKORO, 24000, "Please turn on the kitchen lights."),
    ],
)
async def test_each_engine_speaks_what_whisper_hears(
    server: Server, whisper: Any, voice: str, rate: int, text: str
) -> None:
    async with connected(server.port) as client:
        heard = await synthesize(client, text, voice)
    heard.assert_framed(streaming=False)
    assert heard.formats == {(rate, 2, 1)}
    samples = np.frombuffer(heard.pcm, "<i2").astype(np.float32) / 32768
    assert np.flatnonzero(np.abs(samples) > 10 ** (-50 / 20))[0] / rate <= 0.01  # no silence before the sound
    transcript = await asyncio.to_thread(transcribe, whisper, heard)
    assert_heard(text, transcript)


async def test_default_voice_and_language_choice(server: Server) -> None:
    async with connected(server.port) as client:
        await client.send(Synthesize(text="Hi.", voice=SynthesizeVoice(language="en_GB")))
        british = Heard(await client.recv_until("audio-stop"))
        assert british.formats == {(24000, 2, 1)} and british.seconds > 0.2
        start = len(server.log.lines)
        await client.send(Synthesize(text="Hi."))
        default = Heard(await client.recv_until("audio-stop"))
        assert default.formats == {(24000, 2, 1)}
        server.log.wait_for(f"voice={KOKORO} pieces=1", start)


async def test_token_stream_gives_audio_per_sentence_before_stop(server: Server, whisper: Any) -> None:
    sentences = [
        "The weather today is sunny and warm.",
        "Tomorrow it will rain in the afternoon.",
        "Remember to take an umbrella with you",  # no final punctuation: spoken at stop
    ]
    async with connected(server.port) as client:
        await client.send(SynthesizeStart(voice=SynthesizeVoice(name=PIPER)))
        for token in tokens(" ".join(sentences[:2])):
            await client.send(SynthesizeChunk(text=token))
        # The first sentences are complete: their audio comes while the text stream is open.
        early = [await client.recv(timeout=60)]
        assert early[0] is not None and early[0].type == "audio-start"
        chunk = await client.recv(timeout=60)
        assert chunk is not None and chunk.type == "audio-chunk"
        for token in tokens(" " + sentences[2]):
            await client.send(SynthesizeChunk(text=token))
        await client.send(Synthesize(text=" ".join(sentences)))  # the compatibility copy: ignored
        await client.send(SynthesizeStop())
        heard = Heard([early[0], chunk, *(await read_stream(client)).events])
    heard.assert_framed(streaming=True)
    assert heard.formats == {(22050, 2, 1)}
    assert heard.seconds < 14  # the whole text once, not twice
    transcript = words(await asyncio.to_thread(transcribe, whisper, heard))
    assert_heard(" ".join(sentences), " ".join(transcript))
    # In sentence order.
    order = [transcript.index(w) for w in ("sunny", "rain", "umbrella") if w in transcript]
    assert len(order) >= 2 and order == sorted(order), transcript


async def test_empty_and_unspeakable_text_give_empty_audio(server: Server) -> None:
    async with connected(server.port) as client:
        empty = await synthesize(client, "", PIPER)
        assert empty.types == ["audio-start", "audio-stop"]
        await client.send(SynthesizeStart(voice=SynthesizeVoice(name=KOKORO)))
        await client.send(SynthesizeChunk(text="🎉 **"))
        await client.send(SynthesizeStop())
        stream = await read_stream(client)
        assert stream.types == ["audio-start", "audio-stop", "synthesize-stopped"]


async def test_new_stream_cancels_the_one_in_progress(server: Server) -> None:
    long_text = " ".join(
        f"This is sentence number {n} of a long answer that nobody will hear." for n in range(1, 9)
    )
    async with connected(server.port) as client:
        start = len(server.log.lines)
        await client.send(SynthesizeStart(voice=SynthesizeVoice(name=KOKORO)))
        for token in tokens(long_text):
            await client.send(SynthesizeChunk(text=token))
        first = await client.recv_until("audio-chunk")
        assert [e.type for e in first] == ["audio-start", "audio-chunk"]
        # Barge in: a new stream before the old one has finished.
        await client.send(SynthesizeStart(voice=SynthesizeVoice(name=PIPER)))
        await client.send(SynthesizeChunk(text="Okay, stopping now."))
        await client.send(SynthesizeStop())
        old = Heard([*first, *(await read_stream(client)).events])
        new = await read_stream(client)
    old.assert_framed(streaming=True)
    new.assert_framed(streaming=True)
    assert old.formats == {(24000, 2, 1)} and new.formats == {(22050, 2, 1)}
    cancelled = server.log.wait_for(r"reply cancelled voice=af_heart synthesized=(\d+) of received=(\d+)", start)
    synthesized, received = int(cancelled.group(1)), int(cancelled.group(2))
    assert received >= 7 and synthesized < received // 2  # the rest was never synthesised


async def test_disconnect_cancels_synthesis(server: Server) -> None:
    text = " ".join(f"Item {n} is on the list of things to say." for n in range(1, 9))
    start = len(server.log.lines)
    async with connected(server.port) as client:
        await client.send(Synthesize(text=text, voice=SynthesizeVoice(name=KOKORO)))
        assert [e.type for e in await client.recv_until("audio-chunk")] == ["audio-start", "audio-chunk"]
    cancelled = server.log.wait_for(r"reply cancelled voice=af_heart synthesized=(\d+) of received=(\d+)", start)
    assert int(cancelled.group(1)) < int(cancelled.group(2)) == 9  # 8 sentences, the first cut after 6 words
    async with connected(server.port) as client:  # the server is free for the next one
        heard = await synthesize(client, "Still here.", PIPER)
        heard.assert_framed(streaming=False)


async def test_bad_input_gets_coded_errors_and_the_connection_survives(server: Server) -> None:
    async with connected(server.port) as client:
        await client.send(Synthesize(text="Hello.", voice=SynthesizeVoice(name="no_such_voice")))
        error = await client.recv()
        assert error is not None and Error.from_event(error).code == "unknown-voice"

        await client.send(SynthesizeChunk(text="orphan chunk"))
        error = await client.recv()
        assert error is not None and Error.from_event(error).code == "no-stream"
        await client.send(SynthesizeStop())
        error = await client.recv()
        assert error is not None and Error.from_event(error).code == "no-stream"

        await client.send(Synthesize(text="word " * 1000, voice=SynthesizeVoice(name=PIPER)))
        error = await client.recv()
        assert error is not None and Error.from_event(error).code == "text-too-long"

        await client.send_raw(b'{"type": "synthesize", "data": {"text": "\xff\xfe"}}\n')
        error = await client.recv()
        assert error is not None and Error.from_event(error).code == "bad-json"

        # A refused stream is still closed, its chunks dropped quietly.
        await client.send(SynthesizeStart(voice=SynthesizeVoice(name="no_such_voice")))
        await client.send(SynthesizeChunk(text="Dropped."))
        await client.send(SynthesizeStop())
        refused = await read_stream(client)
        assert refused.types == ["error", "synthesize-stopped"]
        assert Error.from_event(refused.events[0]).code == "unknown-voice"

        heard = await synthesize(client, "Still working.", PIPER)
        heard.assert_framed(streaming=False)


async def test_concurrent_clients_each_get_their_whole_reply(server: Server, whisper: Any) -> None:
    """Three replies at once, each client must hear its own text (whisper listens): replies
    swapped or mixed between connections would fail, not only missing ones."""
    texts = ["The quick brown fox jumps over the lazy dog.", "Please turn on the kitchen lights.",
             "Remember to take an umbrella with you tomorrow."]

    async def one(text: str, voice: str) -> Heard:
        async with connected(server.port) as client:
            return await synthesize(client, text, voice)

    async def stream(text: str) -> Heard:
        async with connected(server.port) as client:
            await client.send(SynthesizeStart(voice=SynthesizeVoice(name=PIPER)))
            for token in tokens(text):
                await client.send(SynthesizeChunk(text=token))
            await client.send(SynthesizeStop())
            return await read_stream(client)

    async def describe() -> Info:
        async with connected(server.port) as client:
            await client.send(Describe())
            event = await client.recv()
            assert event is not None
            return Info.from_event(event)

    results = await asyncio.gather(
        one(texts[0], PIPER), one(texts[1], KOKORO), stream(texts[2]), describe()
    )
    for index, (heard, text) in enumerate(zip(results[:3], texts, strict=True)):
        assert isinstance(heard, Heard)
        heard.assert_framed(streaming=index == 2)
        transcript = set(words(await asyncio.to_thread(transcribe, whisper, heard)))
        # Its own text, well (tiny.en on a busy box mishears a word now and then), and clearly
        # better than any other client's.
        heard_of = {other: len(set(words(other)) & transcript) / len(set(words(other))) for other in texts}
        assert heard_of[text] >= 0.6 and all(heard_of[text] > v for o, v in heard_of.items() if o != text), \
            (text, sorted(transcript), heard_of)
    assert isinstance(results[3], Info) and results[3].tts[0].supports_synthesize_streaming


async def test_failing_engine_is_retried_twice_then_errors(tmp_path: Any) -> None:
    """A voice whose model on disk is corrupt: each engine call fails, is retried 2x, then errors."""
    good = piper_voices()[PIPER]
    broken = tmp_path / "en_US-broken-medium.onnx"
    broken.write_bytes(b"not an onnx model" * 100)
    broken.with_suffix(".onnx.json").write_bytes(good.with_suffix(".onnx.json").read_bytes())
    service = await start_service(
        "wyoming_kokoro", "--provider", "piper", "--engines", "piper", "--piper-model", PIPER, "--no-warmup",
        env={"PIPER_MODEL_PATH": str(broken)},
    )
    try:
        async with connected(service.port) as client:
            await client.send(Synthesize(text="Hello there.", voice=SynthesizeVoice(name="en_US-broken-medium")))
            error = await client.recv(timeout=60)
            assert error is not None and Error.from_event(error).code == "synthesis-failed", error
            heard = await synthesize(client, "Still fine.", PIPER)  # same connection, another voice
            heard.assert_framed(streaming=False)
    finally:
        await service.stop()
    log = "\n".join(service.log)
    assert "retry 1/2 in 0.5s" in log and "retry 2/2 in 0.5s" in log and "retry 3/" not in log
