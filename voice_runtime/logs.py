"""Logging: key=value lines (or JSON), secrets redacted, per-chunk messages rate-limited.

Redaction covers the whole record: the message, an exception's traceback (``exc_info``: a key
inside an exception message, or a chained exception's, is as much a leak as one in the message)
and ``stack_info``. The traceback is rendered once, redacted, into ``exc_text``, and
``exc_info`` is cleared, so no formatter can print the raw one.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import threading
import time
from types import TracebackType
from typing import TextIO

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


def setup_logging(debug: bool = False, *, stream: object | None = None, log_format: str = "text") -> None:
    """Configure the root logger once for a service process (logs go to ``stream``, default the
    current stderr)."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"unknown log format {log_format!r}; use one of {', '.join(LOG_FORMATS)}")
    handler: logging.Handler = (
        StderrHandler() if stream is None else logging.StreamHandler(stream))  # type: ignore[call-overload]
    handler.setFormatter(JsonFormatter() if log_format == "json" else KeyValueFormatter())
    handler.addFilter(RedactingFilter())
    handler.addFilter(RateLimitFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    # httpx2/httpcore2: the openai client's own copies (one "HTTP Request: POST ..." info line per reply)
    for noisy in ("httpx", "httpcore", "httpx2", "httpcore2", "zeroconf", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # An uncaught exception would otherwise be printed raw by Python, secrets and all.
    sys.excepthook = _log_uncaught
    threading.excepthook = lambda args: _log_uncaught(args.exc_type, args.exc_value, args.exc_traceback)


def _log_uncaught(
    kind: type[BaseException], value: BaseException | None, traceback: TracebackType | None
) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, value or kind(), traceback)
        return
    logging.getLogger("uncaught").critical("uncaught %s", kind.__name__, exc_info=(kind, value or kind(), traceback))
