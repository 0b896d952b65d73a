"""The default LLM's answers: accuracy and spoken length across sampling settings and prompts.

The default model (SmolLM2-135M) is tiny; this measures which settings make it least wrong and
keep replies sized for speech. 48 questions: 32 factual ones with the words a right answer must
contain (any of the alternatives) and 16 conversational ones (graded for form only: not empty,
at most three sentences, no markdown). A third of each kind is HELD OUT: the defaults were
chosen on the tuning part and the held-out figures are reported apart.

Each setting runs every question ``--samples`` times (temperature 0 once: it is deterministic).
Spoken length is estimated at 2.7 words per second (Piper joe's rate on our replies).

    .venv/bin/python bench/answers_bench.py [--samples 1] [--threads 2]

Results go to bench/results/answers.{json,md}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.llama_bench import llama_url, via_service  # noqa: E402
from voice_runtime.procs import start_service  # noqa: E402
from wyoming_llama.config import DEFAULT_SYSTEM_PROMPT  # noqa: E402
from wyoming_llama.spoken import SentenceBudget  # noqa: E402

# (question, accepted answers: any one of the "|"-separated words/phrases, lower case)
FACTUAL = [
    ("What is the capital of France?", "paris"),
    ("How many legs does a spider have?", "eight|8"),
    ("Who wrote Romeo and Juliet?", "shakespeare"),
    ("What is the boiling point of water in Celsius?", "100|hundred"),
    ("What planet do we live on?", "earth"),
    ("How many days are in a week?", "seven|7"),
    ("What is the largest ocean on Earth?", "pacific"),
    ("What colour is the sky on a clear day?", "blue"),
    ("What is the capital of Japan?", "tokyo"),
    ("How many continents are there?", "seven|7"),
    ("What gas do plants absorb from the air?", "carbon dioxide|co2"),
    ("What is the freezing point of water in Celsius?", "zero|0"),
    ("Which animal is known as the king of the jungle?", "lion"),
    ("What is the capital of Italy?", "rome"),
    ("How many hours are in a day?", "24|twenty-four|twenty four"),
    ("What is the chemical symbol for water?", "h2o"),
    ("Who painted the Mona Lisa?", "leonardo|da vinci"),
    ("What is the tallest mountain in the world?", "everest"),
    ("How many months are in a year?", "twelve|12"),
    ("What is the capital of Germany?", "berlin"),
    ("What is the closest star to the Earth?", "sun"),
    ("What do bees make?", "honey"),
    # held out from here (index >= 22)
    ("What is the capital of Spain?", "madrid"),
    ("How many sides does a triangle have?", "three|3"),
    ("What is the largest planet in our solar system?", "jupiter"),
    ("Who was the first person to walk on the moon?", "armstrong"),
    ("What language is spoken in Brazil?", "portuguese"),
    ("How many minutes are in an hour?", "sixty|60"),
    ("What is the capital of the United Kingdom?", "london"),
    ("What is frozen water called?", "ice"),
    ("Which planet is known as the red planet?", "mars"),
    ("How many wheels does a bicycle have?", "two|2"),
]
FACTUAL_TUNE = 22
CONVERSATIONAL = [
    "What should I cook for dinner tonight?",
    "Tell me a fun fact about octopuses.",
    "How do I make a cup of tea?",
    "Can you tell me a short joke?",
    "I'm feeling a bit tired today.",
    "What's a good way to relax after work?",
    "Give me an idea for a weekend activity.",
    "How can I sleep better?",
    "What is a good name for a cat?",
    "Why is exercise good for you?",
    "Good morning!",
    # held out from here (index >= 11)
    "What should I read next?",
    "How do I stay focused while working?",
    "Tell me something interesting about space.",
    "What can I do on a rainy day?",
    "Thank you for your help.",
]
CONVERSATIONAL_TUNE = 11

OLD_PROMPT = (  # the default before 2026-12-01
    "You are a friendly voice assistant. Your replies are spoken aloud, so answer in one to three "
    "short sentences of plain text: no markdown, no lists, no emojis, no code."
)
SHORT_PROMPT = (
    "You are a helpful voice assistant in a home. Your answers are spoken aloud. Answer the question "
    "directly and correctly in English, in one or two short sentences of plain text. Never use lists, "
    "markdown or emojis. If you do not know, say so."
)
HONEST = (" You cannot control devices, set timers or alarms, or take any action in the world: you can only "
          "talk. Never say you turned, switched, locked, opened, set or started anything; if asked to, say you "
          "can't.")
PROMPTS = {"current": OLD_PROMPT, "short": SHORT_PROMPT, "honest": OLD_PROMPT + HONEST,
           "short+honest": SHORT_PROMPT + HONEST, "default": DEFAULT_SYSTEM_PROMPT}
SETTINGS = [  # (name, prompt, temperature, max_tokens); "current" = the defaults before 2026-12-01
    ("current T0.7 256", "current", 0.7, 256),
    ("current T0 120", "current", 0.0, 120),
    ("short T0 120", "short", 0.0, 120),
    ("short T0.3 120", "short", 0.3, 120),
    ("honest T0 120", "honest", 0.0, 120),
    ("short+honest T0 120", "short+honest", 0.0, 120),
    ("short+honest T0 80", "short+honest", 0.0, 80),
    ("default", "default", 0.0, 80),  # wyoming_llama's defaults now (prompt, temperature 0, 80 tokens)
]
PARALLEL = 4  # llama-server's slots: questions are asked four at a time (batched)
WORDS_PER_SECOND = 2.7
_SENTENCE = re.compile(r"[.!?]+(\s|$)")
_MARKDOWN = re.compile(r"(^|\n)\s*([-*#]|\d+\.)\s|\*\*|`")


def correct(reply: str, accepted: str) -> bool:
    text = reply.lower()
    return any(re.search(rf"\b{re.escape(a)}\b", text) for a in accepted.split("|"))


def form(reply: str) -> dict[str, Any]:
    budget = SentenceBudget(3)  # what wyoming_llama --max-sentences 3 (the default) says of it
    said = budget.take(reply)
    words = len(reply.split())
    sentences = max(1, len(_SENTENCE.findall(reply.strip()))) if reply.strip() else 0
    return {"words": words, "sentences": sentences, "speech_s": words / WORDS_PER_SECOND,
            "spoken_s_capped": len(said.split()) / WORDS_PER_SECOND,
            "markdown": bool(_MARKDOWN.search(reply)), "empty": not reply.strip()}


async def ask(http: httpx.AsyncClient, url: str, prompt: str, question: str, *, temperature: float,
              max_tokens: int, seed: int) -> tuple[str, str]:
    body = {"messages": [{"role": "system", "content": prompt}, {"role": "user", "content": question}],
            "stream": False, "max_tokens": max_tokens, "temperature": temperature, "seed": seed,
            "cache_prompt": True}
    response = await http.post(f"{url}/v1/chat/completions", json=body)
    response.raise_for_status()
    choice = response.json()["choices"][0]
    return (choice["message"].get("content") or "").strip(), str(choice.get("finish_reason"))


async def one(http: httpx.AsyncClient, url: str, gate: asyncio.Semaphore, item: tuple[str, str, str, str], *,
              prompt: str, temperature: float, max_tokens: int, seed: int) -> dict[str, Any]:
    question, accepted, kind, part = item
    async with gate:
        reply, finish = await ask(http, url, prompt, question, temperature=temperature, max_tokens=max_tokens,
                                  seed=seed)
    return {"question": question, "reply": reply, "finish": finish, "kind": kind, "part": part,
            "correct": bool(accepted) and correct(reply, accepted), **form(reply)}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for part in ("tune", "held_out"):
        facts = [r for r in rows if r["part"] == part and r["kind"] == "factual"]
        every = [r for r in rows if r["part"] == part]
        speech = [r["speech_s"] for r in every]
        out[part] = {
            "factual_accuracy": sum(r["correct"] for r in facts) / len(facts) if facts else 0.0,
            "factual_n": len(facts),
            "speech_s_p50": statistics.median(speech) if speech else 0.0,
            "speech_s_p95": pct(speech, 0.95),
            "speech_s_max": max(speech) if speech else 0.0,
            "spoken_capped_s_p50": statistics.median([r["spoken_s_capped"] for r in every]) if every else 0.0,
            "spoken_capped_s_p95": pct([r["spoken_s_capped"] for r in every], 0.95),
            "over_3_sentences": sum(r["sentences"] > 3 for r in every) / len(every) if every else 0.0,
            "cut_by_max_tokens": sum(r["finish"] == "length" for r in every) / len(every) if every else 0.0,
            "markdown_or_empty": sum(r["markdown"] or r["empty"] for r in every) / len(every) if every else 0.0,
            "n": len(every),
        }
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=1, help="runs per question for temperature > 0")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--only", default="", help="comma-separated setting names (others keep earlier results)")
    args = parser.parse_args()
    only = {n.strip() for n in args.only.split(",") if n.strip()}
    began = time.monotonic()
    service = await start_service("wyoming_llama", "--threads", str(args.threads), "--nice", "0")
    results: dict[str, Any] = {}
    examples: dict[str, list[dict[str, Any]]] = {}
    try:
        await via_service(service.port, "Hello.", "warm-up")  # waits for llama-server
        url = llama_url(service)
        items = [(q, a, "factual", "tune" if i < FACTUAL_TUNE else "held_out") for i, (q, a) in enumerate(FACTUAL)]
        items += [(q, "", "conversational", "tune" if i < CONVERSATIONAL_TUNE else "held_out")
                  for i, q in enumerate(CONVERSATIONAL)]
        async with httpx.AsyncClient(timeout=600) as http:
            for name, prompt, temperature, max_tokens in SETTINGS:
                if only and name not in only:
                    continue
                rows: list[dict[str, Any]] = []
                runs = 1 if temperature == 0 else args.samples
                gate = asyncio.Semaphore(PARALLEL)
                for run in range(runs):
                    rows += await asyncio.gather(*(
                        one(http, url, gate, item, prompt=PROMPTS[prompt], temperature=temperature,
                            max_tokens=max_tokens, seed=run + 1) for item in items))
                results[name] = summarise(rows)
                examples[name] = rows[:48]
                tune = results[name]["tune"]
                print(f"{name}: tune accuracy {tune['factual_accuracy']:.2f} speech p50 {tune['speech_s_p50']:.1f}s "
                      f"p95 {tune['speech_s_p95']:.1f}s max {tune['speech_s_max']:.1f}s "
                      f"({time.monotonic() - began:.0f}s)", flush=True)
    finally:
        await service.stop()
    earlier = args.out / "answers.json"
    if only and earlier.is_file():  # keep the settings not run this time
        old = json.loads(earlier.read_text())
        results = {**old.get("results", {}), **results}
        examples = {**old.get("examples", {}), **examples}
    report = {"when": time.strftime("%Y-%m-%d %H:%M"), "machine": platform.platform(), "settings": SETTINGS,
              "prompts": PROMPTS, "results": results, "examples": examples,
              "seconds": round(time.monotonic() - began, 1)}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "answers.json").write_text(json.dumps(report, indent=1))
    lines = [f"# Default LLM answers ({report['when']}, SmolLM2-135M Q4_1, {report['seconds']} s)", "",
             "Factual accuracy = a right answer's word in the reply; speech = words / 2.7 per s.", "",
             "Spoken = what `--max-sentences 3` (the default) lets through.", "",
             "| setting | part | factual acc. | reply p50 / p95 / max (s) | spoken p50 / p95 (s) | > 3 sentences |"
             " cut by max_tokens |",
             "|---|---|---|---|---|---|---|"]
    for name, res in results.items():
        for part in ("tune", "held_out"):
            r = res[part]
            lines.append(f"| {name} | {part} | {r['factual_accuracy']:.0%} of {r['factual_n']} | "
                         f"{r['speech_s_p50']:.1f} / {r['speech_s_p95']:.1f} / {r['speech_s_max']:.1f} | "
                         f"{r.get('spoken_capped_s_p50', 0):.1f} / {r.get('spoken_capped_s_p95', 0):.1f} | "
                         f"{r['over_3_sentences']:.0%} | {r['cut_by_max_tokens']:.0%} |")
    (args.out / "answers.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    asyncio.run(main())
