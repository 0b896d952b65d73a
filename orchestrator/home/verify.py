"""Whether a command really took effect, from the target entity's state: pure, no I/O.

Home Assistant answers ``intent/handle`` about 0.2 s into an action and reports success while a
slow one (a garage door, a script with a delay) still runs, or after a device ignored it. Before
we say "done", :func:`progress` reads the entity's new state against what the command asked:

- DONE: the state is what was asked (the light is on, the lock locked, the position 40 %);
- MOVING: on its way (a cover ``opening``, a lock ``locking``): said as such, not as done;
- NOT_YET: anything else; after the confirmation window the reply says it has not changed yet.

Commands whose effect has no state to read ("next track"; a colour's exact hue) are not checked
beyond being on (:func:`progress` returns None for those with nothing to read at all).
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..intents import Recognized


class Progress(enum.Enum):
    DONE = "done"
    MOVING = "moving"
    NOT_YET = "not_yet"


OFF_STATES = frozenset({"off", "standby", "unavailable", "unknown"})
# (intent, domain) -> (states that mean done, states that mean on its way)
_STATES: dict[tuple[str, str], tuple[frozenset[str], frozenset[str]]] = {
    ("HassTurnOn", "lock"): (frozenset({"locked"}), frozenset({"locking"})),
    ("HassTurnOff", "lock"): (frozenset({"unlocked", "open"}), frozenset({"unlocking", "opening"})),
    ("HassTurnOn", "cover"): (frozenset({"open"}), frozenset({"opening"})),
    ("HassTurnOff", "cover"): (frozenset({"closed"}), frozenset({"closing"})),
    ("HassTurnOn", "valve"): (frozenset({"open"}), frozenset({"opening"})),
    ("HassTurnOff", "valve"): (frozenset({"closed"}), frozenset({"closing"})),
    ("HassMediaPause", "media_player"): (frozenset({"paused", "idle"}), frozenset()),
    ("HassMediaUnpause", "media_player"): (frozenset({"playing"}), frozenset()),
}
ON_OFF_DOMAINS = frozenset({"light", "switch", "fan", "input_boolean", "siren", "humidifier", "automation"})


def _near(value: Any, wanted: float, tolerance: float) -> bool:
    try:
        return abs(float(value) - wanted) <= tolerance
    except (TypeError, ValueError):
        return False


def progress(command: Recognized, state: dict[str, Any]) -> Progress | None:
    """How far ``command`` has got on the entity whose current ``state`` this is; None: this
    command's effect cannot be read from the state."""
    entity_id = str(state.get("entity_id", ""))
    domain = entity_id.split(".", 1)[0]
    actual = str(state.get("state", ""))
    attributes = state.get("attributes", {}) or {}
    slots = command.slots
    done_moving = _STATES.get((command.name, domain))
    if done_moving is not None:
        done, moving = done_moving
        return Progress.DONE if actual in done else Progress.MOVING if actual in moving else Progress.NOT_YET
    if command.name in ("HassTurnOn", "HassTurnOff"):
        on = command.name == "HassTurnOn"
        if domain in ON_OFF_DOMAINS:
            return Progress.DONE if actual == ("on" if on else "off") else Progress.NOT_YET
        if domain in ("media_player", "climate", "water_heater"):
            return Progress.DONE if (actual not in OFF_STATES) == on else Progress.NOT_YET
        return None  # scenes, scripts: nothing to read
    if command.name == "HassLightSet" and domain == "light":
        if "brightness" in slots:
            wanted = float(slots["brightness"])
            if wanted == 0:
                return Progress.DONE if actual == "off" else Progress.NOT_YET
            ok = actual == "on" and _near(attributes.get("brightness"), wanted * 255 / 100, 3)
            return Progress.DONE if ok else Progress.NOT_YET
        return Progress.DONE if actual == "on" else Progress.NOT_YET
    if command.name == "HassSetPosition" and "position" in slots:
        if _near(attributes.get("current_position"), float(slots["position"]), 1):
            return Progress.DONE
        return Progress.MOVING if actual in ("opening", "closing") else Progress.NOT_YET
    if command.name == "HassClimateSetTemperature" and "temperature" in slots:
        ok = _near(attributes.get("temperature"), float(slots["temperature"]), 0.05)
        return Progress.DONE if ok else Progress.NOT_YET
    if command.name == "HassSetVolume" and "volume_level" in slots:
        ok = _near(attributes.get("volume_level"), float(slots["volume_level"]) / 100, 0.015)
        return Progress.DONE if ok else Progress.NOT_YET
    return None


def unconfirmed(command: Recognized, targets: dict[str, str], states: dict[str, dict[str, Any]]) -> dict[str, Progress]:
    """The targets (entity id → name) whose state does not show ``command`` done yet."""
    out: dict[str, Progress] = {}
    for entity_id in targets:
        state = states.get(entity_id)
        step = progress(command, state) if state is not None else Progress.NOT_YET
        if step is not None and step is not Progress.DONE:
            out[entity_id] = step
    return out


def unconfirmed_reply(targets: dict[str, str], pending: dict[str, Progress], states: dict[str, dict[str, Any]],
                      window: float) -> str:
    """The honest reply when Home Assistant said yes but the states did not follow in time:
    "The Garage Door is opening." / "I asked your home, but the Kettle has not changed after 2
    seconds." (and "The rest is done." when some targets did change)."""
    moving = [f"The {targets[e]} is {str(states.get(e, {}).get('state')).replace('_', ' ')}."
              for e, step in pending.items() if step is Progress.MOVING]
    still = [f"the {targets[e]}" for e, step in pending.items() if step is Progress.NOT_YET]
    listed = ", ".join(still[:-1]) + " and " + still[-1] if len(still) > 1 else "".join(still)
    sentences = [f"I asked your home, but {listed} {'has' if len(still) == 1 else 'have'} not changed after "
                 f"{window:g} seconds."] if still else []
    return " ".join(sentences + moving) + (" The rest is done." if len(pending) < len(targets) else "")
