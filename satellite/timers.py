"""Voice timers on the satellite: tracked from the controller's ``timer-*`` events, an alarm at the end.

Pure and synchronous (times are the caller's clock, in seconds). Home Assistant sends
``timer-started`` (id, total_seconds, name, …), ``timer-updated`` (id, is_active,
total_seconds = the time left), ``timer-cancelled`` and ``timer-finished`` (id) to the
satellite of the device the timer was set on; the satellite rings.

:class:`TimerBoard` keeps the running timers (bounded). It also notices a timer that is
overdue by ``grace`` seconds without a ``timer-finished`` (the controller went away), so it
still rings.

:class:`Alarm` is the ringing: it repeats its sound until :meth:`Alarm.stop` (the wake word,
a local stop, speech, the timer cancelled) or until ``seconds`` have passed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from wyoming.event import Event
from wyoming.timer import TimerCancelled, TimerFinished, TimerStarted, TimerUpdated

from .timer_voice import TimerVoiceConfig

_LOGGER = logging.getLogger(__name__)
MAX_TIMERS = 32  # more than this: the one ending last is forgotten


@dataclass
class Timer:
    id: str
    name: str | None
    total_seconds: int
    active: bool
    ends_at: float | None  # None while paused
    left: float  # seconds left when paused


@dataclass(frozen=True)
class TimerFinishedNotice:
    """A timer ended: ring (``name`` may be spoken; ``announced``: the controller speaks it itself)."""

    id: str
    name: str | None
    announced: bool = False


def is_timer_event(event_type: str) -> bool:
    return event_type.startswith("timer-")


class TimerBoard:
    def __init__(self, grace: float = 3.0) -> None:
        self.timers: dict[str, Timer] = {}
        self.grace = grace

    def apply(self, event: Event, now: float) -> TimerFinishedNotice | None:
        """Apply one ``timer-*`` event. Raises ValueError/KeyError/TypeError when it is malformed."""
        if TimerStarted.is_type(event.type):
            started = TimerStarted.from_event(event)
            seconds = _seconds(started.total_seconds)
            self.timers[_id(started.id)] = Timer(started.id, _name(started.name), seconds, True, now + seconds,
                                                 float(seconds))
            if len(self.timers) > MAX_TIMERS:
                last = max(self.timers.values(), key=lambda t: t.ends_at if t.ends_at is not None else t.left + now)
                del self.timers[last.id]
                _LOGGER.warning("more than %d timers: forgot timer %s", MAX_TIMERS, last.id)
            _LOGGER.info("timer %s started: %d s name=%r", started.id, seconds, started.name)
        elif TimerUpdated.is_type(event.type):
            updated = TimerUpdated.from_event(event)
            timer = self.timers.get(_id(updated.id))
            left = _seconds(updated.total_seconds)
            if not isinstance(updated.is_active, bool):
                raise TypeError("is_active must be a boolean")
            if timer is None:
                timer = self.timers[updated.id] = Timer(updated.id, None, left, True, None, float(left))
            timer.active = updated.is_active
            timer.left = float(left)
            timer.ends_at = now + left if updated.is_active else None
            _LOGGER.info("timer %s updated: %d s left, %s", updated.id, left, "running" if timer.active else "paused")
        elif TimerCancelled.is_type(event.type):
            cancelled = TimerCancelled.from_event(event)
            self.timers.pop(_id(cancelled.id), None)
            _LOGGER.info("timer %s cancelled", cancelled.id)
        elif TimerFinished.is_type(event.type):
            finished = TimerFinished.from_event(event)
            timer = self.timers.pop(_id(finished.id), None)
            announced = event.data.get("announced") is True  # our orchestrator announces the line itself
            _LOGGER.info("timer %s finished%s", finished.id, " (the controller announces it)" if announced else "")
            return TimerFinishedNotice(finished.id, timer.name if timer else None, announced)
        else:
            raise ValueError(f"unknown timer event {event.type}")
        return None

    def overdue(self, now: float) -> TimerFinishedNotice | None:
        """A running timer past its end by ``grace`` with no ``timer-finished``: it rings anyway."""
        for timer in list(self.timers.values()):
            if timer.active and timer.ends_at is not None and now > timer.ends_at + self.grace:
                del self.timers[timer.id]
                _LOGGER.warning("timer %s ended %.0f s ago without timer-finished: ringing", timer.id,
                                now - timer.ends_at)
                return TimerFinishedNotice(timer.id, timer.name)
        return None


def _id(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError("timer id must be a non-empty string")
    return value


def _seconds(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 366 * 86400:
        raise ValueError(f"timer seconds out of range: {value!r}")
    return int(value)


def _name(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise TypeError("timer name must be a string")


QUEUED_MAX_SECONDS = 600.0  # an alarm that has not sounded this long after its timer finished is dropped


@dataclass(frozen=True)
class AlarmConfig:
    seconds: float = 30.0  # rings at most this long (--timer-alarm-seconds)
    voice: TimerVoiceConfig = TimerVoiceConfig()  # the timer's name spoken first (--tts-uri)


class Alarm:
    """Ringing state. While ringing, the caller queues :attr:`sound` (a beep period) whenever the
    speaker is otherwise idle, so spoken audio (an announcement of the timer's name) goes first."""

    def __init__(self, config: AlarmConfig, sound: bytes) -> None:
        self.config = config
        self.sound = sound
        self.ringing: TimerFinishedNotice | None = None
        self.line = b""  # the timer's name, spoken (speaker format): played once, ahead of the beeps
        self.waiting_for_line = False  # its synthesis is under way: no beeps yet (bounded by voice.max_wait)
        self._until: float | None = None  # when its ringing time ends (set at its first sound)
        self._queued_until = 0.0

    def start(self, notice: TimerFinishedNotice, now: float) -> None:
        self.ringing = notice
        self.line, self.waiting_for_line = b"", False
        # Its time counts from its first sound: a timer that finishes during an announcement or a reply
        # (they go first) still rings its whole time after them (bounded: QUEUED_MAX_SECONDS).
        self._until = None
        self._queued_until = now + QUEUED_MAX_SECONDS
        _LOGGER.info("alarm ringing for timer %s (name=%r), at most %.0f s", notice.id, notice.name,
                     self.config.seconds)

    def stop(self, reason: str) -> bool:
        """Stop ringing; True if it was ringing."""
        if self.ringing is None:
            return False
        _LOGGER.info("alarm for timer %s stopped: %s", self.ringing.id, reason)
        self.ringing = None
        self.line, self.waiting_for_line = b"", False
        return True

    def next_sound(self, now: float) -> bytes:
        """What to queue when the speaker is idle: the spoken name once, then the beeps (none while
        the name is on its way). The first sound starts the ringing time."""
        if self.waiting_for_line:
            return b""
        if self._until is None:
            self._until = now + self.config.seconds
        line, self.line = self.line, b""
        return line or self.sound

    def expired(self, now: float) -> bool:
        """True once it has rung ``seconds`` from its first sound, or could not sound for
        ``QUEUED_MAX_SECONDS`` (the caller stops it)."""
        if self.ringing is None:
            return False
        return now >= self._until if self._until is not None else now >= self._queued_until
