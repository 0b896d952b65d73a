"""Offline: which device actions the orchestrator asks about instead of doing, text by text.

The bench home (``bench/home_corpus.py``: lights, locks, covers, a thermostat, switches, a TV)
answers, through :meth:`orchestrator.intents.IntentRecognizer.ask_first` (the one decision
``answer`` takes), every phrasing of the home corpora (``home_corpus*.py``: written as said, heard
surely) and every stored tiny.en decode of a spoken device request with its scores
(``bench/results/home_misheard.decodes.json``, ``home_loops.decodes.json``). Written out as JSON
(text -> the question asked, or null: done), so two checkouts can be compared on the same texts:

    PYTHONPATH=/tmp/main .venv/bin/python bench/home_value_probe.py --out /tmp/main.json
    PYTHONPATH=$PWD .venv/bin/python bench/home_value_probe.py --out /tmp/mine.json --against /tmp/main.json

With ``--against`` it prints every text whose decision changed, and for the decodes whether the
hearing was right (its word error rate vs what was said is 0, numbers as digits).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CORPORA = ["home_corpus", *(f"home_corpus_{n}" for n in range(4, 10))]


def phrasings() -> list[str]:
    """Every case text of the home corpora (each once, in order)."""
    texts: dict[str, None] = {}
    for name in CORPORA:
        module = importlib.import_module(f"bench.{name}")
        for attr, cases in vars(module).items():
            if attr.isupper() and isinstance(cases, list) and cases and isinstance(cases[0], tuple):
                for case in cases:
                    if isinstance(case[0], str) and len(case) == 3:
                        texts.setdefault(case[0], None)
    return list(texts)


def decodes() -> list[dict[str, Any]]:
    """The stored decodes of spoken device requests, then the end-of-turn corpus's final texts
    (questions for the LLM among them; ``bench/whisper_prompt_probe.py``'s unprompted decodes,
    corpus streams and room mics)."""
    found = json.loads((HERE / "results" / "home_misheard.decodes.json").read_text())["decodes"]
    found += json.loads((HERE / "results" / "home_loops.decodes.json").read_text())
    for part in ("names", "room"):
        path = HERE / "results" / "s27_prompt" / part / "none.json"
        for stream in json.loads(path.read_text())["streams"] if path.exists() else []:
            if stream["points"]:
                last = stream["points"][-1]
                found.append({"said": stream["text"], "heard": last["text"], "avg_logprob": last["avg_logprob"]})
    return [d for d in found if d.get("heard")]


def decide(texts: list[str], heard: list[dict[str, Any]]) -> dict[str, Any]:
    from bench.home_bench import corpus_home
    from bench.home_misheard_judge import RecordingHome
    from orchestrator.home.confidence import Hearing
    from orchestrator.intent_text import normalize
    from orchestrator.intents import IntentRecognizer

    unheard: Any = None
    with contextlib.suppress(ImportError):  # a checkout before session 27: nothing recognised goes to the LLM
        from orchestrator.home import unheard

    recognizer = IntentRecognizer(home=RecordingHome(corpus_home()))
    lists = recognizer.home.slot_lists() if recognizer.home is not None else {}
    sure = Hearing(avg_logprob=-0.3, no_speech_prob=0.05)

    def question(text: str, hearing: Hearing) -> str | None:
        commands = recognizer.recognize(text)
        if not commands:  # as IntentRecognizer.answer: a device named, its command word misheard
            if unheard is None:
                return None
            device = unheard.unheard_device(normalize(text), lists, question=text.rstrip().endswith("?"))
            return str(unheard.unheard_question(device)) if device else None
        doubt = recognizer.ask_first(commands, text, hearing)
        return doubt.question if doubt is not None else None

    return {
        "phrasings": {t: question(t, sure) for t in texts},
        "decodes": [
            {
                "said": d["said"],
                "heard": d["heard"],
                "asked": question(d["heard"], Hearing(d.get("avg_logprob"), d.get("no_speech_prob"))),
            }
            for d in heard
        ],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--against", type=Path, help="another checkout's --out: print what changed")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE.parent))
    from bench.turn_bench import word_error_rate

    got = decide(phrasings(), decodes())
    args.out.write_text(json.dumps(got, indent=1) + "\n")
    asked = sum(q is not None for q in got["phrasings"].values())
    print(f"phrasings: {len(got['phrasings'])}, asked about {asked}; decodes: {len(got['decodes'])}")
    if args.against:
        before = json.loads(args.against.read_text())
        changed = [(t, before["phrasings"].get(t), q) for t, q in got["phrasings"].items()
                   if before["phrasings"].get(t) != q]
        print(f"phrasings changed: {len(changed)}")
        for text, old, new in changed:
            print(f"  {text!r}: {old!r} -> {new!r}")
        moved = [(b, d) for b, d in zip(before["decodes"], got["decodes"], strict=True) if b["asked"] != d["asked"]]
        right = [d for _, d in moved if word_error_rate(d["said"], d["heard"]) == 0]
        print(f"decodes changed: {len(moved)} ({len(right)} of them heard right)")
        for b, d in moved:
            print(f"  {d['said']!r} heard {d['heard']!r}: {b['asked']!r} -> {d['asked']!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
