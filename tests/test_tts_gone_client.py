"""A text-to-speech client that goes away mid-reply frees the engine for the next client at once.

The server runs in-process (real sockets, the real Kokoro and Piper models) so the engine calls
can be watched: each engine is wrapped in :class:`Watched`, which only records when each call
starts and how it ends. An engine call cannot be pre-empted from outside its thread, so before
session 24 the gone client's call in flight ran to its end (seconds of Kokoro on 2 busy cores)
while the next client's first words waited behind it at the engine's one-at-a-time gate.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator, Iterator, Sequence

import pytest
from helpers import connected
from wyoming.info import Info
from wyoming.tts import Synthesize, SynthesizeVoice

from voice_runtime.models import resolve_kokoro_model, resolve_kokoro_voices, resolve_piper
from voice_runtime.server import ServerConfig, WyomingServer
from wyoming_kokoro.engine import Engine, EngineError, Samples, Voice, VoiceTable
from wyoming_kokoro.handler import TtsHandler
from wyoming_kokoro.kokoro_engine import KokoroEngine
from wyoming_kokoro.pipeline import ReplyOptions
from wyoming_kokoro.piper_engine import PiperEngine
from wyoming_kokoro.service import TtsService
from wyoming_kokoro.synthesizer import Synthesizer

PIPER = "en_US-joe-medium"
KOKORO = "af_heart"
# The gone client's reply: a short first piece, then one long sentence (one piece, one engine call
# of its own: it is in flight when the first audio reaches the client). Piper takes seconds for it,
# Kokoro tens of seconds on this box.
LONG = ("Well, " + "the list of things to say goes on and on through the morning and the afternoon "
        "and the evening without a single pause for breath or a moment to think about anything else "
        "at all while the kettle boils and the rain keeps falling on the roof of the old house by the sea")


class Watched:
    """A real engine, with a record of its calls: ("start"|"done"|"failed", text) in order."""

    def __init__(self, inner: Engine) -> None:
        self.inner = inner
        self.provider = inner.provider
        self.sample_rate = inner.sample_rate
        self.calls: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def voices(self) -> Sequence[Voice]:
        return self.inner.voices()

    def interrupt(self, stop: bool) -> None:
        self.inner.interrupt(stop)

    def synthesize(self, text: str, voice: str, speaker: str | None = None) -> Iterator[Samples]:
        self._note("start", text)
        try:
            yield from self.inner.synthesize(text, voice, speaker)
        except EngineError:
            self._note("failed", text)
            raise
        self._note("done", text)

    def _note(self, what: str, text: str) -> None:
        with self._lock:
            self.calls.append((what, text))


@contextlib.asynccontextmanager
async def tts_server(engine: Watched, voice: str) -> AsyncIterator[int]:
    service = TtsService(voices=VoiceTable({engine.provider: engine}, voice),
                         synthesizers={engine.provider: Synthesizer(engine)}, options=ReplyOptions(), info=Info)
    server = WyomingServer(ServerConfig(uri="tcp://127.0.0.1:0"), lambda r, w: TtsHandler(r, w, service=service))
    await server.start()
    try:
        yield server.port or 0
    finally:
        await server.stop()


def real_engine(provider: str) -> Engine:
    if provider == "kokoro":
        return KokoroEngine(resolve_kokoro_model(), resolve_kokoro_voices())
    return PiperEngine({PIPER: resolve_piper()})


@pytest.mark.parametrize(("provider", "voice"), [("piper", PIPER), ("kokoro", KOKORO)])
async def test_a_gone_client_frees_the_engine_for_the_next_one(provider: str, voice: str) -> None:
    engine = Watched(real_engine(provider))
    async with tts_server(engine, voice) as port:
        async with connected(port) as gone:
            await gone.send(Synthesize(text=LONG, voice=SynthesizeVoice(name=voice)))
            assert [e.type for e in await gone.recv_until("audio-chunk")] == ["audio-start", "audio-chunk"]
        async with connected(port) as next_client:  # the gone client's long sentence is in flight
            await next_client.send(Synthesize(text="Still here.", voice=SynthesizeVoice(name=voice)))
            types = [e.type for e in await next_client.recv_until("audio-stop")]
            assert types[0] == "audio-start" and "audio-chunk" in types
    sentence = LONG[len("Well, "):] + "."  # (the engine is given it with a full stop)
    # The long sentence's call was stopped when its client went (not run to its end; or not begun,
    # if the client was quicker than the engine's thread), and the next client's call ran after it
    # had ended: the gate passed on once the engine was free.
    stopped = [("start", sentence), ("failed", sentence)]
    assert [c for c in engine.calls if c[1] == sentence] in (stopped, []), engine.calls[2:]
    assert engine.calls == [("start", "Well,"), ("done", "Well,"), *(c for c in engine.calls if c[1] == sentence),
                            ("start", "Still here."), ("done", "Still here.")]
