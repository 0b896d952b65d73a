"""Shared fixtures: every test fails if it leaves asyncio tasks running."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest


@pytest.fixture(autouse=True)
async def no_leaked_tasks() -> AsyncIterator[None]:
    before = set(asyncio.all_tasks())
    yield
    current = asyncio.current_task()
    # Let tasks that were cancelled during teardown run their cleanup.
    for _ in range(5):
        leaked = [t for t in asyncio.all_tasks() - before if t is not current and not t.done()]
        if not leaked:
            return
        await asyncio.sleep(0)
    names = ", ".join(sorted(t.get_name() + ":" + repr(t.get_coro()) for t in leaked))
    for task in leaked:
        task.cancel()
    pytest.fail(f"test leaked {len(leaked)} asyncio task(s): {names}")


@pytest.fixture(scope="session")
async def stack():  # type: ignore[no-untyped-def]
    """Our whisper, llama and TTS servers (real processes, default models), shared by the session."""
    from stack import start_stack

    running = await start_stack()
    try:
        yield running
    finally:
        await running.stop()
