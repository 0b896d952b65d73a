"""The ``judge`` step of bench/home_misheard_bench.py: stored decodes through the home path.

Imported after the bench has put the checkout to judge first on ``sys.path``, so
``orchestrator`` here is that checkout's (this one's, or main's for the "before").
"""

from __future__ import annotations

import datetime as dt
import os
from collections import Counter
from typing import Any

from bench.home_bench import SnapshotHome, corpus_home
from orchestrator.home.confidence import Hearing
from orchestrator.home.entities import HomeSnapshot, spoken_form
from orchestrator.home.resolve import by_kind, every_one, only_thermostat
from orchestrator.intents import IntentRecognizer, Recognized

Key = list[tuple[str, list[str], list[tuple[str, str]]]]
_TARGET_SLOTS = frozenset({"name", "area", "floor", "domain", "device_class", "every", "kind"})


def key(commands: list[Recognized], home: HomeSnapshot) -> Key:
    """What ``commands`` do: intent, the entities they act on (resolved in ``home`` as Home
    Assistant would: "the living room blind" is the one blind of that room) and their other slots."""

    def value(v: Any) -> str:
        return str(float(v)) if isinstance(v, int | float) else str(v).lower()

    out = []
    for command in commands:
        rest = sorted((k, value(v)) for k, v in command.slots.items() if k not in _TARGET_SLOTS)
        out.append((command.name, sorted(_entities(command, home)), rest))
    return out


def _entities(command: Recognized, home: HomeSnapshot) -> set[str]:
    each = every_one(home, command)
    if isinstance(each, list):
        return {str(c.slots["name"]) for c in each}
    resolved = by_kind(home, command)
    if isinstance(resolved, Recognized) and resolved.name == "HassClimateSetTemperature":
        resolved = only_thermostat(home, resolved)
    if isinstance(resolved, str):
        return {f"? {resolved}"}
    slots = resolved.slots
    if "name" in slots:
        entity = home.by_name.get(spoken_form(str(slots["name"])))
        return {entity.name if entity else f"? {slots['name']}"}
    if "area" in slots:
        return {
            e.name
            for e in home.entities
            if e.area_id == slots["area"]
            and e.domain == slots.get("domain", e.domain)
            and e.device_class == slots.get("device_class", e.device_class)
        }
    return {f"? {sorted(slots.items())}"}


class RecordingHome(SnapshotHome):
    """The bench home; what it is asked to do is recorded, not done (see the bench's doc)."""

    def __init__(self, snapshot: HomeSnapshot) -> None:
        super().__init__(snapshot)
        self.snapshot = snapshot
        self.done: list[Recognized] = []
        self.agent: list[str] = []

    async def execute(self, command: Recognized) -> str:
        self.done.append(command)
        return "Done."

    async def converse(self, text: str, conversation_id: str, *, part: bool = False) -> str | None:
        self.agent.append(text)
        return None


def _acted(home: RecordingHome, expected: Key) -> str | None:
    if home.done:
        return "right" if key(home.done, home.snapshot) == expected else "WRONG"
    return "agent" if home.agent else None


async def judge_all(decodes: list[dict[str, Any]]) -> dict[str, Any]:
    home = RecordingHome(corpus_home())
    recognizer = IntentRecognizer(home=home)
    expected: dict[str, Key] = {}
    rows = []
    for i, row in enumerate(decodes):
        said, heard = row["said"], row["heard"]
        if said not in expected:
            expected[said] = key(recognizer.recognize(said), home.snapshot)
        home.done, home.agent = [], []
        hearing = Hearing(row.get("avg_logprob"), row.get("no_speech_prob"))
        match = await recognizer.answer(heard, f"c{i}", hearing=hearing)
        outcome = _acted(home, expected[said])
        reply, on_yes = (match.response if match else None), None
        if outcome is None:
            if match is None:
                outcome = "llm"
            elif match.response.endswith("?"):
                outcome = "asked"
                home.done, home.agent = [], []
                await recognizer.answer("yes", f"c{i}")
                on_yes = _acted(home, expected[said]) or "nothing"
            else:
                outcome = "refused"
        heard_right = key(recognizer.recognize(heard), home.snapshot) == expected[said] if heard else False
        rows.append(
            {
                **{k: row[k] for k in ("split", "said", "voice", "condition", "heard")},
                "avg_logprob": row.get("avg_logprob"),
                "no_speech_prob": row.get("no_speech_prob"),
                "recognised_as_said": heard_right,
                "outcome": outcome,
                "on_yes": on_yes,
                "reply": reply,
                "done": [c.name + str(c.slots) for c in home.done],
            }
        )
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load": os.getloadavg()[0],
        "summary": summary(rows),
        "rows": rows,
    }


