"""Which of the home's entities a command said without a name means: pure, no I/O.

- Covers by kind ("lower the blinds", "open the garage", "are the blinds closed?"): the only
  cover of that device class; with several, a question back naming them; with none, that.
- A device said by the last word of its name ("turn the fan on": the Ceiling Fan, or the only
  entity of the fan domain; "is the fan on in the bedroom": the one in that area); with
  several, which one.
- Every device of a domain ("turn on all the lights", "lock all the doors"): one command each.
- The thermostat of "set the heat to 21": the only climate entity, else which one.
- The thermometer of "what's the temperature": by name, the only one in the area asked about,
  or the only one in the home (a thermostat first, else a temperature sensor).
- The lights of an area in "are the lights on in the kitchen?", answered from their states.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .entities import HomeEntity, HomeSnapshot, spoken_form

if TYPE_CHECKING:
    from ..intents import Recognized

TARGETS = frozenset({"name", "area", "floor"})
KIND_WORDS = {"garage": "garage door"}  # cover device classes as said aloud
DOMAIN_WORDS = {"light": "lights", "switch": "switches", "fan": "fans", "lock": "locks", "cover": "covers"}


def _either(entities: list[HomeEntity]) -> str:
    said = [f"the {e.name}" for e in entities[:4]]
    return said[0] if len(said) == 1 else ", ".join(said[:-1]) + " or " + said[-1]


def by_kind(snapshot: HomeSnapshot, command: Recognized) -> Recognized | str:
    """``command`` aimed at the one entity of its device class (or of the word said, ``kind``), or
    the sentence to say instead. A command with a name, area or floor, or without a device class
    or kind, is returned as it is."""
    slots = command.slots
    if "kind" in slots and "name" not in slots:  # "is the fan on in the bedroom": the area narrows it
        return _by_word(snapshot, command, str(slots["kind"]), slots.get("area"))
    if TARGETS & slots.keys():
        return command
    if "device_class" not in slots:
        return command
    kind, domain = str(slots["device_class"]), slots.get("domain")
    found = [e for e in snapshot.entities if e.device_class == kind and (domain is None or e.domain == domain)]
    word = KIND_WORDS.get(kind, kind)
    if not found:
        return f"There is no {word} in your home."
    if len(found) > 1:
        return f"Which {word} do you mean: {_either(found)}?"
    rest = {k: v for k, v in slots.items() if k not in ("device_class", "domain")}
    return replace(command, slots={**rest, "name": found[0].name})


def _by_word(snapshot: HomeSnapshot, command: Recognized, word: str, area: Any = None) -> Recognized | str:
    found = [e for e in snapshot.entities if (e.domain == word or e.name.lower().split()[-1:] == [word])
             and (area is None or e.area_id == area)]
    if not found:
        where = next((f" in the {a.name}" for a in snapshot.areas if a.area_id == area), "") if area else ""
        return f"There is no {word}{where} in your home." if not where else f"There is no {word}{where}."
    if len(found) > 1:
        return f"Which {word} do you mean: {_either(found)}?"
    rest = {k: v for k, v in command.slots.items() if k not in ("kind", "area")}
    return replace(command, slots={**rest, "name": found[0].name})


def every_one(snapshot: HomeSnapshot, command: Recognized) -> list[Recognized] | str | None:
    """"Turn on all the lights": one command per entity of the domain (by name, in the home's
    order), or what to say when there is none. None: not such a command."""
    domain = command.slots.get("domain")
    if not command.slots.get("every") or not isinstance(domain, str):
        return None
    found = [e for e in snapshot.entities if e.domain == domain]
    if not found:
        return f"There are no {DOMAIN_WORDS.get(domain, domain)} in your home."
    return [replace(command, slots={"name": e.name, "domain": domain}) for e in found]


def only_thermostat(snapshot: HomeSnapshot, command: Recognized) -> Recognized | str:
    """A set-temperature command said without a target, aimed at the only thermostat."""
    if TARGETS & command.slots.keys():
        return command
    climates = [e for e in snapshot.entities if e.domain == "climate"]
    if not climates:
        return "There is no thermostat in your home."
    if len(climates) > 1:
        return f"Which thermostat do you mean: {_either(climates)}?"
    return replace(command, slots={**command.slots, "name": climates[0].name})


def thermometer(snapshot: HomeSnapshot, command: Recognized) -> HomeEntity | None:
    """The thermostat (else temperature sensor) asked about; None: for HA's conversation agent."""
    if "name" in command.slots:
        return snapshot.by_name.get(spoken_form(str(command.slots["name"])))
    area = command.slots.get("area")
    for kind in ("climate", "sensor"):
        found = [e for e in snapshot.entities if e.domain == kind and (area is None or e.area_id == area)
                 and (kind == "climate" or e.device_class == "temperature")]
        if found:
            return found[0] if len(found) == 1 else None
    return None


def area_state_answer(snapshot: HomeSnapshot, command: Recognized, states: list[dict[str, Any]]) -> str | None:
    """"Are the lights on in the kitchen?" from the states of that area's entities of the domain
    asked about. None: not such a question (no area, domain or state)."""
    area, domain, asked = (command.slots.get(k) for k in ("area", "domain", "state"))
    if not (isinstance(area, str) and isinstance(domain, str) and isinstance(asked, str)) or "name" in command.slots:
        return None
    area_name = next((a.name for a in snapshot.areas if a.area_id == area), area.replace("_", " "))
    here = [e for e in snapshot.entities if e.area_id == area and e.domain == domain]
    word = DOMAIN_WORDS.get(domain, domain)
    if not here:
        return f"There are no {word} in the {area_name}."
    now = {s.get("entity_id"): str(s.get("state")) for s in states}
    matching = [e for e in here if now.get(e.entity_id) == asked]
    if not matching:
        return f"No, no {word} are {asked} in the {area_name}."
    if len(matching) == len(here) and len(here) > 1:
        return f"Yes, all {word} in the {area_name} are {asked}."
    names = [f"the {e.name}" for e in matching]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"Yes, {listed} {'is' if len(names) == 1 else 'are'} {asked}."
