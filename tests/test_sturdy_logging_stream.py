"""A CLI's logging set up in-process, then stderr swapped and the old one closed (what pytest does
between tests): later records go to the current stderr, not to the closed stream.

CI's log was full of "--- Logging error --- ValueError: I/O operation on closed file": tests that
run a command's ``main`` in-process (``wyoming-session show`` under ``capsys``, ...) left the root
logger's handler bound to that test's captured stderr, which pytest closed after the test.
"""

from __future__ import annotations

import io
import logging
import sys
import threading
from collections.abc import Iterator

import pytest

from voice_runtime.logs import setup_logging


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, sys.excepthook, threading.excepthook)
    try:
        yield
    finally:
        root.handlers[:], level, sys.excepthook, threading.excepthook = saved
        root.setLevel(level)


def test_a_record_after_stderr_was_swapped_and_closed_goes_to_the_new_stderr(
        restored_logging: None, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    setup_logging()
    logging.getLogger("hearth.test").info("before the swap")
    assert "before the swap" in first.getvalue()
    first.close()  # the end of one test's capture
    monkeypatch.setattr(sys, "stderr", second)  # the next one's
    logging.getLogger("hearth.test").warning("after the swap")
    said = second.getvalue()
    assert "Logging error" not in said and "closed file" not in said, said
    assert 'level=warning logger=hearth.test msg="after the swap"' in said


def test_a_stream_given_explicitly_is_still_the_one_written(restored_logging: None) -> None:
    given = io.StringIO()
    setup_logging(stream=given, log_format="json")
    logging.getLogger("hearth.test").info("to the given stream")
    assert '"msg": "to the given stream"' in given.getvalue()
