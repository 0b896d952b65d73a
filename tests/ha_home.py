"""A real Home Assistant core for the tests: YAML-only entities, onboarded through its API.

HA 2024.3.3 runs from its own virtualenv (``~/.cache/hearth/peers/home-assistant``, made by
scripts/setup.sh; ``HEARTH_HA_PYTHON`` points elsewhere). The configuration has a template light
(brightness and hs colour), switches, a fan, locks, covers, a generic thermostat, a `universal`
media player (on/off, pause/play, next, volume), an input_number for a sensor, a template weather
entity and a slow switch (its turn-on takes 5 s), all backed by
input_booleans/input_numbers/input_selects so their state really changes, and one custom sentence
only HA knows ("switch on party mode", an intent_script). A user is created with the onboarding API
and its access token is what the orchestrator uses; the media player is exposed to Assist through
the WebSocket API (HA 2024.3 does not expose that domain by default).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

_CACHE = Path(os.environ.get("HEARTH_CACHE_DIR", Path.home() / ".cache/hearth"))
HA_PYTHON = Path(os.environ.get("HEARTH_HA_PYTHON") or next(
    (p for p in (_CACHE / "peers/home-assistant/bin/python", _CACHE / "ha/bin/python") if p.exists()),
    _CACHE / "peers/home-assistant/bin/python"))
CLIENT_ID = "http://127.0.0.1/"
EXPOSED = ["media_player.tv"]

CONFIG = """
homeassistant:
  name: Test Home
  unit_system: metric
  time_zone: UTC
  latitude: 52.0
  longitude: 4.0
  elevation: 0
  currency: EUR
  country: NL
http:
  server_host: 127.0.0.1
  server_port: {port}
api:
onboarding:
config:
conversation:
  intents:  # a sentence only Home Assistant knows: the orchestrator's handover test
    PartyMode:
      - "(turn | switch) on [the] party mode"
intent:
intent_script:
  PartyMode:
    action:
      - service: input_boolean.turn_on
        target: {{entity_id: input_boolean.party_mode}}
    speech:
      text: Party mode is on.
input_boolean:
  party_mode:
  ceiling_fan_on:
  kitchen_light_on:
  coffee_maker_on:
  front_door_locked:
    initial: true
  back_door_locked:
    initial: true
  heater_on:
  kettle_on:
input_select:
  tv_state: {{options: ["off", "playing", "paused"], initial: "off"}}
  weather_condition: {{options: ["sunny", "rainy", "partlycloudy"], initial: "sunny"}}
input_number:
  kitchen_light_level: {{min: 0, max: 255, initial: 0}}
  garage_door_position: {{min: 0, max: 100, initial: 0}}
  room_temperature: {{min: -20, max: 50, initial: 19, unit_of_measurement: "°C"}}
  outdoor_temperature: {{min: -30, max: 50, initial: 12, unit_of_measurement: "°C"}}
  kitchen_light_hue: {{min: 0, max: 360, initial: 0}}
  kitchen_light_saturation: {{min: 0, max: 100, initial: 0}}
  tv_volume: {{min: 0, max: 1, step: 0.01, initial: 0.2}}
  tv_track: {{min: 0, max: 1000, initial: 1}}
template:
  - sensor:
      - name: Room Temperature
        unique_id: room_temperature
        unit_of_measurement: "°C"
        device_class: temperature
        state: "{{{{ states('input_number.room_temperature') }}}}"
light:
  - platform: template
    lights:
      kitchen_light:
        unique_id: kitchen_light
        friendly_name: Kitchen Light
        value_template: "{{{{ is_state('input_boolean.kitchen_light_on', 'on') }}}}"
        level_template: "{{{{ states('input_number.kitchen_light_level') | int }}}}"
        turn_on: {{service: input_boolean.turn_on, target: {{entity_id: input_boolean.kitchen_light_on}}}}
        turn_off: {{service: input_boolean.turn_off, target: {{entity_id: input_boolean.kitchen_light_on}}}}
        # Actions end with the step that changes what a test waits for (HA answers an intent
        # after 0.2 s and runs the rest on; a template light drops a call while one still runs).
        set_level:
          - service: input_boolean.turn_on
            target: {{entity_id: input_boolean.kitchen_light_on}}
          - service: input_number.set_value
            target: {{entity_id: input_number.kitchen_light_level}}
            data: {{value: "{{{{ brightness }}}}"}}
        hs_template: >-
          ({{{{ states('input_number.kitchen_light_hue') | float }}}},
           {{{{ states('input_number.kitchen_light_saturation') | float }}}})
        set_hs:
          - service: input_boolean.turn_on
            target: {{entity_id: input_boolean.kitchen_light_on}}
          - service: input_number.set_value
            target: {{entity_id: input_number.kitchen_light_saturation}}
            data: {{value: "{{{{ s }}}}"}}
          - service: input_number.set_value
            target: {{entity_id: input_number.kitchen_light_hue}}
            data: {{value: "{{{{ h }}}}"}}
