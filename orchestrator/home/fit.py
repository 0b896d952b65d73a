"""Whether what a device action asks for fits the device it would act on: pure, no I/O.

A misheard name can still match a command, and a wildcard template (``home_fallback.yaml``)
matches any name: "Set the thermostat to twenty degrees." heard far off as "Set the firmest up to
20 degrees." matched the wildcard "set {name} to {value}" (a light's brightness) with the name
"firmest up"; "set the kitchen light to 20 degrees" would set a light. What the rest of the
request says (outside every name of the home) tells what kind of device it is for:

- a temperature (degrees, celsius, the words temperature and thermostat): a thermostat or water
  heater;
- a percentage: something with a level (a light, cover, fan, player, valve, humidifier);
- brightness words and colours: a light;
- lock / unlock: a lock.

A device action whose target's domain does not fit is not done. A temperature goes to the
home's thermostat: with one, the assistant asks "Did you mean: set the Thermostat to 20
degrees?" (a "yes" does it); with several it asks which; with none it says so. Anything else
that does not fit is asked about ("The Front Door can't do that. Which device did you mean?").
A wildcard name that is no device of the home but comes with a temperature is treated the same
(any other wildcard name is left to :mod:`.confidence`).

A wildcard value that does not read as a value (:func:`reads_as_value`: words that are no number,
unit, level or colour, or two numbers: the room's held-47 "Set the thermostat to twenty degrees."
heard far off as "Set the film to stop 2. 20 degrees.", value "stop 2 20 degrees") was misheard
somewhere: it is never handed on to be done. With a temperature in it the home's thermostat is
offered as above; otherwise the assistant asks what to set ("Sorry, I didn't catch what to set the
Kitchen Light to. What should it be?"; a "yes" does nothing). Before session 27 a sure hearing of
"Set the kitchen light to stop 2." went to Home Assistant's own agent as it was.
Requests whose words fit their device are not touched (no extra question on a clear request).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from hassil.expression import TextChunk
from hassil.intents import SlotList, TextSlotList

from .entities import spoken_form

if TYPE_CHECKING:
    from ..intents import Recognized

# What the words ask for -> the domains that can do it.
_CUES: list[tuple[str, re.Pattern[str], frozenset[str]]] = [
    (
        "temperature",
        re.compile(
            # not "warmer" / "colder": said in remarks ("turn on the fan, it's getting warmer")
            r"(?<!\S)(?:degrees?|celsius|fahrenheit|centigrade|temperature|thermostat)(?!\S)"
        ),
        frozenset({"climate", "water_heater"}),
    ),
    (
        "percent",
        re.compile(r"\d(?:\s*%|\s+percent\b)"),
        frozenset({"light", "cover", "fan", "media_player", "valve", "humidifier", "number", "input_number"}),
    ),
    ("brightness", re.compile(r"(?<!\S)(?:brightness|brighter|dimmer|dim|brighten)(?!\S)"), frozenset({"light"})),
    (
        "colour",
        re.compile(
            r"(?<!\S)(?:red|green|blue|yellow|orange|purple|pink|violet|magenta|cyan|white|turquoise"
            r"|lavender|teal)(?!\S)"
        ),
        frozenset({"light"}),
    ),
    ("lock", re.compile(r"(?<!\S)(?:lock|unlock|locked|unlocked)(?!\S)"), frozenset({"lock"})),
]
# Device actions checked (lists, media searches, broadcasts carry free text: "add red apples").
CHECKED = frozenset(
    {"HassTurnOn", "HassTurnOff", "HassLightSet", "HassClimateSetTemperature", "HassSetPosition", "HassFanSetSpeed"}
)
# The domain an intent said without a target implies ("set the heat to 21": a thermostat).
_IMPLIED = {"HassClimateSetTemperature": "climate"}
_DEGREES = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*(?:degrees?|celsius|fahrenheit|centigrade)(?!\S)")
THERMOSTAT_DOMAINS = ("climate",)  # what a temperature is set on (a water heater has no voice intent here)
# fmt: off
# The words a wildcard value may hold besides one number: units, levels, colours, number words.
_VALUE_WORDS = frozenset({
    "percent", "percentage", "%", "degree", "degrees", "celsius", "fahrenheit", "centigrade", "kelvin",
    "brightness", "bright", "brighter", "brightest", "dim", "dimmer", "dimmest", "full", "half", "max", "maximum",
    "min", "minimum", "low", "lower", "lowest", "medium", "mid", "high", "higher", "highest", "warm", "warmer",
    "cool", "cooler", "cold", "colder", "hot", "daylight", "off", "on", "open", "opened", "closed", "up", "down",
    "level", "power", "speed", "setting", "the", "a", "an", "of", "and", "point", "light", "dark", "deep", "pale",
    "red", "green", "blue", "yellow", "orange", "purple", "pink", "violet", "magenta", "cyan", "white",
    "turquoise", "lavender", "teal", "gold", "amber", "lime",
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty", "thirty",
    "forty", "fifty", "sixty", "seventy", "eighty", "ninety", "hundred",
})
# fmt: on
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?%?")


@dataclass(frozen=True)
class Misfit:
    """A device action not done: what to say, and what a "yes" does (nothing: asked which).
    ``refused``: nothing is asked, there is nothing it could be done on."""

    question: str
    meant: tuple[Recognized, ...] = ()
    refused: bool = False


@dataclass(frozen=True)
class HomeWords:
    """The home's device names (spoken form -> HA's name, domain) and every name to leave out
    when reading what a request asks for (devices, areas, floors)."""

    devices: dict[str, tuple[str, str]]
    names: tuple[str, ...]

    @classmethod
    def of(cls, lists: Mapping[str, SlotList]) -> HomeWords:
        devices: dict[str, tuple[str, str]] = {}
        names: set[str] = set()
        for kind in ("name", "area", "floor"):
            slot_list = lists.get(kind)
            if not isinstance(slot_list, TextSlotList):
                continue
            for value in slot_list.values:
                if not isinstance(value.text_in, TextChunk):
                    continue
                spoken = spoken_form(value.text_in.text)
                if not spoken:
                    continue
                names.add(spoken)
                domain = (value.context or {}).get("domain")
                if kind == "name" and isinstance(value.value_out, str) and isinstance(domain, str):
                    devices.setdefault(spoken, (value.value_out, domain))
        return cls(devices, tuple(sorted(names, key=len, reverse=True)))

    def of_domain(self, domains: tuple[str, ...]) -> list[str]:
        """The home's devices (HA's names, each once) of these domains."""
        return list(dict.fromkeys(name for name, domain in self.devices.values() if domain in domains))


def asked_for(text: str, words: HomeWords) -> set[str]:
    """The kinds of thing ``text`` (normalized) asks for, read outside the home's names."""
    rest = f" {text} "
    for name in words.names:
        rest = rest.replace(f" {name} ", " . ")
    return {kind for kind, pattern, _ in _CUES if pattern.search(rest)}


