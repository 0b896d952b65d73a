"""`hearth serve`: an orchestrator that exits is started again only once the engines answer
``describe`` (bounded, as at its first start), not into engines that are down.

Real child processes (a stand-in program for each child: the test decides when the orchestrator
exits) and a real Wyoming engine on a real socket, which the test stops and starts again."""

from __future__ import annotations

import asyncio
import io
import os
from pathlib import Path

from helpers import free_port
from wyoming.info import Info

from voice_runtime.handler import ServiceHandler
from voice_runtime.home.config import load_config
from voice_runtime.home.supervisor import Supervisor
from voice_runtime.server import ServerConfig, WyomingServer

INFO = Info()  # what the stand-in engine is does not matter: it answers describe


class Recording(Supervisor):
    """The real supervisor; every state the orchestrator's child enters is also queued for the test."""

    states: asyncio.Queue[str]
    _last = ""

    def _write_status(self) -> None:
        super()._write_status()
        child = self.children.get("orchestrator")
        if child is not None and child.state != self._last:
            self._last = child.state
            self.states.put_nowait(child.state)


async def engine(port: int) -> WyomingServer:
    server = WyomingServer(
        ServerConfig(uri=f"tcp://127.0.0.1:{port}"), lambda r, w: ServiceHandler(r, w, info=lambda: INFO)
    )
    await server.start()
    return server


async def next_state(sup: Recording) -> str:
    async with asyncio.timeout(30):
        return await sup.states.get()


async def test_a_restarted_orchestrator_waits_for_the_engines(tmp_path: Path) -> None:
    port = free_port()
    release = tmp_path / "release"
    os.mkfifo(release)
    program = tmp_path / "child"  # "-m MODULE ...": the orchestrator runs until released, then exits 1
    program.write_text(
        f'#!/bin/sh\nif [ "$2" = orchestrator ]; then read x < "{release}"; exit 1; fi\nexec sleep 600\n'
    )
    program.chmod(0o755)
    config = tmp_path / "hearth.toml"
    config.write_text(
        f'state_dir = "{tmp_path / "state"}"\n[whisper]\nport = {port}\n'
        "[kokoro]\nenabled = false\n[llama]\nenabled = false\n"
    )
    sup = Recording(load_config(config), python=str(program), out=io.StringIO())
    sup.states = asyncio.Queue()
    server = await engine(port)
    running = asyncio.create_task(sup.run(), name="supervisor")
    try:
        assert [await next_state(sup), await next_state(sup)] == ["waiting", "running"]  # the engine answers
        await server.stop()  # the engine goes down, then the orchestrator exits
        await asyncio.to_thread(release.write_text, "go\n")
        assert await next_state(sup) == "backoff"
        # Old code: "running" (started again 1 s later into a dead engine).
        assert await next_state(sup) == "waiting"
        assert sup.states.empty()
        server = await engine(port)
        assert await next_state(sup) == "running"  # once the engine answers again
        assert sup.children["orchestrator"].restarts == 1
    finally:
        sup.stop()
        async with asyncio.timeout(60):
            await running
        await server.stop()
    assert sup.children["orchestrator"].state == "stopped"
