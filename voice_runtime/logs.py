"""Logging: key=value lines, secrets redacted, per-chunk messages rate-limited."""

from __future__ import annotations

import logging
import re
import time

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
        return True


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
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def setup_logging(debug: bool = False, *, stream: object | None = None) -> None:
    """Configure the root logger once for a service process (logs go to stderr)."""
    handler = logging.StreamHandler(stream)  # type: ignore[arg-type]
    handler.setFormatter(KeyValueFormatter())
    handler.addFilter(RedactingFilter())
    handler.addFilter(RateLimitFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    for noisy in ("httpx", "httpcore", "zeroconf", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
