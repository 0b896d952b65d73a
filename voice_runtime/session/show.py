"""A human-readable dump of a session."""

from __future__ import annotations

import json

from .format import Session

_ARROW = {"in": "→", "out": "←"}


def render(session: Session, *, max_text: int = 120) -> str:
    lines = [f"session created {session.created} server {session.server or '-'} "
             f"({len(session.events)} events; → client to server, ← server to client)"]
    index = 0
    events = session.events
    while index < len(events):
        item = events[index]
        run_end = index
        if item.event.type.endswith("-chunk"):
            while run_end + 1 < len(events) and events[run_end + 1].event.type == item.event.type \
                    and events[run_end + 1].dir == item.dir:
                run_end += 1
        prefix = f"{item.t:8.3f}s {_ARROW[item.dir]} {item.event.type}"
        if item.event.type == "audio-chunk":
            data = item.event.data
            rate, width, channels = data.get("rate", 0), data.get("width", 0), data.get("channels", 0)
            total = sum(len(e.event.payload or b"") for e in events[index:run_end + 1])
            secs = total / (rate * width * channels) if rate and width and channels else 0.0
            lines.append(f"{prefix} ×{run_end - index + 1} ({secs:.2f} s, {rate} Hz, {8 * width}-bit, "
                         f"{channels} ch)")
        elif run_end > index:
            texts = "".join(str(e.event.data.get("text", "")) for e in events[index:run_end + 1])
            lines.append(f"{prefix} ×{run_end - index + 1} {json.dumps(texts[:max_text], ensure_ascii=False)}")
        else:
            body = json.dumps(item.event.data, ensure_ascii=False)
            if len(body) > max_text:
                body = body[:max_text] + "…"
            payload = f" +{len(item.event.payload)} bytes" if item.event.payload else ""
            lines.append(f"{prefix} {body}{payload}")
        index = run_end + 1
    return "\n".join(lines)
