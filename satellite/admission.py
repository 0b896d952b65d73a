"""Which connection is the satellite's controller: the one that sent ``run-satellite`` first,
for as long as it is alive.

A second controller's ``run-satellite`` (our orchestrator found by zeroconf while Home Assistant
drives the satellite, or the other way round) is refused with an ``error`` of code
``satellite-busy`` and nothing more is written to its connection (the handler reads on until it
closes, so the refusal is never lost to a reset); the controller in charge is neither told nor
disturbed (wyoming-satellite also keeps its server and drops a newcomer). "Alive" means
connected and heard from (any frame, Home Assistant's and our orchestrator's pings included)
within ``silent_seconds``: a controller that crashed without closing its socket (a half-open TCP
connection) goes silent, and after that a new one takes over. Before a newcomer is refused, the
controller in charge is also asked (the handler writes it a ``ping``, :mod:`satellite.handler`):
heard from within ``probe_seconds`` (its ``pong``, or its own ping: Home Assistant pings 2 s after
each pong, our orchestrator every 2 s) it keeps the satellite; else it is gone and the newcomer
takes over at once. Session 29 (``bench/ha_reconnect.py``): Home Assistant's host gone without a FIN,
its restarted self was refused ("heard 3.5s ago") and came back only 16 s later (the 15 s silence,
then its 10 s reconnect wait). wyoming-satellite 1.0.0 keeps its server until a write to it fails.

Pure bookkeeping: no asyncio, no I/O; the clock is injected.
"""

from __future__ import annotations

import logging

from voice_runtime.clock import Clock
from voice_runtime.error_codes import SATELLITE_BUSY

_LOGGER = logging.getLogger(__name__)
BUSY = SATELLITE_BUSY  # the refusal's error code (the orchestrator's link reads the same constant)
SILENT_SECONDS = 15.0  # Home Assistant and our orchestrator ping every few seconds
# a live controller answers a ping in milliseconds, and pings by itself every 2 s (HA: 2 s after each pong)
PROBE_SECONDS = 3.0
REFUSAL_LOG_SECONDS = 60.0  # at most one refusal log line per this long (a controller retrying in a loop)


class Admission:
    def __init__(
        self, clock: Clock, silent_seconds: float = SILENT_SECONDS, probe_seconds: float = PROBE_SECONDS
    ) -> None:
        self.clock = clock
        self.silent_seconds = silent_seconds
        self.probe_seconds = probe_seconds
        self.refused = 0
        self._heard_at = float("-inf")  # the controller's last frame
        self._logged_at = float("-inf")
        self._unlogged = 0

    def heard(self) -> None:
        """The controller in charge sent something (call for every frame, pings included)."""
        self._heard_at = self.clock.now()

    def silent_for(self) -> float:
        return self.clock.now() - self._heard_at

    def gone(self, current: str, newcomer: str) -> None:
        """The controller in charge did not answer within ``probe_seconds``: ``newcomer`` takes over."""
        _LOGGER.warning(
            "controller %s silent for %.1fs, no answer to a ping within %.1fs: %s takes over",
            current,
            self.silent_for(),
            self.probe_seconds,
            newcomer,
        )

    def refusal(self, current: str | None, newcomer: str) -> str | None:
        """None: ``newcomer`` may become the controller; else the text of its ``satellite-busy`` error.

        ``current`` is the client of the controller in charge (None: there is none, or it is the
        newcomer's own connection)."""
        if current is None:
            return None
        silent = self.silent_for()
        if silent >= self.silent_seconds:
            _LOGGER.warning("controller %s silent for %.0fs: %s takes over", current, silent, newcomer)
            return None
        self.refused += 1
        now = self.clock.now()
        if now - self._logged_at >= REFUSAL_LOG_SECONDS:
            more = f" ({self._unlogged} more refused since the last line)" if self._unlogged else ""
            _LOGGER.warning(
                "refused controller %s: the satellite is busy with %s (heard %.1fs ago)%s",
                newcomer,
                current,
                silent,
                more,
            )
            self._logged_at, self._unlogged = now, 0
        else:
            self._unlogged += 1
        return (
            f"this satellite already has a controller ({current}, heard {silent:.0f}s ago); "
            f"it takes another once that one disconnects or is silent for {self.silent_seconds:.0f}s"
        )
