"""One turn as :class:`orchestrator.satellite_link.SatelliteLink` holds it: the satellite's audio
queued for the pipeline (bounded; the oldest chunk dropped when a stalled pipeline lets it fill),
the question's audio kept for a continuation (:mod:`orchestrator.continuation`), and the turn's
output to the satellite, gated so that nothing more of a cancelled turn goes out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from wyoming.asr import Transcript
from wyoming.audio import AudioChunk
from wyoming.error import Error
from wyoming.event import Event
from wyoming.pipeline import RunPipeline
from wyoming.tts import Synthesize

from voice_runtime.clock import Clock
from voice_runtime.error_codes import NO_SPEECH
from voice_runtime.tasks import cancel_and_wait, race

from .continuation import ContinuationPolicy, HeardAudio, TurnTrack, adds_nothing, transcript_words
from .pipeline import Pipeline
from .services import Connection
from .streams import TurnError
from .turn import TurnOutput, TurnResult

_LOGGER = logging.getLogger("orchestrator.satellite_link")
AUDIO_QUEUE_CHUNKS = 3000  # ~60 s of 20 ms chunks; when full the oldest chunk is dropped
# Seconds new speech waits for a command still running in the turn before (home: HA's 3 s timeout
# and the 2 s wait for the device's state); past it the command is cancelled, as a barge-in would.
COMMAND_WAIT = 10.0


class LinkOut:
    """A turn's output to the satellite, gated: once a barge-in cancels the turn, nothing more
    of it goes out, even from stream tasks that have not yet seen their cancellation."""

    def __init__(self, conn: Connection, turn: LinkTurn, clock: Clock) -> None:
        self.conn = conn
        self.turn = turn
        self.clock = clock

    async def event(self, event: Event) -> None:
        if self.turn.result.reply:  # anything sent after the reply is known: its command (if any) is over
            self.turn.settled.set()
        if self.turn.cancel_requested:
            if AudioChunk.is_type(event.type):
                self.turn.suppressed_chunks += 1
            return
        await self.conn.send(event)
        seconds = 0.0
        if AudioChunk.is_type(event.type):
            chunk = AudioChunk.from_event(event)
            seconds = len(chunk.audio) / max(1, chunk.rate * chunk.width * chunk.channels)
        self.turn.track.sent(event.type, self.clock.now(), seconds)


class LinkTurn:
    def __init__(
        self,
        number: int,
        stage: RunPipeline,
        policy: ContinuationPolicy | None = None,
        prefix: HeardAudio | None = None,
    ) -> None:
        policy = policy or ContinuationPolicy()
        self.number = number
        self.stage = stage
        self.audio: asyncio.Queue[AudioChunk | None] = asyncio.Queue(maxsize=AUDIO_QUEUE_CHUNKS)
        self.track = TurnTrack(policy)
        # The audio of the question (with the earlier part of a continued one), kept for a continuation.
        self.heard = HeardAudio(max_seconds=policy.max_audio_seconds, max_gap=policy.max_gap_seconds, prefix=prefix)
        for piece in self.heard.pieces():
            self.audio.put_nowait(piece)
        self.task: asyncio.Task[TurnResult] | None = None
        self.result = TurnResult()
        self.dropped = 0
        self.cancel_requested = False
        self.suppressed_chunks = 0
        self.recorded = False  # in the link's turn records (once, by the task or by its cancel)
        self.after_acting: str | None = None  # the reply of the acted-on request this speech went on from
        # The acting turn whose command was still running when this speech came: waited for, then its
        # reply is ``after_acting`` (never heard: ``unheard``); see :func:`await_command`.
        self.command: LinkTurn | None = None
        self.unheard = False
        self.first_text = ""  # a continued question: the transcript of its first part (ContinuedOutput)
        # Set once this turn's command (if any) is over: its reply is known, or the turn has ended.
        self.settled = asyncio.Event()

    def put(self, item: AudioChunk | None) -> None:
        if item is not None and (item := self.heard.add(item)) is None:
            return  # already held: the pre-roll of a continuation repeating the first part
        if self.audio.full():
            self.audio.get_nowait()  # drop the oldest: the policy for a stalled pipeline
            self.dropped += 1
        self.audio.put_nowait(item)

    async def chunks(self) -> AsyncIterator[AudioChunk]:
        while (item := await self.audio.get()) is not None:
            yield item


def checked_chunk(chunk: AudioChunk) -> AudioChunk:
    """``chunk`` if its format can be used; ValueError (answered with ``bad-event``) if not."""
    fmt = (chunk.rate, chunk.width, chunk.channels)
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in fmt) or chunk.width > 4:
        raise ValueError(f"bad audio format {fmt!r}")
    if not isinstance(chunk.audio, bytes):
        raise ValueError("audio-chunk without a payload")
    return chunk


class _Discard:
    async def event(self, event: Event) -> None:
        pass


class ContinuedOutput:
    """The output of a continued question (its first part's audio re-sent, then the new speech):
    when the merged stream's transcript has no word more than the first part's, the speech-to-text
    VAD missed the new speech the satellite heard (room, session 19, held-54 "... the front door
    ... please" in noise: Silero scored "please" under its threshold in the merged stream, so the
    final was the first part's decode again and "please" was dropped; the same audio on its own
    reads "Please."). The new part is then transcribed on its own and its words are added. The
    pipeline answers ``result.transcript`` as it stands once the satellite has been told the
    transcript (``Pipeline.run_turn``), so the corrected text is the one answered."""

    def __init__(self, out: TurnOutput, pipeline: Pipeline, turn: LinkTurn) -> None:
        self.out = out
        self.pipeline = pipeline
        self.turn = turn
        self.checked = False

    async def event(self, event: Event) -> None:
        if Transcript.is_type(event.type) and not self.checked:
            self.checked = True
            heard = Transcript.from_event(event)
            text = heard.text.strip()
            if text and self.turn.first_text and transcript_words(text) == transcript_words(self.turn.first_text):
                more = await self._new_part_alone()
                if more:
                    _LOGGER.info("turn %d: the merged transcript %r has nothing of the new speech; on its own "
                                 "it reads %r", self.turn.number, text, more)
                    self.turn.result.transcript = text = f"{text} {more}"
                    event = Transcript(text=text, language=heard.language, context=heard.context).event()
        await self.out.event(event)

    async def _new_part_alone(self) -> str:
        async def audio() -> AsyncIterator[AudioChunk]:
            for piece in self.turn.heard.pieces(since=self.turn.heard.prefix_seconds):
                yield piece

        timer = self.pipeline.monitor.start_turn()
        try:
            return (await self.pipeline.asr_session(_Discard(), timer).run(audio())).strip()
        except (TurnError, OSError, TimeoutError) as err:  # no service: the merged transcript stands
            _LOGGER.info("turn %d: the new part on its own: %s", self.turn.number, err)
            return ""


class SecondPass:
    """The output of a turn's second pass over its audio: what the first pass told the satellite
    (its voice events and transcript) is not told again; ``quiet``: nor the reply text to speak
    (``synthesize``: the reply is said by the caller, after another)."""

    SAID = frozenset({"voice-started", "voice-stopped", "transcript"})

    def __init__(self, out: TurnOutput, *, quiet: bool = False) -> None:
        self.out = out
        self.said = self.SAID | {"synthesize"} if quiet else self.SAID

    async def event(self, event: Event) -> None:
        if event.type not in self.said:
            await self.out.event(event)


class FirstPass:
    """The output of the first pass (to the transcript) after acting: a no-speech error is held
    back (the sound that cut the reply was no speech: the reply is said again instead)."""

    def __init__(self, out: TurnOutput) -> None:
        self.out = out

    async def event(self, event: Event) -> None:
        if not (Error.is_type(event.type) and Error.from_event(event).code == NO_SPEECH):
            await self.out.event(event)


class Withheld:
    """The output of the passes over speech that came while a command ran (its reply never heard):
    what a failure of the new question says (its apology's audio, its ``error``) is held back, so
    the command's reply is said first (:func:`run_after_acting`). These passes send no other audio
    (they stop at the transcript, or at the reply text)."""

    AUDIO = frozenset({"audio-start", "audio-chunk", "audio-stop"})

    def __init__(self, out: TurnOutput) -> None:
        self.out = out
        self.error: Event | None = None

    async def event(self, event: Event) -> None:
        if Error.is_type(event.type):
            self.error = event
        elif event.type not in self.AUDIO:
            await self.out.event(event)


async def say(pipeline: Pipeline, text: str, out: TurnOutput, result: TurnResult, *, speak: bool) -> None:
    """Tell the satellite ``text`` as the turn's reply: spoken, or (a satellite whose pipeline ends
    before text to speech) as the ``synthesize`` text, as a conversation's reply is sent."""
    if speak:
        await pipeline.announce(text, out, result=result)
    else:
        result.reply = text
        await out.event(Synthesize(text=text).event())


async def run_after_acting(
    pipeline: Pipeline, turn: LinkTurn, out: TurnOutput, conversation_id: str, *, end_stage: str = "tts"
) -> None:
    """Speech that went on right after a request was acted on (``continuation.Verdict.AFTER_ACTING``):
    transcribed on its own; courtesy ("please"), or no speech at all (noise that cut the reply),
    gets the acting turn's reply again (the new sound cut it); anything else is answered as a new
    question, transcribed again from its audio (the first pass stopped at the transcript), so
    nothing is run twice and nothing is lost. When the acting turn's reply was never heard (its
    command was still running: ``turn.unheard``), a new question's answer is said after it, in
    one reply: the user learns what was done; if the new question fails, the command's reply is
    still said, then what the failure says. ``end_stage``: the satellite's (``tts``: replies are
    spoken)."""
    assert turn.after_acting is not None
    if not turn.unheard:
        await _after_acting(pipeline, turn, out, out, conversation_id, speak=end_stage == "tts")
        return
    held = Withheld(out)
    try:
        said = await _after_acting(pipeline, turn, held, out, conversation_id, speak=end_stage == "tts")
    except Exception:  # a bug ended the new question: the command's reply first, then the caller's turn-failed
        await said_after_failure(pipeline, turn, held, out, speak=end_stage == "tts")
        raise
    if not said:
        await said_after_failure(pipeline, turn, held, out, speak=end_stage == "tts")


async def _after_acting(pipeline: Pipeline, turn: LinkTurn, passes: TurnOutput, out: TurnOutput,
                        conversation_id: str, *, speak: bool) -> bool:
    """:func:`run_after_acting`'s passes (their output to ``passes``, the replies to ``out``); False
    when the new question failed before anything was said."""
    assert turn.after_acting is not None
    result = turn.result
    await pipeline.run_turn(turn.chunks(), FirstPass(passes), conversation_id=conversation_id, result=result,
                            end_stage="asr")
    silent = result.error is not None and result.error.code == NO_SPEECH
    if result.error is not None and not silent:
        return False
    if silent or adds_nothing(result.transcript):
        _LOGGER.info("turn %d: %r asks for nothing more than the request acted on: its reply again",
                     turn.number, result.transcript)
        result.error = None
        await say(pipeline, turn.after_acting, out, result, speak=speak)
        return True

    async def audio() -> AsyncIterator[AudioChunk]:
        for piece in turn.heard.pieces():
            yield piece

    if not turn.unheard:
        await pipeline.run_turn(audio(), SecondPass(passes), conversation_id=conversation_id, result=result)
        return True
    await pipeline.run_turn(audio(), SecondPass(passes, quiet=True), conversation_id=conversation_id,
                            result=result, end_stage="handle")
    if result.error is not None:
        return False
    await say(pipeline, f"{turn.after_acting} {result.reply}".strip(), out, result, speak=speak)
    return True


async def said_after_failure(pipeline: Pipeline, turn: LinkTurn, held: Withheld, out: TurnOutput, *,
                             speak: bool) -> None:
    """The new question after a command failed (or a bug ended it): the command's reply is said all
    the same, with the failure's apology after it (``Pipeline.apology``; what ``_fail`` said was
    held back), then its ``error`` (the turn's ``result.error`` stays the question's)."""
    result, reply = turn.result, turn.after_acting or ""
    err = result.error
    apology = pipeline.apology(err) if err is not None else ""
    _LOGGER.info("turn %d: the question after the command failed (%s): the command's reply is said all the same",
                 turn.number, err.code if err is not None else "a bug")
    spoken = TurnResult()
    with contextlib.suppress(TurnError, OSError, TimeoutError):
        await say(pipeline, f"{reply} {apology}".strip(), out, spoken, speak=speak)
    result.reply, result.audio_bytes = spoken.reply, result.audio_bytes + spoken.audio_bytes
    if held.error is not None:
        with contextlib.suppress(OSError, TimeoutError):
            await out.event(held.error)


async def await_command(turn: LinkTurn, clock: Clock, finished: Callable[[LinkTurn], Awaitable[None]]) -> None:
    """``turn`` is speech that came while ``turn.command``'s command (a home command, a timer) was
    still running (``continuation.TurnTrack.decide``, ``running``): wait until it is over (at most
    ``COMMAND_WAIT``), then end that turn (its output is gated: it says nothing more) and take its
    reply as the acted-on request's, never heard (:func:`run_after_acting`). No reply (it failed, or
    said nothing): ``turn`` runs as a new question, as before."""
    command = turn.command
    assert command is not None
    if await race(command.settled.wait(), clock.sleep(COMMAND_WAIT)) != 0:
        _LOGGER.warning("turn %d: turn %d's command still ran after %.0f s: cancelled", turn.number,
                        command.number, COMMAND_WAIT)
    await end_command(command, finished)
    turn.command = None
    if command.result.reply:
        turn.after_acting, turn.unheard = command.result.reply, True
        _LOGGER.info("turn %d: turn %d's command is over: %r", turn.number, command.number, command.result.reply)


async def end_command(command: LinkTurn, finished: Callable[[LinkTurn], Awaitable[None]]) -> None:
    """End the turn whose command was waited for (its reply, gated, is not sent) and record it."""
    await cancel_and_wait(command.task)
    await finished(command)
