"""What Home Assistant's OWN conversation agent does with the misheard requests our home path
hands it (a wildcard command naming no device of the home goes to ``/api/conversation/process``).

    flock /tmp/ha2025.lock flock /tmp/hearth-rt.lock python bench/home_ha_agent.py [--rig /tmp/ha2025]

A real Home Assistant 2026.2.3 (the ../shared/ha2025 chroot rig, as bench/ha_modern_bench.py;
not in CI) with the bench home of bench/home_corpus.py (built on the tests' configuration,
tests/ha_home.py: its lights, locks, covers, thermostat, fan, coffee maker and TV, their areas and
aliases). Each transcript goes to HA's default agent; every exposed
entity's state and main attributes are read before and after, and what changed is reported with
HA's reply. Transcripts: the room bench's mishearings, requests whose words do not fit the
device named, and every transcript
bench/home_misheard_bench.py's judge handed to HA's agent (``bench/results/home_misheard.json``,
before and after).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench"), str(ROOT / "tests")]

ROOM = [
    "Set the firmest up to 20 degrees.",
    "Set the firmest off to 20 degrees.",
    "Switch off thing. Bedroom lamp.",
    "Switch off in bedroom lamp.",
    "Set the film a stop too. 20 degrees.",
]
# Requests whose words do not fit the device named (orchestrator/home/fit.py; before it, each
# matched a wildcard template and went to HA's agent).
MISFITS = [
    "set the kitchen light to 20 degrees",
    "set the bedroom light to 20 degrees",
    "set the tv to 20 degrees",
    "set the ceiling fan to 20 degrees",
    "set the front door to 50 percent",
    "dim the front door",
    "turn the coffee maker blue",
    "lock the kitchen light",
    "make the thermostat blue",
    "set the garage door to 20 degrees",
]
ATTRIBUTES = ("temperature", "brightness", "current_position", "volume_level", "hs_color", "percentage")


def transcripts() -> list[str]:
    said = ROOM + MISFITS
    path = ROOT / "bench" / "results" / "home_misheard.json"
    if path.exists():
        for run in json.loads(path.read_text()).values():
            said += [r["heard"] for r in run["rows"] if r["outcome"] == "agent"]
    return list(dict.fromkeys(said))


# The bench home (bench/home_corpus.py) on top of the tests' HA configuration.
_ADD = {
    "input_boolean:\n": "  reading_lamp_on:\n  bedroom_light_on:\n",
    "input_number:\n": "  blinds_position: {{min: 0, max: 100, initial: 0}}\n",
    "    lights:\n": "".join(
        f"      {key}:\n        unique_id: {key}\n        friendly_name: {name}\n"
        f"        value_template: \"{{{{{{{{ is_state('input_boolean.{key}_on', 'on') }}}}}}}}\"\n"
        f"        turn_on: {{{{service: input_boolean.turn_on, target: {{{{entity_id: input_boolean.{key}_on}}}}}}}}\n"
        f"        turn_off: {{{{service: input_boolean.turn_off,"
        f" target: {{{{entity_id: input_boolean.{key}_on}}}}}}}}\n"
        for key, name in (("reading_lamp", "Reading Lamp"), ("bedroom_light", "Bedroom Light"))
    ),
    "lock:\n": "  - platform: template\n    name: Back Door\n    unique_id: back_door\n"
    "    value_template: \"{{{{ is_state('input_boolean.back_door_locked', 'on') }}}}\"\n"
    "    lock: {{service: input_boolean.turn_on, target: {{entity_id: input_boolean.back_door_locked}}}}\n"
    "    unlock: {{service: input_boolean.turn_off, target: {{entity_id: input_boolean.back_door_locked}}}}\n",
    "    covers:\n": "      living_room_blinds:\n        unique_id: living_room_blinds\n"
    "        friendly_name: Living Room Blinds\n        device_class: blind\n"
    "        position_template: \"{{{{ states('input_number.blinds_position') | int }}}}\"\n"
    "        open_cover: {{service: input_number.set_value, target: {{entity_id: "
    "input_number.blinds_position}}, data: {{value: 100}}}}\n"
    "        close_cover: {{service: input_number.set_value, target: {{entity_id: "
    "input_number.blinds_position}}, data: {{value: 0}}}}\n"
    "        set_cover_position:\n          service: input_number.set_value\n"
    "          target: {{entity_id: input_number.blinds_position}}\n"
    '          data: {{value: "{{{{ position }}}}"}}\n',
}
# entity -> (area, aliases), as in bench/home_corpus.py
_PLACES = {
    "light.kitchen_light": ("Kitchen", []),
    "light.reading_lamp": ("Living Room", ["floor lamp"]),
    "light.bedroom_light": ("Bedroom", []),
    "lock.front_door": ("Hallway", []),
    "lock.back_door": ("Kitchen", []),
    "cover.garage_door": ("Garage", []),
    "cover.living_room_blinds": ("Living Room", []),
    "climate.thermostat": ("Hallway", ["heating"]),
    "fan.ceiling_fan": ("Bedroom", []),
    "switch.coffee_maker": ("Kitchen", ["coffee maker"]),
    "media_player.tv": ("Living Room", ["television"]),
}


def bench_home_config(config: str) -> str:
    for anchor, added in _ADD.items():
        assert anchor in config, anchor
        config = config.replace(anchor, anchor + added, 1)
    return config


async def place(ha: Any) -> None:
    """Areas and aliases of the bench home, through HA's registries."""
    areas = {a["name"]: a["area_id"] for a in await ha.ws({"type": "config/area_registry/list"})}
    for entity_id, (area, aliases) in _PLACES.items():
        if area not in areas:
            areas[area] = (await ha.ws({"type": "config/area_registry/create", "name": area}))["area_id"]
        await ha.ws(
            {
                "type": "config/entity_registry/update",
                "entity_id": entity_id,
                "area_id": areas[area],
                "aliases": aliases,
            }
        )


