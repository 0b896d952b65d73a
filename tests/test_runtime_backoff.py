"""The one doubling back-off (voice_runtime.backoff): the schedule, the cap, the reset after a
healthy run, jitter; time from a ManualClock (no sleeps). Its users' schedules are pinned too."""

from __future__ import annotations

import math
import random

import pytest

from satellite.speakers import RESTART_BACKOFF
from voice_runtime.backoff import Backoff, BackoffPolicy
from voice_runtime.clock import ManualClock
from voice_runtime.home.supervisor import SERVICE_BACKOFF


def test_the_wait_doubles_from_first_up_to_the_cap() -> None:
    assert BackoffPolicy(first=0.5, cap=30.0).schedule(9) == (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0)
    assert BackoffPolicy(first=1.0, factor=3.0, cap=20.0).schedule(5) == (1.0, 3.0, 9.0, 20.0, 20.0)
    assert BackoffPolicy(first=0.25, factor=1.0).schedule(3) == (0.25, 0.25, 0.25)  # fixed


def test_thousands_of_failures_stay_at_the_cap_without_overflow() -> None:
    assert BackoffPolicy(first=0.5, cap=10.0).delay(100_000) == 10.0
    assert BackoffPolicy(first=1.0).delay(100_000) == math.inf  # no cap: unbounded, not an OverflowError
    assert BackoffPolicy(first=0.0, cap=5.0).delay(100_000) == 0.0  # never nan (0 * inf)


def test_next_counts_failures_and_reset_starts_again() -> None:
    backoff = Backoff(BackoffPolicy(first=1.0, cap=8.0), clock=ManualClock())
    assert [backoff.next() for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert backoff.failures == 6
    backoff.reset()
    assert [backoff.next() for _ in range(2)] == [1.0, 2.0]


def test_a_healthy_run_resets_the_count_and_waits_the_healthy_wait() -> None:
    clock = ManualClock()
    backoff = Backoff(BackoffPolicy(first=1.0, cap=60.0, healthy_after=10.0, healthy_wait=0.0), clock=clock)
    waits = []
    for lived in (1.0, 9.9, 2.0):  # three quick exits: doubling
        backoff.started()
        clock.advance(lived)
        waits.append(backoff.after_exit())
    assert waits == [1.0, 2.0, 4.0]
    backoff.started()
    clock.advance(10.5)  # longer than healthy_after: healthy
    assert backoff.lived() == pytest.approx(10.5)
    assert backoff.after_exit() == 0.0
    assert backoff.failures == 0
    backoff.started()
    clock.advance(0.1)
    assert backoff.after_exit() == 1.0  # the doubling starts again from first


def test_the_healthy_wait_defaults_to_first_and_is_not_counted() -> None:
    clock = ManualClock()
    backoff = Backoff(BackoffPolicy(first=2.0, healthy_after=5.0), clock=clock)
    backoff.started()
    clock.advance(1.0)
    assert backoff.after_exit() == 2.0
    backoff.started()
    clock.advance(6.0)
    assert backoff.after_exit() == 2.0
    backoff.started()
    assert backoff.after_exit() == 2.0  # first again: the healthy wait did not count as a failure
    assert backoff.after_exit() == 4.0


def test_jitter_shortens_each_wait_by_at_most_its_fraction() -> None:
    policy = BackoffPolicy(first=1.0, cap=8.0, jitter=0.5)
    backoff = Backoff(policy, clock=ManualClock(), rng=random.Random(7))
    waits = [backoff.next() for _ in range(200)]
    exact = [policy.delay(i) for i in range(200)]
    assert all(e * 0.5 <= w <= e for w, e in zip(waits, exact, strict=True))
    assert len({round(w, 6) for w in waits[10:]}) > 100  # spread, not a constant factor
    plain = Backoff(BackoffPolicy(first=1.0, cap=8.0), clock=ManualClock(), rng=random.Random(7))
    assert [plain.next() for _ in range(5)] == [1.0, 2.0, 4.0, 8.0, 8.0]  # no jitter: exact


@pytest.mark.parametrize(
    "kwargs",
    [{"first": -1.0}, {"first": 1.0, "factor": 0.5}, {"first": 1.0, "cap": -1.0}, {"first": 1.0, "jitter": 1.0}],
)
def test_a_policy_that_makes_no_sense_is_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="back-off"):
        BackoffPolicy(**kwargs)


def test_the_users_schedules_are_the_ones_they_had() -> None:
    # The home supervisor: 1, 2, 4 … 60 s; a run of 60 s resets it (next wait 1 s).
    assert SERVICE_BACKOFF.schedule(8) == (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0)
    assert (SERVICE_BACKOFF.healthy_after, SERVICE_BACKOFF.healthy_wait) == (60.0, None)
    # The speaker command: 0.5 s doubling to 30 s; one that ran 10 s is started again at once.
    assert RESTART_BACKOFF.schedule(8) == (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0)
    assert (RESTART_BACKOFF.healthy_after, RESTART_BACKOFF.healthy_wait) == (10.0, 0.0)
