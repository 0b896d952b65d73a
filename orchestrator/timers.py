"""Voice timers owned by the orchestrator, one set per satellite, persisted in the data dir.

A timer is RUNNING (it has a deadline) or PAUSED (it has the seconds left); it ends FINISHED
or CANCELLED and is then forgotten. Every change is written to ``<data dir>/timers.json`` at
once (atomically: a temporary file, fsync, rename), with wall-clock deadlines, so the timers
survive a restart and the time the orchestrator was down counts. ``run()`` waits on an
injectable clock for the next deadline; when a timer finishes, the satellite that set it is
told through its registered :class:`Ringer` (wyoming ``timer-finished``, then a spoken line).

With Home Assistant driving a satellite, Home Assistant owns that satellite's timers: it never
reaches this orchestrator, so nothing is duplicated.

One orchestrator per data dir: :func:`claim_data_dir` holds ``<data dir>/timers.lock`` while it
serves. A second one on the same folder would load the same timers, then overwrite the first's
file with its own set at every change (and ring the same timers twice); it stops at start instead,
naming the pid that holds the folder. ``ask`` keeps no timers and never reads or writes the file.

A folder the timers cannot be written to stops ``serve`` at start (the claim writes a probe file).
A write that fails later (disk full, permissions changed) undoes the change in memory and raises
:class:`TimerNotSaved`: the turn fails and the user hears that the timer was not saved.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import fcntl
import json
import logging
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from wyoming.event import Eventable
from wyoming.timer import TimerCancelled, TimerFinished, TimerStarted, TimerUpdated

from voice_runtime.clock import Clock, MonotonicClock
from voice_runtime.tasks import race

from .streams import TurnError

_LOGGER = logging.getLogger(__name__)
MAX_TIMERS_PER_SATELLITE = 20
MAX_TIMER_SECONDS = 24 * 3600
FILE_NAME = "timers.json"
LOCK_NAME = "timers.lock"
PROBE_NAME = "timers.tmp"  # the temporary file every save writes


class TimerState(enum.Enum):
    RUNNING = "running"
    PAUSED = "paused"
    FINISHED = "finished"
    CANCELLED = "cancelled"


class TimerAction(enum.Enum):
    PAUSE = "pause"
    RESUME = "resume"
    ADD = "add"
    CANCEL = "cancel"
    FINISH = "finish"


# The whole life of a timer: (state, action) → next state. Anything else is refused.
TRANSITIONS: dict[tuple[TimerState, TimerAction], TimerState] = {
    (TimerState.RUNNING, TimerAction.PAUSE): TimerState.PAUSED,
    (TimerState.RUNNING, TimerAction.ADD): TimerState.RUNNING,
    (TimerState.RUNNING, TimerAction.CANCEL): TimerState.CANCELLED,
    (TimerState.RUNNING, TimerAction.FINISH): TimerState.FINISHED,
    (TimerState.PAUSED, TimerAction.RESUME): TimerState.RUNNING,
    (TimerState.PAUSED, TimerAction.ADD): TimerState.PAUSED,
    (TimerState.PAUSED, TimerAction.CANCEL): TimerState.CANCELLED,
}


class TimerNotSaved(TurnError):
    """The timers file could not be written: the change was undone, the turn fails and says so."""

    spoken = "Sorry, I couldn't save the timer, so nothing was changed."

    def __init__(self, path: Path, err: OSError) -> None:
        super().__init__("timer-not-saved", f"timers not saved to {path}: {err.strerror or err}")


class DataDirBusy(Exception):
    """Another orchestrator keeps its timers in this data dir; ``str()`` says which and what to do."""


class DataDirClaim:
    """``<data dir>/timers.lock``, held (flock) until :meth:`release` or the process ends."""

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = os.open(data_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, f"{os.getpid()}\n".encode(), 0)
            probe = data_dir / PROBE_NAME  # the timers are written as a new file, then renamed
            with open(probe, "w", encoding="utf-8") as f:
                f.write("probe\n")
            probe.unlink()
        except BlockingIOError:
            holder = os.pread(self._fd, 32, 0).decode(errors="replace").strip() or "?"
            self.release()
            raise DataDirBusy(f"another orchestrator (pid {holder}) keeps its timers in {data_dir}: stop it, "
                              "or give this one its own --data-dir") from None
        except OSError:
            self.release()
            raise

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # (the lock goes with it)
            self._fd = None


def claim_data_dir(data_dir: Path | None) -> DataDirClaim | None:
    """Hold ``data_dir`` for this process's timers (None: no data dir, nothing to hold). Raises
    :class:`DataDirBusy` when another process holds it, OSError when it cannot be created."""
    return DataDirClaim(data_dir) if data_dir is not None else None


NO_TIMER_RUNNING = "There is no timer running."  # (a reply known before anyone asks: warm_replies)


class TimerError(Exception):
    """A request that cannot be done; ``str()`` is a sentence to say to the user."""


class Ringer(Protocol):
    """A satellite that can be told about its timers."""

    async def timer_event(self, event: Eventable, announce: str | None) -> None: ...


@dataclass(frozen=True)
class Timer:
    id: str
    owner: str  # the satellite that set it
    total_seconds: int  # as asked, plus any time added
    state: TimerState
    deadline: float | None  # wall-clock seconds when RUNNING
    left: float | None  # seconds left when PAUSED
    name: str | None = None
    start_hours: int | None = None
    start_minutes: int | None = None
    start_seconds: int | None = None

    def seconds_left(self, wall_now: float) -> float:
        if self.state is TimerState.RUNNING and self.deadline is not None:
            return max(0.0, self.deadline - wall_now)
        return max(0.0, self.left or 0.0)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["state"] = self.state.value
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Timer:
        return cls(**{**data, "state": TimerState(data["state"])})


def describe_duration(seconds: float) -> str:
    """``3725`` → "1 hour, 2 minutes and 5 seconds" (rounded up to whole seconds)."""
    total = int(seconds + 0.999)
    parts = []
    for unit, size in (("hour", 3600), ("minute", 60), ("second", 1)):
        n, total = divmod(total, size)
        if n:
            parts.append(f"{n} {unit}{'s' if n != 1 else ''}")
    if not parts:
        return "0 seconds"
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def timer_label(timer: Timer) -> str:
    if timer.name:
        name = timer.name.removesuffix(" timer")
        return f"{name} timer"
    spoken = describe_duration(timer.total_seconds)  # "5 minutes" → "5 minute timer"
    return " ".join(w.removesuffix("s") if w in ("hours", "minutes", "seconds") else w
                    for w in spoken.split()) + " timer"


@dataclass(frozen=True)
class TimerQuery:
    """Which timer a request means: by name, by its starting duration, or the only/latest one."""

    name: str | None = None
    start_seconds: int | None = None

    def matches(self, timer: Timer) -> bool:
        if self.name is not None and (timer.name or "").removesuffix(" timer") != self.name.removesuffix(" timer"):
            return False
        return self.start_seconds is None or _start_total(timer) == self.start_seconds


def _start_total(timer: Timer) -> int:
    return (timer.start_hours or 0) * 3600 + (timer.start_minutes or 0) * 60 + (timer.start_seconds or 0)


class TimerManager:
    def __init__(self, data_dir: Path | None, *, clock: Clock | None = None,
                 wall: Callable[[], float] = time.time) -> None:
        self.path = data_dir / FILE_NAME if data_dir is not None else None
        self.clock = clock or MonotonicClock()
        self.wall = wall
        self._timers: dict[str, Timer] = {}
        self._ringers: dict[str, Ringer] = {}
        self._changed = asyncio.Event()
        self._load()

    # -- satellites ------------------------------------------------------------------------
    def attach(self, owner: str, ringer: Ringer) -> None:
        self._ringers[owner] = ringer
        self._changed.set()  # timers that finished while it was away ring now

    def detach(self, owner: str, ringer: Ringer) -> None:
        if self._ringers.get(owner) is ringer:
            del self._ringers[owner]

    def can_ring(self, owner: str) -> bool:
        return owner in self._ringers

    # -- requests --------------------------------------------------------------------------
    def timers(self, owner: str) -> list[Timer]:
        return [t for t in self._timers.values() if t.owner == owner]

    async def start(self, owner: str, *, hours: int = 0, minutes: int = 0, seconds: int = 0,
                    name: str | None = None) -> Timer:
        total = hours * 3600 + minutes * 60 + seconds
        if total <= 0 or total > MAX_TIMER_SECONDS:
            raise TimerError("A timer can be set for one second up to 24 hours.")
        if len(self.timers(owner)) >= MAX_TIMERS_PER_SATELLITE:
            raise TimerError(f"You already have {MAX_TIMERS_PER_SATELLITE} timers; cancel one first.")
        timer = Timer(id=uuid.uuid4().hex[:12], owner=owner, total_seconds=total, state=TimerState.RUNNING,
                      deadline=self.wall() + total, left=None, name=name or None,
                      start_hours=hours or None, start_minutes=minutes or None, start_seconds=seconds or None)
        self._timers[timer.id] = timer
        try:
            self._save()
        except TimerNotSaved:
            del self._timers[timer.id]  # not set: the user hears so
            raise
        await self._notify(owner, TimerStarted(id=timer.id, total_seconds=total, name=timer.name,
                                               start_hours=timer.start_hours, start_minutes=timer.start_minutes,
                                               start_seconds=timer.start_seconds))
        return timer

    def find(self, owner: str, query: TimerQuery, *, all_allowed: bool = False) -> list[Timer]:
        """The timers ``query`` means; raises :class:`TimerError` with a sentence when none or
        (unless ``all_allowed``) several match."""
        mine = sorted(self.timers(owner), key=lambda t: t.seconds_left(self.wall()))
        found = [t for t in mine if query.matches(t)]
        if not found:
            raise TimerError(NO_TIMER_RUNNING if not mine else "I couldn't find that timer.")
        if len(found) > 1 and not all_allowed:
            raise TimerError(f"You have {len(found)} timers; say which one, for example by its name.")
        return found

    async def apply(self, timer: Timer, action: TimerAction, add_seconds: int = 0) -> Timer:
        """Pause, resume, add (negative: remove) time, cancel or finish ``timer``."""
        nxt = TRANSITIONS.get((timer.state, action))
        if nxt is None:
            raise TimerError({TimerAction.PAUSE: "That timer is already paused.",
                              TimerAction.RESUME: "That timer is already running."}.get(action, "I can't do that."))
        now = self.wall()
        left = timer.seconds_left(now)
        if action is TimerAction.ADD:
            left = left + add_seconds
            if left <= 0 or left > MAX_TIMER_SECONDS:
                raise TimerError("That would leave no time on the timer." if left <= 0
                                 else "A timer can run for at most 24 hours.")
        new_total = max(1, timer.total_seconds + add_seconds) if action is TimerAction.ADD else timer.total_seconds
        updated = replace(timer, state=nxt, total_seconds=new_total,
                          deadline=now + left if nxt is TimerState.RUNNING else None,
                          left=left if nxt is TimerState.PAUSED else None)
        before = dict(self._timers)
        if nxt in (TimerState.CANCELLED, TimerState.FINISHED):
            self._timers.pop(timer.id, None)
        else:
            self._timers[timer.id] = updated
        try:
            self._save()
        except TimerNotSaved as err:
            if nxt is not TimerState.FINISHED:
                self._timers = before  # as it was, and the user hears so
                raise
            _LOGGER.error("%s: timer %s rings now but may ring again after a restart", err.text, timer.id)
        if nxt is TimerState.CANCELLED:
            await self._notify(timer.owner, TimerCancelled(id=timer.id))
        elif nxt is TimerState.RUNNING or nxt is TimerState.PAUSED:
            await self._notify(timer.owner, TimerUpdated(id=timer.id, is_active=nxt is TimerState.RUNNING,
                                                         total_seconds=int(left + 0.999)))
        return updated

    # -- ringing ---------------------------------------------------------------------------
    async def run(self) -> None:
        """Finish timers as their deadlines pass; until cancelled."""
        while True:
            self._changed.clear()
            await self._finish_due()
            running = [t.deadline for t in self._timers.values()
                       if t.state is TimerState.RUNNING and t.deadline is not None and self.can_ring(t.owner)]
            if running:
                await race(self._changed.wait(), self.clock.sleep(max(0.0, min(running) - self.wall())))
            else:
                await self._changed.wait()

    async def _finish_due(self) -> None:
        now = self.wall()
        for timer in list(self._timers.values()):
            if (timer.state is TimerState.RUNNING and timer.deadline is not None and timer.deadline <= now
                    and self.can_ring(timer.owner)):
                await self.apply(timer, TimerAction.FINISH)
                _LOGGER.info("timer %s of %s finished", timer.id, timer.owner)
                label = timer_label(timer)
                await self._notify(timer.owner, TimerFinished(id=timer.id),
                                   announce=f"Your {label} is done." if timer.name else "Your timer is done.")

    async def _notify(self, owner: str, event: Eventable, announce: str | None = None) -> None:
        self._changed.set()
        ringer = self._ringers.get(owner)
        if ringer is None:
            return
        try:
            await ringer.timer_event(event, announce)
        except (OSError, TimeoutError) as err:
            _LOGGER.warning("satellite %s missed a timer event: %s", owner, err)

    # -- persistence -----------------------------------------------------------------------
    def _load(self) -> None:
        if self.path is None or not self.path.exists():
            return
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            timers = [Timer.from_json(item) for item in data.get("timers", [])]
        except (OSError, ValueError, TypeError, KeyError) as err:
            _LOGGER.warning("timers in %s unreadable (%s); starting with none", self.path, err)
            return
        self._timers = {t.id: t for t in timers if t.state in (TimerState.RUNNING, TimerState.PAUSED)}
        _LOGGER.info("loaded %d timer(s) from %s", len(self._timers), self.path)

    def _save(self) -> None:
        if self.path is None:
            return
        tmp = self.path.with_name(PROBE_NAME)
        body = json.dumps({"version": 1, "timers": [t.to_json() for t in self._timers.values()]}, indent=1)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(body)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except OSError as err:
            with contextlib.suppress(OSError):
                tmp.unlink()
            _LOGGER.error("timers not saved to %s: %s", self.path, err)
            raise TimerNotSaved(self.path, err) from err
