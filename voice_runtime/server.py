"""Start a Wyoming server on ``tcp://``, ``unix://`` or ``stdio://``.

Adds what the wyoming package's servers leave out: a connection limit, an optional
allow-list of client networks, zeroconf advertisement of the real address, and a graceful
shutdown on SIGINT/SIGTERM (connections' work cancelled, sockets closed, zeroconf
unregistered).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from wyoming.error import Error
from wyoming.event import async_get_stdin, async_get_stdout, async_write_event

from .discovery import Advertiser, default_name, reachable_host
from .handler import ServiceHandler
from .limits import Limits
from .tasks import cancel_and_wait, race

_LOGGER = logging.getLogger(__name__)

HandlerFactory = Callable[[asyncio.StreamReader, asyncio.StreamWriter], ServiceHandler]


@dataclass(frozen=True)
class ServerConfig:
    uri: str
    program: str = "hearth"
    zeroconf: bool = False
    zeroconf_name: str | None = None
    zeroconf_host: str | None = None
    limits: Limits = field(default_factory=Limits)
    allow: tuple[str, ...] = ()  # client networks (CIDR); empty = everyone


def parse_networks(values: tuple[str, ...]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(v, strict=False) for v in values]


def allowed(host: str, networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    """Is a client at ``host`` in one of ``networks``? An IPv4 client seen through an IPv6
    socket (``::ffff:192.168.1.5``) is matched as the IPv4 address it is; a zone index
    (``fe80::1%eth0``) is ignored."""
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in net for net in networks)


class WyomingServer:
    """One listening server; :meth:`start` binds, :meth:`stop` shuts everything down."""

    def __init__(self, config: ServerConfig, factory: HandlerFactory) -> None:
        self.config = config
        self.factory = factory
        self._server: asyncio.AbstractServer | None = None
        self._handlers: dict[asyncio.Task[None], ServiceHandler] = {}
        self._advertiser: Advertiser | None = None
        self._allow = parse_networks(config.allow)
        self._stopped = asyncio.Event()
        self._changed = asyncio.Condition()
        self.port: int | None = None

    @property
    def connections(self) -> int:
        return len(self._handlers)

    async def start(self) -> None:
        parsed = urlparse(self.config.uri)
        limit = self.config.limits.max_header_bytes + 1
        if parsed.scheme == "tcp":
            if parsed.hostname is None or parsed.port is None:
                raise ValueError("a tcp:// URI needs a host and a port, e.g. tcp://0.0.0.0:10300")
            self._server = await asyncio.start_server(
                self._accept, host=parsed.hostname, port=parsed.port, limit=limit, reuse_address=True
            )
            self.port = int(self._server.sockets[0].getsockname()[1])
            _LOGGER.info("listening uri=tcp://%s:%d", parsed.hostname, self.port)
            if self.config.zeroconf:
                host = self.config.zeroconf_host or reachable_host(parsed.hostname)
                name = self.config.zeroconf_name or default_name(self.config.program)
                self._advertiser = Advertiser(name, self.port, host)
                await self._advertiser.start()
        elif parsed.scheme == "unix":
            path = Path(parsed.path)
            await asyncio.to_thread(path.unlink, missing_ok=True)
            self._server = await asyncio.start_unix_server(self._accept, path=str(path), limit=limit)
            _LOGGER.info("listening uri=unix://%s", path)
        elif parsed.scheme == "stdio":
            reader = await async_get_stdin()
            reader._limit = limit  # type: ignore[attr-defined]  # stdin reader has no limit arg
            writer = await async_get_stdout()
            task = asyncio.create_task(self._serve_one(reader, writer, finish_on_eof=True), name="stdio connection")
            task.add_done_callback(lambda _t: self._stopped.set())
        else:
            raise ValueError(f"unsupported URI {self.config.uri!r}: use tcp://, unix:// or stdio://")

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        if self._allow and isinstance(peer, tuple) and not allowed(str(peer[0]), self._allow):
            _LOGGER.warning("refused client=%s reason=not-in-allow-list", peer[0])
            await self._refuse(writer, "forbidden", "client address is not allowed")
            return
        if len(self._handlers) >= self.config.limits.max_connections:
            _LOGGER.warning("refused client=%s reason=too-many-connections", peer)
            await self._refuse(writer, "too-many-connections", "server is at its connection limit")
            return
        await self._serve_one(reader, writer)

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *,
                         finish_on_eof: bool = False) -> None:
        handler = self.factory(reader, writer)
        handler.finish_on_eof = finish_on_eof
        task = asyncio.current_task()
        assert task is not None
        self._handlers[task] = handler
        try:
            await handler.run()
        except Exception:
            _LOGGER.exception("connection failed")
        finally:
            self._handlers.pop(task, None)
            async with self._changed:
                self._changed.notify_all()

    async def wait_connections(self, count: int = 0) -> None:
        """Wait until at most ``count`` connections are open."""
        async with self._changed:
            await self._changed.wait_for(lambda: len(self._handlers) <= count)

    @staticmethod
    async def _refuse(writer: asyncio.StreamWriter, code: str, text: str) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):
                await async_write_event(Error(text=text, code=code).event(), writer)
        writer.close()

    async def wait(self) -> None:
        """Block until the server stops (stdio: when the stream ends)."""
        await self._stopped.wait()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        # Ask each connection to end (its worker and in-flight work are cancelled by the
        # handler); cancelling the stream callbacks' tasks directly makes asyncio log errors.
        handlers = dict(self._handlers)
        for handler in handlers.values():
            with contextlib.suppress(Exception):
                await handler.stop()
        if handlers:
            await asyncio.wait(list(handlers), timeout=3.0)
        for task in list(self._handlers):
            await cancel_and_wait(task, timeout=1.0)
        if self._server is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(3.0):
                    await self._server.wait_closed()
        if self._advertiser is not None:
            await self._advertiser.close()
            self._advertiser = None
        parsed = urlparse(self.config.uri)
        if parsed.scheme == "unix":
            await asyncio.to_thread(Path(parsed.path).unlink, missing_ok=True)
        self._stopped.set()


async def run_server(config: ServerConfig, factory: HandlerFactory) -> None:
    """Serve until SIGINT/SIGTERM (or, for stdio, until the stream ends), then shut down."""
    server = WyomingServer(config, factory)
    await server.start()
    loop = asyncio.get_running_loop()
    stop_requested = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop_requested.set)
    try:
        await race(server.wait(), stop_requested.wait())
        if stop_requested.is_set():
            _LOGGER.info("stopping on signal")
    finally:
        await server.stop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)
