"""The clock line's wording: its tokens (evaluated again on every turn) and what the model answers.

``wyoming_llama`` starts each turn's newest user message with the local time and date
(``wyoming_llama.handler.clock_line``); llama-server evaluates that line anew every turn. Per
wording: its tokens (llama-server ``/tokenize``); 11 time/date questions (``llama_clock_bench``'s
10 and "Is it morning or evening?") and 10 other questions, each alone at 9:43 AM and 8:15 PM
(temperature 0; right = the reply holds the asked time/day/date/year/part of day, or the known
answer word; wrong claims = a time or date stated as now that is not the real one,
``orchestrator.clock_claims``); and a 6-turn conversation with the minute advancing, the history
kept as the handler keeps it: prompt tokens llama-server evaluated on turns 2-6
(``timings.prompt_n``).

    .venv/bin/python bench/llama_clock_line.py     (real time: under the rt lock)

Starts ``python -m wyoming_llama`` (its llama-server and the default SmolLM2-135M model).
Results: bench/results/llama_clock_line.{json,md}.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench.llama_bench import llama_url, via_service  # noqa: E402
from bench.llama_clock_bench import clock_questions  # noqa: E402
from orchestrator.clock_claims import fix_clock_claim  # noqa: E402
from voice_runtime.procs import start_service  # noqa: E402
from wyoming_llama.config import DEFAULT_SYSTEM_PROMPT  # noqa: E402
from wyoming_llama.history import HistoryStore  # noqa: E402


def _hm(now: dt.datetime) -> str:
    return f"{now.hour % 12 or 12}:{now.minute:02d} {'AM' if now.hour < 12 else 'PM'}"


WORDINGS: dict[str, Callable[[dt.datetime], str]] = {
    "session 9-12": lambda n: f"It is now {_hm(n)} on {n.strftime('%A, %B')} {n.day}, {n.year} (local time).",
    "without (local time)": lambda n: f"It is now {_hm(n)} on {n.strftime('%A, %B')} {n.day}, {n.year}.",
    "short (shipped)": lambda n: f"It is {_hm(n)}, {n.strftime('%A, %B')} {n.day}, {n.year}.",
}
OTHER = [("What is the capital of France?", "paris"), ("How many legs does a spider have?", "8"),
         ("Who wrote Romeo and Juliet?", "shakespeare"), ("What is the boiling point of water?", "100"),
         ("What color is an emerald?", "green"), ("What is the largest planet?", "jupiter"),
         ("How many days are in a week?", "7"), ("What is the capital of Japan?", "tokyo"),
         ("What do bees make?", "honey"), ("What is frozen water called?", "ice")]
CONVERSATION = ["Tell me one fact about the moon.", "How far away is it?", "Who walked on it first?",
                "What time is it?", "What is it made of?", "Thanks, what day is it?"]
NOWS = [dt.datetime(2026, 12, 2, 9, 43), dt.datetime(2026, 12, 2, 20, 15)]


async def chat(http: httpx.AsyncClient, url: str, sent: list[Any]) -> tuple[str, dict[str, Any]]:
    body = {"messages": sent, "max_tokens": 48, "temperature": 0.0, "cache_prompt": True}
    answer = (await http.post(f"{url}/v1/chat/completions", json=body)).json()
    return str(answer["choices"][0]["message"]["content"]), answer.get("timings", {})


async def one(http: httpx.AsyncClient, url: str, name: str, line: Callable[[dt.datetime], str]) -> dict[str, Any]:
    res: dict[str, Any] = {"time_right": 0, "time_n": 0, "wrong_claims": 0, "other_right": 0, "other_n": 0,
                           "replies": []}
    for now in NOWS:
        note = line(now)
        res["line_tokens"] = len((await http.post(f"{url}/tokenize", json={"content": note})).json()["tokens"])
        asked = clock_questions(now) + [("Is it morning or evening?", "morning" if now.hour < 12 else "evening")]
        for question, want in asked + OTHER:
            reply, _ = await chat(http, url, HistoryStore().build("", DEFAULT_SYSTEM_PROMPT, question, 6000, note=note))
            right = want.lower() in reply.lower()
            kind = "time" if (question, want) in asked else "other"
            res[f"{kind}_right"] += right
            res[f"{kind}_n"] += 1
            if kind == "time":
                clauses = [c for c in reply.replace("!", ".").split(". ") if c.strip()]
                res["wrong_claims"] += any(fix_clock_claim(c, now) is not None for c in clauses)
            res["replies"].append({"now": f"{now:%H:%M}", "question": question, "reply": reply, "right": right})
    history, turns, evaluated = HistoryStore(max_turns=10), [], []
    for i, question in enumerate(CONVERSATION):
        note = line(NOWS[0] + dt.timedelta(minutes=i))
        reply, timings = await chat(http, url, history.build(name, DEFAULT_SYSTEM_PROMPT, question, 6000, note=note))
        history.add(name, question, reply, note=note)
        turns.append({"question": question, "reply": reply, "prompt_n": timings.get("prompt_n"),
                      "prompt_ms": timings.get("prompt_ms")})
        if i:
            evaluated.append((float(timings["prompt_n"]), float(timings["prompt_ms"])))
    res["conversation"] = turns
    res["prompt_n_p50"] = statistics.median(n for n, _ in evaluated)
    res["prompt_ms_p50"] = round(statistics.median(ms for _, ms in evaluated), 1)
    print(name, {k: v for k, v in res.items() if k not in ("replies", "conversation")}, flush=True)
    return res


async def main() -> None:
    load_before = [round(x, 2) for x in os.getloadavg()]
    service = await start_service("wyoming_llama", "--threads", "2")
    out: dict[str, Any] = {}
    try:
        await via_service(service.port, "Hello.", "warm-up")
        url = llama_url(service)
        async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_keepalive_connections=0)) as http:
            for name, line in WORDINGS.items():
                out[name] = await one(http, url, name, line)
    finally:
        await service.stop()
    out["loadavg"] = {"before": load_before, "after": [round(x, 2) for x in os.getloadavg()]}
    path = ROOT / "bench" / "results" / "llama_clock_line.json"
    path.write_text(json.dumps(out, indent=1), encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    asyncio.run(main())
