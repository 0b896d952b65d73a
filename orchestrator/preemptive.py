"""Preemptive replies: the reply to a question is prepared while its end-of-turn silence runs.

Our whisper server sends a ``transcript-speculative`` (:mod:`voice_runtime.speculative`) as soon
as the speech, followed by ~0.1 s of silence, decodes to a finished request: if no more speech
comes, that text is the final transcript. The turn then starts the LLM and the TTS on it at
once, into a :class:`HeldOutput` that sends nothing. When the final transcript arrives:

* the same text (a **hit**): the held audio goes to the satellite at once and the rest of the
  reply follows as it streams; the LLM service is told the question was real (it keeps the
  speculative exchange out of the conversation's history until then);
* another text (a **miss**: the user went on after the pause): the prepared reply is cancelled
  (its LLM and TTS connections closed, nothing was sent) and the turn goes on as usual.

Only LLM replies are prepared. A transcript that is a command (the intent recogniser's pure
``recognize`` finds one) is never acted on, nor answered, before the end of the turn: home
commands and timers happen after it, as always. With an external Wyoming intent service
(``--intent``) nothing is prepared (it cannot be asked without the risk of acting).

:class:`Speculation` is the pure state table, :class:`Preemptor` drives it for one turn and
:class:`PreparedReply` runs the turn's own stages (:class:`~.llm_stream.LlmStream`,
:class:`~.tts_forwarder.TtsForwarder`) into a :class:`HeldOutput`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, Protocol, TypeVar

from wyoming.audio import AudioChunk
from wyoming.event import Event
from wyoming.tts import Synthesize

from voice_runtime.latency import TurnTimer
from voice_runtime.tasks import TaskSet, cancel_and_wait, run_together

from .llm_stream import LlmStream
from .tts_forwarder import TtsForwarder
from .turn import TurnOutput, TurnResult

_LOGGER = logging.getLogger(__name__)


class SpecPhase(StrEnum):
    IDLE = "idle"  # nothing prepared
    PREPARING = "preparing"  # a reply to ``text`` is being prepared (held)
    HIT = "hit"  # the final transcript is ``text``: the prepared reply is the answer
    MISS = "miss"  # the final transcript differs: the prepared reply was dropped


class SpecCue(StrEnum):
    USABLE = "usable"  # a speculative transcript an LLM reply can be prepared for
    UNUSABLE = "unusable"  # a speculative transcript that is a command (or empty)
    FINAL_SAME = "final-same"  # the final transcript equals the prepared text
    FINAL_OTHER = "final-other"  # the final transcript differs (or nothing was prepared)


class SpecAction(StrEnum):
    START = "start"  # start preparing a reply to the new text
    RESTART = "restart"  # drop the prepared reply, prepare one to the new text
    CANCEL = "cancel"  # drop the prepared reply
    USE = "use"  # release the prepared reply: it is the answer
    NONE = "none"


# (phase, cue) -> (next phase, action); pairs not listed change nothing.
TABLE: dict[tuple[SpecPhase, SpecCue], tuple[SpecPhase, SpecAction]] = {
    (SpecPhase.IDLE, SpecCue.USABLE): (SpecPhase.PREPARING, SpecAction.START),
    (SpecPhase.PREPARING, SpecCue.USABLE): (SpecPhase.PREPARING, SpecAction.RESTART),
    (SpecPhase.PREPARING, SpecCue.UNUSABLE): (SpecPhase.IDLE, SpecAction.CANCEL),
    (SpecPhase.PREPARING, SpecCue.FINAL_SAME): (SpecPhase.HIT, SpecAction.USE),
    (SpecPhase.PREPARING, SpecCue.FINAL_OTHER): (SpecPhase.MISS, SpecAction.CANCEL),
}


@dataclass
class Speculation:
    """What one turn prepared, from the speculative transcripts and the final one."""

    enabled: bool = True
    phase: SpecPhase = SpecPhase.IDLE
    text: str | None = None
    history: list[tuple[SpecPhase, SpecCue, SpecAction]] = field(default_factory=list)

    def speculative(self, text: str, commands: Sequence[object]) -> SpecAction:
        """A speculative transcript arrived; ``commands``: what the intent recogniser found in it
        (anything found: a command, so nothing is prepared)."""
        text = text.strip()
        if self.phase is SpecPhase.PREPARING and text == self.text:
            return SpecAction.NONE  # the same text again: keep what is being prepared
        cue = SpecCue.USABLE if self.enabled and text and not commands else SpecCue.UNUSABLE
        return self._fire(cue, text if cue is SpecCue.USABLE else None)

    def final(self, text: str) -> SpecAction:
        """The final transcript arrived."""
        same = self.phase is SpecPhase.PREPARING and text.strip() == self.text
        return self._fire(SpecCue.FINAL_SAME if same else SpecCue.FINAL_OTHER, self.text)

    def _fire(self, cue: SpecCue, text: str | None) -> SpecAction:
        target = TABLE.get((self.phase, cue))
        if target is None:
            return SpecAction.NONE
        before = self.phase
        self.phase, action = target
        if action in (SpecAction.START, SpecAction.RESTART):
            self.text = text
        elif action is SpecAction.CANCEL:
            self.text = None if self.phase is SpecPhase.IDLE else self.text
        self.history.append((before, cue, action))
        return action


class HeldOverflow(Exception):
    """A prepared reply grew past what :class:`HeldOutput` keeps: it is given up."""


class HeldOutput:
    """A turn output that keeps events until :meth:`release` (then passes them on), bounded:
    past ``max_events`` it raises :class:`HeldOverflow` (the prepared reply is dropped)."""

    def __init__(self, max_events: int = 4000) -> None:
        self.max_events = max_events
        self._held: deque[Event] = deque()
        self._out: TurnOutput | None = None
        self._lock = asyncio.Lock()
        self._on_audio: Callable[[], object] | None = None
        self.audio_chunks = 0

    @property
    def held(self) -> int:
        return len(self._held)

    async def event(self, event: Event) -> None:
        async with self._lock:
            if AudioChunk.is_type(event.type):
                self.audio_chunks += 1
            if self._out is not None:
                await self._send(self._out, event)
                return
            if len(self._held) >= self.max_events:
                raise HeldOverflow(f"more than {self.max_events} events held")
            self._held.append(event)

    async def release(self, out: TurnOutput, on_audio: Callable[[], object] | None = None) -> int:
        """Send what is held to ``out``, then pass everything on; returns how many were held.
        ``on_audio`` is called once, when the first audio chunk has gone to ``out``."""
        async with self._lock:
            self._on_audio = on_audio
            count = len(self._held)
            while self._held:
                await self._send(out, self._held.popleft())
            self._out = out
            return count

    async def _send(self, out: TurnOutput, event: Event) -> None:
        await out.event(event)
        if self._on_audio is not None and AudioChunk.is_type(event.type):
            on_audio, self._on_audio = self._on_audio, None
            on_audio()


class Prepared(Protocol):
    """A reply being prepared (the turn's runner): dropped on a miss."""

    text: str

    async def drop(self) -> None: ...


P = TypeVar("P", bound=Prepared)


class Preemptor(Generic[P]):
    """Drives one turn's :class:`Speculation`: speculative transcripts in (from the ASR reader, in
    order), at most one prepared reply at a time, and at the final transcript the prepared reply
    to use, or none. ``recognize`` is the intent recogniser's pure ``recognize`` (run in a thread
    by the caller's function); ``prepare`` starts preparing a reply to a text."""

    def __init__(self, recognize: Callable[[str], Awaitable[Sequence[object]]],
                 prepare: Callable[[str], P], *, enabled: bool = True) -> None:
        self.spec = Speculation(enabled=enabled)
        self._recognize = recognize
        self._prepare = prepare
        self._pending: deque[str] = deque(maxlen=4)  # speculative texts not decided yet (newest kept)
        self._tasks = TaskSet()
        self._deciding: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()
        self.prepared: P | None = None

    def speculative(self, text: str) -> None:
        """A speculative transcript arrived (called from the reader: returns at once)."""
        if self.spec.enabled:
            self._pending.append(text)
            task = self._tasks.spawn(self._decide(), name="preemptive decision")
            self._deciding.add(task)
            task.add_done_callback(self._deciding.discard)

    async def _decide(self) -> None:
        async with self._lock:  # one decision at a time, in arrival order
            if not self._pending:
                return
            text = self._pending.popleft()
            commands = await self._recognize(text)
            action = self.spec.speculative(text, commands)
            if action in (SpecAction.RESTART, SpecAction.CANCEL):
                await self._drop()
            if action in (SpecAction.START, SpecAction.RESTART):
                self.prepared = self._prepare(text)

    async def final(self, text: str) -> P | None:
        """The final transcript: the prepared reply to use (a hit), else None (anything prepared
        is dropped). Speculative transcripts still being decided are decided first."""
        if self._deciding:
            await asyncio.wait(list(self._deciding))
        async with self._lock:
            action = self.spec.final(text)
            if action is SpecAction.USE and self.prepared is not None:
                prepared, self.prepared = self.prepared, None
                return prepared
            await self._drop()
            return None

    async def close(self) -> None:
        await self._tasks.close()
        await self._drop()

    async def _drop(self) -> None:
        prepared, self.prepared = self.prepared, None
        if prepared is not None:
            await prepared.drop()


class PreparedReply:
    """An LLM reply, text and audio, prepared for a speculative transcript into a :class:`HeldOutput`,
    with a timer and a result of its own. The LLM service is asked with ``context.speculative``
    and, on a hit, asked the same question again without it, which makes it keep the exchange in
    the conversation's history (it does not answer twice). :meth:`drop` closes the connections,
    which stops the LLM and the TTS; the service then forgets the exchange."""

    def __init__(self, text: str, conversation_id: str, *, llm: LlmStream,
                 tts: Callable[[TurnOutput], TtsForwarder], timer: TurnTimer, result: TurnResult) -> None:
        self.text = text
        self.conversation_id = conversation_id
        self.timer = timer
        self.result = result
        self.held = HeldOutput()
        self._llm = llm
        self._tts = tts(self.held)
        self._confirmed = asyncio.Event()
        self._tasks = TaskSet()
        self.task = self._tasks.spawn(self._run(), name="prepared reply")
        _LOGGER.info("preparing a reply to %r", text)

    async def _run(self) -> None:
        async with self._llm as llm:
            await llm.ask(self.text, self.conversation_id, speculative=True)

            async def confirm() -> None:
                await self._confirmed.wait()
                await llm.ask(self.text, self.conversation_id)  # the question was real: keep it

            await run_together(llm.read(), self._tts.speak_stream(llm.deltas), confirm())
        if self.result.reply:
            await self.held.event(Synthesize(text=self.result.reply, voice=self._tts.voice()).event())

    async def use(self, out: TurnOutput, on_audio: Callable[[], object]) -> None:
        """The hit: what is ready goes to ``out`` now, the rest as it comes; returns at the end."""
        self._confirmed.set()
        await self.held.release(out, on_audio)
        await self.task

    async def drop(self) -> None:
        if not self.task.done():
            _LOGGER.info("prepared reply to %r dropped", self.text)
        await cancel_and_wait(self.task)
