"""Is this text a whole command? The orchestrator's end of turn for what the whisper server is
unsure about.

Our whisper server ends a turn 0.25 s into the silence when the speculative decode's text reads
as a finished request, and waits its *weak cap* (1.2 s with ``default``) when the words read as
finished but tiny.en wrote no final . ? ! (or was unsure of them): a finished command said in
noise ("next song", "Switch off the Bedroom lamp") and the first half of a paused one ("turn on
the kitchen ... lights") look the same to it. The orchestrator knows more: its intent templates.
It asks for those weak texts too (``context.speculative_weak``, :mod:`voice_runtime.speculative`)
and ends the turn at once (``audio-stop``) when :func:`complete_command` says the text is one:

* every part the recogniser finds is an intent the templates match as written (official, ours or
  the user's), or a wildcard home command whose device ends in a device noun ("the bedroom
  lamp"; not "turn on the kitchen", which the wildcard reads as a device named "kitchen");
* no name or area in it is the start of a longer name of the home ("the kitchen" when the home
  has a "Kitchen Light");
* it has two words or more (a one-word weak text is too little to go on: "Time." heard unsure at
  a pause in the room), and names no door, gate, garage or lock (those wait as before: a door
  must not open on half a request);
* no run of three words comes twice in it (tiny.en looping over audio cut mid-request wrote
  "open the garage door and open the garage door" at the room's held-50 pause after "and": two
  whole commands to the recogniser).

It cannot tell a command that is whole from one whose rest was lost from the decode ("Open the
garage door ... and turn on the porch light" heard without its quiet "and"): the same text ends
the turn at 0.25 s whenever Whisper writes it with a period, so this adds no new kind of cut.
Priced offline on the end-of-turn corpus (``bench/eot_period_probe.py``,
``bench/results/eot_period.md``).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable

from hassil.expression import TextChunk
from hassil.intents import SlotList, TextSlotList

from .home.phrasing import DEVICE_NOUN
from .intent_text import normalize
from .intents import IntentRecognizer, Recognized

NAMED_SLOTS = ("name", "area", "floor")
# Doors, gates and locks wait as before: a cut there opens the garage on half a request ("Open the
# garage door ... and turn on the porch light", the room's held-50, heard once as "open the garage
# door" at its 0.9 s pause after a quiet "and" the decode lost).
ENTRANCE = re.compile(r"\b(?:doors?|gates?|garage|locks?|unlock|lock)\b")


def home_names(lists: dict[str, SlotList]) -> set[str]:
    """The home's device, area and floor names, lower case (what is said and what is meant)."""
    names: set[str] = set()
    for kind in NAMED_SLOTS:
        slot_list = lists.get(kind)
        if not isinstance(slot_list, TextSlotList):
            continue
        for value in slot_list.values:
            for text in (value.value_out, value.text_in.text if isinstance(value.text_in, TextChunk) else None):
                if isinstance(text, str) and text.strip():
                    names.add(" ".join(text.lower().split()))
    return names


def _starts_longer_name(value: str, names: Iterable[str]) -> bool:
    said = " ".join(value.lower().split())
    return any(name.startswith(said + " ") for name in names)


def _said_twice(text: str, size: int = 3) -> bool:
    """Whether a run of ``size`` words comes twice: tiny.en looping over audio cut mid-request
    ("open the garage door and open the garage door" at the pause after "and")."""
    said = normalize(text).split()
    runs = [tuple(said[i : i + size]) for i in range(len(said) - size + 1)]
    return len(set(runs)) < len(runs)


class RecognizedOnce:
    """One turn's recognitions by text (``found``: the newest few kept), shared by the preemptive
    reply, the command end and the final transcript, so a text is recognised once however many of
    them ask (from worker threads: a lock). Session 22: the command end now also reads SURE
    speculative texts, which the preemptive reply recognises too."""

    KEEP = 4

    def __init__(self, intents: IntentRecognizer, found: dict[str, list[Recognized]]) -> None:
        self.intents = intents
        self.found = found
        self._lock = threading.Lock()

    def __call__(self, text: str) -> list[Recognized]:
        with self._lock:
            if text in self.found:
                return self.found[text]
            result = self.intents.recognize(text)
            if len(self.found) >= self.KEEP:
                self.found.clear()
            self.found[text] = result
            return result


def complete_command(
    intents: IntentRecognizer, text: str, recognize: Callable[[str], list[Recognized]] | None = None
) -> bool:
    """Whether ``text`` is a whole command (see the module doc). Pure and synchronous: the
    recogniser's ``recognize`` (run it in a thread); ``recognize``: the turn's
    :class:`RecognizedOnce` (None: the recogniser's own)."""
    said = normalize(text).split()
    if len(said) < 2 or _said_twice(text) or ENTRANCE.search(" ".join(said)):
        return False
    found = (recognize or intents.recognize)(text)
    if not found:
        return False
    names = home_names(intents.home.slot_lists()) if intents.home is not None else set()
    for command in found:
        if command.source == "fallback" and not DEVICE_NOUN.search(str(command.slots.get("name", ""))):
            return False
        for slot in NAMED_SLOTS:
            value = command.slots.get(slot)
            if isinstance(value, str) and _starts_longer_name(value, names):
                return False
    return True
