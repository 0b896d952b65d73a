"""Floors against a real Home Assistant 2026.2.3 (floors came in HA 2024.4; the tests' HA 2024.3.3
has none). Uses the ../shared/ha2025 chroot rig, which CI does not build, so this is a bench
script rather than a test.

    sudo ../shared/ha2025/setup.sh /tmp/ha2025      # once
    flock /tmp/ha2025.lock python bench/ha_floors_bench.py [--rig /tmp/ha2025] [--out bench/results/ha_floors]

HA starts in the chroot with a YAML config (four template lights backed by input_booleans); the
floors ("Upstairs", "Ground Floor") and areas are made through HA's WebSocket API and the lights
put in the areas. The orchestrator's HomeAssistant backend then loads the floors like any other
name, and each floor command is recognised locally and done in HA; HA's states are read back.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

LIGHTS = {"bedroom": "Bedroom Light", "landing": "Landing Light", "kitchen": "Kitchen Light", "lounge": "Lounge Light"}
FLOOR_OF = {"bedroom": "Upstairs", "landing": "Upstairs", "kitchen": "Ground Floor", "lounge": "Ground Floor"}
CONFIG = """
homeassistant: {{name: Floors, unit_system: metric, time_zone: UTC, latitude: 52.0, longitude: 4.0,
                elevation: 0, currency: EUR, country: NL}}
http: {{server_host: 127.0.0.1, server_port: {port}}}
api:
onboarding:
config:
conversation:
intent:
input_boolean:
{booleans}
template:
  - light:
{lights}
"""
LIGHT = """      - name: {name}
        unique_id: {key}_light
        state: "{{{{ is_state('input_boolean.{key}_on', 'on') }}}}"
        turn_on: {{action: input_boolean.turn_on, target: {{entity_id: input_boolean.{key}_on}}}}
        turn_off: {{action: input_boolean.turn_off, target: {{entity_id: input_boolean.{key}_on}}}}
"""
# (what is said, the lights that must be on afterwards)
COMMANDS = [
    ("turn on the lights upstairs", {"bedroom", "landing"}),
    ("turn off the lights upstairs", set()),
    ("turn on the ground floor lights", {"kitchen", "lounge"}),
    ("turn on all the lights on the upstairs", {"kitchen", "lounge", "bedroom", "landing"}),
    ("turn off the lights on the ground floor", {"bedroom", "landing"}),
    ("switch off the upstairs lights", set()),
]


def config_text(port: int) -> str:
    booleans = "".join(f"  {key}_on:\n" for key in LIGHTS)
    lights = "".join(LIGHT.format(name=name, key=key) for key, name in LIGHTS.items())
    return CONFIG.format(port=port, booleans=booleans, lights=lights)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    import httpx
    from ha_home import RunningHa, _free_port, _onboard, _wait_up

    from orchestrator.home.ha import HaConfig, HomeAssistant
    from orchestrator.intents import IntentRecognizer

    port = _free_port()
    inside = f"/tmp/hearth-floors-{os.getpid()}"
    config_dir = args.rig / "root" / inside.lstrip("/")
    config_dir.mkdir(parents=True)
    (config_dir / "configuration.yaml").write_text(config_text(port), encoding="utf-8")
    log = config_dir / "stdout.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            str(args.rig / "inroot.sh"), "hass", "-c", inside, "--skip-pip", "--log-no-color",
            stdout=out, stderr=out, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    rows: list[dict[str, Any]] = []
    try:
        started = time.monotonic()
        await _wait_up(url, proc, log, timeout=300)
        token = await _onboard(url)
        ha = RunningHa(url, token, proc, config_dir)
        up_s = round(time.monotonic() - started, 1)
        floor_ids = {}
        for floor_name, level in (("Upstairs", 1), ("Ground Floor", 0)):
            made = await ha.ws({"type": "config/floor_registry/create", "name": floor_name, "level": level})
            floor_ids[floor_name] = made["floor_id"]
        existing = {a["name"].lower(): a["area_id"] for a in await ha.ws({"type": "config/area_registry/list"})}
        for key in LIGHTS:  # onboarding made some areas already (Kitchen, Bedroom, Living Room)
            area = await ha.ws({"type": "config/area_registry/update", "area_id": existing[key],
                                "floor_id": floor_ids[FLOOR_OF[key]]} if key in existing else
                               {"type": "config/area_registry/create", "name": key.title(),
                                "floor_id": floor_ids[FLOOR_OF[key]]})
            await ha.ws({"type": "config/entity_registry/update", "entity_id": f"light.{key}_light",
                         "area_id": area["area_id"]})
        async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}) as client:
            version = (await client.get("/api/config")).json().get("version")
        home = HomeAssistant(HaConfig(url, token))
        task = asyncio.create_task(home.run())
        try:
            await asyncio.wait_for(home.loaded.wait(), 60)
            floors = sorted(name for _, name in home.snapshot.floors)
            intents = IntentRecognizer(home=home)
            for text, want_on in COMMANDS:
                found = intents.recognize(text)
                began = time.perf_counter()
                match = await intents.answer(text, "bench")
                took = (time.perf_counter() - began) * 1000
                on = {key for key in LIGHTS if (await ha.state(f"light.{key}_light"))["state"] == "on"}
                rows.append({"said": text, "recognized": [(c.name, c.source, c.slots) for c in found],
                             "reply": match.response if match else None, "answer_ms": round(took, 1),
                             "lights_on": sorted(on), "want_on": sorted(want_on), "ok": on == want_on})
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await home.close()
    finally:
        if proc.returncode is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
        if not args.keep_config:
            shutil.rmtree(config_dir, ignore_errors=True)
    return {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "ha_version": version,
            "load_avg": [round(x, 2) for x in os.getloadavg()], "ha_start_s": up_s, "floors_loaded": floors,
            "commands": len(rows), "correct": sum(r["ok"] for r in rows), "rows": rows}


def markdown(res: dict[str, Any]) -> str:
    lines = ["# Floors against a real Home Assistant (bench/ha_floors_bench.py)", "",
             f"{res['when']}, Home Assistant {res['ha_version']} (../shared/ha2025 chroot; not in CI), load average "
             f"{' '.join(map(str, res['load_avg']))} (2 cores). Floors loaded over the WebSocket API: "
             f"{', '.join(res['floors_loaded'])}. {res['correct']}/{res['commands']} commands left exactly the "
             "expected lights on.", "",
             "| said | recognised | reply | lights on after | as expected |", "|---|---|---|---|---|"]
    for r in res["rows"]:
        rec = "; ".join(f"{n} ({s}) {slots}" for n, s, slots in r["recognized"])
        lines.append(f"| {r['said']} | {rec} | {r['reply']} | {', '.join(r['lights_on']) or '-'} | {r['ok']} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rig", type=Path, default=Path("/tmp/ha2025"))
    parser.add_argument("--keep-config", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/ha_floors")
    args = parser.parse_args()
    if not (args.rig / "inroot.sh").exists():
        print(f"no HA rig at {args.rig}: run sudo ../shared/ha2025/setup.sh {args.rig}", file=sys.stderr)
        return 2
    res = asyncio.run(run(args))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(res, indent=1) + "\n", encoding="utf-8")
    args.out.with_suffix(".md").write_text(markdown(res), encoding="utf-8")
    print(markdown(res))
    return 0 if res["correct"] == res["commands"] else 1


if __name__ == "__main__":
    sys.exit(main())
