"""A server told to listen where it cannot (the port taken by another program, an address that
is not this machine's) says so in one line and exits, instead of loading its models and then
dying with an asyncio traceback (``OSError: [Errno 98] error while attempting to bind``).
"""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import Iterator

import pytest

from voice_runtime.handler import ServiceHandler
from voice_runtime.server import ListenError, ServerConfig, WyomingServer, check_listen, run_server


@pytest.fixture
def taken() -> Iterator[int]:
    """A loopback port another program is listening on."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield int(other.getsockname()[1])


@pytest.mark.parametrize("module", ["wyoming_whisper", "wyoming_kokoro", "wyoming_llama"])
async def test_server_on_a_taken_port_exits_with_one_clear_line(module: str, taken: int) -> None:
    uri = f"tcp://127.0.0.1:{taken}"
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", module, "--uri", uri,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    text = (out + err).decode()
    assert proc.returncode == 1, text
    assert "Traceback" not in text and "loaded" not in text, text  # no model was loaded for nothing
    assert f"{module.replace('_', '-')}: cannot listen on {uri}: the address is already in use" in text, text


def test_check_listen_names_the_problem(taken: int) -> None:
    with pytest.raises(ListenError, match=r"already in use"):
        check_listen(f"tcp://127.0.0.1:{taken}")
    with pytest.raises(ListenError, match=r"not one of this machine's"):
        check_listen("tcp://192.0.2.1:10300")  # TEST-NET-1: never a local address
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    check_listen(f"tcp://127.0.0.1:{port}")  # a free port passes
    check_listen("stdio://")
    for uri, said in [("tcp://127.0.0.1", "needs a host and a port"), ("http://127.0.0.1:10300", "unsupported URI"),
                      ("tcp://127.0.0.1:99999", "out of range"), ("unix:///nonexistent/dir/s.sock", "no folder")]:
        with pytest.raises(ListenError, match=said):  # were tracebacks, after the models had loaded
            check_listen(uri)


async def test_run_server_bind_failure_is_a_clear_exit(taken: int) -> None:
    """The port taken between the early check and the bind (or a server with no early check, the
    satellite): run_server exits with the same line."""
    def factory(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> ServiceHandler:
        raise AssertionError("no client can connect")

    with pytest.raises(SystemExit, match=r"^demo: cannot listen on tcp://127\.0\.0\.1:\d+: the address is already"):
        await run_server(ServerConfig(uri=f"tcp://127.0.0.1:{taken}", program="demo"), factory)
    server = WyomingServer(ServerConfig(uri=f"tcp://127.0.0.1:{taken}"), factory)
    with pytest.raises(ListenError):
        await server.start()
