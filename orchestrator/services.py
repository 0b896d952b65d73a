"""Connections to engine services, with replicas, failover and a warm spare per replica.

A turn takes a fresh connection per stage (as Home Assistant does); closing it is how a
stage is cancelled (the server sees the disconnect and stops working). Each replica keeps
one connection open and idle in advance so a turn does not pay for connect + handshake.
Replicas are used round-robin; a replica that fails is skipped for ``cooldown`` seconds
and the next one is tried.

Every connection handed out has just answered ``describe`` within ``probe_timeout``: a
black-holed or hung server (connect succeeds, nothing answers) and a stale warm spare (the
server closed it, or left an ``idle-timeout`` error in it, while ``at_eof()`` is still false)
are found here, in well under a second, not by the stage's own timeout. A stale spare is
replaced by a fresh connection to the same replica; a replica that does not answer is
marked down and the next one is tried. Connecting is bounded by ``connect_timeout``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from wyoming.error import Error
from wyoming.event import Event, Eventable, async_write_event
from wyoming.info import Describe, Info

from voice_runtime.client import describe, open_uri, read_event
from voice_runtime.clock import Clock, MonotonicClock
from voice_runtime.discovery import browse
from voice_runtime.tasks import TaskSet, cancel_and_wait

_LOGGER = logging.getLogger(__name__)


class ServiceUnavailable(ConnectionError):
    """No replica of a service could be reached."""


class Connection:
    """One Wyoming client connection."""

    def __init__(self, uri: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.uri = uri
        self.reader = reader
        self.writer = writer
        self.rewrite: Callable[[Event], Event] | None = None  # the pool's, applied to every event sent

    @classmethod
    async def open(cls, uri: str, timeout: float = 5.0) -> Connection:
        return cls(uri, *await open_uri(uri, timeout))

    async def send(self, event: Event | Eventable) -> None:
        event = event if isinstance(event, Event) else event.event()
        await async_write_event(self.rewrite(event) if self.rewrite is not None else event, self.writer)

    async def recv(self, timeout: float | None = None) -> Event:
        """The next event; ``timeout`` bounds the wait for it (an inactivity timeout)."""
        async with asyncio.timeout(timeout):
            return await read_event(self.reader, self.uri)

    async def probe(self, timeout: float) -> Info:
        """``describe`` → ``info`` within ``timeout`` (TimeoutError: black hole or hung server).

        An ``error`` first (a spare's buffered ``idle-timeout``) or a close means the connection
        is stale: ConnectionResetError.
        """
        await self.send(Describe())
        async with asyncio.timeout(timeout):
            while True:
                event = await self.recv()
                if Info.is_type(event.type):
                    return Info.from_event(event)
                if Error.is_type(event.type):
                    raise ConnectionResetError(f"{self.uri} stale connection: {Error.from_event(event).code}")

    @property
    def alive(self) -> bool:
        return not self.writer.is_closing() and not self.reader.at_eof()

    async def close(self) -> None:
        self.writer.close()
        # ``asyncio.timeout``, not ``wait_for``: Python 3.11's wait_for returns normally when the
        # close completes in the same loop pass as a cancel of the caller, so a cancelled turn
        # ran on (and was recorded twice by the satellite link).
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):
                await self.writer.wait_closed()


@dataclass
class _Replica:
    uri: str
    down_until: float = 0.0
    spare: Connection | None = None
    spare_task: asyncio.Task[None] | None = None


@dataclass
class ServicePool:
    """The replicas of one kind of service (asr, tts, handle, intent)."""

    kind: str
    uris: list[str]
    cooldown: float = 5.0
    clock: Clock = field(default_factory=MonotonicClock)
    warm: bool = True
    connect_timeout: float = 1.0
    probe_timeout: float = 1.0
    probe: bool = True
    # Applied to every event sent on this pool's connections (the ASR pool adds the home's names
    # to ``transcribe``: orchestrator/home/asr.py).
    rewrite: Callable[[Event], Event] | None = None

    def __post_init__(self) -> None:
        self._replicas = [_Replica(u) for u in self.uris]
        self._next = 0
        self.info: Info | None = None
        self._tasks = TaskSet()  # the warm spares being opened

    def __bool__(self) -> bool:
        return bool(self._replicas)

    def _order(self, advance: bool = True) -> list[_Replica]:
        now = self.clock.now()
        n = len(self._replicas)
        rotated = [self._replicas[(self._next + i) % n] for i in range(n)]
        if advance:
            self._next = (self._next + 1) % max(n, 1)
        up = [r for r in rotated if r.down_until <= now]
        return up + [r for r in rotated if r.down_until > now]  # try the cooling ones last

    async def acquire(self, *, check: bool = False) -> Connection:
        """A connection to a healthy replica; raises ServiceUnavailable when none answers.

        ``check=True`` (a health check, the connection given back with :meth:`release`) leaves
        the round-robin where it is and opens no replacement spare, so the check costs no
        connection when the replica had a spare.
        """
        errors: list[str] = []
        for replica in self._order(advance=not check):
            try:
                conn = await self._connect(replica)
            except (OSError, TimeoutError) as err:
                self.mark_failed(replica.uri)
                errors.append(f"{replica.uri}: {type(err).__name__} {err}".rstrip())
                continue
            replica.down_until = 0.0
            if not check:
                self._refill(replica)
            conn.rewrite = self.rewrite
            return conn
        raise ServiceUnavailable(f"no {self.kind} service reachable ({'; '.join(errors) or 'none configured'})")

    async def _connect(self, replica: _Replica) -> Connection:
        """The replica's warm spare if it still answers, else a fresh connection that does."""
        spare, replica.spare = replica.spare, None
        if spare is not None:
            if spare.alive:
                try:
                    await self._check(spare)
                    return spare
                except TimeoutError:
                    raise  # a black hole or a hung server: a fresh connection would hang too
                except OSError as err:
                    _LOGGER.info("service kind=%s uri=%s: warm spare was stale (%s)", self.kind, replica.uri, err)
            else:
                await spare.close()
        conn = await Connection.open(replica.uri, self.connect_timeout)
        await self._check(conn)
        return conn

    async def _check(self, conn: Connection) -> None:
        if not self.probe:
            return
        try:
            info = await conn.probe(self.probe_timeout)
        except BaseException:
            await conn.close()
            raise
        if self.info is None:
            self.info = info

    async def release(self, conn: Connection) -> None:
        """Give back a connection that was acquired but not used (a health check): it becomes
        its replica's spare if that has none, so checking costs no extra connection."""
        for replica in self._replicas:
            if replica.uri == conn.uri and replica.spare is None and conn.alive:
                replica.spare = conn
                return
        await conn.close()

    def mark_failed(self, uri: str) -> None:
        for replica in self._replicas:
            if replica.uri == uri:
                replica.down_until = self.clock.now() + self.cooldown
                _LOGGER.warning("service kind=%s uri=%s marked down for %.0fs", self.kind, uri, self.cooldown)

    def _refill(self, replica: _Replica) -> None:
        if not self.warm or (replica.spare_task is not None and not replica.spare_task.done()):
            return

        async def fill() -> None:
            with contextlib.suppress(OSError, TimeoutError):
                conn = await Connection.open(replica.uri, self.connect_timeout)
                if replica.spare is None:
                    replica.spare = conn
                else:  # a connection was given back meanwhile (release): keep one spare
                    await conn.close()

        replica.spare_task = self._tasks.spawn(fill(), name=f"warm {replica.uri}")

    async def close(self) -> None:
        for replica in self._replicas:
            await cancel_and_wait(replica.spare_task)
            if replica.spare is not None:
                await replica.spare.close()
                replica.spare = None


async def discover_services(timeout: float = 3.0, interface: str | None = None) -> dict[str, list[str]]:
    """Zeroconf-browse ``_wyoming._tcp`` and sort what answers ``describe`` by kind."""
    kinds: dict[str, list[str]] = {"asr": [], "tts": [], "handle": [], "intent": []}
    for found in await browse(timeout, interface):
        try:
            info = await describe(found.uri)
        except (OSError, TimeoutError, ConnectionError) as err:
            _LOGGER.info("discovered %s but describe failed: %s", found.uri, err)
            continue
        if info.satellite is not None:
            continue
        for kind, uris in kinds.items():
            programs = getattr(info, kind) or []
            if any(p.installed for p in programs):
                uris.append(found.uri)
    return kinds