def target(command: Recognized, words: HomeWords) -> tuple[str, str] | None:
    """(name or "", domain) of what ``command`` acts on, when it can be told: the matched
    device's, the domain slot's ("the lights in the kitchen"), or a wildcard name's when it is a
    device of the home. None: a wildcard name that is no device of the home (one only close to a
    device's is left to :func:`.confidence.near_name`: "dim the dining room lights" is not a
    request for the Living Room Blinds)."""
    name = command.slots.get("name")
    domain = command.context.get("domain") or command.slots.get("domain")
    if isinstance(name, str) and name:
        device = words.devices.get(spoken_form(name))
        if device is not None:
            return device
        if command.source == "fallback":
            return None
    if isinstance(domain, str):
        return (name if isinstance(name, str) else "", domain)
    implied = _IMPLIED.get(command.name)
    return ("", implied) if implied else None


def misfit(
    commands: list[Recognized], lists: Mapping[str, SlotList], recognize: Callable[[str], list[Recognized]]
) -> Misfit | None:
    """Why not to do ``commands`` as recognised (see the module doc); None: they fit."""
    words = HomeWords.of(lists)
    for command in commands:
        if command.name not in CHECKED:
            continue
        wants = asked_for(command.text, words)
        aimed = target(command, words)
        value = command.slots.get("value")
        if command.source == "fallback" and isinstance(value, str) and not reads_as_value(value):
            if "temperature" in wants:
                return _thermostat(command, words, recognize)
            what = f"the {aimed[0]}" if aimed is not None and aimed[0] else "that"
            return Misfit(f"Sorry, I didn't catch what to set {what} to. What should it be?")
        if aimed is None:  # a wildcard name that is no device: only a temperature says what it is for
            if "temperature" in wants:
                return _thermostat(command, words, recognize)
            continue
        name, domain = aimed
        wrong = [kind for kind, _, fits in _CUES if kind in wants and domain not in fits]
        if not wrong:
            continue
        if "temperature" in wrong:
            return _thermostat(command, words, recognize)
        what = f"The {name}" if name else "That"
        return Misfit(f"{what} can't do that. Which device did you mean?")
    return None


def reads_as_value(value: str) -> bool:
    """Whether a wildcard value (normalized text) reads as something a device can be set to: at
    most one number (digits), and else only units, levels, colours and number words ("20
    degrees", "fifty percent", "warm white", "half"). "stop 2 20 degrees" does not."""
    said = value.replace("%", " % ").split()
    numbers = [w for w in said if _NUMBER.fullmatch(w)]
    return bool(said) and len(numbers) <= 1 and all(w in _VALUE_WORDS or _NUMBER.fullmatch(w) for w in said)


def _thermostat(command: Recognized, words: HomeWords, recognize: Callable[[str], list[Recognized]]) -> Misfit:
    """A temperature asked of something that is no thermostat: asked about the home's one."""
    climates = words.of_domain(THERMOSTAT_DOMAINS)
    if not climates:
        return Misfit("There is no thermostat in your home.", refused=True)
    if len(climates) > 1:
        listed = [f"the {c}" for c in climates[:4]]
        return Misfit(f"Which thermostat do you mean: {', '.join(listed[:-1])} or {listed[-1]}?")
    name = climates[0]
    degrees = _DEGREES.search(command.text)
    if degrees is None:
        return Misfit(f"Did you want the {name} set? To what temperature?")
    said = str(command.slots.get("name", ""))
    meant = None
    if said and said in command.text:  # the request again with the thermostat's name in it
        found = recognize(command.text.replace(said, spoken_form(name), 1))
        if len(found) == 1 and found[0].source != "fallback" and found[0].name == "HassClimateSetTemperature":
            meant = found[0]
    if meant is None or "temperature" not in meant.slots:
        meant = replace(
            command,
            name="HassClimateSetTemperature",
            source="extra",
            slots={"name": name, "temperature": float(degrees.group(1))},
            context={"domain": "climate"},
        )
    value = float(meant.slots["temperature"])
    return Misfit(f"Did you mean: set the {name} to {value:g} degrees?", (meant,))
