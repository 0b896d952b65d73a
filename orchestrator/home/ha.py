"""Home Assistant as the orchestrator's home backend.

- Devices: over HA's WebSocket API (:mod:`.ha_devices`: registries, exposure, states, kept
  current by HA's events).
- Commands: recognised locally (``orchestrator.intents``) with those names, executed with HA's
  ``POST /api/intent/handle``; what HA says is the reply. A home-looking command that did not
  match goes to ``POST /api/conversation/process``.
- Failures are said plainly: a rejected token is logged once (the token never is) and answered
  "I can't reach your home."; no answer within ``timeout`` (3 s) gets an honest "I don't know".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import httpx
from hassil.intents import SlotList

from voice_runtime.tasks import TaskSet

from ..intents import Recognized
from .entities import HomeSnapshot, slot_lists, spoken_form
from .ha_devices import DeviceLists, HaConfig, HaState
from .resolve import area_state_answer, by_kind, every_one, only_thermostat, thermometer
from .speech import (
    FAILURES,
    HA_ERROR,
    TOO_SLOW,
    UNREACHABLE,
    describe_outcome,
    not_done,
    pick_weather,
    state_answer,
    temperature_sentence,
    weather_sentence,
)
from .verify import unconfirmed, unconfirmed_reply

__all__ = ["HA_ERROR", "TOO_SLOW", "UNREACHABLE", "HaConfig", "HaState", "HomeAssistant"]
_LOGGER = logging.getLogger(__name__)
MEDIA_INTENTS = frozenset({"HassMediaPause", "HassMediaUnpause", "HassMediaNext", "HassMediaPrevious",
                           "HassSetVolume", "HassSetVolumeRelative"})
QUERY_INTENTS = frozenset({"HassGetState", "HassClimateGetTemperature", "HassGetWeather"})


class HomeAssistant(DeviceLists):
    """A :class:`~orchestrator.intents.HomeBackend`; ``run()`` keeps the device lists current."""

    def __init__(self, config: HaConfig) -> None:
        self.config = config
        self.state = HaState.CONNECTING
        self.snapshot = HomeSnapshot()
        self._lists: dict[str, SlotList] = slot_lists(self.snapshot)
        self.loaded = asyncio.Event()
        self.reloads = 0
        self._reloaded = asyncio.Condition()
        self._http = httpx.AsyncClient(base_url=config.url.rstrip("/"), timeout=config.timeout,
                                       headers={"Authorization": f"Bearer {config.token}"})
        self._next_id = 0
        self._changes = asyncio.Event()
        self._tasks = TaskSet()
        self._states: dict[str, dict[str, Any]] = {}  # exposed entities' latest states (WebSocket events)
        self._state_seen = asyncio.Condition()

    # -- HomeBackend -----------------------------------------------------------------------
    def slot_lists(self) -> dict[str, SlotList]:
        return self._lists

    async def execute(self, command: Recognized) -> str:
        """Questions go to HA's conversation API (its answer has the values); actions to
        ``/api/intent/handle``, described from HA's list of what succeeded and failed. An intent
        this HA does not handle (an error) is passed to the conversation API as said."""
        if (each := every_one(self.snapshot, command)) is not None:  # "turn on all the lights": all at
            if isinstance(each, str):  # once, so their confirmations share one window (not one each)
                return each
            return " ".join(r.strip() for r in await asyncio.gather(*(self.execute(c) for c in each)))
        resolved = by_kind(self.snapshot, command)  # "lower the blinds": the one cover of that kind
        if command.name == "HassClimateSetTemperature":  # "set the heat to 21": the one thermostat
            resolved = only_thermostat(self.snapshot, command)
        if isinstance(resolved, str):
            return resolved
        command = resolved
        if command.name == "HassGetWeather":
            return await self._weather(command)
        if command.name == "HassGetState" and (answer := await self._get_state(command)) is not None:
            return answer
        if command.name == "HassClimateGetTemperature" and (entity := thermometer(self.snapshot, command)):
            state = await self._request("GET", f"/api/states/{entity.entity_id}")
            return state if isinstance(state, str) else temperature_sentence(state)
        if command.name not in QUERY_INTENTS:
            slots = {k: v for k, v in command.slots.items() if isinstance(v, str | int | float)}
            chosen = None
            if command.name in MEDIA_INTENTS and not {"name", "area", "floor"} & slots.keys():
                chosen = await self._only_player()
                if chosen is None or chosen in FAILURES:
                    return chosen or "Which media player do you mean?"
                slots["name"] = chosen
            body = await self._post("/api/intent/handle", {"name": command.name, "data": slots})
            if isinstance(body, dict):
                speech = _speech(body)
                # HA 2026.2 answers a target it cannot match ("next" on a paused player) with
                # action_done and its exception's repr as the speech; earlier ones with a 500.
                if body.get("response_type") != "error" and not speech.startswith("<"):
                    data = body.get("data", {})
                    return await self._confirmed(command, data, speech or describe_outcome(command, data))
                _LOGGER.info("Home Assistant could not do %s (%s)", command.name, speech[:80])
                if chosen is not None:  # its own agent would not know which player we meant
                    return f"Nothing was done: your home could not do that on the {chosen}."
                return await self.converse(command.text, "") or HA_ERROR
            if body is not HA_ERROR:
                return body
            if command.name == "HassClimateSetTemperature":  # no such intent before HA 2024.12
                return await self._set_temperature(command)
        return await self.converse(command.text, "") or "Your home didn't understand that."

    async def _weather(self, command: Recognized) -> str:
        """Said from the weather entity's current state and attributes (HA's own answer,
        "12.0 °C and sunny", reads badly aloud)."""
        states = await self._request("GET", "/api/states")
        if isinstance(states, str):
            return states
        name = command.slots.get("name")
        return weather_sentence(pick_weather(states.get("states", []), str(name) if name else None))

    async def _get_state(self, command: Recognized) -> str | None:
        """"Is the front door locked?" for one named entity, from its state (HA's own answer
        varies by release: "No, Playing" for a playing TV in 2024.3, a bare "No," in 2026.2).
        None: a question about an area or several entities, for HA's conversation agent."""
        if "area" in command.slots and "name" not in command.slots:  # "are the lights on in the kitchen?"
            states = await self._request("GET", "/api/states")
            if isinstance(states, str):
                return states
            return area_state_answer(self.snapshot, command, states.get("states", []))
        entity = self.snapshot.by_name.get(spoken_form(str(command.slots.get("name", ""))))
        asked = command.slots.get("state")
        if entity is None or not isinstance(asked, str):
            return None
        state = await self._request("GET", f"/api/states/{entity.entity_id}")
        return state if isinstance(state, str) else state_answer(entity.name, entity.domain, asked, state)

    async def _only_player(self) -> str | None:
        """The media player a command without a target means: the only exposed one, else the
        only one playing (HA 2024.3 needs a name; newer ones use the satellite's area). When HA
        cannot be asked, the sentence that says so."""
        players = [e for e in self.snapshot.entities if e.domain == "media_player"]
        if len(players) == 1:
            return players[0].name
        states = await self._request("GET", "/api/states")
        if isinstance(states, str):
            return states
        playing = {s["entity_id"] for s in states.get("states", []) if s.get("state") == "playing"}
        active = [e for e in players if e.entity_id in playing]
        return active[0].name if len(active) == 1 else None

    async def _set_temperature(self, command: Recognized) -> str:
        """The ``climate.set_temperature`` service call, for an HA without the intent."""
        entity = self.snapshot.by_name.get(spoken_form(str(command.slots.get("name", ""))))
        if entity is None:
            climates = [e for e in self.snapshot.entities if e.domain == "climate"]
            entity = climates[0] if len(climates) == 1 else None
        if entity is None or "temperature" not in command.slots:
            return "Which thermostat do you mean?"
        degrees = float(command.slots["temperature"])
        body = await self._post("/api/services/climate/set_temperature",
                                {"entity_id": entity.entity_id, "temperature": degrees})
        if isinstance(body, str):
            return body
        target = {"type": "entity", "id": entity.entity_id, "name": entity.name}
        return await self._confirmed(command, {"success": [target]}, f"Set the {entity.name} to {degrees:g} degrees.")

    async def _confirmed(self, command: Recognized, data: dict[str, Any], said: str) -> str:
        """``said`` once every target HA reports as done shows it in its state (HA's
        ``state_changed`` events, within ``confirm_window``; then once more over HTTP), else
        what the state shows: on its way ("The Garage Door is opening.") or not changed."""
        targets = {str(t["id"]): str(t.get("name") or t["id"]) for t in data.get("success", [])
                   if t.get("type") == "entity" and t.get("id")}
        if not targets or self.config.confirm_window <= 0:
            return said
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.config.confirm_window), self._state_seen:
                await self._state_seen.wait_for(lambda: not unconfirmed(command, targets, self._states))
        for entity_id in unconfirmed(command, targets, self._states):  # the WebSocket may lag or be down
            state = await self._request("GET", f"/api/states/{entity_id}")
            if isinstance(state, dict):
                self._states[entity_id] = state
        pending = unconfirmed(command, targets, self._states)
        if not pending:
            return said
        _LOGGER.info("Home Assistant reported %s done, but %s did not change within %.1f s", command.name,
                     ", ".join(pending), self.config.confirm_window)
        return unconfirmed_reply(targets, pending, self._states, self.config.confirm_window)

    async def converse(self, text: str, conversation_id: str, *, part: bool = False) -> str | None:
        body = await self._post("/api/conversation/process",
                                {"text": text, "language": self.config.language})
        if isinstance(body, str):
            return not_done(text, body) if part else body
        response = body.get("response", {})
        error = response.get("response_type") == "error"
        if error and response.get("data", {}).get("code") == "no_intent_match" and not part:
            return None
        spoken = _speech(response)
        return not_done(text, spoken or "your home didn't understand it.") if part and error else spoken or None

    async def close(self) -> None:
        await self._http.aclose()

    # -- HTTP ------------------------------------------------------------------------------
    async def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any] | str:
        return await self._request("POST", path, payload)

    async def _request(self, method: str, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any] | str:
        """HA's JSON answer (a list as ``{"changed"|"states": [...]}``), or the sentence to say
        when there is none."""
        if self.state is HaState.UNAUTHORIZED:
            return UNREACHABLE
        try:
            response = await self._http.request(method, path, json=payload)
        except httpx.TimeoutException:
            _LOGGER.warning("Home Assistant took more than %.1f s for %s", self.config.timeout, path)
            return TOO_SLOW
        except httpx.HTTPError as err:
            _LOGGER.warning("Home Assistant unreachable (%s)", type(err).__name__)
            return UNREACHABLE
        if response.status_code in (401, 403):
            self._unauthorized()
            return UNREACHABLE
        if response.status_code >= 400:
            _LOGGER.warning("Home Assistant answered %d to %s", response.status_code, path)
            return HA_ERROR
        try:
            body = response.json()
        except ValueError:
            return "Your home gave an answer I could not read."
        if isinstance(body, list):  # a service call: the states it changed; GET /api/states: all
            return {"changed" if method == "POST" else "states": body}
        return body if isinstance(body, dict) else "Your home gave an answer I could not read."



def _speech(response: dict[str, Any]) -> str:
    speech = response.get("speech", {})
    plain = speech.get("plain", {}) if isinstance(speech, dict) else {}
    return str(plain.get("speech", "")).strip()
