"""Sentences said about a home, made from Home Assistant's real states: pure, no I/O.

- the weather, from a ``weather.*`` entity's state (its condition) and attributes
  (temperature, humidity, wind), so the answer is what the entity reports now;
- what a command did, from HA's list of the targets that succeeded and failed;
- the answer to "is the front door locked?" from the entity's state;
- the parts of "X and Y": which part was done and which was not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..intents import Recognized

# Home Assistant's weather conditions (weather/const.py), as said aloud.
CONDITIONS = {
    "clear-night": "clear", "cloudy": "cloudy", "exceptional": "exceptional weather", "fog": "foggy",
    "hail": "hailing", "lightning": "stormy", "lightning-rainy": "stormy with rain", "partlycloudy": "partly cloudy",
    "pouring": "pouring with rain", "rainy": "rainy", "snowy": "snowy", "snowy-rainy": "sleety", "sunny": "sunny",
    "windy": "windy", "windy-variant": "windy and cloudy",
}
UNITS = {"°C": "degrees", "°F": "degrees Fahrenheit", "K": "kelvin"}
NO_WEATHER = "No weather service is set up in your home."
UNREACHABLE = "I can't reach your home."
TOO_SLOW = "Your home didn't answer in time, so I don't know whether that was done."
HA_ERROR = "Your home could not do that."
FAILURES = frozenset({UNREACHABLE, TOO_SLOW, HA_ERROR})


def _number(value: Any) -> str | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return f"{number:.0f}" if abs(number - round(number)) < 0.05 else f"{number:.1f}"


def weather_sentence(state: dict[str, Any] | None) -> str:
    """What the weather entity reports now, e.g. "It's partly cloudy and 12 degrees, humidity
    60 percent." A missing reading is said as missing, never guessed."""
    if state is None:
        return NO_WEATHER
    attributes = state.get("attributes", {}) or {}
    name = attributes.get("friendly_name") or state.get("entity_id", "the weather service")
    condition = str(state.get("state", ""))
    if condition in ("unknown", "unavailable", ""):
        return f"{name} has no weather reading right now."
    said = CONDITIONS.get(condition, condition.replace("-", " ").replace("_", " "))
    parts = [f"It's {said}"]
    temperature = _number(attributes.get("temperature"))
    if temperature is not None:
        unit = UNITS.get(str(attributes.get("temperature_unit", "°C")), "degrees")
        parts[0] += f" and {temperature} {unit}"
    humidity = _number(attributes.get("humidity"))
    if humidity is not None:
        parts.append(f"humidity {humidity} percent")
    wind = _number(attributes.get("wind_speed"))
    if wind is not None:
        unit = str(attributes.get("wind_speed_unit", "km/h")).replace("km/h", "kilometres an hour")
        parts.append(f"wind {wind} {unit.replace('mph', 'miles an hour').replace('m/s', 'metres a second')}")
    return ", ".join(parts) + "."


def pick_weather(states: list[dict[str, Any]], name: str | None) -> dict[str, Any] | None:
    """The weather entity asked for by name, else the first one (as Home Assistant does)."""
    weather = [s for s in states if str(s.get("entity_id", "")).startswith("weather.")]
    if name:
        wanted = name.strip().lower()
        named = [s for s in weather
                 if str(s.get("attributes", {}).get("friendly_name", "")).lower() == wanted]
        return named[0] if named else None
    return weather[0] if weather else None


def not_done(part: str, reason: str) -> str:
    """One part of "X and Y" that was not done, named as the user said it."""
    if not reason:
        return f"\"{part}\" was not done."
    keep = reason.startswith(("I ", "I'")) or reason[1:2].isupper()
    return f"\"{part}\" was not done: {reason if keep else reason[0].lower() + reason[1:]}"


def temperature_sentence(state: dict[str, Any]) -> str:
    """"It's 21.5 degrees (the Thermostat is set to 18)." from a thermostat's current and target
    temperature, or a temperature sensor's state; a missing reading is said as missing."""
    attributes = state.get("attributes", {}) or {}
    name = attributes.get("friendly_name") or state.get("entity_id", "the thermostat")
    if str(state.get("entity_id", "")).startswith("climate."):
        current, target = _number(attributes.get("current_temperature")), _number(attributes.get("temperature"))
        said = f"It's {current} degrees" if current is not None else f"The {name} has no temperature reading"
        return said + (f"; the {name} is set to {target}." if target is not None else ".")
    current = _number(state.get("state"))
    return f"It's {current} degrees." if current is not None else f"The {name} has no reading right now."


OFF_LIKE = frozenset({"off", "standby", "unavailable", "unknown", "idle"})


def state_answer(name: str, domain: str, asked: str, state: dict[str, Any]) -> str:
    """"Yes, the Front Door is locked." / "No, the TV is playing." from the entity's state
    (a media player that plays, pauses or is idle-but-on counts as on)."""
    actual = str(state.get("state", "unknown"))
    same = actual == asked
    if domain in ("media_player", "climate", "humidifier", "water_heater") and asked in ("on", "off"):
        same = (actual not in OFF_LIKE - {"idle"}) == (asked == "on")
    if actual in ("unavailable", "unknown"):
        return f"I don't know: the {name} is {actual}."
    return f"{'Yes' if same else 'No'}, the {name} is {actual.replace('_', ' ')}."


def describe_outcome(command: Recognized, data: dict[str, Any]) -> str:
    """What HA reports it did (its ``success``/``failed`` targets), as one sentence."""
    done = [str(t.get("name")) for t in data.get("success", []) if t.get("type") == "entity"]
    failed = [str(t.get("name")) for t in data.get("failed", [])]
    domains = {str(t.get("id", "")).split(".")[0] for t in data.get("success", [])}
    if not done:
        return "Nothing was changed." + (f" {_names(failed)} failed." if failed else "")
    verb = _verb(command, domains)
    sentence = f"{verb} {_names(done)}" if "{}" not in verb else verb.format(_names(done))
    return sentence + "." + (f" {_names(failed)} failed." if failed else "")


def _verb(command: Recognized, domains: set[str]) -> str:
    slots = command.slots
    if command.name in ("HassTurnOn", "HassTurnOff"):
        on = command.name == "HassTurnOn"
        if domains == {"lock"}:
            return "Locked" if on else "Unlocked"
        if domains == {"cover"}:
            return "Opened" if on else "Closed"
        return "Turned on" if on else "Turned off"
    if command.name == "HassLightSet":
        if "brightness" in slots:
            return f"Set {{}} to {int(float(slots['brightness']))}% brightness"
        return f"Changed {{}} to {slots['color']}" if "color" in slots else "Changed"
    if command.name == "HassSetPosition" and "position" in slots:
        return f"Set {{}} to {int(float(slots['position']))}%"
    if command.name == "HassClimateSetTemperature" and "temperature" in slots:
        return f"Set {{}} to {float(slots['temperature']):g} degrees"
    if command.name == "HassSetVolume" and "volume_level" in slots:
        return f"Set the volume of {{}} to {int(float(slots['volume_level']))}%"
    return {"HassMediaPause": "Paused", "HassMediaUnpause": "Resumed", "HassMediaNext": "Skipped to the next track on",
            "HassMediaPrevious": "Went back a track on"}.get(command.name, "Done:")


def _names(names: list[str]) -> str:
    said = [f"the {n}" for n in names]
    return said[0] if len(said) == 1 else ", ".join(said[:-1]) + " and " + said[-1]


