"""Logging: secrets are redacted from messages and from tracebacks; text and JSON formats."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import sys
import threading
from collections.abc import Iterator

import pytest
from helpers import ROOT

from voice_runtime.logs import setup_logging

KEY = "dg-0123456789abcdefSECRET"


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """The root logger writing to a buffer as a service's does, with a key in the environment."""
    monkeypatch.setenv("DEEPGRAM_API_KEY", KEY)
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, sys.excepthook, threading.excepthook)
    buffer = io.StringIO()
    try:
        yield buffer
    finally:
        root.handlers[:], level, sys.excepthook, threading.excepthook = saved
        root.setLevel(level)


def _fail_with_key() -> None:
    try:
        raise ConnectionError(f"refused api_key={KEY}")
    except ConnectionError as err:
        raise RuntimeError(f"cloud call failed with {KEY}") from err


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_key_in_an_exception_is_redacted_from_the_traceback(captured: io.StringIO, log_format: str) -> None:
    setup_logging(stream=captured, log_format=log_format)
    log = logging.getLogger("hearth.test")
    try:
        _fail_with_key()
    except RuntimeError:
        log.exception("turn failed")
    log.warning("stack", stack_info=True)
    text = captured.getvalue()
    assert KEY not in text
    assert "[redacted]" in text and "Traceback" in text and "_fail_with_key" in text
    assert "cloud call failed with [redacted]" in text and "refused api_key=[redacted]" in text  # chained cause too
    if log_format == "json":
        first, second = (json.loads(line) for line in text.splitlines())
        assert first["level"] == "error" and first["msg"] == "turn failed" and "Traceback" in first["exc"]
        assert second["msg"] == "stack" and "test_a_key_in_an_exception" in second["stack"]
    else:
        assert text.startswith("ts=") and 'level=error logger=hearth.test msg="turn failed"\nTraceback' in text


def test_uncaught_exceptions_are_logged_redacted(captured: io.StringIO) -> None:
    setup_logging(stream=captured)
    try:
        _fail_with_key()
    except RuntimeError as err:
        sys.excepthook(type(err), err, err.__traceback__)
    worker = threading.Thread(target=_fail_with_key)
    worker.start()
    worker.join()
    text = captured.getvalue()
    assert KEY not in text
    assert text.count("level=critical logger=uncaught") == 2 and text.count("cloud call failed with [redacted]") == 2


def test_unknown_log_format_is_refused() -> None:
    with pytest.raises(ValueError, match="json"):
        setup_logging(log_format="xml")


COMMANDS = ["wyoming_whisper", "wyoming_kokoro", "wyoming_llama", "satellite", "orchestrator", "orchestrator.demo",
            "voice_runtime.session", "voice_runtime.setup_models", "voice_runtime.home",
            "voice_runtime.modelctl"]


@pytest.mark.parametrize("module", COMMANDS)
async def test_every_command_has_version(module: str) -> None:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", module, "--version", cwd=ROOT,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err
    assert re.fullmatch(r".+ \d+\.\d+\S*\n", out.decode()), out


async def test_a_service_logs_json_lines_with_log_format_json() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "tests" / "echo_service.py"), "--uri", "stdio://", "--log-format", "json",
        "--debug", cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(b'not json\n{"type": "describe"}\n'), 60)
    assert proc.returncode == 0
    lines = [json.loads(line) for line in err.decode().splitlines()]
    assert lines and all({"ts", "level", "logger", "msg"} <= line.keys() for line in lines)
    assert any("code=bad-json" in line["msg"] for line in lines), lines


def test_http_clients_log_no_line_per_request(captured: io.StringIO) -> None:
    """The openai client (the cloud LLM provider) logs through its own httpx2/httpcore2 copies: one
    "HTTP Request: POST ..." info line per reply, quieted like httpx's."""
    setup_logging(stream=captured)
    for name in ("httpx", "httpx2", "httpcore", "httpcore2"):
        logging.getLogger(name).info("HTTP Request: POST https://api.example/v1/chat/completions")
    assert "HTTP Request" not in captured.getvalue()
