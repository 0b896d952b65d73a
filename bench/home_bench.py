"""Home command recognition: accuracy on written phrasings, and how long recognition takes.

  python bench/home_bench.py [--entities 500] [--repeat 3] [--ha-rounds 20] [--out bench/results/home]

- accuracy: the corpus in bench/home_corpus.py (a tuning part and a held-out part), recognised
  with the official home-assistant-intents templates and the corpus home's real names as slot
  lists, as with Home Assistant connected; intent and the given slots must match;
- no home: every device command must get the honest answer, and general questions must still
  go to the LLM (false captures counted);
- time: ``IntentRecognizer.recognize`` per phrase (p50/p95) with the small home and with
  ``--entities`` generated entities (names, areas) added;
- Home Assistant (``--ha-rounds`` > 0, needs the HA venv of scripts/setup.sh): a real HA core
  (tests/ha_home.py) on loopback; ``answer()`` time of commands done in HA versus a question
  answered locally (the time), p50 — the latency HA adds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from hassil.intents import SlotList

from bench.home_corpus import (
    AREAS,
    ENTITIES,
    HELD_OUT,
    HELD_OUT_2,
    HELD_OUT_3,
    NOT_COMMANDS,
    NOT_COMMANDS_3,
    TUNE,
    TUNE_2,
    Case,
)
from bench.home_corpus_4 import HELD_OUT_4, HELD_OUT_4_REST, NOT_COMMANDS_4, TUNE_5
from bench.home_corpus_5 import HELD_OUT_5, NOT_COMMANDS_5
from bench.home_corpus_6 import HELD_OUT_6, NOT_COMMANDS_6
from bench.home_corpus_7 import HELD_OUT_7, NOT_COMMANDS_7
from bench.home_corpus_8 import HELD_OUT_8, NO_HOME_8, NOT_COMMANDS_8
from bench.home_corpus_9 import HELD_OUT_9, NO_HOME_9, NOT_COMMANDS_9
from orchestrator.home.entities import HomeArea, HomeEntity, HomeSnapshot, slot_lists
from orchestrator.intents import HOME_INTENTS, IntentRecognizer, Recognized

ROOMS = ["attic", "basement", "study", "nursery", "pantry", "porch", "patio", "office", "den", "laundry room",
         "guest room", "dining room", "sunroom", "workshop", "cellar", "loft", "library", "gym", "mudroom", "closet"]
THINGS = ["light", "lamp", "spotlight", "strip", "fan", "heater", "plug", "speaker", "blind", "shade", "sensor",
          "outlet", "chandelier", "sconce", "pendant", "downlight", "kettle", "humidifier", "purifier", "radio"]
DOMAINS = {"light": "light", "lamp": "light", "spotlight": "light", "strip": "light", "chandelier": "light",
           "sconce": "light", "pendant": "light", "downlight": "light", "blind": "cover", "shade": "cover",
           "speaker": "media_player", "radio": "media_player", "sensor": "sensor"}


class SnapshotHome:
    """A home backend for recognition only: fixed slot lists, commands are not executed."""

    def __init__(self, snapshot: HomeSnapshot) -> None:
        self._lists = slot_lists(snapshot)

    def slot_lists(self) -> dict[str, SlotList]:
        return self._lists

    async def execute(self, command: Recognized) -> str:
        return command.name

    async def converse(self, text: str, conversation_id: str, *, part: bool = False) -> str | None:
        return None


def corpus_home(extra: int = 0) -> HomeSnapshot:
    entities = [HomeEntity(e, n, tuple(al), a, dc) for e, n, a, dc, al in ENTITIES]
    areas = [HomeArea(a, n) for a, n in AREAS]
    for i in range(extra):
        room, thing = ROOMS[i % len(ROOMS)], THINGS[(i // len(ROOMS)) % len(THINGS)]
        number = i // (len(ROOMS) * len(THINGS))
        name = f"{room} {thing}" + (f" {number + 2}" if number else "")
        entities.append(HomeEntity(f"{DOMAINS.get(thing, 'switch')}.gen_{i}", name.title(), (), room.replace(" ", "_")))
    areas += [HomeArea(r.replace(" ", "_"), r.title()) for r in ROOMS] if extra else []
    return HomeSnapshot(entities=tuple(entities), areas=tuple(areas))


def _same(want: Any, got: Any) -> bool:
    try:
        return float(want) == float(got)
    except (TypeError, ValueError):  # names, or area ids ("living_room" for "living room")
        return str(want).lower().replace(" ", "_") == str(got).lower().replace(" ", "_")


def judge(recognizer: IntentRecognizer, case: Case) -> tuple[bool, str]:
    text, intent, slots = case
    found = recognizer.recognize(text)
    got = "+".join(c.name for c in found) if found else None
    if found and found[0].source == "fallback" and len(found) == 1:
        got = f"fallback:{got}"
    ok = got == intent and all(k in found[0].slots and _same(v, found[0].slots[k]) for k, v in slots.items())
    detail = f"{got} {found[0].slots if found else {}}"
    return ok, detail


def accuracy(recognizer: IntentRecognizer, cases: list[Case]) -> dict[str, Any]:
    misses = []
    for case in cases:
        ok, detail = judge(recognizer, case)
        if not ok:
            misses.append({"text": case[0], "want": case[1], "want_slots": case[2], "got": detail})
    return {"n": len(cases), "correct": len(cases) - len(misses), "accuracy": round(1 - len(misses) / len(cases), 3),
            "misses": misses}


def timing(recognizer: IntentRecognizer, texts: list[str], repeat: int) -> dict[str, float]:
    """Wall clock per phrase, and the thread's CPU time (what the phrase costs without the other
    work of a shared box)."""
    times, cpu = [], []
    for _ in range(repeat):
        for text in texts:
            started, started_cpu = time.perf_counter(), time.thread_time()
            recognizer.recognize(text)
            cpu.append((time.thread_time() - started_cpu) * 1000)
            times.append((time.perf_counter() - started) * 1000)
    times.sort()
    cpu.sort()
    return {"n": len(times), "p50_ms": round(statistics.median(times), 2),
            "p95_ms": round(times[int(0.95 * (len(times) - 1))], 2), "max_ms": round(times[-1], 2),
            "cpu_p50_ms": round(statistics.median(cpu), 2), "cpu_p95_ms": round(cpu[int(0.95 * (len(cpu) - 1))], 2)}


def no_home(cases: list[Case], general: list[Case]) -> dict[str, Any]:
    recognizer = IntentRecognizer()
    device = [c for c in cases if c[1] and all(p in HOME_INTENTS for p in c[1].split("+"))]
    honest = [c[0] for c in device if any(r.name in HOME_INTENTS for r in recognizer.recognize(c[0]))]
    captured = [c[0] for c in general if recognizer.recognize(c[0])]
    return {"device_commands": len(device), "honest": len(honest),
            "not_honest": [c[0] for c in device if c[0] not in honest],
            "general_questions": len(general), "wrongly_captured": captured}


async def ha_latency(rounds: int) -> dict[str, Any]:
    from ha_home import ha_installed, home_assistant

    from orchestrator.home.ha import HaConfig, HomeAssistant

    if not ha_installed():
        return {"skipped": "Home Assistant not installed (scripts/setup.sh)"}
    commands = ["turn on the kitchen light", "turn off the kitchen light", "unlock the front door",
                "lock the front door", "open the garage door", "close the garage door"]
    with tempfile.TemporaryDirectory() as folder:
        async with home_assistant(Path(folder)) as ha:
            home = HomeAssistant(HaConfig(ha.url, ha.token))
            task = asyncio.create_task(home.run())
            try:
                await asyncio.wait_for(home.loaded.wait(), 60)
                intents = IntentRecognizer(home=home)
                times: dict[str, list[float]] = {"local": [], "ha": [], "ha_query": [], "ha_weather": []}
                for i in range(rounds):
                    for key, text in (("local", "what time is it"), ("ha", commands[i % len(commands)]),
                                      ("ha_query", "is the front door locked"), ("ha_weather", "what's the weather")):
                        started = time.perf_counter()
                        await intents.answer(text, "bench")
                        times[key].append((time.perf_counter() - started) * 1000)
                # The two ways to do an action in HA, raw HTTP on one connection each.
                import httpx

                auth = {"Authorization": f"Bearer {ha.token}"}
                async with httpx.AsyncClient(base_url=ha.url, headers=auth) as client:
                    times["http_intent_handle"], times["http_service_call"] = [], []
                    for i in range(rounds):
                        on = i % 2 == 0
                        started = time.perf_counter()
                        await client.post("/api/intent/handle", json={
                            "name": "HassTurnOn" if on else "HassTurnOff", "data": {"name": "Kitchen Light"}})
                        times["http_intent_handle"].append((time.perf_counter() - started) * 1000)
                        started = time.perf_counter()
                        await client.post(f"/api/services/light/turn_{'off' if on else 'on'}",
                                          json={"entity_id": "light.kitchen_light"})
                        times["http_service_call"].append((time.perf_counter() - started) * 1000)
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                await home.close()
    p50 = {k: round(statistics.median(v), 1) for k, v in times.items()}
    return {"rounds": rounds, "p50_ms": p50, "added_by_ha_action_ms": round(p50["ha"] - p50["local"], 1),
            "added_by_ha_query_ms": round(p50["ha_query"] - p50["local"], 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entities", type=int, default=500, help="generated entities for the timing run")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--ha-rounds", type=int, default=20, help="0: skip the Home Assistant latency")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "home")
    args = parser.parse_args()
    small = IntentRecognizer(home=SnapshotHome(corpus_home()))
    big = IntentRecognizer(home=SnapshotHome(corpus_home(args.entities)))
    texts = [c[0] for c in TUNE + HELD_OUT + HELD_OUT_3 + HELD_OUT_4 + NOT_COMMANDS + NOT_COMMANDS_3 + NOT_COMMANDS_4]
    report = {
        "tune": accuracy(small, TUNE), "held_out": accuracy(small, HELD_OUT),
        "tune_new_domains": accuracy(small, TUNE_2), "held_out_new_domains": accuracy(small, HELD_OUT_2),
        "not_commands": accuracy(small, NOT_COMMANDS),
        "held_out_3": accuracy(small, HELD_OUT_3), "not_commands_3": accuracy(small, NOT_COMMANDS_3),
        "held_out_3_with_many_entities": accuracy(big, HELD_OUT_3),
        "held_out_with_many_entities": accuracy(big, HELD_OUT),
        "held_out_4": accuracy(small, HELD_OUT_4), "not_commands_4": accuracy(small, NOT_COMMANDS_4),
        "held_out_4_with_many_entities": accuracy(big, HELD_OUT_4),
        "no_home": no_home(TUNE + HELD_OUT + HELD_OUT_3 + HELD_OUT_4, NOT_COMMANDS + NOT_COMMANDS_3 + NOT_COMMANDS_4),
        "tune_5": accuracy(small, TUNE_5), "held_out_4_rest": accuracy(small, HELD_OUT_4_REST),
        "held_out_5": accuracy(small, HELD_OUT_5), "not_commands_5": accuracy(small, NOT_COMMANDS_5),
        "held_out_5_with_many_entities": accuracy(big, HELD_OUT_5),
        "no_home_5": no_home(HELD_OUT_5, NOT_COMMANDS_5),
        "held_out_6": accuracy(small, HELD_OUT_6), "not_commands_6": accuracy(small, NOT_COMMANDS_6),
        "held_out_6_with_many_entities": accuracy(big, HELD_OUT_6),
        "no_home_6": no_home(HELD_OUT_6, NOT_COMMANDS_6),
        "held_out_7": accuracy(small, HELD_OUT_7), "not_commands_7": accuracy(small, NOT_COMMANDS_7),
        "held_out_7_with_many_entities": accuracy(big, HELD_OUT_7),
        "no_home_7": no_home(HELD_OUT_7, NOT_COMMANDS_7),
        "held_out_8": accuracy(small, HELD_OUT_8), "not_commands_8": accuracy(small, NOT_COMMANDS_8),
        "held_out_8_with_many_entities": accuracy(big, HELD_OUT_8),
        "no_home_8": no_home(HELD_OUT_8 + NO_HOME_8, NOT_COMMANDS_8),
        "held_out_9": accuracy(small, HELD_OUT_9), "not_commands_9": accuracy(small, NOT_COMMANDS_9),
        "held_out_9_with_many_entities": accuracy(big, HELD_OUT_9),
        "no_home_9": no_home(HELD_OUT_9 + NO_HOME_9, NOT_COMMANDS_9),
        "time_small_home": timing(small, texts, args.repeat),
        f"time_{args.entities}_entities": timing(big, texts, args.repeat),
        "entities_small": len(ENTITIES), "entities_big": len(ENTITIES) + args.entities,
        "home_assistant": asyncio.run(ha_latency(args.ha_rounds)) if args.ha_rounds else {"skipped": "--ha-rounds 0"},
    }
    with open("/proc/loadavg", encoding="utf-8") as f:
        report["loadavg"] = f.read().split()[:3]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    lines = ["# Home command recognition (bench/home_bench.py)", "",
             f"Load average while running: {' '.join(report['loadavg'])} (2 cores).", "",
             "| set | phrasings | correct | accuracy |", "|---|---|---|---|"]
    for key in ("tune", "held_out", "tune_new_domains", "held_out_new_domains", "not_commands",
                "held_out_with_many_entities", "held_out_3", "held_out_3_with_many_entities", "not_commands_3",
                "held_out_4", "held_out_4_with_many_entities", "not_commands_4",
                "tune_5", "held_out_4_rest", "held_out_5", "held_out_5_with_many_entities", "not_commands_5",
                "held_out_6", "held_out_6_with_many_entities", "not_commands_6",
                "held_out_7", "held_out_7_with_many_entities", "not_commands_7",
                "held_out_8", "held_out_8_with_many_entities", "not_commands_8",
                "held_out_9", "held_out_9_with_many_entities", "not_commands_9"):
        r = report[key]
        lines.append(f"| {key} | {r['n']} | {r['correct']} | {r['accuracy']:.1%} |")
    nh = report["no_home"]
    nh8, nh9 = report["no_home_8"], report["no_home_9"]
    lines += ["", f"No home, held out 9 (with NO_HOME_9): {nh9['honest']}/{nh9['device_commands']} device commands "
              f"honest; {len(nh9['wrongly_captured'])}/{nh9['general_questions']} general questions wrongly kept "
              "from the LLM."]
    lines += ["", f"No home, held out 8 (with NO_HOME_8): {nh8['honest']}/{nh8['device_commands']} device commands "
              f"honest; {len(nh8['wrongly_captured'])}/{nh8['general_questions']} general questions wrongly kept "
              "from the LLM."]
    lines += [f"No home connected: {nh['honest']}/{nh['device_commands']} device commands got the honest "
              f"answer; {len(nh['wrongly_captured'])}/{nh['general_questions']} general questions were wrongly "
              "kept from the LLM.",
              f"No home, held out 5: {report['no_home_5']['honest']}/{report['no_home_5']['device_commands']} "
              f"device commands honest; {len(report['no_home_5']['wrongly_captured'])}/"
              f"{report['no_home_5']['general_questions']} general questions wrongly kept from the LLM.",
              f"No home, held out 6: {report['no_home_6']['honest']}/{report['no_home_6']['device_commands']} "
              f"device commands honest; {len(report['no_home_6']['wrongly_captured'])}/"
              f"{report['no_home_6']['general_questions']} general questions wrongly kept from the LLM.",
              f"No home, held out 7: {report['no_home_7']['honest']}/{report['no_home_7']['device_commands']} "
              f"device commands honest; {len(report['no_home_7']['wrongly_captured'])}/"
              f"{report['no_home_7']['general_questions']} general questions wrongly kept from the LLM.",
              "", "| recognition time | n | p50 | p95 | max | CPU p50 | CPU p95 |", "|---|---|---|---|---|---|---|"]
    for key in ("time_small_home", f"time_{args.entities}_entities"):
        t = report[key]
        lines.append(f"| {key} | {t['n']} | {t['p50_ms']} ms | {t['p95_ms']} ms | {t['max_ms']} ms "
                     f"| {t['cpu_p50_ms']} ms | {t['cpu_p95_ms']} ms |")
    ha = report["home_assistant"]
    lines += ["", "Home Assistant 2024.3.3 on loopback, `answer()` p50: " + (
        f"local answer {ha['p50_ms']['local']} ms, action done in HA {ha['p50_ms']['ha']} ms "
        f"(+{ha['added_by_ha_action_ms']} ms), question answered by HA {ha['p50_ms']['ha_query']} ms "
        f"(+{ha['added_by_ha_query_ms']} ms), weather said from HA's weather entity {ha['p50_ms']['ha_weather']} ms, "
        f"{ha['rounds']} rounds. Raw HTTP per action: "
        f"/api/intent/handle {ha['p50_ms']['http_intent_handle']} ms, service call "
        f"{ha['p50_ms']['http_service_call']} ms." if "p50_ms" in ha else ha["skipped"])]
    lines += ["", "Misses (held out 9):"] + [
        f"- {m['text']!r}: want {m['want']} {m['want_slots']}, got {m['got']}"
        for m in report["held_out_9"]["misses"] + report["not_commands_9"]["misses"]]
    lines += ["", "No home, held out 9 (with NO_HOME_9), not honest:"] + [f"- {t!r}" for t in nh9["not_honest"]]
    lines += ["", "Misses (held out 8):"] + [
        f"- {m['text']!r}: want {m['want']} {m['want_slots']}, got {m['got']}"
        for m in report["held_out_8"]["misses"] + report["not_commands_8"]["misses"]]
    lines += ["", "No home, held out 8 (with NO_HOME_8), not honest:"] + [
        f"- {t!r}" for t in report["no_home_8"]["not_honest"]]
    lines += ["", "Misses (held out 7):"] + [
        f"- {m['text']!r}: want {m['want']} {m['want_slots']}, got {m['got']}"
        for m in report["held_out_7"]["misses"] + report["not_commands_7"]["misses"]]
    lines += ["", "No home, held out 7, not honest:"] + [f"- {t!r}" for t in report["no_home_7"]["not_honest"]]
    lines += ["", "Misses (held out 6):"] + [
        f"- {m['text']!r}: want {m['want']} {m['want_slots']}, got {m['got']}"
        for m in report["held_out_6"]["misses"] + report["not_commands_6"]["misses"]]
    lines += ["", "No home, held out 6, not honest:"] + [f"- {t!r}" for t in report["no_home_6"]["not_honest"]]
    lines += ["", "Misses (held out 5):"] + [
        f"- {m['text']!r}: want {m['want']} {m['want_slots']}, got {m['got']}"
        for m in report["held_out_5"]["misses"] + report["not_commands_5"]["misses"]]
    lines += ["", "No home, held out 5, not honest:"] + [f"- {t!r}" for t in report["no_home_5"]["not_honest"]]
    lines += ["", "Misses (held out 4):"] + [
        f"- {m['text']!r}: want {m['want']} {m['want_slots']}, got {m['got']}"
        for m in report["held_out_4"]["misses"] + report["not_commands_4"]["misses"]]
    lines += ["", "Misses (held out 3):"] + [
        f"- {m['text']!r}: want {m['want']} {m['want_slots']}, got {m['got']}"
        for m in report["held_out_3"]["misses"] + report["not_commands_3"]["misses"]]
    lines += ["", "Misses (held out, both parts):"] + [
        f"- {m['text']!r}: want {m['want']} {m['want_slots']}, got {m['got']}" for m in report["held_out"]["misses"]]
    lines += ["", "Misses (tune):"] + [
        f"- {m['text']!r}: want {m['want']} {m['want_slots']}, got {m['got']}" for m in report["tune"]["misses"]]
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
