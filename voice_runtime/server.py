"""Start a Wyoming server on ``tcp://``, ``unix://`` or ``stdio://``.

Adds what the wyoming package's servers leave out: a connection limit, an optional
allow-list of client networks, zeroconf advertisement of the real address, and a graceful
shutdown on SIGINT/SIGTERM (connections' work cancelled, sockets closed, zeroconf
unregistered).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from wyoming.error import Error
from wyoming.event import async_get_stdin, async_get_stdout, async_write_event

from .discovery import Advertiser, default_name, reachable_host
from .handler import ServiceHandler
from .limits import Limits
from .signals import on_stop_signal
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


class ListenError(OSError):
    """The server cannot listen where it was told: the port is taken, the address is not this
    machine's, no permission. Its text says where and why, for the user; no traceback."""


def _listen_error(uri: str, err: OSError) -> ListenError:
    if err.errno == errno.EADDRINUSE:
        why = "the address is already in use (another server on that port? pick another with --uri)"
    elif err.errno == errno.EACCES:
        why = "permission denied (ports below 1024 need root)"
    elif err.errno == errno.EADDRNOTAVAIL:
        why = "that address is not one of this machine's (use 0.0.0.0 for every interface)"
    else:
        why = err.strerror or str(err)
    return ListenError(err.errno or 0, f"cannot listen on {uri}: {why}")


def _parse_listen_uri(uri: str) -> tuple[str, str, int | None, str]:
    """(scheme, host, port, path) of a server URI, or :class:`ListenError` saying what is wrong."""
    try:
        parsed = urlparse(uri)
        port = parsed.port  # ValueError when out of range
    except ValueError as err:
        raise ListenError(0, f"bad URI {uri!r}: {err}") from None
    if parsed.scheme == "tcp" and (parsed.hostname is None or port is None):
        raise ListenError(0, f"a tcp:// URI needs a host and a port, e.g. tcp://0.0.0.0:10300 (got {uri!r})")
    if parsed.scheme not in ("tcp", "unix", "stdio"):
        raise ListenError(0, f"unsupported URI {uri!r}: use tcp://HOST:PORT, unix://PATH or stdio://")
    return parsed.scheme, parsed.hostname or "", port, parsed.path


def check_listen(uri: str) -> None:
    """Fail at once, before minutes of model loading, when the server could not listen on ``uri``
    (not a tcp/unix/stdio URI, no port, the port taken, a host not this machine's, no folder for
    the socket): raises :class:`ListenError`."""
    scheme, host, port, path = _parse_listen_uri(uri)
    if scheme == "unix" and not Path(path).parent.is_dir():
        raise ListenError(errno.ENOENT, f"cannot listen on {uri}: there is no folder {Path(path).parent}")
    if scheme != "tcp":
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _name, address = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds
            probe.bind(address)
    except OSError as err:
        raise _listen_error(uri, err) from None


def require_listen(uri: str, program: str) -> None:
    """:func:`check_listen` for a command's start: exits with one line (``PROGRAM: cannot listen on
    URI: why``) instead of loading models for a server that could not start."""
    try:
        check_listen(uri)
    except ListenError as err:
        raise SystemExit(f"{program}: {err.strerror}") from None


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
        scheme, host, port, path = _parse_listen_uri(self.config.uri)
        limit = self.config.limits.max_header_bytes + 1
        if scheme == "tcp":
            try:
                self._server = await asyncio.start_server(
                    self._accept, host=host, port=port, limit=limit, reuse_address=True
                )
            except OSError as err:
                raise _listen_error(self.config.uri, err) from None
            self.port = int(self._server.sockets[0].getsockname()[1])
            _LOGGER.info("listening uri=tcp://%s:%d", host, self.port)
            if self.config.zeroconf:
                advertised = self.config.zeroconf_host or reachable_host(host)
                name = self.config.zeroconf_name or default_name(self.config.program)
                self._advertiser = Advertiser(name, self.port, advertised)
                await self._advertiser.start()
        elif scheme == "unix":
            socket_path = Path(path)
            try:
                await asyncio.to_thread(socket_path.unlink, missing_ok=True)
                self._server = await asyncio.start_unix_server(self._accept, path=str(socket_path), limit=limit)
            except OSError as err:
                raise _listen_error(self.config.uri, err) from None
            _LOGGER.info("listening uri=unix://%s", socket_path)
        else:  # stdio (_parse_listen_uri allows nothing else)
            reader = await async_get_stdin()
            reader._limit = limit  # type: ignore[attr-defined]  # stdin reader has no limit arg
            writer = await async_get_stdout()
            task = asyncio.create_task(self._serve_one(reader, writer, finish_on_eof=True), name="stdio connection")
            task.add_done_callback(lambda _t: self._stopped.set())

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
    """Serve until SIGINT/SIGTERM (or, for stdio, until the stream ends), then shut down. A server
    that cannot listen exits with one line saying where and why (SystemExit), not a traceback."""
    server = WyomingServer(config, factory)
    stop_requested = asyncio.Event()
    with on_stop_signal(stop_requested.set):  # before "listening": a signal right after it is handled
        try:
            await server.start()
        except ListenError as err:
            _LOGGER.error("%s", err.strerror)
            raise SystemExit(f"{config.program}: {err.strerror}") from None
        try:
            await race(server.wait(), stop_requested.wait())
        finally:
            await server.stop()
