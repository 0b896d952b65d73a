"""A home's devices as hassil slot lists: pure, no I/O.

The official templates refer to ``{name}``, ``{area}`` and ``{floor}``; Home Assistant fills them
with the names and aliases of the entities, areas and floors exposed to Assist, each name
carrying its entity's domain as context (so "open the garage door" matches a cover, not a
light). We build the same lists from a :class:`HomeSnapshot`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from hassil.intents import SlotList, TextSlotList

# For an entity HA holds no exposure setting for: the domains HA exposes to Assist by default
# (conversation DEFAULT_EXPOSED_DOMAINS; media_player as in older releases).
DEFAULT_EXPOSED = frozenset({
    "climate", "cover", "fan", "humidifier", "light", "lock", "media_player", "scene", "script", "sensor",
    "switch", "vacuum", "water_heater",
})


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


def build_snapshot(registry: list[dict[str, Any]], states: list[dict[str, Any]], areas: list[dict[str, Any]],
                   floors: list[dict[str, Any]], exposed: dict[str, Any]) -> HomeSnapshot:
    by_id = {r["entity_id"]: r for r in registry}
    entities = []
    for state in states:
        entity_id = state["entity_id"]
        setting = exposed.get(entity_id, {}).get("conversation")
        if not (setting if setting is not None else entity_id.split(".")[0] in DEFAULT_EXPOSED):
            continue
        entry = by_id.get(entity_id, {})
        if entry.get("disabled_by") or entry.get("hidden_by"):
            continue
        name = state.get("attributes", {}).get("friendly_name") or entry.get("name") or entity_id
        entities.append(HomeEntity(entity_id, name, tuple(entry.get("aliases") or ()), entry.get("area_id"),
                                   state.get("attributes", {}).get("device_class")))
    return HomeSnapshot(
        entities=tuple(entities),
        areas=tuple(HomeArea(a["area_id"], a["name"], tuple(a.get("aliases") or ()), a.get("floor_id"))
                    for a in areas),
        floors=tuple((f["floor_id"], f["name"]) for f in floors),
    )
