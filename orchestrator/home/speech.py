"""Sentences said about a home, made from Home Assistant's real states: pure, no I/O.

- the weather, from a ``weather.*`` entity's state (its condition) and attributes
  (temperature, humidity, wind), so the answer is what the entity reports now;
- the parts of "X and Y": which part was done and which was not.
"""

from __future__ import annotations

from typing import Any

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
    return f"\"{part}\" was not done: {reason[0].lower()}{reason[1:]}" if reason else f"\"{part}\" was not done."
