"""The Wyoming text-to-speech protocol: which events in, which out, in what order.

* ``synthesize`` (outside a stream): ``audio-start``, ``audio-chunk``*, ``audio-stop``,
  sentence by sentence. A ``synthesize`` inside a stream is the compatibility copy of the
  whole text and is ignored.
* ``synthesize-start``, ``synthesize-chunk``*, ``synthesize``, ``synthesize-stop``: audio
  per piece as soon as it is complete, one ``audio-start``/``audio-stop`` around the whole
  stream, then ``synthesize-stopped``. Every accepted ``synthesize-start`` gets exactly
  one ``synthesize-stopped``.
* A new ``synthesize-start`` stops the reply in progress at once (from the reader, before
  it waits in the queue); a disconnect cancels it, and the engine call in flight is interrupted
  (the engine is free for the next client at once, :class:`~.synthesizer.Synthesizer`). A
  cancelled stream is still closed
  (``audio-stop`` if audio was sent, ``synthesize-stopped``) before the new one starts,
  and its leftover chunks are dropped.
* A ``synthesize`` whose context has ``hearth_cache_pin`` (a slot name, :mod:`voice_runtime.cache_pin`):
  its audio is kept in that cache slot, outside the LRU (:class:`~.synthesizer.AudioCache`), and it
  waits at the engine behind other replies (``pipeline.PIN_DEFER``): the orchestrator's warm-up of the clock's answer.
* Errors (``error`` with a code; the connection stays usable): ``unknown-voice``,
  ``no-stream`` (chunk or stop without a start), ``text-too-long``, ``synthesis-failed``.
* Events of another protocol (a speech-to-text client pointed here by mistake): ONE
  ``unknown-event`` error per stream that says what this server takes (the shared
  :class:`voice_runtime.handler.ServiceHandler` rule).
"""

from __future__ import annotations

import asyncio
import logging

from wyoming.event import Event
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
    SynthesizeVoice,
)

from voice_runtime.cache_pin import pin_slot
from voice_runtime.handler import ServiceHandler
from voice_runtime.limits import Limits

from .engine import Voice
from .pipeline import Reply
from .service import TtsService

_LOGGER = logging.getLogger(__name__)


class TtsHandler(ServiceHandler):
    takes = "a text-to-speech server (it takes synthesize, or synthesize-start, -chunk, -stop)"

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        service: TtsService,
        limits: Limits | None = None,
    ) -> None:
        super().__init__(reader, writer, info=service.info, limits=limits)
        self.service = service
        self._reply: Reply | None = None
        # A stream whose start was refused (bad voice): its chunks are dropped quietly and
        # its stop still answered with synthesize-stopped.
        self._refused_stream = False

    # -- control, from the reader ---------------------------------------------------------
    async def preempt(self, event: Event) -> None:
        if SynthesizeStart.is_type(event.type) and self._reply is not None and not self._reply.task.done():
            _LOGGER.info("client=%s new stream: stopping the reply in progress", self.client)
            self._reply.cancel()

    async def finish(self) -> None:
        reply = self._reply
        if reply is not None and not reply.accepting:  # (a stream never stopped is cut off)
            await reply.wait()

    async def disconnect(self) -> None:
        reply, self._reply = self._reply, None
        if reply is not None:
            await reply.abort(close_framing=False)

    # -- events, in order -----------------------------------------------------------------
    async def handle_event(self, event: Event) -> bool:
        if SynthesizeStart.is_type(event.type):
            await self._start_stream(SynthesizeStart.from_event(event))
        elif SynthesizeChunk.is_type(event.type):
            await self._stream_chunk(SynthesizeChunk.from_event(event).text)
        elif SynthesizeStop.is_type(event.type):
            await self._stop_stream()
        elif Synthesize.is_type(event.type):
            await self._synthesize(Synthesize.from_event(event))
        else:
            return await super().handle_event(event)  # one error per foreign stream
        return True

    async def _synthesize(self, request: Synthesize) -> None:
        reply = self._reply
        if self._refused_stream or (reply is not None and reply.streaming and (reply.accepting or reply.cancelled)):
            if reply is not None:
                reply.mark("synthesize received: the stream's copy, ignored")
            return  # the compatibility copy of a stream's text
        if not await self._text_ok(request.text):
            return
        await self._retire()
        reply = await self._new_reply(request.voice, streaming=False, pin=pin_slot(request.context))
        if reply is None:
            return
        reply.mark("synthesize received")  # (--debug: each reply's timeline, see .pipeline)
        await reply.feed(request.text)
        await reply.finish()

    async def _start_stream(self, request: SynthesizeStart) -> None:
        await self._retire()
        self._refused_stream = False
        if (reply := await self._new_reply(request.voice, streaming=True)) is None:
            self._refused_stream = True
        else:
            reply.mark("synthesize-start received")

    async def _stream_chunk(self, text: str) -> None:
        reply = self._reply
        if self._refused_stream or (reply is not None and reply.streaming and reply.cancelled):
            return
        if reply is None or not reply.streaming or not reply.accepting:
            await self.send_error("no-stream", "synthesize-chunk outside a synthesize-start ... synthesize-stop stream")
            return
        if await self._text_ok(text):
            reply.mark("synthesize-chunk received")
            await reply.feed(text)

    async def _stop_stream(self) -> None:
        reply = self._reply
        if self._refused_stream:
            self._refused_stream = False
            await self.write_event(SynthesizeStopped().event())
            return
        if reply is not None and reply.streaming and reply.cancelled:
            return
        if reply is None or not reply.streaming or not reply.accepting:
            await self.send_error("no-stream", "synthesize-stop without a synthesize-start")
            return
        reply.mark("synthesize-stop received")
        await reply.finish()

    # -- helpers ---------------------------------------------------------------------------
    async def _text_ok(self, text: str) -> bool:
        limit = self.service.max_text_chars
        if len(text) <= limit:
            return True
        await self.send_error("text-too-long", f"text of {len(text)} characters exceeds the limit of {limit}")
        return False

    async def _retire(self) -> None:
        """Let the previous reply end: finish in its own time, or close it if it was cancelled."""
        reply, self._reply = self._reply, None
        if reply is None:
            return
        if reply.cancelled:
            await reply.abort(close_framing=True)
        else:
            await reply.finish()
            await reply.wait()

    async def _new_reply(self, requested: SynthesizeVoice | None, *, streaming: bool,
                         pin: str | None = None) -> Reply | None:
        name = requested.name if requested else None
        language = requested.language if requested else None
        try:
            voice: Voice = self.service.voices.resolve(name, language)
        except KeyError:
            await self.send_error("unknown-voice", f"no voice {name or language!r} is installed")
            return None
        speaker = requested.speaker if requested else None
        if speaker is not None and voice.speakers and speaker not in voice.speakers and not speaker.isdigit():
            await self.send_error("unknown-voice", f"voice {voice.name!r} has no speaker {speaker!r}")
            return None
        self._reply = Reply(
            self.service.synthesizers[voice.provider], voice, speaker if voice.speakers else None,
            streaming=streaming, write=self.write_event, send_error=self.send_error,
            options=self.service.options, client=self.client, pin=pin,
        )
        return self._reply
