"""The intent fast path's template sources (:mod:`orchestrator.intents` uses them): our YAML
files, the official English templates of ``home-assistant-intents`` split by whether they need the
satellite's area, the home's slot lists when no home is connected, and the custom responses of a
user's template file. Loaded once, at the recognizer's start."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from hassil.intents import SlotList, TextSlotList

EXTRA = Path(__file__).with_name("intents.yaml")
FIRST = Path(__file__).with_name("intents_first.yaml")
FALLBACK = Path(__file__).with_name("home_fallback.yaml")
HOME_SLOT_LISTS = ("name", "area", "floor")
# Official templates that need the satellite's area ("what's the temperature", "set the volume to
# 40"): they are matched with the whole home as the area and the home backend picks the only device
# that fits (the only thermostat, the only or playing player).
WHOLE_HOME = "__whole_home__"
# The other templates that need it ("lights off") are matched with this as the area: the satellite's
# own area is put in when the command is done (:mod:`.home.here`).
HERE = "__here__"
HERE_DOMAINS = frozenset({"light", "fan"})
# fmt: off
WHOLE_HOME_INTENTS = frozenset({
    "HassClimateGetTemperature", "HassClimateSetTemperature", "HassMediaPause", "HassMediaUnpause",
    "HassMediaNext", "HassMediaPrevious", "HassSetVolume", "HassSetVolumeRelative", "HassMediaPlayerMute",
    "HassMediaPlayerUnmute",
})
# fmt: on


def load_official() -> dict[str, Any]:
    from home_assistant_intents import get_intents

    data = get_intents("en")
    if data is None:
        raise RuntimeError("home-assistant-intents has no English templates")
    return data


def split_by_area_context(official: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The official templates as three sets: those that match as said; those that need the
    satellite's area, for :data:`WHOLE_HOME_INTENTS` and covers by kind ("lower the blinds"),
    matched with the whole home as the area; and those for lights and fans ("turn on the lights",
    "lights off", "set the brightness to 50%"), which mean the satellite's own area (:mod:`.home.here`:
    not every light of the home). The rest of them are left out ("play {search_query}" would take
    every question that starts with "play")."""
    sets: dict[str, dict[str, Any]] = {kind: {} for kind in _SETS}
    for name, intent in official["intents"].items():
        for data in intent.get("data", []):
            kind = _area_kind(name, data)
            if kind is not None:
                sets[kind].setdefault(name, {"data": []})["data"].append(data)
    plain, contextual, here = ({**official, "intents": sets[kind]} for kind in _SETS)
    return plain, contextual, here


_SETS = ("plain", "whole home", "here")  # split_by_area_context's sets, in its order
# (needs the satellite's area, a whole-home intent or a cover, a light or fan domain) -> its set (None: left out)
# fmt: off
_AREA_SETS: dict[tuple[bool, bool, bool], str | None] = {
    (False, False, False): "plain", (False, False, True): "plain", (False, True, False): "plain",
    (False, True, True): "plain",
    (True, True, False): "whole home", (True, True, True): "whole home",
    (True, False, True): "here",
    (True, False, False): None,
}
# fmt: on


def _area_kind(name: str, data: dict[str, Any]) -> str | None:
    """Which of :data:`_SETS` one official template data block goes to (None: left out)."""
    domain = (data.get("slots") or {}).get("domain")
    needs_area = "area" in (data.get("requires_context") or {})
    whole = name in WHOLE_HOME_INTENTS or domain == "cover"
    return _AREA_SETS[(needs_area, whole, domain in HERE_DOMAINS)]


def empty_lists() -> dict[str, SlotList]:
    return {name: TextSlotList(name=name, values=[]) for name in HOME_SLOT_LISTS}


def responses_in(yaml_text: str) -> dict[str, str]:
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
