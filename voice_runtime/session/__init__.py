"""Record, replay and show Wyoming sessions.

File format (``.jsonl``, UTF-8, one JSON object per line):

* line 1, the header: ``{"format": "wyoming-session", "version": 1, "created": ISO-8601,
  "server": URI or null, "note": str}``
* every further line, one event: ``{"t": seconds since the session started, "dir": "in" |
  "out", "type": str, "data": object, "payload": base64 string (only when there is one)}``.
  ``in`` is client → server, ``out`` is server → client.

Secrets are never written: data fields whose names look like keys or tokens, and any value
of a secret environment variable, are replaced by ``[redacted]``.
"""

from .format import RecordedEvent, Session, load_session, save_session
from .replay import CompareRules, ReplayReport, compare, replay_as_server, replay_session

__all__ = [
    "CompareRules",
    "RecordedEvent",
    "ReplayReport",
    "Session",
    "compare",
    "load_session",
    "replay_as_server",
    "replay_session",
    "save_session",
]
