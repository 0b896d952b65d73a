"""The Wyoming conversation ("handle") protocol: which events in, which out, in what order.

In: ``transcript`` (``context.conversation_id`` optional; without it the connection is the
conversation). Out, per reply: ``handled-start``, ``handled-chunk``* as the model's text
arrives, ``handled`` (the whole text, for clients that read only that), ``handled-stop``.
An empty or whitespace transcript gets a short answer without calling the model.

The reply runs in a task of its own, so the connection keeps reading: a new ``transcript``
on the same connection, or a disconnect, cancels the reply in progress, which closes the
HTTP stream to the model (llama-server stops generating). A cancelled reply sends nothing
more; what had been sent is stored in the history as what was said.

**Speculative replies** (our orchestrator's preemptive generation): a ``transcript`` with
``context.speculative: true`` is answered at once as usual, but kept out of the conversation's
history until the same text (same conversation) arrives again on the connection without the flag:
that confirms it. The confirming ``transcript`` does not restart the reply (its events were
already sent or are on their way; nothing more is sent for it). A different ``transcript`` or a
disconnect drops it: the history never holds a question the user did not finish asking.

The newest user message of a turn that may need it (:func:`needs_clock`: a time, a date, "when",
an alarm ...) starts with the real local time and date ("It is 6:05 PM, Tuesday, December 1,
2026."), so a time or date the model says is the real one (``LlamaService.now``; None: no clock).
It is there and not in the system prompt so that the prompt's start (system prompt and history)
stays the same from one minute to the next and llama-server reuses its prompt cache.

Transient model failures are retried (``retry``) only while nothing has been sent; after
that the reply ends with ``error``.

Errors (``error`` with a code, the connection stays usable): ``invalid-transcript``
(text that is not a string, or a context that is not an object), ``transcript-too-long``,
``llm-unavailable`` (llama-server down and not coming back), ``llm-connection``,
``llm-timeout``, ``llm-busy``, ``llm-auth``, ``llm-failed`` (also an error llama-server reports
inside the stream, e.g. its context filling up mid-reply), ``llm-incomplete`` (the stream ended
without its ``[DONE]``), ``llm-bad-response``; a reply that fails after its first chunk ends with
the ``error`` and never with ``handled``/``handled-stop``; events of another protocol give
one ``unknown-event`` per stream (an audio stream sent here: one error, not one per chunk) and
malformed ones ``bad-event`` (shared runtime).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from wyoming.asr import Transcript
from wyoming.event import Event
from wyoming.handle import Handled, HandledChunk, HandledStart, HandledStop
from wyoming.info import Info

from voice_runtime.clock import Clock
from voice_runtime.handler import ServiceHandler
from voice_runtime.limits import Limits
from voice_runtime.retry import LLM_RETRY, RetryPolicy, retry_async
from voice_runtime.tasks import cancel_and_wait

from .history import ChatMessage, HistoryStore
from .llm import GenerationSettings, LlmError, Provider, ReplyStats, TransientLlmError
from .prefill import Prefiller
from .spoken import SentenceBudget

_LOGGER = logging.getLogger(__name__)

# The seed's LLM retry table (3x, 1/2/4 s), for transient failures only.
LLM_TRANSIENT_RETRY = RetryPolicy(delays=LLM_RETRY.delays, retry_on=(TransientLlmError,))
EMPTY_TRANSCRIPT_REPLY = "Sorry, I didn't catch that."
EMPTY_MODEL_REPLY = "Sorry, I have no answer to that."


@dataclass
class Speculation:
    """A reply to a speculative transcript: stored in the history only once confirmed."""

    text: str
    conversation: str
    confirmed: bool = False
    said: str | None = None  # what the reply said, once it ended (stored when confirmed)
    note: str = ""  # the clock line the question was asked with (stored with it)
    cut: bool = False  # the reply ended before it was complete (cut off or failed)


@dataclass
class LlamaService:
    """What every connection shares: the provider, the histories and the settings."""

    provider: Provider
    info: Callable[[], Info]
    system_prompt: str
    settings: GenerationSettings
    context_size: int = 8192
    history: HistoryStore = field(default_factory=HistoryStore)
    retry: RetryPolicy = LLM_TRANSIENT_RETRY
    max_transcript_chars: int = 4000
    clock: Clock | None = None
    max_sentences: int = 0  # a reply is stopped after this many sentences (0: no limit)
    now: Callable[[], dt.datetime] | None = field(default=dt.datetime.now)  # the clock told to the model
    prefiller: Prefiller | None = None  # the next prompt's start evaluated after each stored reply (prefill.py)

    @property
    def prompt_budget(self) -> int:
        """Tokens the prompt may use: the context minus the room kept for the reply."""
        return max(256, self.context_size - self.settings.max_tokens - 64)


def clock_line(now: dt.datetime) -> str:
    """The local time and date of ``now`` (to the minute), as told to the model: 21 tokens, 4 fewer
    than "It is now 9:43 AM on Wednesday, December 2, 2026 (local time)." (evaluated on every
    turn), with SmolLM2-135M's time/date answers as right or better and its "(local time)" no
    longer read out (bench/llama_clock_line.py, bench/results/llama_clock_line.md)."""
    hour = now.hour % 12 or 12
    return (f"It is {hour}:{now.minute:02d} {'AM' if now.hour < 12 else 'PM'}, "
            f"{now.strftime('%A, %B')} {now.day}, {now.year}.")


# The clock line goes into a question that may need it (its ~21 tokens are most of what a turn
# evaluates before its first token, 200-300 ms on this VM: bench/llama_context_probe.py,
# bench/results/s20_llm.md): one that names a time, a date, a day, a season or a time span, asks
# "when" / "how long until" / "how old", or sets an alarm, a timer or a reminder ("how long" alone is
# a duration: needs_clock). Other questions ("How
# far away is Mars?") are asked without it; a time or date the model says anyway is checked by the
# orchestrator's claim guard against the real clock (orchestrator/honesty.py).
TIME_WORDS = frozenset("""
    time times clock o'clock hour hours minute minutes date dates day days today tonight tomorrow
    yesterday week weeks weekend weekday month months year years now current currently latest recent
    recently ago since until till when while early earlier late later soon old age born century
    decade morning afternoon evening night noon midnight am pm a.m p.m monday tuesday wednesday
    thursday friday saturday sunday january february march april may june july august september
    october november december season spring summer autumn fall winter holiday holidays christmas
    easter halloween thanksgiving birthday anniversary calendar schedule alarm alarms timer timers
    remind reminder reminders open opens close closes closed opening closing news weather forecast
    """.split())  # noqa: SIM905 (a word list)
_WORD = re.compile(r"[a-z0-9'.]+")


def needs_clock(text: str) -> bool:
    """Whether ``text`` (a question) is asked with the clock line (``TIME_WORDS``). "How long" alone is
    a duration or a length ("How long does it take to boil an egg?", "How long is the Nile?"): with the
    clock line SmolLM2-135M put the time into the duration ("To boil an egg, it takes 11:06 AM, Friday,
    ...", "... 2 hours, 30 minutes, 4 seconds" on December 4; session 24); "how long until / ago / since"
    and a named day or date still get it."""
    return any(word.strip(".") in TIME_WORDS or word in TIME_WORDS for word in _WORD.findall(text.lower()))


class LlamaHandler(ServiceHandler):
    takes = "a conversation server (it takes transcript)"

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        service: LlamaService,
        limits: Limits | None = None,
    ) -> None:
        super().__init__(reader, writer, info=service.info, limits=limits)
        self.service = service
        self._reply: asyncio.Task[None] | None = None
        self._connection_conversation = f"connection-{uuid.uuid4().hex}"
        self._speculation: Speculation | None = None

    async def preempt(self, event: Event) -> None:
        if Transcript.is_type(event.type) and not self._confirms(event):
            await cancel_and_wait(self._reply)  # a new question cuts the current answer off

    def _conversation(self, context: Any) -> str:
        given = context.get("conversation_id") if isinstance(context, dict) else None
        return str(given) if given not in (None, "") else self._connection_conversation

    def _confirms(self, event: Event) -> bool:
        """Whether ``event`` (a transcript) confirms the speculative reply in progress or done."""
        spec = self._speculation
        if spec is None or spec.confirmed:
            return False
        text, context = event.data.get("text"), event.data.get("context")
        if not isinstance(text, str) or (isinstance(context, dict) and context.get("speculative")):
            return False
        return text.strip() == spec.text and self._conversation(context) == spec.conversation

    def _confirm(self) -> None:
        spec = self._speculation
        assert spec is not None
        spec.confirmed = True
        _LOGGER.info("speculative reply confirmed conversation=%s", spec.conversation)
        if spec.said is not None:  # the reply has already ended: store it now
            self.service.history.add(spec.conversation, spec.text, spec.said, note=spec.note, cut=spec.cut)
            self._prefill_next(spec.conversation)

    def _prefill_next(self, conversation: str) -> None:
        """A reply was stored: evaluate the next prompt up to its clock line now, and again at each
        new minute while the conversation is idle (:mod:`.prefill`)."""
        service = self.service
        if service.prefiller is None:
            return

        def build() -> list[ChatMessage] | None:
            if not service.history.turns(conversation):
                return None  # expired (or forgotten): nothing of it is worth keeping warm
            note = clock_line(service.now()) if service.now else ""
            messages = service.history.build(conversation, service.system_prompt, "", service.prompt_budget, note=note)
            messages[-1] = {"role": "user", "content": note}  # no "\n\n": the next prompt matches up to the line's end
            return messages

        service.prefiller.schedule(conversation, build, refresh=service.now is not None)

    async def finish(self) -> None:
        if self._reply is not None:
            await asyncio.wait({self._reply})

    async def disconnect(self) -> None:
        await cancel_and_wait(self._reply)
        self._drop_speculation()

    def _drop_speculation(self) -> None:
        spec, self._speculation = self._speculation, None
        if spec is not None and not spec.confirmed:
            _LOGGER.info("speculative reply dropped conversation=%s (not confirmed)", spec.conversation)

    async def handle_event(self, event: Event) -> bool:
        if Transcript.is_type(event.type):
            if self._confirms(event):
                self._confirm()
                return True
            await cancel_and_wait(self._reply)
            self._drop_speculation()
            await self._transcript(Transcript.from_event(event))
            return True
        return await super().handle_event(event)

    async def _transcript(self, transcript: Transcript) -> None:
        text, context = transcript.text, transcript.context
        if not isinstance(text, str):
            await self.send_error("invalid-transcript", "transcript text must be a string")
            return
        if context is not None and not isinstance(context, dict):
            await self.send_error("invalid-transcript", "transcript context must be an object")
            return
        if len(text) > self.service.max_transcript_chars:
            await self.send_error(
                "transcript-too-long",
                f"transcript has {len(text)} characters; the limit is {self.service.max_transcript_chars}",
            )
            return
        given = (context or {}).get("conversation_id")
        conversation = self._conversation(context)
        reply_context = {"conversation_id": given} if given not in (None, "") else None
        if not text.strip():
            await self._send_whole(EMPTY_TRANSCRIPT_REPLY, reply_context)
            return
        if self.service.prefiller is not None:
            self.service.prefiller.pause(conversation)  # no clock refresh while its question is answered
        spec = Speculation(text.strip(), conversation) if (context or {}).get("speculative") is True else None
        self._speculation = spec
        self._reply = asyncio.create_task(
            self._answer(text.strip(), conversation, reply_context, spec), name=f"reply {self.client}"
        )

    async def _answer(self, text: str, conversation: str, reply_context: dict[str, Any] | None,
                      spec: Speculation | None = None) -> None:
        service = self.service
        note = clock_line(service.now()) if service.now and needs_clock(text) else ""
        messages = service.history.build(conversation, service.system_prompt, text, service.prompt_budget, note=note)
        if spec is not None:
            spec.note = note
        said: list[str] = []
        stats = ReplyStats()
        started = time.monotonic()
        first_chunk: float | None = None

        async def attempt() -> None:
            nonlocal stats, first_chunk
            stats = ReplyStats()
            budget = SentenceBudget(service.max_sentences)
            stream = service.provider.stream(messages, service.settings, stats, conversation=conversation)
            try:
                async for generated in stream:
                    piece = budget.take(generated)
                    if piece:
                        if not said:
                            first_chunk = time.monotonic()
                            await self.write_event(HandledStart(context=reply_context).event())
                        said.append(piece)
                        await self.write_event(HandledChunk(text=piece).event())
                    if budget.done:
                        _LOGGER.debug("reply stopped after %d sentences", budget.sentences)
                        break
            finally:
                close = getattr(stream, "aclose", None)
                if close is not None:
                    await close()  # closes the HTTP stream: generation stops

        completed = False
        try:
            await retry_async(attempt, service.retry, may_retry=lambda: not said, clock=service.clock, what="llm")
            completed = True
        except LlmError as err:
            _LOGGER.warning("reply failed conversation=%s code=%s chunks_sent=%d: %s",
                            conversation, err.code, len(said), err.text)
            await self.send_error(err.code, err.text)
            return
        except ConnectionResetError:
            return
        except Exception:
            _LOGGER.exception("reply failed conversation=%s", conversation)
            await self.send_error("internal-error", "internal error while answering")
            return
        finally:
            if said and spec is not None and not spec.confirmed:
                spec.said, spec.cut = "".join(said), not completed  # stored if the transcript is confirmed later
            elif said:  # completed, cut off or failed mid-way: store what was actually said
                service.history.add(conversation, text, "".join(said), note=note, cut=not completed)
                self._prefill_next(conversation)
            if not completed and said:
                _LOGGER.info("reply cut off conversation=%s chunks_sent=%d", conversation, len(said))
        reply = "".join(said)
        _LOGGER.info(
            "reply conversation=%s chunks=%d prompt_tokens=%s cached=%s prompt_eval_ms=%s completion_tokens=%s "
            "first_chunk_ms=%s total_ms=%d",
            conversation, stats.chunks, stats.prompt_tokens, stats.cached_tokens,
            f"{stats.prompt_ms:.0f}" if stats.prompt_ms is not None else "-", stats.completion_tokens,
            f"{(first_chunk - started) * 1000:.0f}" if first_chunk else "-", (time.monotonic() - started) * 1000,
        )
        try:
            if not reply.strip():  # the model said nothing useful: say so, chunks still join to the text
                if not said:
                    await self.write_event(HandledStart(context=reply_context).event())
                await self.write_event(HandledChunk(text=EMPTY_MODEL_REPLY).event())
                reply += EMPTY_MODEL_REPLY
            await self.write_event(Handled(text=reply, context=reply_context).event())
            await self.write_event(HandledStop().event())
        except ConnectionResetError:
            return

    async def _send_whole(self, text: str, reply_context: dict[str, Any] | None) -> None:
        """A reply not produced by the model, in the same event sequence."""
        await self.write_event(HandledStart(context=reply_context).event())
        await self.write_event(HandledChunk(text=text).event())
        await self.write_event(Handled(text=text, context=reply_context).event())
        await self.write_event(HandledStop().event())
