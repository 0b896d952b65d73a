"""Zeroconf: advertise a service as ``_wyoming._tcp.local.`` and browse for others."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from dataclasses import dataclass

from zeroconf import InterfaceChoice, IPVersion, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

_LOGGER = logging.getLogger(__name__)
SERVICE_TYPE = "_wyoming._tcp.local."
_MDNS_GROUP = "224.0.0.251"


def reachable_host(bind_host: str) -> str:
    """The address to advertise for a server bound to ``bind_host``; never 0.0.0.0.

    A wildcard bind advertises the address of the interface that routes to the mDNS
    group (what other machines on the LAN reach); a specific bind advertises itself.
    """
    if bind_host in ("", "0.0.0.0", "::", "*"):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.connect((_MDNS_GROUP, 5353))
                host = str(probe.getsockname()[0])
            except OSError:
                host = "127.0.0.1"
        return host if host != "0.0.0.0" else "127.0.0.1"
    try:
        return str(ipaddress.ip_address(bind_host))
    except ValueError:
        return socket.gethostbyname(bind_host)


def _interfaces_for(host: str) -> list[str] | InterfaceChoice:
    # Loopback services are advertised on loopback only (tests, single-box set-ups); the others
    # on every interface. (zeroconf wants InterfaceChoice.All, not the string "all": a TypeError
    # that stopped every `--uri tcp://0.0.0.0:PORT --zeroconf` server and every browse without
    # an interface, `voice-orchestrator serve --discover` and `hearth serve` among them.)
    return [host] if ipaddress.ip_address(host).is_loopback else InterfaceChoice.All


def default_name(program: str) -> str:
    return f"{program}-{socket.gethostname().split('.')[0]}"


class Advertiser:
    """Registers one service; ``close()`` unregisters it (the goodbye packet goes out)."""

    def __init__(self, name: str, port: int, host: str) -> None:
        self.name = name
        self.port = port
        self.host = host
        self._zc: AsyncZeroconf | None = None
        self._info: AsyncServiceInfo | None = None

    async def start(self) -> None:
        self._zc = AsyncZeroconf(interfaces=_interfaces_for(self.host), ip_version=IPVersion.V4Only)
        self._info = AsyncServiceInfo(
            SERVICE_TYPE,
            f"{self.name}.{SERVICE_TYPE}",
            addresses=[socket.inet_aton(self.host)],
            port=self.port,
            server=f"{self.name}.local.",
        )
        await (await self._zc.async_register_service(self._info, allow_name_change=True))
        _LOGGER.info("zeroconf advertised name=%s host=%s port=%d", self.name, self.host, self.port)

    async def close(self) -> None:
        if self._zc is None:
            return
        try:
            if self._info is not None:
                await (await self._zc.async_unregister_service(self._info))
        finally:
            await self._zc.async_close()
            self._zc = None


@dataclass(frozen=True)
class Found:
    name: str
    host: str
    port: int

    @property
    def uri(self) -> str:
        return f"tcp://{self.host}:{self.port}"


async def browse(timeout: float = 2.0, interface: str | None = None, want: str | None = None) -> list[Found]:
    """Every ``_wyoming._tcp`` service answering within ``timeout`` seconds.

    With ``want``, returns as soon as a service of that name has been resolved.
    """
    zc = AsyncZeroconf(interfaces=[interface] if interface else InterfaceChoice.All, ip_version=IPVersion.V4Only)
    names: set[str] = set()

    def on_change(zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange) -> None:
        if state_change in (ServiceStateChange.Added, ServiceStateChange.Updated):
            names.add(name)

    browser = AsyncServiceBrowser(zc.zeroconf, [SERVICE_TYPE], handlers=[on_change])
    found: dict[str, Found] = {}
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            for name in list(names - found.keys()):
                info = AsyncServiceInfo(SERVICE_TYPE, name)
                if await info.async_request(zc.zeroconf, 1000) and info.port:
                    addresses = info.parsed_addresses(IPVersion.V4Only)
                    if addresses:
                        short = name.removesuffix("." + SERVICE_TYPE)
                        found[name] = Found(short, addresses[0], info.port)
            if want is not None and any(f.name == want for f in found.values()):
                break
            await asyncio.sleep(0.1)
    finally:
        await browser.async_cancel()
        await zc.async_close()
    return sorted(found.values(), key=lambda f: f.name)
