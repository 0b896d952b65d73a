"""The task primitives every concurrent part is built on (voice_runtime/tasks.py): race,
put_unless_done, TaskSet. Plain asyncio objects, no sleeps: each step is driven by events."""

from __future__ import annotations

import asyncio
import logging

import pytest

from voice_runtime.tasks import TaskSet, cancel_and_wait, put_unless_done, race


async def _forever() -> None:
    await asyncio.Event().wait()


async def test_race_returns_the_first_to_finish_and_cancels_the_coroutines_it_owns() -> None:
    gate = asyncio.Event()
    loser_cancelled = asyncio.Event()

    async def loser() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            loser_cancelled.set()
            raise

    gate.set()
    assert await race(loser(), gate.wait()) == 1
    assert loser_cancelled.is_set()  # cancelled and awaited before race() returned


async def test_race_only_watches_tasks_it_was_given() -> None:
    async with TaskSet() as tasks:
        reader = tasks.spawn(_forever(), awaited=True)
        done = asyncio.Event()
        done.set()
        assert await race(reader, done.wait()) == 1
        assert not reader.done()  # still the caller's, still running (a read never cut mid-frame)


async def test_race_prefers_the_earlier_contender_when_both_are_done() -> None:
    first, second = asyncio.get_running_loop().create_future(), asyncio.get_running_loop().create_future()
    second.set_result("b")
    first.set_result("a")
    assert await race(first, second) == 0
    assert await race(second, first) == 0


async def test_race_times_out_with_none_and_leaves_no_task() -> None:
    before = set(asyncio.all_tasks())
    assert await race(_forever(), timeout=0.01) is None
    assert {t for t in asyncio.all_tasks() - before if not t.done()} == set()


async def test_race_cancelled_by_its_caller_cancels_what_it_owns_and_reraises() -> None:
    owned_cancelled = asyncio.Event()
    started = asyncio.Event()

    async def owned() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            owned_cancelled.set()
            raise

    caller = asyncio.ensure_future(race(owned()))
    await started.wait()
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert owned_cancelled.is_set()


async def test_race_does_not_raise_the_winners_exception() -> None:
    async def fails() -> None:
        raise OSError("gone")

    assert await race(fails(), _forever()) == 0


async def test_put_unless_done_waits_for_room() -> None:
    queue: asyncio.Queue[int] = asyncio.Queue(maxsize=1)
    async with TaskSet() as tasks:
        consumer = tasks.spawn(_forever(), awaited=True)
        assert await put_unless_done(queue, 1, consumer)
        putting = tasks.spawn(put_unless_done(queue, 2, consumer))
        await asyncio.sleep(0)
        assert not putting.done()  # back-pressure: the queue is full
        assert queue.get_nowait() == 1
        assert await putting is True
        assert queue.get_nowait() == 2


async def test_put_unless_done_gives_up_when_the_consumer_dies() -> None:
    queue: asyncio.Queue[int] = asyncio.Queue(maxsize=1)
    queue.put_nowait(0)
    stop = asyncio.Event()

    async def consumer_body() -> None:
        await stop.wait()
        raise RuntimeError("worker crashed")

    async with TaskSet() as tasks:
        consumer = tasks.spawn(consumer_body(), awaited=True)
        putting = tasks.spawn(put_unless_done(queue, 1, consumer))
        await asyncio.sleep(0)
        stop.set()
        assert await putting is False  # would have waited forever without the consumer check
        assert queue.qsize() == 1 and queue.get_nowait() == 0
        assert await put_unless_done(queue, 2, consumer) is False  # a dead consumer: at once
        assert queue.empty()


async def test_taskset_logs_failures_unless_awaited(caplog: pytest.LogCaptureFixture) -> None:
    async def fails() -> None:
        raise ValueError("boom")

    caplog.set_level(logging.ERROR, logger="voice_runtime.tasks")
    tasks = TaskSet()
    quiet = tasks.spawn(fails(), name="quiet", awaited=True)
    loud = tasks.spawn(fails(), name="loud")
    await asyncio.wait({quiet, loud})
    await asyncio.sleep(0)  # done callbacks
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["background task loud failed"]
    assert isinstance(quiet.exception(), ValueError)
    assert len(tasks) == 0


async def test_taskset_as_context_cancels_what_is_left() -> None:
    async with TaskSet() as tasks:
        task = tasks.spawn(_forever())
    assert task.cancelled()
    await cancel_and_wait(task)  # a done task: nothing to do, nothing raised
