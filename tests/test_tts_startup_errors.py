"""``wyoming-kokoro`` given a model the user named that cannot be loaded (a typo in a path) stops
with one clear line, instead of warning and serving with the other engine only: with the default
``--provider auto`` a wrong ``--kokoro-model`` used to leave a server that spoke with Piper, a
wrong ``--piper-model`` one that spoke with Kokoro. Only the default models may be missing (that
engine is then skipped)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize(("flag", "said"), [
    ("--kokoro-model", "kokoro: Kokoro model {path} is missing"),
    ("--piper-model", "piper: Piper model {path} does not exist"),
])
async def test_a_named_model_that_is_missing_stops_the_server(flag: str, said: str, tmp_path: Path) -> None:
    path = tmp_path / "typo.onnx"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wyoming_kokoro", "--uri", "stdio://", flag, str(path), "--no-warmup",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        async with asyncio.timeout(60):  # the old code served (stdio: answered nothing, exited 0)
            out, err = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    text = (out + err).decode()
    assert proc.returncode == 1, text
    assert said.format(path=path) in text and "Traceback" not in text, text
