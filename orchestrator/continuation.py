"""Continuation instead of a cut: speech that resumes right after the end of turn continues
the same question.

Silence and words cannot always tell a pause from the end ("Can you play some music ... by
the Beatles?" reads as finished after "music"). When the satellite starts a new turn shortly
after the end of speech (``run-pipeline`` within ``window`` seconds of the ``voice-stopped``
the orchestrator sent) and the reply has not played for more than ``max_reply_seconds`` (as the
satellite says in the ``run-pipeline``, :func:`reply_played`; else since its first chunk), the
orchestrator treats the new speech as the rest of the same question: it cancels the pending
answer (LLM, intent, TTS; the satellite has already stopped any reply audio on its own, and the
link's output gate drops whatever the cancelled turn still sends), and transcribes the whole
utterance: the first part's audio, the gap and the new speech, as one stream, so Whisper
hears it whole. It merges only while nothing irreversible happened: once an intent that can
act (timers, home commands) has started, a command must not run twice nor be re-decided on a
longer text, so the new speech is heard on its own (``AFTER_ACTING``): "Lock the front door
... please" (the lock ran on the first part) asks for nothing more, and the acting turn's reply
is sent again (the new speech had cut it: what was done must be said; our satellite, which kept the
cut reply, plays only its rest, from the word it was cut in: ``satellite.controller_events``);
anything else is a new question, as a barge-in. New speech while such a command is still running (a home
command waits for Home Assistant and for the device's state to show it) never cancels it half-done,
whenever it comes: the command is waited for, and the user hears its outcome (with courtesy, alone;
before the answer to a new question).

Pure and synchronous (no asyncio, no sockets): :class:`TurnTrack` is a small state table fed
with the events the orchestrator sends the satellite (times from its clock);
:class:`HeardAudio` keeps a turn's audio and joins the next turn's to it by the satellite's
timestamps (mic time in ms: our satellite and wyoming-satellite send them), so audio the new
turn's pre-roll repeats is not sent twice, and the gap between is filled with up to
``max_gap_seconds`` of silence. Without timestamps the audio is simply appended.

Whisper endpointing would find the end again in the first part's trailing silence, so the
merged stream is sent with ``context: {"endpoint_after": seconds}`` (our ``wyoming-whisper``
ends such an utterance only on speech after that point; a service that ignores the field
simply ends it at the satellite's ``audio-stop``).

Only our orchestrator can do this: when Home Assistant drives the satellite it runs its own
pipeline, and only the whisper server's endpointing (:mod:`wyoming_whisper.endpoint`) helps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

from wyoming.audio import AudioChunk

from .answers import CLOCK_INTENTS, TIMER_READ_ONLY

# Intents that only read or say something: cancelling them undoes nothing.
READ_ONLY_INTENTS = CLOCK_INTENTS | TIMER_READ_ONLY
PREFIX_PIECE_SECONDS = 1.0  # the first part is re-sent in pieces of this length


@dataclass(frozen=True)
class ContinuationPolicy:
    """``window``: seconds from the end of speech (the orchestrator's ``voice-stopped``) to the
    satellite's next ``run-pipeline`` within which new speech continues the question (0: never).
    ``max_reply_seconds``: reply audio heard (since its first chunk went out) beyond which it is a
    barge-in. ``max_gap_seconds``: silence put between the two parts at most.
    ``max_audio_seconds``: a longer first part is not merged (bounded memory)."""

    window: float = 1.5
    max_reply_seconds: float = 1.0
    max_gap_seconds: float = 0.3
    max_audio_seconds: float = 30.0

    @property
    def enabled(self) -> bool:
        return self.window > 0


class Phase(StrEnum):
    LISTENING = "listening"  # the question is still being taken
    ENDED = "ended"  # end of speech sent; answer pending, nothing audible yet
    REPLYING = "replying"  # reply audio has gone out
    SEALED = "sealed"  # something irreversible may have happened: never merge


class Mark(StrEnum):
    SPEECH_END = "voice-stopped"
    REPLY_AUDIO = "audio-chunk"
    ACTING = "acting"  # an intent that can act has started


# (phase, mark) -> next phase; marks not listed change nothing.
TABLE: dict[tuple[Phase, Mark], Phase] = {
    (Phase.LISTENING, Mark.SPEECH_END): Phase.ENDED,
    (Phase.LISTENING, Mark.ACTING): Phase.SEALED,
    (Phase.ENDED, Mark.REPLY_AUDIO): Phase.REPLYING,
    (Phase.ENDED, Mark.ACTING): Phase.SEALED,
    (Phase.REPLYING, Mark.ACTING): Phase.SEALED,
}


class Verdict(StrEnum):
    MERGE = "merge"  # the same question: transcribe both parts as one
    NEW = "new"  # a barge-in or a new question
    # It would have merged, but an intent that can act has started: the new speech is heard on its
    # own; if it adds nothing to the request (:func:`adds_nothing`), the acting turn's reply is said
    # again (what was done, once, on the whole request); else it is a new question. Also whenever
    # new speech comes while the command is still running (``running``): the command is waited for,
    # not cancelled half-done, and its outcome is said (before the answer to a new question).
    AFTER_ACTING = "after-acting"


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str
    reply_heard: float = 0.0  # seconds of reply audio the user may have heard (sent since its first chunk)

    @property
    def merge(self) -> bool:
        return self.verdict is Verdict.MERGE


@dataclass
class TurnTrack:
    """What the continuation decision needs to know about one turn, from the events sent."""

    policy: ContinuationPolicy = field(default_factory=ContinuationPolicy)
    phase: Phase = Phase.LISTENING
    ended_at: float | None = None
    reply_at: float | None = None
    reply_seconds: float = 0.0  # reply audio sent (its duration)

    def mark(self, mark: Mark, now: float) -> None:
        target = TABLE.get((self.phase, mark))
        if target is None:
            return
        if mark is Mark.SPEECH_END:
            self.ended_at = now
        elif mark is Mark.REPLY_AUDIO:
            self.reply_at = now
        self.phase = target

    def sent(self, event_type: str, now: float, seconds: float = 0.0) -> None:
        """Record an event the turn sent the satellite (``seconds``: audio in it)."""
        if event_type == Mark.SPEECH_END.value:
            self.mark(Mark.SPEECH_END, now)
        elif event_type == Mark.REPLY_AUDIO.value:
            self.mark(Mark.REPLY_AUDIO, now)
            self.reply_seconds += seconds

    def decide(self, now: float, *, acting: bool = False, audio_ok: bool = True,
               no_speech: bool = False, running: bool = False, played: float | None = None) -> Decision:
        """Whether a ``run-pipeline`` at ``now`` continues this turn's question. ``acting``: the
        turn's intent stage may have done something (see :func:`may_act`). ``no_speech``: the
        turn ended with no speech recognised: there is no question to continue. ``running``: the
        turn's command is still being done (no reply yet): whenever new speech comes, it is
        waited for, never cancelled half-done (``AFTER_ACTING``, whatever the window).
        ``played``: the seconds of the reply the satellite played before it held it for the new
        speech (:func:`reply_played`; our satellite says so): the reply heard is that, not the time
        since its first chunk, which runs on while the reply is held silent (the room, session 20:
        a word held at 0.87 s of the reply, its voice confirmed 0.1 s later, was past the 1.0 s and
        lost; the satellite had to give up such holds early to stay inside this clock)."""
        if acting:
            self.mark(Mark.ACTING, now)
        if running and self.phase is Phase.SEALED:
            return Decision(Verdict.AFTER_ACTING, "a command that acts is still running: its outcome is waited for")
        if not self.policy.enabled:
            return Decision(Verdict.NEW, "continuation off")
        sealed = self.phase is Phase.SEALED
        if no_speech and not sealed:
            return Decision(Verdict.NEW, "no speech was recognised in the turn before")
        if self.ended_at is None:  # (sealed while the question was still being taken: a remote intent service)
            return Decision(Verdict.NEW, "an intent that can act has started" if sealed
                            else "the question had not ended")
        if not audio_ok and not sealed:
            return Decision(Verdict.NEW, "the first part's audio is not all there")
        after = now - self.ended_at
        if after > self.policy.window:
            return Decision(Verdict.NEW, f"{after:.2f}s after the end of speech")
        heard = 0.0 if self.reply_at is None else min(max(0.0, now - self.reply_at), self.reply_seconds)
        if played is not None and self.reply_at is not None:
            heard = min(max(0.0, played), self.reply_seconds)
        if heard > self.policy.max_reply_seconds:
            return Decision(Verdict.NEW, f"{heard:.2f}s of the reply heard", heard)
        if sealed:
            return Decision(Verdict.AFTER_ACTING, f"an intent that can act has started; {after:.2f}s after the end "
                            "of speech", heard)
        return Decision(Verdict.MERGE, f"{after:.2f}s after the end of speech", heard)


REPLY_PLAYED = "reply_played"  # run-pipeline's data: seconds of the reply played before the hold


def reply_played(data: dict[str, object] | None) -> float | None:
    """The seconds of the reply a satellite played before it held the reply for the speech that
    starts this ``run-pipeline`` (our satellite adds ``reply_played`` to the event's data; others
    do not: None, and the time since the reply's first chunk stands)."""
    value = (data or {}).get(REPLY_PLAYED)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        return None
    return float(value)


# Words that ask for nothing more: said after a request was acted on, they leave it as it was.
COURTESY_WORDS = frozenset({"please", "thanks", "thank", "you", "now", "ok", "okay", "cheers", "pls"})


def transcript_words(text: str) -> list[str]:
    """``text``'s words, lower case, punctuation dropped (apostrophes kept)."""
    return "".join(c if c.isalnum() or c == "'" else " " for c in text.lower()).split()


def adds_nothing(text: str) -> bool:
    """``text`` (a transcript) is only courtesy ("Please.", "thank you", "now please"): after a
    request that was acted on it asks for nothing more."""
    words = transcript_words(text)
    return bool(words) and all(word in COURTESY_WORDS for word in words)


def may_act(intent: str | None, response: str, *, no_home_reply: str) -> bool:
    """Whether an answered intent may have changed something (a timer, the home). ``intent``
    None: the LLM answers, and it cannot act. A home command answered with the honest "no home
    is connected" did nothing."""
    if intent is None or intent in READ_ONLY_INTENTS:
        return False
    return response != no_home_reply


class HeardAudio:
    """One turn's audio from the satellite, joined to the previous part of the same question.

    ``add`` returns what of a chunk is new (the pre-roll of a continuing turn repeats audio the
    first part already holds) with any gap before it filled with silence (at most
    ``max_gap``); ``pieces`` re-sends it all. Bounded: past ``max_seconds`` it stops keeping
    audio and ``complete`` turns False (such a turn is not merged)."""

    def __init__(self, *, max_seconds: float = 30.0, max_gap: float = 0.3,
                 prefix: HeardAudio | None = None) -> None:
        self.max_seconds = max_seconds
        self.max_gap = max_gap
        self.fmt: tuple[int, int, int] | None = prefix.fmt if prefix else None
        self.pcm: bytearray = bytearray(prefix.pcm) if prefix else bytearray()
        self.end_ms: float | None = prefix.end_ms if prefix else None  # mic time of the end of pcm
        self.complete: bool = prefix.complete if prefix else True
        self.prefix_seconds = self.seconds  # audio that came from the earlier part(s)

    @property
    def bytes_per_second(self) -> int:
        if self.fmt is None:
            return 32000
        rate, width, channels = self.fmt
        return rate * width * channels

    @property
    def seconds(self) -> float:
        return len(self.pcm) / self.bytes_per_second

    def add(self, chunk: AudioChunk) -> AudioChunk | None:
        fmt = (chunk.rate, chunk.width, chunk.channels)
        if self.fmt is None:
            self.fmt = fmt
        if fmt != self.fmt:  # a format change cannot be joined: keep the chunk, stop merging
            self.complete = False
            return chunk
        frame = chunk.width * chunk.channels
        audio = chunk.audio
        per_ms = self.bytes_per_second / 1000
        gap = b""
        if chunk.timestamp is not None and self.end_ms is not None:
            overlap = self.end_ms - chunk.timestamp
            if overlap > 0:  # already held (a pre-roll repeating the first part's tail)
                audio = audio[min(len(audio), int(overlap * per_ms) // frame * frame):]
            elif -overlap > 0.5:
                gap = bytes(int(min(-overlap / 1000, self.max_gap) * self.bytes_per_second) // frame * frame)
        if chunk.timestamp is not None:
            self.end_ms = max(self.end_ms or 0.0, chunk.timestamp + len(chunk.audio) / per_ms)
        elif self.end_ms is not None:
            self.end_ms += (len(gap) + len(audio)) / per_ms
        data = gap + audio
        if not data:
            return None
        if self.complete and self.seconds + len(data) / self.bytes_per_second <= self.max_seconds:
            self.pcm += data
        else:
            self.complete = False
        return AudioChunk(rate=chunk.rate, width=chunk.width, channels=chunk.channels, audio=data,
                          timestamp=chunk.timestamp)

    def pieces(self, since: float = 0.0) -> list[AudioChunk]:
        """The audio held (from ``since`` seconds in), as chunks of ``PREFIX_PIECE_SECONDS``."""
        if self.fmt is None or not self.pcm:
            return []
        rate, width, channels = self.fmt
        frame = width * channels
        step = int(PREFIX_PIECE_SECONDS * self.bytes_per_second) // frame * frame
        first = min(len(self.pcm), int(since * self.bytes_per_second) // frame * frame)
        return [AudioChunk(rate=rate, width=width, channels=channels, audio=bytes(self.pcm[i:i + step]))
                for i in range(first, len(self.pcm), step)]
