"""Replies known before anyone asks, synthesised ahead so the first turn that needs one is fast.

The TTS server keeps the audio of short texts it has spoken (``wyoming_kokoro``'s cache): a
cached intent reply's first audio comes at once, an uncached one waits for the engine (session
21's quiet room: 0.07 s for the date, 0.12 s for the first device reply of a run, 0.24-0.44 s on a
loaded box). Some intent replies are known before any turn: the device line when no home is
connected (every device command gets it), today's date, and with timers "There is no timer running."
and the commonest "Timer set for N minutes." lines. They are synthesised once when the
orchestrator starts (after ``START_DELAY``, so the services have come up, and while every satellite is
idle, as the clock's line below) and the date again after each midnight, on a connection of its own
to every TTS replica (the pool's state is not touched: a TTS that is down at start-up is not marked
down by this).

The clock's answer changes every minute (:func:`keep_clock_warm`): the next minute's line is
synthesised ``CLOCK_LEAD`` seconds before that minute, only while every satellite is idle (no turn
listening, answering or playing: the synthesis must not take a core from a turn's decode; a turn that
begins meanwhile closes its connection, the TTS interrupts the engine call, and it is asked again when
all is idle), and it is
*pinned* in the TTS cache (``wyoming_kokoro.synthesizer``), in one of two slots by the minute's
parity (``clock-0``/``clock-1``): the line for minute M+1 replaces M-1's, not M's (still asked for
until M ends), and no line pushes the other warmed replies out of the LRU. The warm-up waits at the TTS
engine's gate behind any listener's reply. What is said is still computed when the turn is answered
(``answers.SPOKEN_AHEAD``): a warmed line is only used if it is the right one.

A text is warmed with the voice the turns use (``PipelineConfig.voice``); the TTS server splits it
into the same sentences as a turn's request, so the cached pieces are the ones asked for later.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable

from wyoming.audio import AudioStop
from wyoming.error import Error
from wyoming.tts import Synthesize, SynthesizeVoice

from voice_runtime.cache_pin import pin_context
from voice_runtime.clock import Clock, MonotonicClock
from voice_runtime.tasks import cancel_and_wait, race

from .answers import clock_answer, timer_set_reply
from .intents import IntentRecognizer
from .services import Connection
from .timers import NO_TIMER_RUNNING

_LOGGER = logging.getLogger(__name__)
START_DELAY = 2.0  # seconds after start-up (the engines load meanwhile)
RETRY_AFTER = 10.0  # a replica that did not answer is asked again this much later ...
TRIES = 6  # ... this many times in all
SYNTH_TIMEOUT = 30.0  # one text's audio (an engine that is still loading takes a while)
CLOCK_LEAD = 15.0  # the next minute's line is synthesised from this many seconds before the minute
IDLE_POLL = 0.25  # seconds between looks at the satellites while one is busy
MINUTE = dt.timedelta(minutes=1)
# Timers asked for most, warmed at start-up with the rest (~0.1 MB of the TTS's LRU and ~0.2 s of CPU each,
# once): "Timer set for 5 minutes." is 0.47 s p50 cold at load 15.8, ~0.005 s cached (s26_warm.md).
COMMON_TIMER_MINUTES = (1, 2, 3, 5, 10, 15, 20, 30)


def known_replies(intents: IntentRecognizer | None, now: dt.datetime) -> list[str]:
    """The intent replies known before anyone asks: today's date; the no-home line with no home; with
    timers, "There is no timer running." and the replies to the commonest timers (``COMMON_TIMER_MINUTES``)."""
    if intents is None:
        return []
    texts = [clock_answer("HassGetCurrentDate", now)]
    if intents.home is None:
        texts.append(intents.no_home_reply)
    if intents.timers is not None:
        texts.append(NO_TIMER_RUNNING)
        texts += [timer_set_reply(minutes * 60) for minutes in COMMON_TIMER_MINUTES]
    return texts


async def synthesize_once(uri: str, text: str, voice: str | None, timeout: float = SYNTH_TIMEOUT,
                          pin: str | None = None) -> None:
    """Ask the TTS at ``uri`` for ``text`` and drain its audio (thrown away: only its cache keeps it;
    ``pin``: in that slot). OSError / TimeoutError when the service cannot be reached or does not
    answer (ValueError: not a tcp:// or unix:// URI)."""
    conn = await Connection.open(uri)
    try:
        async with asyncio.timeout(timeout):
            await conn.send(Synthesize(text=text, voice=SynthesizeVoice(name=voice) if voice else None,
                                       context=pin_context(pin)).event())
            while True:
                event = await conn.recv()
                if AudioStop.is_type(event.type):
                    return
                if Error.is_type(event.type):
                    raise OSError(f"tts error: {Error.from_event(event).text}")
    finally:
        await conn.close()


def _seconds_to_midnight(now: dt.datetime) -> float:
    tomorrow = (now + dt.timedelta(days=1)).replace(hour=0, minute=0, second=5, microsecond=0)
    return max(1.0, (tomorrow - now).total_seconds())


async def warm_all(
    uris: list[str], texts: list[str], voice: str | None, *, clock: Clock, retry_after: float = RETRY_AFTER,
    tries: int = TRIES, idle: Callable[[], bool] | None = None, poll: float = IDLE_POLL,
) -> list[str]:
    """Synthesise ``texts`` on every replica in ``uris`` (a replica that does not answer is asked again
    ``retry_after`` later, ``tries`` times in all); the replicas warmed. ``idle``: each text only while it
    holds (a turn that begins stops the text, asked again when idle: :func:`_while_idle`)."""
    warmed: list[str] = []
    for uri in uris:
        for attempt in range(tries):
            try:
                for text in texts:
                    if idle is None:
                        await synthesize_once(uri, text, voice)
                        continue
                    while True:
                        while not idle():
                            await clock.sleep(poll)
                        if await _while_idle(uri, text, voice, pin=None, idle=idle, clock=clock, poll=poll):
                            break
            except (OSError, TimeoutError, ValueError) as err:  # (ValueError: a URI it cannot open)
                last = attempt + 1 >= tries or isinstance(err, ValueError)
                _LOGGER.info("tts %s not warmed (%s %s): %s", uri, type(err).__name__, err,
                             "given up" if last else f"again in {retry_after:.0f} s")
                if last:
                    break
                await clock.sleep(retry_after)
                continue
            _LOGGER.info("tts %s warmed with %d known replies", uri, len(texts))
            warmed.append(uri)
            break
    return warmed


async def keep_warm(
    uris: list[str],
    intents: IntentRecognizer | None,
    voice: str | None,
    *,
    clock: Clock | None = None,
    now: Callable[[], dt.datetime] = dt.datetime.now,
    start_delay: float = START_DELAY,
    idle: Callable[[], bool] | None = None,
) -> None:
    """Warm every TTS replica with :func:`known_replies` at start-up and after each midnight (runs until
    cancelled); ``idle``: only while every satellite is idle (a text a turn interrupts is asked again)."""
    clock = clock or MonotonicClock()
    await clock.sleep(start_delay)
    while texts := known_replies(intents, now()):
        await warm_all(uris, texts, voice, clock=clock, idle=idle)
        await clock.sleep(_seconds_to_midnight(now()))


def clock_slot(minute: dt.datetime) -> str:
    """The TTS cache slot of ``minute``'s clock line (two, by parity: this minute's and the next's)."""
    return f"clock-{minute.minute % 2}"


def clock_line(minute: dt.datetime) -> str:
    """The clock's answer during ``minute``."""
    return clock_answer("HassGetCurrentTime", minute)


async def keep_clock_warm(
    uris: list[str],
    voice: str | None,
    idle: Callable[[], bool],
    *,
    clock: Clock | None = None,
    now: Callable[[], dt.datetime] = dt.datetime.now,
    lead: float = CLOCK_LEAD,
    poll: float = IDLE_POLL,
) -> None:
    """Pin each minute's clock line in every replica's cache before the minute (runs until cancelled).

    From ``lead`` seconds before a minute, as soon as ``idle()`` (no satellite in a turn or playing),
    that minute's line is synthesised; a turn that begins meanwhile stops it (the connection is
    closed: the TTS interrupts its engine call) and it is asked again when all is idle. Still not
    done when the next minute's turn to be warmed comes: that minute is skipped (its turns
    synthesise the line as before)."""
    clock = clock or MonotonicClock()
    target = now().replace(second=0, microsecond=0) + MINUTE
    while True:
        if target - now() > 2 * MINUTE:  # the wall clock went back (daylight saving, a correction): from now
            target = now().replace(second=0, microsecond=0) + MINUTE
        wait = (target - dt.timedelta(seconds=lead) - now()).total_seconds()
        if wait > 0:
            await clock.sleep(wait)
        give_up = target + MINUTE - dt.timedelta(seconds=lead)
        pending = list(uris)
        while pending and now() < give_up:
            if not idle():
                await clock.sleep(poll)
                continue
            try:
                if not await _while_idle(pending[0], clock_line(target), voice, pin=clock_slot(target), idle=idle,
                                         clock=clock, poll=poll):
                    continue  # a turn began: asked again when idle
            except (OSError, TimeoutError, ValueError) as err:  # not asked again this minute
                _LOGGER.debug("tts %s: clock line not warmed (%s %s)", pending[0], type(err).__name__, err)
            pending.pop(0)
        if pending:
            _LOGGER.debug("clock line for %s not warmed: busy", target.strftime("%H:%M"))
        target = max(target + MINUTE, now().replace(second=0, microsecond=0) + MINUTE)


async def _while_idle(uri: str, text: str, voice: str | None, *, pin: str | None, idle: Callable[[], bool],
                      clock: Clock, poll: float) -> bool:
    """Synthesise ``text`` at ``uri`` (``pin``: into that cache slot) while ``idle()`` holds, looked at every
    ``poll``: True when done; False when a turn began and it was stopped (its connection closed: the TTS
    interrupts the engine call). OSError / TimeoutError / ValueError as :func:`synthesize_once`."""
    synthesis = asyncio.create_task(synthesize_once(uri, text, voice, pin=pin), name="warm-up")
    try:
        while not synthesis.done():
            await race(synthesis, clock.sleep(poll))  # (the sleep is the race's: cancelled when it returns)
            if not synthesis.done() and not idle():
                _LOGGER.debug("tts %s: warm-up stopped, a turn began", uri)
                return False
        synthesis.result()
        return True
    finally:
        await cancel_and_wait(synthesis)
