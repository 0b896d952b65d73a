"""The base class of every service's protocol handler.

Unlike ``wyoming.server.AsyncEventHandler.run`` (one event at a time, no limits), the
connection here has two halves:

* a *reader* that parses frames with size limits, answers ``describe`` and ``ping`` at
  once (Home Assistant waits ~1 s for ``info``, even while a model is busy), lets the
  subclass act on control events immediately (:meth:`preempt`, e.g. a new request
  cancelling the one in progress), and queues the rest;
* a *worker* that feeds queued events to :meth:`handle_event` in order.

The queue is bounded; when it is full the reader stops reading, so TCP back-pressure
reaches the client instead of memory growing.

End of input: a TCP/unix peer that goes away takes its work with it (cancelled at once). On
``stdio://`` the end of stdin only means the client has sent everything
(``cat request | wyoming-whisper --uri stdio://``), so the handler first works through what
is queued and lets the subclass finish its replies (:meth:`finish`), then ends.

Events of another protocol (a text-to-speech client pointed at the speech-to-text server by
mistake, an audio stream sent to the LLM server): ONE ``unknown-event`` error per such stream,
saying what this server takes (:attr:`ServiceHandler.takes`); the rest of that stream is
ignored up to its end (``audio-stop``, ``synthesize-stop``) or the next event the server serves
(a whisper session sent to the TTS server used to get 89 errors, one per event).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from wyoming.audio import AudioStop
from wyoming.error import Error
from wyoming.event import Event, async_write_event
from wyoming.info import Describe, Info
from wyoming.ping import Ping, Pong
from wyoming.server import AsyncEventHandler
from wyoming.tts import SynthesizeStop

from .error_codes import BAD_EVENT, IDLE_TIMEOUT, INTERNAL_ERROR, UNKNOWN_EVENT
from .limits import Limits
from .protocol import ProtocolError, read_frame
from .tasks import cancel_and_wait, put_unless_done

_LOGGER = logging.getLogger(__name__)
_STOP = Event(type="__stop__")
_STREAM_ENDS = (AudioStop, SynthesizeStop)  # a foreign stream is over after one of these


class ServiceHandler(AsyncEventHandler):
    """Subclass and implement :meth:`handle_event`; optionally :meth:`preempt`."""

    takes = ""  # what this server serves, said in the unknown-event error (e.g. "a text-to-speech server ...")

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        info: Callable[[], Info],
        limits: Limits | None = None,
    ) -> None:
        super().__init__(reader, writer)
        self._info = info
        self.limits = limits or Limits()
        self._queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=self.limits.queue_size)
        self._closed = False
        self.client = _peer(writer)
        # stdio://: the end of input is not the end of the client (set by the server)
        self.finish_on_eof = False
        # A stream of events this server does not serve, already answered with its one error:
        # cleared before every event (_work), set again by each of its events but the last.
        self._foreign_stream = False
        self._foreign_before = False

    # -- to implement ------------------------------------------------------------------
    async def handle_event(self, event: Event) -> bool:
        """Handle one queued event in order. Return False to close the connection.

        Call this (``super().handle_event``) for every event the subclass does not serve: one
        ``unknown-event`` error per foreign stream (see the module docstring)."""
        if not self._foreign_before:
            what = f": this is {self.takes}; the rest of this stream is ignored" if self.takes else ""
            await self.send_error(UNKNOWN_EVENT, f"unexpected event type '{event.type}'{what}")
        self._foreign_stream = not any(end.is_type(event.type) for end in _STREAM_ENDS)
        return True

    async def preempt(self, event: Event) -> None:
        """Called by the reader for every non-describe event *before* it is queued.

        Override to react at once to control events (cancel the work in progress when a
        new request arrives). Must not block.
        """

    async def finish(self) -> None:
        """``finish_on_eof`` only: the client sent everything and every queued event was
        handled; return once the replies in progress are complete (bounded by the idle
        timeout; :meth:`disconnect` follows and cancels what is left)."""

    async def disconnect(self) -> None:
        """Called once when the connection ends; cancel the connection's work here."""

    def heard(self, event: Event) -> None:
        """Called by the reader for every event read, ``describe`` and ``ping`` included (the
        client is alive). Must not block."""

    # -- helpers -----------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._closed

    async def write_event(self, event: Event) -> None:
        """Write one frame; a peer that has gone away marks the connection closed."""
        if self._closed:
            raise ConnectionResetError("connection closed")
        try:
            async with asyncio.timeout(self.limits.write_timeout):
                await async_write_event(event, self.writer)
        except TimeoutError as err:
            # The client stopped reading: drop it rather than buffer without bound.
            self._closed = True
            _LOGGER.warning("client=%s not reading; closing after %.0fs", self.client, self.limits.write_timeout)
            self.writer.transport.abort()
            raise ConnectionResetError("client stopped reading") from err
        except (ConnectionError, RuntimeError) as err:
            self._closed = True
            raise ConnectionResetError(str(err)) from err

    async def send_error(self, code: str, text: str) -> None:
        _LOGGER.info("client=%s error code=%s text=%s", self.client, code, text)
        with contextlib.suppress(ConnectionResetError):
            await self.write_event(Error(text=text, code=code).event())

    # -- the connection ----------------------------------------------------------------
    async def run(self) -> None:
        worker = asyncio.create_task(self._work(), name=f"worker {self.client}")
        try:
            await self._read(worker)
        finally:
            # Each step runs even when a cancel of this connection (the server stopping it)
            # lands in an earlier one: the subclass is told the client is gone (the satellite
            # forgets its controller) and the socket is closed. asyncio.timeout, not wait_for:
            # on Python 3.11 wait_for can swallow a cancel landing as the close completes.
            self._closed = True
            try:
                await cancel_and_wait(worker)
            finally:
                try:
                    await self.disconnect()
                finally:
                    self.writer.close()
                    with contextlib.suppress(Exception):
                        async with asyncio.timeout(1.0):
                            await self.writer.wait_closed()

    async def stop(self) -> None:
        self._closed = True
        self.writer.close()
        self.reader.feed_eof()

    async def _read(self, worker: asyncio.Task[None]) -> None:
        while not self._closed and not worker.done():
            try:
                async with asyncio.timeout(self.limits.idle_timeout):
                    event = await read_frame(self.reader, self.limits)
            except TimeoutError:
                await self.send_error(IDLE_TIMEOUT, "connection idle for too long")
                return
            except ProtocolError as err:
                await self.send_error(err.code, err.text)
                if err.fatal:
                    return
                continue
            except ConnectionError:
                return
            if event is None:
                if self.finish_on_eof:
                    await self._end_of_input(worker)
                return
            self.heard(event)
            if Describe.is_type(event.type):
                with contextlib.suppress(ConnectionResetError):
                    await self.write_event(self._info().event())
                continue
            if Ping.is_type(event.type):
                with contextlib.suppress(ConnectionResetError):
                    await self.write_event(Pong(text=Ping.from_event(event).text).event())
                continue
            await self.preempt(event)
            if not await put_unless_done(self._queue, event, worker):
                return

    async def _end_of_input(self, worker: asyncio.Task[None]) -> None:
        """End of input on stdio: handle what is queued, then let the replies complete."""
        try:
            async with asyncio.timeout(self.limits.idle_timeout):
                await put_unless_done(self._queue, _STOP, worker)
                await asyncio.wait({worker})
                if not self._closed:
                    await self.finish()
        except TimeoutError:
            _LOGGER.warning(
                "client=%s end of input: work not done after %.0fs; cancelling", self.client, self.limits.idle_timeout
            )

    async def _work(self) -> None:
        while True:
            event = await self._queue.get()
            if event is _STOP:
                return
            self._foreign_before, self._foreign_stream = self._foreign_stream, False
            try:
                keep_going = await self.handle_event(event)
            except ConnectionResetError:
                return
            except (ValueError, KeyError, TypeError, UnicodeError) as err:
                # Event fields of the wrong shape: the client's fault, answered and survived.
                await self.send_error(BAD_EVENT, f"invalid '{event.type}' event: {err}")
                continue
            except Exception:
                _LOGGER.exception("client=%s handler failed on %s", self.client, event.type)
                await self.send_error(INTERNAL_ERROR, f"internal error handling '{event.type}'")
                continue
            if not keep_going:
                self._closed = True
                self.reader.feed_eof()
                return


def _peer(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer or "local")
