"""The conversation stage of one turn: the transcript to the LLM service, its reply read as it
streams (``handled-chunk``s), checked clause by clause by the :class:`ClaimGuard` and handed on
as text deltas (the TTS stage reads them from :attr:`LlmStream.deltas`)."""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType

from wyoming.asr import Transcript
from wyoming.error import Error
from wyoming.handle import Handled, HandledChunk, NotHandled

from voice_runtime.latency import TurnTimer

from .honesty import ClaimGuard
from .readiness import acquire_ready
from .services import Connection, ServicePool
from .streams import TurnError
from .turn import PipelineConfig, TurnResult

# Checked pieces of the reply waiting for the TTS stage (a piece is a clause or more): a reply
# read faster than it is spoken waits here; when full, the reader stops reading the LLM service
# (back-pressure: its words wait in the socket) until the TTS stage takes one.
DELTAS_MAX = 64


class LlmStream:
    """One request to the conversation service. Use as ``async with``: the connection is taken
    on entry (ServiceUnavailable if no replica answers) and closed on exit, and a replica that
    failed (OSError, TimeoutError) is marked down.

    ``deltas`` gets the checked reply text as it comes, then ``None`` when the reply has ended
    (or the stream failed): a consumer reads until ``None``. It holds at most ``DELTAS_MAX``
    pieces; when full, :meth:`read` waits for the consumer (back-pressure).
    """

    def __init__(self, pool: ServicePool, config: PipelineConfig, timer: TurnTimer, result: TurnResult,
                 guard: ClaimGuard) -> None:
        self.pool = pool
        self.config = config
        self.timer = timer
        self.result = result
        self.guard = guard
        self.deltas: asyncio.Queue[str | None] = asyncio.Queue(maxsize=DELTAS_MAX)
        self._conn: Connection | None = None

    async def __aenter__(self) -> LlmStream:
        self._conn = await acquire_ready(self.pool)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        assert self._conn is not None
        if isinstance(exc, (OSError, TimeoutError)):
            self.pool.mark_failed(self._conn.uri)
        await self._conn.close()

    async def ask(self, transcript: str, conversation_id: str, *, speculative: bool = False) -> None:
        """``speculative``: a prepared reply (:mod:`.preemptive`); the service keeps it out of the
        history until the same transcript is asked again without the flag."""
        assert self._conn is not None
        context: dict[str, object] = {"conversation_id": conversation_id}
        if speculative:
            context["speculative"] = True
        await self._conn.send(Transcript(text=transcript, context=context, language=self.config.language).event())

    async def read(self) -> str:
        """Read the reply to its end; returns it as spoken (an action claim replaced), also
        stored in ``result.reply`` as soon as it is known."""
        assert self._conn is not None
        parts: list[str] = []
        cancelled = False
        try:
            while True:
                event = await self._conn.recv(self.config.handle_timeout)
                if HandledChunk.is_type(event.type):
                    text = HandledChunk.from_event(event).text
                    if text:
                        self.timer.mark("first_token")
                        parts.append(text)
                        if checked := self.guard.feed(text):
                            await self.deltas.put(checked)
                elif Handled.is_type(event.type) or NotHandled.is_type(event.type):
                    final = (Handled.from_event(event) if Handled.is_type(event.type)
                             else NotHandled.from_event(event)).text or ""
                    self.timer.mark("first_token")
                    streamed = "".join(parts)
                    rest = final if not streamed else (
                        final[len(streamed):] if final.startswith(streamed) else "")
                    if checked := self.guard.feed(rest) + self.guard.flush():
                        await self.deltas.put(checked)
                    self.result.reply = self.guard.text  # as spoken: an action claim is replaced
                    self.timer.mark("reply_done")
                    return self.result.reply
                elif Error.is_type(event.type):
                    err = Error.from_event(event)
                    raise TurnError(err.code or "llm-failed", f"conversation: {err.text}")
        except asyncio.CancelledError:
            cancelled = True
            raise
        finally:
            if cancelled:  # the consumer is being cancelled with us (run_together): never wait for it
                with contextlib.suppress(asyncio.QueueFull):
                    self.deltas.put_nowait(None)
            else:
                await self.deltas.put(None)
