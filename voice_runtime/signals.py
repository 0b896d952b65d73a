"""SIGINT/SIGTERM as a request to stop, the same way in every program (servers, the
orchestrator, the session recorder, the ``hearth`` supervisor).

:func:`on_stop_signal` calls a function when either signal arrives, for as long as the ``with``
block runs, and logs ``stopping on signal SIGTERM`` (or ``SIGINT``) when one does; the previous
handlers are back afterwards. Where the loop cannot take signal handlers (Windows, a loop that is
not in the main thread), nothing is installed and Ctrl-C stays Python's ``KeyboardInterrupt``.
Enter it before the program says it is ready ("listening ..."): a supervisor or a test may
send the signal the moment it reads that line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Iterator

_LOGGER = logging.getLogger(__name__)
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def on_stop_signal(stop: Callable[[], object]) -> Iterator[None]:
    """Call ``stop()`` on SIGINT or SIGTERM while the block runs (on the running loop)."""
    loop = asyncio.get_running_loop()

    def received(sig: signal.Signals) -> None:
        _LOGGER.info("stopping on signal %s", sig.name)
        stop()

    installed: list[signal.Signals] = []
    for sig in STOP_SIGNALS:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, received, sig)
            installed.append(sig)
    try:
        yield
    finally:
        for sig in installed:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)
