"""The leak checks of conftest.py see what they are meant to see (and only that)."""

from __future__ import annotations

import asyncio
import os
import sys

from conftest import _new, children, open_fds


async def test_a_child_process_is_seen_until_it_has_been_waited_for() -> None:
    before = children()
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", "import sys; sys.stdin.read()",
                                                stdin=asyncio.subprocess.PIPE)
    try:
        assert proc.pid in _new(before, children()) and "sys.stdin.read()" in children()[proc.pid]
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        await proc.wait()
    assert _new(before, children()) == {}


def test_an_open_file_is_seen_until_closed() -> None:
    before = open_fds()
    fd = os.open(os.devnull, os.O_RDONLY)
    try:
        assert _new(before, open_fds()) == {fd: os.devnull}
    finally:
        os.close(fd)
    assert _new(before, open_fds()) == {}
