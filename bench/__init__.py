"""Benchmarks (not tests): ``./run.sh bench [NAME …] [-- ARGS]``; results in bench/results/."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine
from typing import Any


def run_until_signalled(main: Coroutine[Any, Any, int]) -> int:
    """``asyncio.run(main)``, but SIGTERM ends it like Ctrl-C: ``main`` is cancelled, so its
    ``finally`` stops the servers it started instead of leaving them running. Exit code 143."""

    async def guarded() -> int:
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        return await main

    try:
        return asyncio.run(guarded())
    except (asyncio.CancelledError, KeyboardInterrupt):
        return 143
