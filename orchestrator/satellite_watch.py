"""``serve --discover``: the satellites zeroconf finds, at start and later.

A satellite started after the orchestrator (or none at all yet) is not an error: the watch
browses every ``interval`` seconds, serves each new satellite it finds (a Wyoming service whose
``describe`` has a ``satellite``) and logs once that it is waiting while it has none. A satellite
that goes away keeps its link, which reconnects on its own when it comes back at the same
address; one that comes back under the same zeroconf name at another address is moved there.

States per zeroconf name: unknown → served (at one URI) → served at another URI (moved).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from voice_runtime.client import describe
from voice_runtime.discovery import Found, browse

_LOGGER = logging.getLogger(__name__)
MAX_SATELLITES = 64  # bounded: a network full of advertisers does not grow the orchestrator without end


@dataclass(frozen=True)
class WatchConfig:
    interval: float = 15.0  # seconds between browses
    browse_seconds: float = 3.0  # how long one browse listens
    interface: str | None = None  # None: every interface


class SatelliteWatch:
    """Calls ``start(uri)`` for each satellite found, ``stop(uri)`` when one moved elsewhere."""

    def __init__(self, config: WatchConfig, start: Callable[[str], None], stop: Callable[[str], Awaitable[None]],
                 *, fixed: Iterable[str] = ()) -> None:
        self.config = config
        self._start = start
        self._stop = stop
        self.fixed = frozenset(fixed)  # --satellite URIs: served already, never moved
        self.served: dict[str, str] = {}  # zeroconf name -> the URI being served
        self.scans = 0

    async def scan(self) -> list[str]:
        """One browse; the URIs newly served."""
        found = await browse(self.config.browse_seconds, interface=self.config.interface)
        self.scans += 1
        started = []
        for service in found:
            if await self._take(service):
                started.append(service.uri)
        return started

    async def _take(self, service: Found) -> bool:
        uri = service.uri
        if uri in self.fixed or self.served.get(service.name) == uri:
            return False
        if service.name not in self.served and len(self.served) >= MAX_SATELLITES:
            _LOGGER.warning("not serving satellite %s at %s: already %d", service.name, uri, MAX_SATELLITES)
            return False
        try:
            info = await describe(uri)
        except (OSError, TimeoutError, ValueError) as err:
            _LOGGER.debug("zeroconf service %s at %s did not describe itself: %s", service.name, uri, err)
            return False
        if info.satellite is None:
            return False  # a speech-to-text, LLM or TTS service
        old = self.served.get(service.name)
        if old is not None:
            _LOGGER.info("satellite %s moved from %s to %s", service.name, old, uri)
            await self._stop(old)
        else:
            _LOGGER.info("found satellite %s at %s", service.name, uri)
        self.served[service.name] = uri
        self._start(uri)
        return True

    async def run(self) -> None:
        """Browse until cancelled."""
        waiting_said = False
        while True:
            await self.scan()
            if not self.served and not self.fixed:
                if not waiting_said:
                    _LOGGER.info("waiting for a satellite: none found by zeroconf yet, browsing every %.0f s "
                                 "(start one with --zeroconf, or give --satellite URI)", self.config.interval)
                    waiting_said = True
            else:
                waiting_said = False
            await asyncio.sleep(self.config.interval)  # a poll interval, not a synchronisation