async def written_all() -> dict[str, list[Any]]:
    """Every phrasing written in bench/home_corpus*.py (commands, questions, no-home requests),
    answered as heard surely (-0.2): phrase -> [reply, intents done, handed to HA's agent]. A
    request written as said must be done at once: nothing here may turn into a question."""
    import importlib

    phrases: list[str] = []
    for name in (
        "home_corpus",
        "home_corpus_4",
        "home_corpus_5",
        "home_corpus_6",
        "home_corpus_7",
        "home_corpus_8",
        "home_corpus_9",
    ):
        for attr, cases in vars(importlib.import_module(f"bench.{name}")).items():
            if attr.isupper() and isinstance(cases, list) and cases and isinstance(cases[0], tuple):
                phrases += [str(c[0]) for c in cases]
    home = RecordingHome(corpus_home())
    recognizer = IntentRecognizer(home=home)
    out: dict[str, list[Any]] = {}
    for i, text in enumerate(dict.fromkeys(phrases)):
        home.done, home.agent = [], []
        match = await recognizer.answer(text, f"w{i}", hearing=Hearing(-0.2, 0.05))
        out[text] = [match.response if match else None, [c.name for c in home.done], bool(home.agent)]
    return out


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for split in ("tune", "held", "all", "held47"):  # all: the corpus (tune + held); held47 apart
        part = [r for r in rows if r["split"] == split or (split == "all" and r["split"] in ("tune", "held"))]
        counts = Counter(r["outcome"] for r in part)
        as_said = [r for r in part if r["recognised_as_said"]]
        out[split] = {
            "decodes": len(part),
            **{k: counts.get(k, 0) for k in ("right", "WRONG", "asked", "refused", "agent", "llm")},
            "asked_yes_right": sum(r["outcome"] == "asked" and r["on_yes"] == "right" for r in part),
            "asked_yes_wrong": sum(r["outcome"] == "asked" and r["on_yes"] == "WRONG" for r in part),
            "heard_as_said": len(as_said),
            "heard_as_said_done_at_once": sum(r["outcome"] == "right" for r in as_said),
            "heard_as_said_asked": sum(r["outcome"] == "asked" for r in as_said),
        }
    return out


OUTCOMES = ("right", "WRONG", "asked", "refused", "agent", "llm")


def markdown(runs: dict[str, dict[str, Any]]) -> str:
    """The report: outcomes per split for each judged run, then every decode whose outcome
    differs between the runs, and every wrong action left."""
    lines = [
        "# Misheard device requests through the home path (bench/home_misheard_bench.py)",
        "",
        "tiny.en (wyoming_whisper's engine, beam 5) on 42 requests x 2 voices x 5 conditions (tune, held; all = "
        "both), and apart (held47) 12 renderings of the room bench's held-47; the bench home "
        "records what it is asked to do. asked: a question back (yes -> right / wrong: what a yes would do); "
        "agent: handed to Home Assistant's own agent (what it does there: bench/results/home_ha_agent.md); llm: "
        "not a device request. Right / wrong compares the intent, the entities acted on (resolved in the bench "
        "home) and the other slots with what the sentence as written does.",
        "",
    ]
    for label, run in runs.items():
        lines.append(f"- {label}: judged {run['date']} (load {run['load']:.2f}), code {run['code']}")
    lines += [
        "",
        "| run | split | decodes | right | WRONG | asked (yes -> right / wrong) | refused | agent | llm "
        "| heard as said: done at once / asked |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label, run in runs.items():
        for split, s in run["summary"].items():
            lines.append(
                f"| {label} | {split} | {s['decodes']} | {s['right']} | {s['WRONG']} | {s['asked']} "
                f"({s['asked_yes_right']} / {s['asked_yes_wrong']}) | {s['refused']} | {s['agent']} "
                f"| {s['llm']} | {s['heard_as_said_done_at_once']} / {s['heard_as_said_asked']} of "
                f"{s['heard_as_said']} |"
            )
    labels = list(runs)
    if len(labels) > 1:
        first, last = runs[labels[0]]["rows"], runs[labels[-1]]["rows"]
        lines += [
            "",
            f"## Decodes whose outcome changed ({labels[0]} -> {labels[-1]})",
            "",
            "| split | voice | condition | said | heard | avg_logprob | outcome | reply |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for a, b in zip(first, last, strict=True):
            if (a["outcome"], a["on_yes"]) != (b["outcome"], b["on_yes"]):
                lines.append(
                    f"| {b['split']} | {b['voice']} | {b['condition']} | {b['said']} | {b['heard']} "
                    f"| {b['avg_logprob']} | {_said(a)} -> {_said(b)} | {b['reply']} |"
                )
    if all("written" in run for run in runs.values()):
        lines += ["", "## Written phrasings (bench/home_corpus*.py), heard surely", ""]
        for label, run in runs.items():
            done = sum(bool(v[1]) for v in run["written"].values())
            asked = sum(bool(v[0]) and str(v[0]).endswith("?") and not v[1] for v in run["written"].values())
            lines.append(f"- {label}: {len(run['written'])} phrasings, {done} done at once, {asked} asked about")
        if len(labels) > 1:
            a, b = runs[labels[0]]["written"], runs[labels[-1]]["written"]
            changed = [t for t in b if a.get(t) != b[t]]
            lines.append(f"- changed {labels[0]} -> {labels[-1]}: {len(changed)}")
            lines += [f"  - {t!r}: {a.get(t)} -> {b[t]}" for t in changed]
    for label, run in runs.items():
        wrong = [r for r in run["rows"] if r["outcome"] == "WRONG" or r["on_yes"] == "WRONG"]
        lines += ["", f"## Wrong actions left ({label}): {len(wrong)}", ""]
        lines += [
            f"- {r['split']} {r['voice']} {r['condition']}: said {r['said']!r}, heard {r['heard']!r} "
            f"({r['avg_logprob']}): {_said(r)}, done {r['done']}"
            for r in wrong
        ]
    return "\n".join(lines) + "\n"


def _said(row: dict[str, Any]) -> str:
    return f"asked (yes -> {row['on_yes']})" if row["outcome"] == "asked" else row["outcome"]
