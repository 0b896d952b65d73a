"""Logging: key=value lines (or JSON), secrets redacted, per-chunk messages rate-limited.

Redaction covers the whole record: the message, an exception's traceback (``exc_info``: a key
inside an exception message, or a chained exception's, is as much a leak as one in the message)
and ``stack_info``. The traceback is rendered once, redacted, into ``exc_text``, and
``exc_info`` is cleared, so no formatter can print the raw one.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, ParamSpec, TextIO, TypeVar

from .env import secret_values

_SECRET_PATTERNS = [
    re.compile(r"(?i)(authorization:\s*(?:bearer|token)\s+)\S+"),
    # key=value / "key": "value" with a secret-sounding key (access_token too; but not the
    # latency fields first_token=/last_token=, which are durations)
    re.compile(r"(?i)((?<!first_)(?<!last_)(?:api[_-]?key|token|secret|password)\"?\s*[:=]\s*\"?)[^\s\",]+"),
    re.compile(r"\bsk-[A-Za-z0-9_-]{8,}"),
]
REDACTED = "[redacted]"


def redact(text: str, secrets: list[str] | None = None) -> str:
    """Remove known secret values and secret-looking tokens from ``text``."""
    for value in secrets if secrets is not None else secret_values():
        if value:
            text = text.replace(value, REDACTED)
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + REDACTED, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites each record's final message with secrets removed."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets = secret_values()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message, self._secrets)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info:
            record.exc_text = _PLAIN.formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self._secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self._secrets)
        return True


_PLAIN = logging.Formatter()


class RateLimitFilter(logging.Filter):
    """Lets at most ``burst`` records per (logger, format) through per ``period`` seconds.

    Applies only to records at or below ``max_level`` (DEBUG/INFO by default), so warnings
    and errors are never dropped. A summary of how many were suppressed is appended to the
    next record that passes.
    """

    def __init__(self, period: float = 5.0, burst: int = 20, max_level: int = logging.INFO) -> None:
        super().__init__()
        self.period = period
        self.burst = burst
        self.max_level = max_level
        self._windows: dict[tuple[str, object], tuple[float, int, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > self.max_level:
            return True
        key = (record.name, record.msg)
        now = time.monotonic()
        start, count, dropped = self._windows.get(key, (now, 0, 0))
        if now - start >= self.period:
            if dropped:
                record.msg = f"{record.msg} (+{dropped} similar suppressed)"
            start, count, dropped = now, 0, 0
        if count >= self.burst:
            self._windows[key] = (start, count, dropped + 1)
            return False
        self._windows[key] = (start, count + 1, dropped)
        return True


class KeyValueFormatter(logging.Formatter):
    """``ts=… level=… logger=… msg="…"`` lines, easy to grep and to parse."""

    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(record.created))
        msg = record.getMessage().replace('"', '\\"')
        level = record.levelname.lower()
        line = f'ts={ts}.{int(record.msecs):03d} level={level} logger={record.name} msg="{msg}"'
        for extra in (_exception_text(record), record.stack_info):
            if extra:
                line += "\n" + extra
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts``, ``level``, ``logger``, ``msg`` (+ ``exc``, ``stack``)."""

    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(record.created))
        line: dict[str, str] = {
            "ts": f"{ts}.{int(record.msecs):03d}",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if exc := _exception_text(record):
            line["exc"] = exc
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, ensure_ascii=False)


def _exception_text(record: logging.LogRecord) -> str | None:
    if record.exc_info and not record.exc_text:  # no RedactingFilter ran (a handler of one's own)
        record.exc_text = redact(_PLAIN.formatException(record.exc_info))
    return record.exc_text


LOG_FORMATS = ("text", "json")


