"""Where a room run's LLM turns spent first token -> first TTS audio: the LLM or the TTS's first piece.

For each LLM turn of kept ``room_turns_bench.py`` runs (``--room DIR``, repeatable; read by name only:
run.log, orchestrator.log, llama.log), with

* the room's step (orchestrator.log ``turn ok``: ``first_tts_audio - first_token``) and the reply's
  token rate (llama.log: ``(total_ms - first_chunk_ms) / (completion_tokens - 1)``),
* the reply's text (the satellite's run.log ``reply text=``) cut into the real tokenizer's pieces (a
  real ``llama-server``'s ``/tokenize``, the default model) and replayed through the orchestrator's
  :class:`~orchestrator.honesty.ClaimGuard` and the TTS's :class:`~wyoming_kokoro.text.SentenceSplitter`
  (the service's defaults): the tokens after the first until the first piece is released,
* the real Piper voice (``en_US-joe-medium``, one thread, in process) timed on that piece: from the call
  to its first audio, median of ``--runs``,

it prints: turn, room step, tokens to the piece x room ms/token (the LLM's share), Piper's time now
(the TTS's share; measured at this box's load, not the room's), and the piece. A turn whose first
piece came from the audio cache (a repeated reply: step < 0.12 s) is listed but not timed.

    .venv/bin/python bench/llm_room_first_piece.py --room /tmp/p26/lead-turns-1 --room /tmp/p26/lead-turns-2
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from orchestrator.honesty import ClaimGuard  # noqa: E402
from orchestrator.intents import NO_HOME_REPLY  # noqa: E402
from voice_runtime.models import resolve_llama_server, resolve_llm, resolve_piper  # noqa: E402
from voice_runtime.procs import free_port  # noqa: E402
from wyoming_kokoro.piper_engine import PiperEngine  # noqa: E402
from wyoming_kokoro.text import SentenceSplitter  # noqa: E402

_TURN_OK = re.compile(r"turn ok .*?intent=(\S+) .*?first_token=(\d+)ms.*?first_tts_audio=(\d+)ms")
_REPLY = re.compile(r"reply text=(.*)$")
_LLAMA = re.compile(
    r"logger=wyoming_llama.handler msg=\"reply .*?completion_tokens=(\d+) first_chunk_ms=(\d+) total_ms=(\d+)"
)


def room_turns(folder: Path) -> list[dict[str, Any]]:
    """The LLM turns of one run, in order: the room's step, the reply's text and token rate."""
    steps = []
    for line in (folder / "orchestrator.log").read_text().splitlines():
        msg = json.loads(line).get("msg", "") if line.startswith("{") else ""
        if (m := _TURN_OK.search(msg)) and m.group(1) == "-":
            steps.append((int(m.group(3)) - int(m.group(2))) / 1000)
    replies = []
    for line in (folder / "run.log").read_text().splitlines():
        if (m := _REPLY.search(line)) is not None:
            raw = m.group(1)[:-1].replace('\\"', '"')  # (the log's msg="..." closes it)
            replies.append(ast.literal_eval(raw) if raw[:1] in "'\"" else raw)
    llm_replies = [r for r in replies if r != NO_HOME_REPLY]
    rates = []
    for line in (folder / "llama.log").read_text().splitlines():
        if (m := _LLAMA.search(line)) is not None:
            tokens, first, total = (int(g) for g in m.groups())
            rates.append((total - first) / max(1, tokens - 1) / 1000)
    return [{"run": folder.name, "step": s, "reply": r, "s_per_token": rate}
            for s, r, rate in zip(steps, llm_replies, rates, strict=False)]


def tokenize(url: str, text: str) -> list[str]:
    body = json.dumps({"content": text, "with_pieces": True}).encode()
    request = urllib.request.Request(f"{url}/tokenize", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return [t["piece"] for t in json.loads(response.read())["tokens"]]


def first_piece(tokens: list[str]) -> tuple[int, str]:
    """Tokens after the first until the first piece is released, and the piece."""
    guard, splitter = ClaimGuard(NO_HOME_REPLY), SentenceSplitter(first_subject_words=4, first_figure_words=2)
    for i, token in enumerate(tokens):
        if pieces := splitter.feed(guard.feed(token)):
            return i, pieces[0]
    rest = splitter.feed(guard.flush()) + splitter.finish()
    return len(tokens), rest[0] if rest else ""


def piper_first_audio(engine: PiperEngine, text: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.monotonic()
        next(iter(engine.synthesize(text, "en_US-joe-medium")))
        times.append(time.monotonic() - started)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--room", type=Path, action="append", required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    turns = [t for folder in args.room for t in room_turns(folder)]
    port = free_port()
    server = subprocess.Popen([str(resolve_llama_server()), "-m", str(resolve_llm()), "--port", str(port),
                               "-t", "1", "-c", "512"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.2)
        engine = PiperEngine({"en_US-joe-medium": resolve_piper("en_US-joe-medium")})
        piper_first_audio(engine, "Warm up.", 1)
        for turn in turns:
            turn["tokens_to_piece"], turn["piece"] = first_piece(tokenize(url, turn["reply"]))
            turn["llm_share"] = turn["tokens_to_piece"] * turn["s_per_token"]
            cached = turn["step"] < 0.12
            turn["piper_now"] = None if cached else piper_first_audio(engine, turn["piece"], args.runs)
            piper = "cached" if turn["piper_now"] is None else f"{turn['piper_now']:.3f}"
            print(f"{turn['run']} step {turn['step']:.3f}  tokens {turn['tokens_to_piece']:2d} x "
                  f"{turn['s_per_token'] * 1000:.1f} ms = {turn['llm_share']:.3f}  piper now {piper}  "
                  f"{turn['piece']!r}", flush=True)
    finally:
        server.terminate()
        server.wait(10)
    if args.out:
        load = os.getloadavg()[0]
        args.out.write_text(json.dumps({"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                                        "load_1min_end": load, "turns": turns}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
