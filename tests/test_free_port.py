"""``voice_runtime.procs.free_port`` draws from under the kernel's ephemeral range (session 26: a port from
``bind(0)`` lies in the range outgoing connections take their local ports from, and another test's client
took one between the draw and a satellite's bind under xdist: "address already in use")."""

from __future__ import annotations

import socket
from pathlib import Path

from voice_runtime.procs import free_port


def test_a_free_port_lies_under_the_ephemeral_range_and_can_be_bound() -> None:
    start = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = {free_port() for _ in range(20)}
    assert all(1024 <= port < start for port in ports), (sorted(ports), start)
    assert len(ports) > 1  # drawn at random, not one port handed to every caller
    for port in ports:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_a_taken_port_is_not_handed_out() -> None:
    held = []
    try:
        for _ in range(200):  # hold 200 of the drawn ports: none is drawn twice while held
            sock = socket.socket()
            port = free_port()
            sock.bind(("127.0.0.1", port))
            held.append(sock)
    finally:
        for sock in held:
            sock.close()