def add_logging_args(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--debug`` and ``--log-format``, the same on every command."""
    parser.add_argument("--debug", action="store_true", help="debug logging")
    parser.add_argument("--log-format", choices=LOG_FORMATS, default="text",
                        help="text: key=value lines (default); json: one JSON object per line")


class StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is when a record is emitted, not the object it was when
    logging was set up (as Python's own last-resort handler does). A CLI run in-process (a test
    under pytest, which swaps ``sys.stderr`` per test and closes the old one) left a handler bound
    to a closed stream: every later record printed "--- Logging error --- ValueError: I/O
    operation on closed file" instead of itself."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass  # always the current sys.stderr (StreamHandler.__init__ and setStream assign it)


P = ParamSpec("P")
T = TypeVar("T")
NOISY = ("httpx", "httpcore", "httpx2", "httpcore2", "zeroconf", "asyncio")
ExceptHook = Callable[[type[BaseException], BaseException, TracebackType | None], Any]


@dataclass
class LoggingState:
    """What :func:`setup_logging` changes, as it was before: the root logger's handlers and level,
    every logger's own level, the exception hooks; a context manager that puts them back at its
    end (:func:`restores_logging`)."""

    handlers: list[logging.Handler]
    level: int
    levels: dict[str, int]
    excepthook: ExceptHook
    threading_excepthook: Callable[[threading.ExceptHookArgs], Any]

    @classmethod
    def capture(cls) -> LoggingState:
        root = logging.getLogger()
        levels = {name: logger.level for name, logger in logging.Logger.manager.loggerDict.items()
                  if isinstance(logger, logging.Logger)}
        return cls(root.handlers[:], root.level, levels, sys.excepthook, threading.excepthook)

    def restore(self, *, hooks: bool = True) -> None:
        root = logging.getLogger()
        for handler in root.handlers:
            if handler not in self.handlers:
                handler.close()
        root.handlers[:] = self.handlers
        root.setLevel(self.level)
        for name, logger in list(logging.Logger.manager.loggerDict.items()):
            if isinstance(logger, logging.Logger):
                logger.setLevel(self.levels.get(name, logging.NOTSET if name in NOISY else logger.level))
        if hooks:
            sys.excepthook = self.excepthook
            threading.excepthook = self.threading_excepthook

    def __enter__(self) -> LoggingState:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        # An exception on its way out of the command keeps our hooks: its traceback is still
        # printed redacted (a real process ends with it; Python would print it raw).
        self.restore(hooks=kind is None or issubclass(kind, (SystemExit, KeyboardInterrupt)))


def restores_logging(command: Callable[P, T]) -> Callable[P, T]:
    """A command's ``run``/``main``: the logging it sets up (:func:`setup_logging`) lasts as long as
    the call. A command run in-process (a test calling its ``main()``) leaves the process's logging
    as it found it: before session 24 it replaced the root logger's handlers for the rest of the
    process (pytest's capture handlers were gone: ``caplog`` saw nothing more), its level, the
    noisy loggers' levels and the exception hooks."""

    @functools.wraps(command)
    def scoped(*args: P.args, **kwargs: P.kwargs) -> T:
        with LoggingState.capture():
            return command(*args, **kwargs)

    return scoped


def setup_logging(debug: bool = False, *, stream: object | None = None, log_format: str = "text") -> LoggingState:
    """Configure the root logger for a service process (logs go to ``stream``, default the current
    stderr). Returns how logging was before (``with setup_logging(...):`` puts it back at the end);
    a command's entry point is decorated with :func:`restores_logging` instead."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"unknown log format {log_format!r}; use one of {', '.join(LOG_FORMATS)}")
    before = LoggingState.capture()
    handler: logging.Handler = (
        StderrHandler() if stream is None else logging.StreamHandler(stream))  # type: ignore[call-overload]
    handler.setFormatter(JsonFormatter() if log_format == "json" else KeyValueFormatter())
    handler.addFilter(RedactingFilter())
    handler.addFilter(RateLimitFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    # httpx2/httpcore2: the openai client's own copies (one "HTTP Request: POST ..." info line per reply)
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # An uncaught exception would otherwise be printed raw by Python, secrets and all.
    sys.excepthook = _log_uncaught
    threading.excepthook = lambda args: _log_uncaught(args.exc_type, args.exc_value, args.exc_traceback)
    return before


def _log_uncaught(
    kind: type[BaseException], value: BaseException | None, traceback: TracebackType | None
) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, value or kind(), traceback)
        return
    logging.getLogger("uncaught").critical("uncaught %s", kind.__name__, exc_info=(kind, value or kind(), traceback))