def _view(states: list[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    return {
        s["entity_id"]: (s["state"], *(s["attributes"].get(a) for a in ATTRIBUTES))
        for s in states
        if not s["entity_id"].startswith(("sensor.", "weather.", "sun.", "person.", "zone.", "conversation."))
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    import httpx
    from ha_home import CONFIG, EXPOSED

    from bench.ha_modern_bench import chroot_ha

    rows = []
    async with chroot_ha(args, lambda port: CONFIG.format(port=port)) as ha:
        await ha.ws(
            {
                "type": "homeassistant/expose_entity",
                "assistants": ["conversation"],
                "entity_ids": EXPOSED,
                "should_expose": True,
            }
        )
        auth = {"Authorization": f"Bearer {ha.token}"}
        async with httpx.AsyncClient(base_url=ha.url, headers=auth, timeout=30) as client:
            version = (await client.get("/api/config")).json().get("version")
            for text in transcripts():
                before = _view((await client.get("/api/states")).json())
                reply = (await client.post("/api/conversation/process", json={"text": text, "language": "en"})).json()
                response = reply.get("response", {})
                changed: dict[str, Any] = {}
                for _ in range(10):  # template entities follow their input_* a moment later
                    after = _view((await client.get("/api/states")).json())
                    changed = {e: [before.get(e), v] for e, v in after.items() if before.get(e) != v}
                    if changed or response.get("response_type") != "action_done":
                        break
                    await asyncio.sleep(0.1)
                rows.append(
                    {
                        "text": text,
                        "response_type": response.get("response_type"),
                        "speech": response.get("speech", {}).get("plain", {}).get("speech"),
                        "targets": [t.get("name") for t in response.get("data", {}).get("success", [])],
                        "changed": changed,
                    }
                )
                print(json.dumps(rows[-1]), flush=True)
    return {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "ha_version": version,
        "load_avg": [round(x, 2) for x in os.getloadavg()],
        "rows": rows,
    }


def markdown(res: dict[str, Any]) -> str:
    acted = [r for r in res["rows"] if r["response_type"] == "action_done" or r["changed"]]
    lines = [
        "# Home Assistant's own agent on misheard requests (bench/home_ha_agent.py)",
        "",
        f"{res['when']}, Home Assistant {res['ha_version']} (../shared/ha2025 chroot, the bench home), load "
        f"average {' '.join(map(str, res['load_avg']))}. {len(acted)} of {len(res['rows'])} transcripts made "
        "HA act.",
        "",
        "| transcript | HA's answer | type | targets | changed |",
        "|---|---|---|---|---|",
    ]
    for r in res["rows"]:
        changed = "; ".join(f"{e}: {v[0]} -> {v[1]}" for e, v in r["changed"].items()) or "-"
        lines.append(
            f"| {r['text']} | {r['speech']} | {r['response_type']} | {', '.join(r['targets']) or '-'} | {changed} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rig", type=Path, default=Path("/tmp/ha2025"))
    parser.add_argument("--keep-config", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "home_ha_agent")
    args = parser.parse_args()
    if not (args.rig / "inroot.sh").exists():
        print(f"no HA rig at {args.rig}: run sudo ../shared/ha2025/setup.sh {args.rig}", file=sys.stderr)
        return 2
    res = asyncio.run(run(args))
    args.out.with_suffix(".json").write_text(json.dumps(res, indent=1) + "\n", encoding="utf-8")
    args.out.with_suffix(".md").write_text(markdown(res), encoding="utf-8")
    print(markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
