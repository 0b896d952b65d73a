"""Retry with backoff, only while nothing has reached the user yet."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from .clock import Clock, MonotonicClock

_LOGGER = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """``delays[i]`` is the wait before retry ``i + 1``; ``len(delays)`` retries at most."""

    delays: tuple[float, ...] = (1.0, 2.0, 4.0)
    retry_on: tuple[type[BaseException], ...] = (OSError, ConnectionError, TimeoutError)

    @staticmethod
    def exponential(retries: int, first: float, factor: float = 2.0) -> RetryPolicy:
        return RetryPolicy(delays=tuple(first * factor**i for i in range(retries)))

    @staticmethod
    def fixed(retries: int, delay: float) -> RetryPolicy:
        return RetryPolicy(delays=tuple(delay for _ in range(retries)))


# The seed's table: LLM 3x with 1/2/4 s, TTS 2x with 0.5 s.
LLM_RETRY = RetryPolicy.exponential(3, 1.0)
TTS_RETRY = RetryPolicy.fixed(2, 0.5)


async def retry_async(
    attempt: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    may_retry: Callable[[], bool] = lambda: True,
    clock: Clock | None = None,
    what: str = "call",
) -> T:
    """Run ``attempt`` until it succeeds or the policy is spent.

    ``may_retry`` is asked after each failure; return False once output has reached the
    user (first token, first audio byte) so the failure propagates instead of repeating
    what was already heard.
    """
    clock = clock or MonotonicClock()
    for index in range(len(policy.delays) + 1):
        try:
            return await attempt()
        except policy.retry_on as err:
            if index >= len(policy.delays) or not may_retry():
                raise
            delay = policy.delays[index]
            _LOGGER.warning(
                "%s failed (%s: %s); retry %d/%d in %.1fs",
                what, type(err).__name__, err, index + 1, len(policy.delays), delay,
            )
            await clock.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover
