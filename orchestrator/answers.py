"""Answers that need neither the LLM nor a home: the time, the date, "never mind", and timers.

Slots are as the official home-assistant-intents templates name them (``hours``/``minutes``/
``seconds`` for a duration, ``start_*`` for the timer a request means, ``name``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from .timers import (
    NO_TIMER_RUNNING,
    TimerAction,
    TimerError,
    TimerManager,
    TimerQuery,
    describe_duration,
    timer_label,
)

TIMER_INTENTS = frozenset({
    "HassStartTimer", "HassCancelTimer", "HassCancelAllTimers", "HassIncreaseTimer", "HassDecreaseTimer",
    "HassPauseTimer", "HassUnpauseTimer", "HassTimerStatus",
})
CLOCK_INTENTS = frozenset({"HassGetCurrentTime", "HassGetCurrentDate", "HassNevermind"})
TIMER_READ_ONLY = frozenset({"HassTimerStatus"})  # timer intents that change nothing
NO_TIMER_SATELLITE = "I can't set timers here: there is no satellite to ring when it is done."
# The clock's answer says the minute in which its minute word is heard, not the one it is computed
# in: a warmed reply's first sound comes ~0.08 s after the answer (room_turns, session 25: answer ->
# TTS -> satellite -> speaker), and Piper's "It is 4:17 PM." says the hour from 0.39 s and the minute
# from 0.64 to 1.25 s of its audio (bench/tts_clock_warm_probe.py). Computed at 16:17:59.3 it says
# 4:18 (its minute word is heard from ~16:18:00.0), not a minute that is over when it is heard.
SPOKEN_AHEAD = dt.timedelta(seconds=0.7)


def clock_answer(name: str, now: dt.datetime) -> str:
    if name == "HassGetCurrentTime":
        hour = now.hour % 12 or 12
        return f"It is {hour}:{now.minute:02d} {'AM' if now.hour < 12 else 'PM'}."
    if name == "HassGetCurrentDate":
        return f"Today is {now.strftime('%A, %B')} {now.day}, {now.year}."
    return ""  # HassNevermind: nothing to say


def timer_set_reply(seconds: int, name: str | None = None) -> str:
    """What a started timer's turn says ("Timer set for 5 minutes.")."""
    what = f"{name.capitalize()} timer" if name else "Timer"
    return f"{what} set for {describe_duration(seconds)}."


def _int(slots: dict[str, Any], key: str) -> int:
    value = slots.get(key)
    try:
        return int(float(value)) if value is not None else 0
    except (TypeError, ValueError):
        return 0


def _seconds(slots: dict[str, Any], prefix: str = "") -> int:
    return _int(slots, f"{prefix}hours") * 3600 + _int(slots, f"{prefix}minutes") * 60 + _int(slots, f"{prefix}seconds")


def _query(slots: dict[str, Any]) -> TimerQuery:
    name = slots.get("name")
    start = _seconds(slots, "start_")
    return TimerQuery(name=str(name).strip().lower() if name else None, start_seconds=start or None)


async def timer_answer(timers: TimerManager | None, owner: str, name: str, slots: dict[str, Any]) -> str:
    """Do what a timer intent asks of ``owner``'s timers; the reply says what really happened."""
    if timers is None or not timers.can_ring(owner):
        return NO_TIMER_SATELLITE
    try:
        return await _timer_answer(timers, owner, name, slots)
    except TimerError as err:
        return str(err)


async def _timer_answer(timers: TimerManager, owner: str, name: str, slots: dict[str, Any]) -> str:
    if name == "HassStartTimer":
        if slots.get("conversation_command"):
            return "I can't run a command on a timer yet; I can set a plain timer."
        label = str(slots["name"]).strip().lower() if slots.get("name") else None
        timer = await timers.start(owner, hours=_int(slots, "hours"), minutes=_int(slots, "minutes"),
                                   seconds=_int(slots, "seconds"), name=label)
        return timer_set_reply(timer.total_seconds, timer.name)
    if name == "HassTimerStatus":
        found = timers.find(owner, _query(slots), all_allowed=True)
        now = timers.wall()

        def status(t: Any) -> str:
            paused = ", paused" if t.left is not None else ""
            return f"{describe_duration(t.seconds_left(now))} left on your {timer_label(t)}{paused}"

        if len(found) == 1:
            return status(found[0]).capitalize() + "."
        return f"You have {len(found)} timers: " + "; ".join(status(t) for t in found) + "."
    if name == "HassCancelAllTimers":
        found = timers.timers(owner)
        for timer in found:
            await timers.apply(timer, TimerAction.CANCEL)
        return NO_TIMER_RUNNING if not found else (
            "Cancelled your timer." if len(found) == 1 else f"Cancelled all {len(found)} timers.")
    timer = timers.find(owner, _query(slots))[0]
    label = timer_label(timer)
    if name == "HassCancelTimer":
        await timers.apply(timer, TimerAction.CANCEL)
        return f"Cancelled your {label}."
    if name == "HassPauseTimer":
        await timers.apply(timer, TimerAction.PAUSE)
        return f"Paused your {label}."
    if name == "HassUnpauseTimer":
        await timers.apply(timer, TimerAction.RESUME)
        return f"Resumed your {label}."
    change = _seconds(slots)
    if change <= 0:
        return "How much time should I add?"
    sign = 1 if name == "HassIncreaseTimer" else -1
    updated = await timers.apply(timer, TimerAction.ADD, sign * change)
    verb = "Added" if sign > 0 else "Took off"
    return f"{verb} {describe_duration(change)}; {describe_duration(updated.seconds_left(timers.wall()))} left."
