"""Doubling back-off, in one place: the waits before restarting or reconnecting something.

:class:`BackoffPolicy` is the schedule (``first``, times ``factor`` per failure, at most
``cap``; optional jitter); :class:`Backoff` counts the failures, forgets them after a run of
``healthy_after`` seconds and reads time from an injectable :mod:`voice_runtime.clock`, so the
schedule is tested without sleeping. Users: the home supervisor (a service that exited), the
satellite's speaker command, the orchestrator's satellite link (unreachable or busy), and
wyoming_llama's llama-server restarts (:meth:`BackoffPolicy.schedule`).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from .clock import Clock, MonotonicClock


@dataclass(frozen=True)
class BackoffPolicy:
    """Wait ``first`` after the first failure, ``factor`` times longer after each further one, at
    most ``cap``. A run of at least ``healthy_after`` seconds resets the count and is followed by
    ``healthy_wait`` (``None``: ``first``), which does not count as a failure. ``jitter`` in
    [0, 1) shortens each wait by a random fraction up to itself (0: the exact schedule)."""

    first: float
    cap: float = math.inf
    factor: float = 2.0
    healthy_after: float = math.inf
    healthy_wait: float | None = None
    jitter: float = 0.0

    def __post_init__(self) -> None:
        if self.first < 0 or self.factor < 1 or self.cap < 0 or not 0 <= self.jitter < 1:
            raise ValueError(f"bad back-off policy: {self}")

    def delay(self, failures: int) -> float:
        """The wait after failure number ``failures + 1`` (``failures`` before it), no jitter."""
        if self.first == 0:
            return 0.0
        try:
            wait = self.first * self.factor ** max(0, failures)
        except OverflowError:  # thousands of failures: long since at the cap
            wait = math.inf
        return float(min(self.cap, wait))

    def schedule(self, count: int) -> tuple[float, ...]:
        """The first ``count`` waits, for a caller that takes a table."""
        return tuple(self.delay(i) for i in range(count))


class Backoff:
    """One restarting/reconnecting thing's failures, counted against a :class:`BackoffPolicy`."""

    def __init__(self, policy: BackoffPolicy, *, clock: Clock | None = None, rng: random.Random | None = None) -> None:
        self.policy = policy
        self.clock = clock or MonotonicClock()
        self._rng = rng or random.Random()
        self.failures = 0
        self._started = self.clock.now()

    def next(self) -> float:
        """Count a failure; the wait before the next attempt."""
        wait = self.policy.delay(self.failures)
        self.failures += 1
        if self.policy.jitter:
            wait *= 1.0 - self.policy.jitter * self._rng.random()
        return wait

    def reset(self) -> None:
        self.failures = 0

    def started(self) -> None:
        """The thing runs (again) from now: :meth:`after_exit` measures its run from here."""
        self._started = self.clock.now()

    def lived(self) -> float:
        """Seconds since :meth:`started`."""
        return self.clock.now() - self._started

    def after_exit(self) -> float:
        """It stopped: the wait before starting it again. After a healthy run (at least
        ``healthy_after`` since :meth:`started`) the count is reset and the wait is
        ``healthy_wait``; otherwise this is a failure (:meth:`next`)."""
        if self.lived() >= self.policy.healthy_after:
            self.reset()
            return self.policy.first if self.policy.healthy_wait is None else self.policy.healthy_wait
        return self.next()