switch:
  - platform: template
    switches:
      coffee_maker:
        unique_id: coffee_maker
        friendly_name: "Coffee Maker (old) #2"
        value_template: "{{{{ is_state('input_boolean.coffee_maker_on', 'on') }}}}"
        turn_on: {{service: input_boolean.turn_on, target: {{entity_id: input_boolean.coffee_maker_on}}}}
        turn_off: {{service: input_boolean.turn_off, target: {{entity_id: input_boolean.coffee_maker_on}}}}
      slow_kettle:  # its switching on takes 5 s: HA answers "done" long before the state follows (was 3 s:
                    # on a loaded CI box HA's own answer came late enough that the state showed within
                    # our 2 s confirmation window once)
        unique_id: slow_kettle
        friendly_name: Slow Kettle
        value_template: "{{{{ is_state('input_boolean.kettle_on', 'on') }}}}"
        turn_on:
          - delay: 5
          - service: input_boolean.turn_on
            target: {{entity_id: input_boolean.kettle_on}}
        turn_off: {{service: input_boolean.turn_off, target: {{entity_id: input_boolean.kettle_on}}}}
      heater:
        unique_id: heater
        friendly_name: Heater Relay
        value_template: "{{{{ is_state('input_boolean.heater_on', 'on') }}}}"
        turn_on: {{service: input_boolean.turn_on, target: {{entity_id: input_boolean.heater_on}}}}
        turn_off: {{service: input_boolean.turn_off, target: {{entity_id: input_boolean.heater_on}}}}
fan:
  - platform: template
    fans:
      ceiling_fan:
        unique_id: ceiling_fan
        friendly_name: Ceiling Fan
        value_template: "{{{{ states('input_boolean.ceiling_fan_on') }}}}"
        turn_on: {{service: input_boolean.turn_on, target: {{entity_id: input_boolean.ceiling_fan_on}}}}
        turn_off: {{service: input_boolean.turn_off, target: {{entity_id: input_boolean.ceiling_fan_on}}}}
lock:
  - platform: template
    name: Front Door
    unique_id: front_door
    value_template: "{{{{ is_state('input_boolean.front_door_locked', 'on') }}}}"
    lock: {{service: input_boolean.turn_on, target: {{entity_id: input_boolean.front_door_locked}}}}
    unlock: {{service: input_boolean.turn_off, target: {{entity_id: input_boolean.front_door_locked}}}}
cover:
  - platform: template
    covers:
      garage_door:
        unique_id: garage_door
        friendly_name: Garage Door
        device_class: garage
        position_template: "{{{{ states('input_number.garage_door_position') | int }}}}"
        open_cover: {{service: input_number.set_value, target: {{entity_id: input_number.garage_door_position}},
                      data: {{value: 100}}}}
        close_cover: {{service: input_number.set_value, target: {{entity_id: input_number.garage_door_position}},
                       data: {{value: 0}}}}
        set_cover_position:
          service: input_number.set_value
          target: {{entity_id: input_number.garage_door_position}}
          data: {{value: "{{{{ position }}}}"}}
climate:
  - platform: generic_thermostat
    name: Thermostat
    unique_id: thermostat
    heater: switch.heater
    target_sensor: sensor.room_temperature
    target_temp: 20
media_player:
  - platform: universal
    name: TV
    unique_id: living_room_tv
    state_template: "{{{{ states('input_select.tv_state') }}}}"
    attributes:
      volume_level: input_number.tv_volume
    commands:
      turn_on: {{service: input_select.select_option, data: {{entity_id: input_select.tv_state, option: "playing"}}}}
      turn_off: {{service: input_select.select_option, data: {{entity_id: input_select.tv_state, option: "off"}}}}
      media_play: {{service: input_select.select_option, data: {{entity_id: input_select.tv_state, option: "playing"}}}}
      media_pause: {{service: input_select.select_option, data: {{entity_id: input_select.tv_state, option: "paused"}}}}
      media_next_track: {{service: input_number.increment, target: {{entity_id: input_number.tv_track}}}}
      volume_set: {{service: input_number.set_value, target: {{entity_id: input_number.tv_volume}},
                    data: {{value: "{{{{ volume_level }}}}"}}}}
weather:
  - platform: template
    name: Home Forecast
    unique_id: home_forecast
    condition_template: "{{{{ states('input_select.weather_condition') }}}}"
    temperature_template: "{{{{ states('input_number.outdoor_temperature') | float }}}}"
    humidity_template: "{{{{ 60 }}}}"
