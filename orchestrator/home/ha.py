"""Home Assistant as the orchestrator's home backend.

- Devices: over HA's WebSocket API (``/api/websocket``): the entity and area registries, the
  floor registry where HA has one, the states (names), and which entities are exposed to Assist
  (``homeassistant/expose_entity/list``; entities HA has no setting for follow its default:
  exposed for the device domains it exposes by default). Registry and state events keep the
  lists current (a reload a moment after a change, never more than one at a time).
- Commands: recognised locally (``orchestrator.intents``) with those names, executed with HA's
  ``POST /api/intent/handle``; what HA says is the reply. A home-looking command that did not
  match goes to ``POST /api/conversation/process``.
- Failures are said plainly: a rejected token is logged once (the token never is) and answered
  "I can't reach your home."; no answer within ``timeout`` (3 s) gets an honest "I don't know".
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
from dataclasses import dataclass
from typing import Any

import httpx
from hassil.intents import SlotList

from voice_runtime.tasks import TaskSet, cancel_and_wait

from ..intents import Recognized
from .entities import HomeSnapshot, build_snapshot, slot_lists, spoken_form
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
RELOAD_EVENTS = ("entity_registry_updated", "area_registry_updated", "floor_registry_updated")


class HaState(enum.Enum):
    CONNECTING = "connecting"
    READY = "ready"
    UNAUTHORIZED = "unauthorized"
    UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class HaConfig:
    url: str  # http://homeassistant.local:8123
    token: str
    timeout: float = 3.0
    reconnect_delay: float = 5.0
    language: str = "en"
    confirm_window: float = 2.0  # how long a done action's state may take to show it (0: trust HA's answer)
    names_to_asr: bool = False  # the exposed names as speech-to-text's initial prompt (home/asr.py; opt-in)

    def __repr__(self) -> str:  # the token never reaches a log
        return f"HaConfig(url={self.url!r}, token=<redacted>, timeout={self.timeout})"


class AuthError(Exception):
    pass


class HomeAssistant:
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
        if (each := every_one(self.snapshot, command)) is not None:  # "turn on all the lights"
            return each if isinstance(each, str) else " ".join([(await self.execute(c)).strip() for c in each])
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

    async def wait_reloads(self, count: int) -> None:
        """Until the device lists have been (re)loaded ``count`` times."""
        async with self._reloaded:
            await self._reloaded.wait_for(lambda: self.reloads >= count)

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

    def _unauthorized(self) -> None:
        if self.state is not HaState.UNAUTHORIZED:
            _LOGGER.error("Home Assistant at %s rejected the access token (401): check HA_TOKEN / --ha-token-file",
                          self.config.url)
        self.state = HaState.UNAUTHORIZED

    # -- WebSocket: the device lists -------------------------------------------------------
    async def run(self) -> None:
        """Connect, load, follow changes; reconnect after a loss. Stops for good on a bad token."""
        while self.state is not HaState.UNAUTHORIZED:
            try:
                await self._session()
            except AuthError:
                self._unauthorized()
                return
            except (OSError, TimeoutError, ValueError, KeyError) as err:
                if self.state is not HaState.UNREACHABLE:
                    _LOGGER.warning("Home Assistant at %s unreachable (%s); retrying every %.0f s",
                                    self.config.url, type(err).__name__, self.config.reconnect_delay)
                self.state = HaState.UNREACHABLE
            await asyncio.sleep(self.config.reconnect_delay)

    async def _session(self) -> None:
        import websockets

        ws_url = self.config.url.rstrip("/").replace("http", "ws", 1) + "/api/websocket"
        async with websockets.connect(ws_url, max_size=32 * 1024 * 1024, open_timeout=10) as ws:
            hello = json.loads(await ws.recv())
            if hello.get("type") == "auth_required":
                await ws.send(json.dumps({"type": "auth", "access_token": self.config.token}))
                answer = json.loads(await ws.recv())
                if answer.get("type") != "auth_ok":
                    raise AuthError(answer.get("message", "auth_invalid"))
            pending: dict[int, asyncio.Future[Any]] = {}
            reader = self._tasks.spawn(self._read(ws, pending), name="ha reader", awaited=True)
            try:
                await self._call(ws, pending, {"type": "subscribe_events", "event_type": "state_changed"})
                for event_type in RELOAD_EVENTS:
                    with contextlib.suppress(RuntimeError):  # an HA without floors
                        await self._call(ws, pending, {"type": "subscribe_events", "event_type": event_type})
                while True:
                    await self._reload(ws, pending)
                    await self._changes.wait()
                    await asyncio.sleep(0.5)  # let a burst of registry events settle into one reload
            finally:
                await cancel_and_wait(reader)

    async def _read(self, ws: Any, pending: dict[int, asyncio.Future[Any]]) -> None:
        async for raw in ws:
            message = json.loads(raw)
            if message.get("type") == "result":
                fut = pending.pop(message.get("id", -1), None)
                if fut is not None and not fut.done():
                    if message.get("success"):
                        fut.set_result(message.get("result"))
                    else:
                        fut.set_exception(RuntimeError(str(message.get("error"))))
            elif message.get("type") == "event":
                event = message.get("event", {})
                await self._remember(event)
                if self._relevant(event):
                    self._changes.set()
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(ConnectionResetError("Home Assistant closed the WebSocket"))

    async def _remember(self, event: dict[str, Any]) -> None:
        """An exposed entity's new state, for :meth:`_confirmed`."""
        data = event.get("data", {}) if event.get("event_type") == "state_changed" else {}
        if data.get("entity_id") in self._states and data.get("new_state"):
            self._states[data["entity_id"]] = data["new_state"]
            async with self._state_seen:
                self._state_seen.notify_all()

    def _relevant(self, event: dict[str, Any]) -> bool:
        if event.get("event_type") != "state_changed":
            return True
        data = event.get("data", {})
        old, new = data.get("old_state"), data.get("new_state")
        if old is None or new is None:
            return True  # an entity appeared or went away
        return bool(old.get("attributes", {}).get("friendly_name") != new.get("attributes", {}).get("friendly_name"))

    async def _call(self, ws: Any, pending: dict[int, asyncio.Future[Any]], message: dict[str, Any]) -> Any:
        self._next_id += 1
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        pending[self._next_id] = fut
        await ws.send(json.dumps({"id": self._next_id, **message}))
        async with asyncio.timeout(30):
            return await fut

    async def _reload(self, ws: Any, pending: dict[int, asyncio.Future[Any]]) -> None:
        self._changes.clear()
        registry = await self._call(ws, pending, {"type": "config/entity_registry/list"})
        with contextlib.suppress(RuntimeError):  # the full entries carry the aliases
            full = await self._call(ws, pending, {"type": "config/entity_registry/get_entries",
                                                  "entity_ids": [r["entity_id"] for r in registry]})
            registry = [full.get(r["entity_id"]) or r for r in registry]
        states = await self._call(ws, pending, {"type": "get_states"})
        areas = await self._call(ws, pending, {"type": "config/area_registry/list"})
        floors: list[dict[str, Any]] = []
        with contextlib.suppress(RuntimeError):
            floors = await self._call(ws, pending, {"type": "config/floor_registry/list"})
        exposed: dict[str, Any] = {}
        with contextlib.suppress(RuntimeError):
            exposed = (await self._call(ws, pending, {"type": "homeassistant/expose_entity/list"})
                       ).get("exposed_entities", {})
        self.snapshot = build_snapshot(registry, states, areas, floors, exposed)
        exposed_ids = {e.entity_id for e in self.snapshot.entities}
        self._states = {s["entity_id"]: s for s in states if s.get("entity_id") in exposed_ids}
        self._lists = slot_lists(self.snapshot)
        self.state = HaState.READY
        self.loaded.set()
        async with self._reloaded:
            self.reloads += 1
            self._reloaded.notify_all()
        _LOGGER.info("Home Assistant: %d exposed entities, %d areas, %d floors", len(self.snapshot.entities),
                     len(self.snapshot.areas), len(self.snapshot.floors))


def _speech(response: dict[str, Any]) -> str:
    speech = response.get("speech", {})
    plain = speech.get("plain", {}) if isinstance(speech, dict) else {}
    return str(plain.get("speech", "")).strip()
