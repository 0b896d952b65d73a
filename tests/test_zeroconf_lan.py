"""Zeroconf beyond loopback, as the README tells Home Assistant users to run a service
(``--uri tcp://0.0.0.0:PORT --zeroconf``) and as ``voice-orchestrator serve --discover`` /
``hearth serve`` browse (every interface).

Both used to die at once: zeroconf was given the string ``"all"`` for its interfaces and raised
``TypeError: choice must be a list or InterfaceChoice``. The other zeroconf tests run on
loopback only (an interface list), so they never saw it.
"""

from __future__ import annotations

import asyncio
import socket

from helpers import Client
from test_runtime_server import INFO
from wyoming.info import Describe, Info

from voice_runtime.discovery import browse, reachable_host
from voice_runtime.handler import ServiceHandler
from voice_runtime.server import ServerConfig, WyomingServer


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("0.0.0.0", 0))
        return int(probe.getsockname()[1])


async def test_a_service_on_every_interface_is_advertised_and_found_by_a_browse_on_every_interface() -> None:
    def factory(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> ServiceHandler:
        return ServiceHandler(reader, writer, info=lambda: INFO)

    port = free_port()
    name = f"hearth-lan-test-{port}"
    server = WyomingServer(ServerConfig(uri=f"tcp://0.0.0.0:{port}", zeroconf=True, zeroconf_name=name), factory)
    await server.start()
    try:
        found = [f for f in await browse(timeout=5.0, want=name) if f.name == name]
        assert [(f.host, f.port) for f in found] == [(reachable_host("0.0.0.0"), port)]
        client = await Client.connect(found[0].port, host=found[0].host)  # what a discoverer does next
        try:
            await client.send(Describe())
            info = await client.recv(timeout=5)
            assert info is not None and Info.from_event(info).handle[0].name == "echo"
        finally:
            await client.close()
    finally:
        await server.stop()
