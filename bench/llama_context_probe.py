"""llama-server's prompt evaluation as a conversation grows, variants side by side.

One llama-server per variant, started as ``wyoming_llama`` starts it (``--ctx-size 8192 --parallel
4 --kv-unified --cache-prompt``, ``--no-repack``) plus the variant's flags; a system prompt, then
12 questions in one conversation (slot 0), each ~40 new tokens after the cached ones (a clock line,
the question, the template) and a 24-token answer kept in the cache, as a room conversation grows.
The variants are asked in turn (which goes first alternates). Per question: new prompt tokens,
prompt ms (llama-server's ``timings``), the cached context.

    python bench/llama_context_probe.py "t2=" "t1=--threads 1" ["faoff=-fa off" ...]

A variant whose name ends in ``-noclock`` asks without the clock line (its ~21 tokens).

Session 20 (llm): on this 2-CPU VM llama-server's default is 2 threads; under load the second
thread's busy-waiting costs several times the work (``bench/results/s20_llm.md``).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from voice_runtime.procs import free_port  # noqa: E402

BASE = ["--ctx-size", "8192", "--n-gpu-layers", "-1", "--parallel", "4", "--cache-prompt", "--cache-ram", "0",
        "--no-webui", "--no-cache-idle-slots", "--kv-unified", "--no-repack"]
SYSTEM = ("You are a helpful voice assistant in a smart home. Answer in one or two short spoken sentences, "
          "no lists, no markdown. If you do not know, say so. ") * 3
QUESTIONS = ["What is the tallest mountain in the world?", "How long does it take to boil an egg?",
             "Where is the nearest pharmacy?", "How far away is Mars?", "What time does the store close?",
             "Read me the news headlines from today.", "Good morning.", "What is the capital of Australia?",
             "How many days are there in a leap year?", "Who wrote the novel Pride and Prejudice?",
             "Tell me a joke about penguins.", "How old is the universe?"]
CLOCK = "It is 6:05 PM, Thursday, December 3, 2026."



def post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=300) as response:
        out: dict[str, Any] = json.load(response)
    return out


def wait_healthy(url: str) -> None:
    for _ in range(600):
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as response:
                if json.load(response).get("status") == "ok":
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} not healthy")


def main() -> int:
    from voice_runtime.models import resolve_llm  # the default model, as wyoming_llama resolves it

    variants = dict(arg.split("=", 1) for arg in sys.argv[1:]) or {"default": ""}
    from voice_runtime.models import resolve_llama_server

    exe = str(resolve_llama_server())
    model = str(resolve_llm())
    servers: dict[str, tuple[subprocess.Popen[bytes], str]] = {}
    try:
        for name, extra in variants.items():
            port = free_port()
            proc = subprocess.Popen([exe, "--model", model, "--host", "127.0.0.1", "--port", str(port), *BASE,
                                     *extra.split()], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            servers[name] = (proc, f"http://127.0.0.1:{port}")
        for _, url in servers.values():
            wait_healthy(url)
            post(url + "/completion", {"prompt": f"<|im_start|>system\n{SYSTEM}<|im_end|>\n", "n_predict": 1,
                                       "cache_prompt": True, "id_slot": 0})
        talk = {name: f"<|im_start|>system\n{SYSTEM}<|im_end|>\n" for name in servers}
        rows: dict[str, list[dict[str, float]]] = {name: [] for name in servers}
        for k, question in enumerate(QUESTIONS):
            for name in list(servers) if k % 2 == 0 else list(servers)[::-1]:
                clock = "" if name.endswith("-noclock") else f"{CLOCK}\n\n"
                prompt = talk[name] + f"<|im_start|>user\n{clock}{question}<|im_end|>\n<|im_start|>assistant\n"
                reply = post(servers[name][1] + "/completion", {"prompt": prompt, "n_predict": 24, "temperature": 0,
                                                                "cache_prompt": True, "id_slot": 0})
                timings = reply["timings"]
                rows[name].append({"new": timings["prompt_n"], "ms": round(timings["prompt_ms"], 1),
                                   "cached": reply.get("tokens_cached", 0)})
                talk[name] = prompt + reply["content"] + "<|im_end|>\n"
            print(k, {name: rows[name][-1] for name in servers}, "load", round(os.getloadavg()[0], 2), flush=True)
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait()
    for name, found in rows.items():
        per = [r["ms"] / max(1.0, r["new"]) for r in found]
        print(name, "prompt ms p50", statistics.median(r["ms"] for r in found),
              "ms/token first 3", [round(x, 1) for x in per[:3]], "last 3", [round(x, 1) for x in per[-3:]])
    return 0


if __name__ == "__main__":
    sys.exit(main())
