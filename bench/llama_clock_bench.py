"""Where the clock line goes, and what it costs: time to first token with a 6-turn history.

wyoming_llama tells the model the local time each turn. Before (session 7) the line ended the
system prompt, so a new minute changed the prompt's first message and llama-server evaluated
the whole history again; now it starts the newest user message (``HistoryStore.build(note=)``),
so the system prompt and the history stay cached. Each round is one conversation with 6 earlier
turns: the 6th question is asked at minute M-1 (warming llama-server's cache as the previous turn
did), then the 7th at minute M, both layouts alternating, each round with new turns. Measured on
the 7th: time to the first content token (request sent -> first delta) and the prompt tokens
llama-server evaluated (``timings.prompt_n``).

``--answers``: instead, what the model says to 10 time/date questions (no history, temperature 0)
with the clock line in each place: replies that state the real time/weekday/date/year asked for,
and replies with a wrong time or date stated as now (``orchestrator.clock_claims``).

    .venv/bin/python bench/llama_clock_bench.py [--rounds 4] [--threads 2]

Starts ``python -m wyoming_llama`` (its llama-server and the default SmolLM2-135M model).
Results go to bench/results/llama_clock.{json,md}. Real time: run under the rt lock.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench.llama_bench import llama_url, via_service  # noqa: E402
from orchestrator.clock_claims import fix_clock_claim  # noqa: E402
from voice_runtime.procs import start_service  # noqa: E402
from wyoming_llama.config import DEFAULT_SYSTEM_PROMPT  # noqa: E402
from wyoming_llama.handler import clock_line  # noqa: E402
from wyoming_llama.history import ChatMessage, HistoryStore  # noqa: E402

TOPICS = ["octopuses", "the moon", "bread", "volcanoes", "penguins", "tea", "trains", "honey", "glaciers",
          "owls", "chess", "coffee", "tides", "bees", "comets", "rivers"]
QUESTIONS = ["Tell me one fact about {}.", "Why do people like {}?", "Where can I see {}?",
             "Is {} a good topic for kids?", "What is the history of {}?", "Give me a tip about {}.",
             "Summarise what we said about {}."]
ANSWER = ("Here is a short answer about {}: it is an interesting subject with a long history, and many people "
          "enjoy learning a little more about it every day.")


def messages(layout: str, history: HistoryStore, conversation: str, question: str,
             now: dt.datetime) -> list[ChatMessage]:
    if layout == "system":  # session 7: the clock ends the system prompt
        return history.build(conversation, f"{DEFAULT_SYSTEM_PROMPT} {clock_line(now)}", question, 6000)
    return history.build(conversation, DEFAULT_SYSTEM_PROMPT, question, 6000, note=clock_line(now))


async def ask(http: httpx.AsyncClient, url: str, sent: list[ChatMessage]) -> dict[str, float]:
    body: dict[str, Any] = {"messages": sent, "stream": True, "max_tokens": 8, "temperature": 0.0,
                            "cache_prompt": True}
    start = time.perf_counter()
    first: float | None = None
    timings: dict[str, Any] = {}
    async with http.stream("POST", f"{url}/v1/chat/completions", json=body) as response:
        async for line in response.aiter_lines():
            if not line.startswith("data:") or line.endswith("[DONE]"):
                continue
            chunk = json.loads(line[5:])
            if first is None and any((c.get("delta") or {}).get("content") for c in chunk.get("choices") or []):
                first = time.perf_counter()
            timings = chunk.get("timings") or timings
    if first is None:
        raise RuntimeError("no text came back")
    return {"first_token_ms": (first - start) * 1000, "prompt_n": float(timings.get("prompt_n", -1)),
            "prompt_ms": float(timings.get("prompt_ms", -1))}


async def one_round(http: httpx.AsyncClient, url: str, layout: str, index: int) -> dict[str, float]:
    topic = f"{TOPICS[index % len(TOPICS)]} ({layout} {index})"
    history = HistoryStore(max_turns=10)
    conversation = f"clock-{layout}-{index}"
    for question in QUESTIONS[:5]:
        history.add(conversation, question.format(topic), ANSWER.format(topic))
    minute = dt.datetime(2026, 12, 1, 20, 41)
    sixth = QUESTIONS[5].format(topic)
    await ask(http, url, messages(layout, history, conversation, sixth, minute))  # the previous turn
    history.add(conversation, sixth, ANSWER.format(topic))
    return await ask(http, url, messages(layout, history, conversation, QUESTIONS[6].format(topic),
                                         minute + dt.timedelta(minutes=1)))


def clock_questions(now: dt.datetime) -> list[tuple[str, str]]:
    """(question, what a right answer contains)."""
    hm = f"{now.hour % 12 or 12}:{now.minute:02d}"
    day, date, year = now.strftime("%A"), f"{now.strftime('%B')} {now.day}", str(now.year)
    return [("What time is it?", hm), ("Could you tell me what time it is?", hm), ("What's the time right now?", hm),
            ("Do you know the time?", hm), ("What's today's date?", date), ("What is the date today?", date),
            ("Which day of the week is it?", day), ("What day is it today?", day), ("What year is it?", year),
            ("What month is it?", now.strftime("%B"))]


async def answers(http: httpx.AsyncClient, url: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for layout in ("system", "user"):
        right, wrong, said = 0, 0, []
        now = dt.datetime.now()
        for question, want in clock_questions(now):
            sent = messages(layout, HistoryStore(), "", question, now)
            body = {"messages": sent, "max_tokens": 48, "temperature": 0.0, "cache_prompt": True}
            answer = (await http.post(f"{url}/v1/chat/completions", json=body)).json()
            reply = str(answer["choices"][0]["message"]["content"])
            clauses = [c for c in reply.replace("!", ".").split(". ") if c.strip()]
            right += want.lower() in reply.lower()
            wrong += any(fix_clock_claim(c, now) is not None for c in clauses)
            said.append({"question": question, "reply": reply})
            print(f"{layout}: {question!r} -> {reply!r}", flush=True)
        out[layout] = {"questions": len(said), "right": right, "wrong_claim": wrong, "replies": said}
    return out


def summary(rows: list[dict[str, float]]) -> dict[str, float]:
    first = sorted(r["first_token_ms"] for r in rows)
    return {"first_token_ms_p50": round(statistics.median(first), 1), "first_token_ms_max": round(first[-1], 1),
            "prompt_tokens_evaluated_p50": statistics.median(r["prompt_n"] for r in rows),
            "prompt_ms_p50": round(statistics.median(r["prompt_ms"] for r in rows), 1)}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--answers", action="store_true", help="the answer probe instead of the timing")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "llama_clock")
    args = parser.parse_args()
    load_before = [f"{x:.2f}" for x in os.getloadavg()]
    service = await start_service("wyoming_llama", "--threads", str(args.threads))
    rows: dict[str, list[dict[str, float]]] = {"system": [], "user": []}
    try:
        await via_service(service.port, "Hello.", "warm-up")  # waits for llama-server
        url = llama_url(service)
        # llama-server closes the connection after a streamed reply: no keep-alive
        async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_keepalive_connections=0)) as http:
            if args.answers:
                probe = await answers(http, url)
                probe["loadavg"] = [f"{x:.2f}" for x in os.getloadavg()]
                path = args.out.with_name(args.out.name + "_answers.json")
                path.write_text(json.dumps(probe, indent=1), encoding="utf-8")
                print({k: (v["right"], v["wrong_claim"]) for k, v in probe.items() if k != "loadavg"})
                return
            for index in range(args.rounds):
                for layout in (("system", "user") if index % 2 else ("user", "system")):
                    rows[layout].append(await one_round(http, url, layout, index))
                    r = rows[layout][-1]
                    print(f"round {index + 1} {layout}: first token {r['first_token_ms']:.0f} ms, "
                          f"{r['prompt_n']:.0f} prompt tokens evaluated", flush=True)
    finally:
        await service.stop()
    load_after = [f"{x:.2f}" for x in os.getloadavg()]
    report = {"rounds": args.rounds, "threads": args.threads, "model": "SmolLM2-135M-Instruct.Q4_1 (default)",
              "loadavg_before": load_before, "loadavg_after": load_after,
              "clock_in_system_prompt": summary(rows["system"]), "clock_before_newest_question": summary(rows["user"]),
              "runs": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    s, u = report["clock_in_system_prompt"], report["clock_before_newest_question"]
    lines = ["# Clock line placement: 7th turn of a conversation, the minute changed (bench/llama_clock_bench.py)", "",
             f"{args.rounds} rounds per layout, alternating; llama-server --threads {args.threads}, default model; "
             f"load average {' '.join(load_before)} before, {' '.join(load_after)} after (2 cores).", "",
             "| clock line | first token p50 | max | prompt tokens evaluated p50 | prompt eval p50 |",
             "|---|---|---|---|---|",
             f"| end of the system prompt (session 7) | {s['first_token_ms_p50']} ms | {s['first_token_ms_max']} ms | "
             f"{s['prompt_tokens_evaluated_p50']:.0f} | {s['prompt_ms_p50']} ms |",
             f"| start of the newest user message | {u['first_token_ms_p50']} ms | {u['first_token_ms_max']} ms | "
             f"{u['prompt_tokens_evaluated_p50']:.0f} | {u['prompt_ms_p50']} ms |"]
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    asyncio.run(main())
