"""A command said without a place that means the room it was said in ("lights off", "turn on the
lights", "set the brightness to 50%"): pure, no I/O.

Home Assistant's own templates for these need the satellite's area (``requires_context: area``):
HA takes it from the satellite that heard the command. The intent recogniser matches them with a
placeholder area (:data:`..intent_templates.HERE`, :attr:`..intents.Recognized.here`); when the
command is done, :func:`placed` puts in the area of the satellite that asked (its ``--area``,
from the satellite's ``info``), as the home's area list spells it. What is honest without one:

* no home connected: the same no-home answer as every device command (:mod:`..intents`), said
  at once by the intents, not the LLM (which cannot act either);
* a home, and the satellite has no area (or one the home does not have): the home's only device
  of the command's domain ("i'd like the fan off": the Ceiling Fan, as "turn the fan off" already
  meant); with several, nothing is done, and the reply says why and how to say it instead. Never
  every light of the home.

For the orchestrator's command end (:mod:`..command_end`) such a command is whole, as "turn off
the lights" already was when the wildcard read "lights" as a device: "lights off" decoded without
its period ends at once instead of waiting the weak cap. The price is the command end's own: a
place said after a pause ("turn off the lights ... in the living room", the turn corpus's tune-16)
ends at the pause when its first part decodes as a whole command (as before for "turn off the
lights"; the continuation then hears the rest).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from hassil.expression import TextChunk
from hassil.intents import SlotList, TextSlotList

from .entities import spoken_form

if TYPE_CHECKING:
    from ..intents import Recognized

SAY_THE_ROOM = "Say the room, like: turn off the lights in the kitchen."
NO_AREA_REPLY = f"Nothing was done: I don't know which room I'm in. {SAY_THE_ROOM}"


def unknown_area_reply(area: str) -> str:
    return f"Nothing was done: your home has no area called {area}. {SAY_THE_ROOM}"


def home_area(area: str | None, lists: Mapping[str, SlotList]) -> str | None:
    """The home's area id for a satellite's ``area`` (its name, an alias or its id, any case);
    None without one, or when the home has no such area."""
    said = spoken_form(area or "")
    areas = lists.get("area")
    if not said or not isinstance(areas, TextSlotList):
        return None
    for value in areas.values:
        name = value.text_in.text if isinstance(value.text_in, TextChunk) else None
        out = value.value_out
        if said in {spoken_form(name or ""), spoken_form(str(out or "")).replace("_", " ")}:
            return str(out) if out is not None else name
    return None


def placed(commands: list[Recognized], area: str | None, lists: Mapping[str, SlotList]) -> list[Recognized] | str:
    """``commands`` with the home's area of the satellite's ``area`` in each one said without a
    place (the others as they are), or the sentence to say instead when there is none."""
    if not any(c.here for c in commands):
        return commands
    found = home_area(area, lists)
    if found is None:
        if (only := only_devices(commands, lists)) is not None:
            return only
        return unknown_area_reply(area) if area and area.strip() else NO_AREA_REPLY
    return [replace(c, slots={**c.slots, "area": found}) if c.here else c for c in commands]


def only_devices(commands: list[Recognized], lists: Mapping[str, SlotList]) -> list[Recognized] | None:
    """``commands`` with each one said without a place aimed at the home's only device of its domain
    (by name); None when any such command's domain has none or several."""
    names = lists.get("name")
    if not isinstance(names, TextSlotList):
        return None
    out = []
    for command in commands:
        domain = command.slots.get("domain") if command.here else None
        found = {str(v.value_out) for v in names.values if (v.context or {}).get("domain") == domain}
        if command.here and (domain is None or len(found) != 1):
            return None
        out.append(replace(command, slots={**command.slots, "name": found.pop()}) if command.here else command)
    return out
