"""Home Assistant's devices over its WebSocket API (``/api/websocket``), for :mod:`.ha`.

The entity and area registries, the floor registry where HA has one, the states (names), and
which entities are exposed to Assist (``homeassistant/expose_entity/list``; entities HA has no
setting for follow its default: exposed for the device domains it exposes by default). Registry
and state events keep the lists current (a reload a moment after a change, never more than one
at a time), and the exposed entities' latest states are kept for the confirmation of an action.
A rejected token stops it for good (logged once; the token never is).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
from dataclasses import dataclass
from typing import Any

from hassil.intents import SlotList

from voice_runtime.tasks import TaskSet, cancel_and_wait

from .entities import HomeSnapshot, build_snapshot, slot_lists

_LOGGER = logging.getLogger(__name__)
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


class DeviceLists:
    """The WebSocket half of :class:`~orchestrator.home.ha.HomeAssistant` (which sets these up)."""

    config: HaConfig
    state: HaState
    snapshot: HomeSnapshot
    loaded: asyncio.Event
    reloads: int
    _lists: dict[str, SlotList]
    _reloaded: asyncio.Condition
    _next_id: int
    _changes: asyncio.Event
    _tasks: TaskSet
    _states: dict[str, dict[str, Any]]
    _state_seen: asyncio.Condition

    def _unauthorized(self) -> None:
        if self.state is not HaState.UNAUTHORIZED:
            _LOGGER.error("Home Assistant at %s rejected the access token (401): check HA_TOKEN / --ha-token-file",
                          self.config.url)
        self.state = HaState.UNAUTHORIZED

    async def wait_reloads(self, count: int) -> None:
        """Until the device lists have been (re)loaded ``count`` times."""
        async with self._reloaded:
            await self._reloaded.wait_for(lambda: self.reloads >= count)

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
