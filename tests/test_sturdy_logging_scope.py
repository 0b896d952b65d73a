"""A command run in-process (a test calling its ``run``/``main``) leaves the process's logging as
it found it: the root logger's handlers (pytest's capture among them) and level, the noisy
loggers' levels, the exception hooks. Before session 24 ``setup_logging`` replaced them for the
rest of the process: ``caplog`` saw nothing logged after such a command, in any later test of
that worker either."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator

import pytest
from helpers import ROOT

from voice_runtime.logs import restores_logging, setup_logging
from voice_runtime.session.__main__ import run as session_run

SESSION = ROOT / "tests" / "sessions" / "tts_one_shot.jsonl"


@pytest.fixture
def kept_hooks() -> Iterator[None]:
    """(Puts the hooks back whatever the code under test did: the assertions are on the code.)"""
    saved = (sys.excepthook, threading.excepthook)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        sys.excepthook, threading.excepthook = saved
        root.handlers[:] = handlers
        root.setLevel(level)


@pytest.mark.parametrize("flags", [[], ["--debug", "--log-format", "json"]])
def test_a_command_run_in_process_leaves_logging_as_it_was(
        flags: list[str], kept_hooks: None, caplog: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    logging.getLogger("httpx").setLevel(logging.DEBUG)
    before = (root.handlers[:], root.level, logging.getLogger("httpx").level, sys.excepthook,
              threading.excepthook)
    session_run([*flags, "show", str(SESSION)])  # a real command: prints the session
    assert "synthesize" in capsys.readouterr().out
    after = (root.handlers[:], root.level, logging.getLogger("httpx").level, sys.excepthook, threading.excepthook)
    assert after == before
    logging.getLogger("hearth.test").warning("after the command")
    assert [r.getMessage() for r in caplog.records if r.name == "hearth.test"] == ["after the command"]


def test_a_command_that_fails_keeps_the_redacting_hooks_for_its_traceback(kept_hooks: None) -> None:
    """The exception leaves the command and reaches Python's hook: ours, so the traceback is still
    printed through the redacting log (the handlers and levels are put back all the same)."""
    root = logging.getLogger()
    handlers = root.handlers[:]

    @restores_logging
    def command() -> None:
        setup_logging()
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        command()
    assert root.handlers == handlers
    assert sys.excepthook is not sys.__excepthook__ and sys.excepthook.__module__ == "voice_runtime.logs"
