"""A home's devices as hassil slot lists: pure, no I/O.

The official templates refer to ``{name}``, ``{area}`` and ``{floor}``; Home Assistant fills them
with the names and aliases of the entities, areas and floors exposed to Assist, each name
carrying its entity's domain as context (so "open the garage door" matches a cover, not a
light). We build the same lists from a :class:`HomeSnapshot`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from hassil.intents import SlotList, TextSlotList


@dataclass(frozen=True)
class HomeEntity:
    entity_id: str
    name: str
    aliases: tuple[str, ...] = ()
    area_id: str | None = None
    device_class: str | None = None

    @property
    def domain(self) -> str:
        return self.entity_id.split(".", 1)[0]


@dataclass(frozen=True)
class HomeArea:
    area_id: str
    name: str
    aliases: tuple[str, ...] = ()
    floor_id: str | None = None


@dataclass(frozen=True)
class HomeSnapshot:
    entities: tuple[HomeEntity, ...] = ()
    areas: tuple[HomeArea, ...] = ()
    floors: tuple[tuple[str, str], ...] = ()  # (floor_id, name)
    by_name: dict[str, HomeEntity] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        for entity in self.entities:
            for spoken in (entity.name, *entity.aliases):
                self.by_name.setdefault(spoken_form(spoken), entity)


def spoken_form(name: str) -> str:
    """How a name is said and transcribed: lower case, punctuation as spaces ("Lamp #2 (desk)" →
    "lamp 2 desk"); names with odd characters still match what speech-to-text writes."""
    cleaned = re.sub(r"[^\w\s'%]", " ", name.lower().replace("_", " "))
    return " ".join(cleaned.split())


def slot_lists(home: HomeSnapshot) -> dict[str, SlotList]:
    names: list[tuple[str, str, dict[str, str]]] = []
    for entity in home.entities:
        context = {"domain": entity.domain}
        if entity.device_class:
            context["device_class"] = entity.device_class
        for spoken in dict.fromkeys(spoken_form(n) for n in (entity.name, *entity.aliases)):
            if spoken:
                names.append((spoken, entity.name, context))
    # Areas and floors by id: what Home Assistant's intent handlers look them up by.
    areas = [(spoken_form(n), area.area_id) for area in home.areas for n in (area.name, *area.aliases)
             if spoken_form(n)]
    floors = [(spoken_form(name), floor_id) for floor_id, name in home.floors if spoken_form(name)]
    return {
        "name": TextSlotList.from_tuples(names, allow_template=False, name="name"),
        "area": TextSlotList.from_tuples(areas, allow_template=False, name="area"),
        "floor": TextSlotList.from_tuples(floors, allow_template=False, name="floor"),
    }