"""


def ha_installed() -> bool:
    return HA_PYTHON.exists()


@dataclass
class RunningHa:
    url: str
    token: str
    proc: asyncio.subprocess.Process
    config_dir: Path

    async def state(self, entity_id: str) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}) as c:
            response = await c.get(f"/api/states/{entity_id}")
            response.raise_for_status()
            body: dict[str, Any] = response.json()
            return body

    async def ws(self, message: dict[str, Any]) -> Any:
        """One WebSocket API command (e.g. a registry update); its result."""
        import websockets

        async with websockets.connect(self.url.replace("http", "ws", 1) + "/api/websocket") as ws:
            await ws.recv()
            await ws.send(json.dumps({"type": "auth", "access_token": self.token}))
            if json.loads(await ws.recv())["type"] != "auth_ok":
                raise RuntimeError("Home Assistant refused the test token")
            await ws.send(json.dumps({"id": 1, **message}))
            answer = json.loads(await ws.recv())
            if not answer.get("success"):
                raise RuntimeError(f"Home Assistant refused {message['type']}: {answer.get('error')}")
            return answer.get("result")

    async def wait_state(self, entity_id: str, wanted: Callable[[dict[str, Any]], bool],
                         timeout: float = 20.0) -> dict[str, Any]:
        """The entity's state once ``wanted`` holds for it (HA's ``state_changed`` events, not
        polling): HA answers an intent after 0.2 s while a slow action still runs."""
        import websockets

        async with websockets.connect(self.url.replace("http", "ws", 1) + "/api/websocket") as ws:
            await ws.recv()
            await ws.send(json.dumps({"type": "auth", "access_token": self.token}))
            await ws.recv()
            await ws.send(json.dumps({"id": 1, "type": "subscribe_events", "event_type": "state_changed"}))
            await ws.recv()
            state = await self.state(entity_id)
            async with asyncio.timeout(timeout):
                while not wanted(state):
                    data = json.loads(await ws.recv()).get("event", {}).get("data", {})
                    if data.get("entity_id") == entity_id and data.get("new_state"):
                        state = data["new_state"]
            return state

    async def call(self, domain: str, service: str, data: dict[str, Any]) -> None:
        async with httpx.AsyncClient(base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}) as c:
            response = await c.post(f"/api/services/{domain}/{service}", json=data)
            response.raise_for_status()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _wait_up(url: str, proc: asyncio.subprocess.Process, log: Path, timeout: float = 600) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=5) as client, asyncio.timeout(timeout):
        while True:
            if proc.returncode is not None:
                tail = await asyncio.to_thread(log.read_text)
                raise RuntimeError(f"Home Assistant exited {proc.returncode}: {tail[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get("/api/onboarding")).status_code == 200:
                    return
            await asyncio.sleep(0.5)  # polling a starting process: nothing to wait on instead


async def _onboard(url: str) -> str:
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        response = await client.post("/api/onboarding/users", json={
            "client_id": CLIENT_ID, "name": "Test", "username": "test", "password": "test-password-1",
            "language": "en"})
        response.raise_for_status()
        code = response.json()["auth_code"]
        response = await client.post("/auth/token", data={"grant_type": "authorization_code", "code": code,
                                                          "client_id": CLIENT_ID})
        response.raise_for_status()
        token: str = response.json()["access_token"]
        return token


@contextlib.asynccontextmanager
async def home_assistant(folder: Path) -> AsyncIterator[RunningHa]:
    port = _free_port()
    config_dir = folder / "ha-config"
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "configuration.yaml").write_text(CONFIG.format(port=port), encoding="utf-8")
    log = config_dir / "stdout.log"
    out = await asyncio.to_thread(log.open, "wb")
    with out:
        proc = await asyncio.create_subprocess_exec(
            str(HA_PYTHON), "-m", "homeassistant", "-c", str(config_dir), "--log-no-color",
            stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        await _wait_up(url, proc, log)
        token = await _onboard(url)
        running = RunningHa(url, token, proc, config_dir)
        # HA exposes media players to Assist only when asked (not a default-exposed domain).
        await running.ws({"type": "homeassistant/expose_entity", "assistants": ["conversation"],
                          "entity_ids": EXPOSED, "should_expose": True})
        yield running
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()


@contextlib.asynccontextmanager
async def ha_backend(config: Any, *, loaded: bool = False) -> AsyncIterator[Any]:
    """Our HA backend (orchestrator.home.ha.HomeAssistant) running against ``config``; with
    ``loaded`` it is yielded once its entities are loaded (60 s at most). Cancelled and closed after."""
    from orchestrator.home.ha import HomeAssistant

    home = HomeAssistant(config)
    task = asyncio.create_task(home.run(), name="ha backend")
    try:
        if loaded:
            await asyncio.wait_for(home.loaded.wait(), 60)
        yield home
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await home.close()
