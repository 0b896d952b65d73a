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
from orchestrator.home.entities import HomeSnapshot
from orchestrator.intents import IntentRecognizer, Recognized

Key = list[tuple[str, list[tuple[str, str]]]]


def key(commands: list[Recognized]) -> Key:
    def value(v: Any) -> str:
        return str(float(v)) if isinstance(v, int | float) else str(v).lower()

    return [(c.name, sorted((k, value(v)) for k, v in c.slots.items())) for c in commands]


class RecordingHome(SnapshotHome):
    """The bench home; what it is asked to do is recorded, not done (see the bench's doc)."""

    def __init__(self, snapshot: HomeSnapshot) -> None:
        super().__init__(snapshot)
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
        return "right" if key(home.done) == expected else "WRONG"
    return "agent" if home.agent else None


async def judge_all(decodes: list[dict[str, Any]]) -> dict[str, Any]:
    home = RecordingHome(corpus_home())
    recognizer = IntentRecognizer(home=home)
    expected: dict[str, Key] = {}
    rows = []
    for i, row in enumerate(decodes):
        said, heard = row["said"], row["heard"]
        if said not in expected:
            expected[said] = key(recognizer.recognize(said))
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
        heard_right = key(recognizer.recognize(heard)) == expected[said] if heard else False
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


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for split in ("tune", "held", "all"):
        part = [r for r in rows if split in ("all", r["split"])]
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
