"""The session file format (see the package docstring)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from wyoming.event import Event

from ..logs import REDACTED, redact

FORMAT = "wyoming-session"
VERSION = 1
Direction = Literal["in", "out"]
_SECRET_FIELD = re.compile(r"(?i)(api[_-]?key|token|secret|password|authorization)")


@dataclass
class RecordedEvent:
    t: float
    dir: Direction
    event: Event

    def to_json(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "t": round(self.t, 4),
            "dir": self.dir,
            "type": self.event.type,
            "data": scrub(self.event.data),
        }
        if self.event.payload:
            item["payload"] = base64.b64encode(self.event.payload).decode("ascii")
        return item

    @staticmethod
    def from_json(item: dict[str, Any]) -> RecordedEvent:
        direction = item.get("dir")
        if direction not in ("in", "out"):
            raise ValueError(f"event has dir {direction!r}, expected 'in' or 'out'")
        payload = base64.b64decode(item["payload"]) if item.get("payload") else None
        event = Event(type=str(item["type"]), data=dict(item.get("data") or {}), payload=payload)
        return RecordedEvent(float(item["t"]), direction, event)


@dataclass
class Session:
    events: list[RecordedEvent] = field(default_factory=list)
    server: str | None = None
    note: str = ""
    created: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))

    def client_events(self) -> list[RecordedEvent]:
        return [e for e in self.events if e.dir == "in"]

    def server_events(self) -> list[RecordedEvent]:
        return [e for e in self.events if e.dir == "out"]


def scrub(value: Any) -> Any:
    """A copy of ``value`` with secret-looking fields and secret values redacted."""
    if isinstance(value, dict):
        return {
            k: (REDACTED if _SECRET_FIELD.search(str(k)) and v else scrub(v)) for k, v in value.items()
        }
    if isinstance(value, list):
        return [scrub(v) for v in value]
    if isinstance(value, str):
        return redact(value)
    return value


def dumps_header(session: Session) -> str:
    header = {"format": FORMAT, "version": VERSION, "created": session.created,
              "server": session.server, "note": session.note}
    return json.dumps(header, ensure_ascii=False)


def save_session(session: Session, path: Path) -> None:
    lines = [dumps_header(session)]
    lines.extend(json.dumps(e.to_json(), ensure_ascii=False) for e in session.events)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(path)


class SessionFileError(ValueError):
    """A session file that cannot be read: the message is one line naming the file (and line)."""


def load_session(path: Path) -> Session:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SessionFileError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise SessionFileError(f"{path} is not a {FORMAT} file (not UTF-8 text)") from None
    except OSError as err:
        raise SessionFileError(f"{path}: {err.strerror or err}") from None
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise SessionFileError(f"{path} is empty")
    try:
        header = json.loads(lines[0])
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise SessionFileError(f"{path} is not a {FORMAT} file (its first line is not the header)")
    if header.get("version") != VERSION:
        raise SessionFileError(f"{path} has version {header.get('version')}, this tool reads {VERSION}")
    events = []
    for number, line in enumerate(lines[1:], start=2):
        try:
            item = json.loads(line)
            if not isinstance(item, dict):
                raise TypeError("not a JSON object")
            events.append(RecordedEvent.from_json(item))
        except (ValueError, KeyError, TypeError) as err:
            cut = " (the file ends here: truncated?)" if number == len(lines) else ""
            raise SessionFileError(f"{path}:{number}: not a recorded event: {err}{cut}") from err
    return Session(events=events, server=header.get("server"), note=header.get("note", ""),
                   created=header.get("created", ""))
