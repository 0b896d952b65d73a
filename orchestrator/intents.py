"""The intent fast path: home commands answered at once from sentence templates (hassil)."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hassil import Intents, recognize

BUILTIN = Path(__file__).with_name("intents.yaml")


@dataclass(frozen=True)
class IntentMatch:
    name: str
    slots: dict[str, Any]
    response: str
    timer_seconds: int | None = None


def _number(value: Any) -> int:
    return int(float(value))


def _duration(slots: dict[str, Any]) -> tuple[int, str]:
    if "minutes" in slots:
        n = _number(slots["minutes"])
        return n * 60, f"{n} minute{'s' if n != 1 else ''}"
    n = _number(slots["seconds"])
    return n, f"{n} second{'s' if n != 1 else ''}"


def _clock_text(now: dt.datetime) -> str:
    hour = now.hour % 12 or 12
    suffix = "AM" if now.hour < 12 else "PM"
    return f"{hour}:{now.minute:02d} {suffix}"


RESPONSES: dict[str, Callable[[dict[str, Any], dt.datetime], str]] = {
    "HassTurnOn": lambda s, _now: f"Turned on the {s['name']}.",
    "HassTurnOff": lambda s, _now: f"Turned off the {s['name']}.",
    "HassGetTime": lambda _s, now: f"It is {_clock_text(now)}.",
    "HassGetDate": lambda _s, now: f"Today is {now.strftime('%A, %B')} {now.day}.",
    "HassStartTimer": lambda s, _now: f"Timer set for {_duration(s)[1]}.",
}


@dataclass
class IntentRecognizer:
    """Matches a transcript against the built-in templates plus the user's files."""

    files: tuple[Path, ...] = ()
    now: Callable[[], dt.datetime] = field(default=dt.datetime.now)

    def __post_init__(self) -> None:
        self._intents: list[Intents] = []
        self._custom_responses: dict[str, str] = {}
        for path in (BUILTIN, *self.files):
            text = path.read_text(encoding="utf-8")
            self._intents.append(Intents.from_yaml(io.StringIO(text)))
            self._custom_responses.update(_responses_in(text))

    def match(self, text: str) -> IntentMatch | None:
        cleaned = re.sub(r"[^\w\s']", " ", text.lower())
        cleaned = " ".join(cleaned.replace("’", "'").split())
        if not cleaned:
            return None
        for intents in reversed(self._intents):  # the user's files win over the built-ins
            result = recognize(cleaned, intents)
            if result is None:
                continue
            slots = {name: entity.value for name, entity in result.entities.items()}
            name = result.intent.name
            now = self.now()
            if name in self._custom_responses:
                response = self._custom_responses[name].format(**slots)
            elif name in RESPONSES:
                response = RESPONSES[name](slots, now)
            else:
                response = "Done."
            timer = _duration(slots)[0] if name == "HassStartTimer" else None
            return IntentMatch(name, slots, response, timer)
        return None


def _responses_in(yaml_text: str) -> dict[str, str]:
    """``response: "..."`` lines directly under an intent name in a user's file."""
    responses: dict[str, str] = {}
    current: str | None = None
    for line in yaml_text.splitlines():
        intent = re.match(r"^  ([A-Za-z_][\w]*):\s*$", line)
        if intent:
            current = intent.group(1)
            continue
        resp = re.match(r"^    response:\s*[\"']?(.*?)[\"']?\s*$", line)
        if resp and current:
            responses[current] = resp.group(1)
    return responses
