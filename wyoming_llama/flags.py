"""wyoming-llama's command-line flags, with their env/.env defaults (parsed by ``__main__``)."""

from __future__ import annotations

import argparse

from voice_runtime.cli import add_server_args, parse_checked
from voice_runtime.env import env
from voice_runtime.modelctl import add_model_dir_args

from .config import DEFAULT_BASE_URL, DEFAULT_CLOUD_MODEL, DEFAULT_SYSTEM_PROMPT, PROVIDERS


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="wyoming-llama", description="Wyoming conversation agent over llama.cpp")
    parser.add_argument(
        "--provider",
        choices=PROVIDERS,
        default=env("LLM_PROVIDER", "local"),
        help="local (llama-server) or openai-compatible (DeepSeek; env LLM_PROVIDER)",
    )
    parser.add_argument(
        "--model",
        default=None,
        help="local: GGUF path, file name in a model dir, or hub owner/repo/file.gguf fetched "
        "when missing (env LLAMA_MODEL_PATH; default SmolLM2-135M-Instruct; `hearth models list` "
        f"recommends some); openai-compatible: model name (default {DEFAULT_CLOUD_MODEL})",
    )
    add_model_dir_args(parser)
    parser.add_argument(
        "--llama-server", default=None, help="llama-server executable (env LLAMA_EXE_PATH; default: the cached build)"
    )
    parser.add_argument(
        "--llm-url",
        default=env("LLAMA_URL"),
        help="attach to a running llama-server / OpenAI-compatible URL instead of starting one",
    )
    parser.add_argument(
        "--base-url",
        default=env("DEEPSEEK_BASE_URL", DEFAULT_BASE_URL),
        help=f"openai-compatible endpoint (default {DEFAULT_BASE_URL})",
    )
    parser.add_argument(
        "--api-key-env",
        default="DEEPSEEK_API_KEY",
        help="environment (or .env) variable holding the API key (default DEEPSEEK_API_KEY)",
    )
    parser.add_argument(
        "--context-size",
        type=int,
        default=8192,
        help="llama-server context size in tokens, shared by all slots: the KV cache is allocated "
        "at start (about 23 KB a token for SmolLM2-135M: 190 MB) and holds every satellite's "
        "conversation (default 8192)",
    )
    parser.add_argument("--gpu-layers", type=int, default=-1, help="layers offloaded to a GPU (-1 = all)")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="llama-server CPU threads (default: 1 on a box of 2 CPUs or fewer, where a second thread made the "
        "prompt 1.5-5x slower whenever anything else ran (session 21); else llama-server's choice, the physical "
        "cores; 0: llama-server's choice everywhere)",
    )
    parser.add_argument(
        "--threads-batch",
        type=int,
        default=None,
        help="llama-server threads for prompt evaluation (default: as --threads)",
    )
    parser.add_argument("--flash-attn", choices=("auto", "on", "off"), default=None,
                        help="llama-server's flash attention (default: off when the model runs on the CPU, where it "
                        "made a prompt token ~2x and a written one ~1.2x slower, bench/results/s30_llm.md; else "
                        "llama-server's own choice; auto: llama-server's, on for this CPU, as before session 30)")
    parser.add_argument(
        "--poll",
        type=int,
        default=None,
        help="how hard llama-server's idle threads busy-wait for work, 0-100 (default: llama-server's, 50; "
        "no effect with one thread)",
    )
    parser.add_argument(
        "--parallel",
        type=int,
        default=4,
        help="llama-server slots: replies generated at once, batched, sharing one KV cache of "
        "--context-size (default 4: with 1, a second satellite's reply waits for the first "
        "to finish)",
    )
    parser.add_argument(
        "--cache-ram",
        type=int,
        default=0,
        help="MiB of RAM for llama-server's prompt cache, which keeps the conversations that "
        "lost their place in the KV cache so their history is not evaluated again. Default 0 "
        "(off): each satellite's conversation stays in the KV cache (--context-size), memory "
        "does not grow; set e.g. 256 for more conversations at once than --parallel",
    )
    parser.add_argument("--prefill-refresh", action=argparse.BooleanOptionalAction, default=True,
                        help="evaluate the prefill again at each new minute while the conversation is idle "
                        "(its clock line: wyoming_llama/prefill.py; --no-prefill-refresh: once, as before session 29)")
    parser.add_argument(
        "--prefill",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="after each stored reply, evaluate the next prompt up to its clock line into the conversation's slot, "
        "while the reply is spoken (default on since session 21: a conversation's later questions read ~15 uncached "
        "tokens instead of ~38 and their first token came 0.34 s sooner at p50, 2.7 s at p95 on the loaded 2-CPU box, "
        "bench/llama_history_bench.py; --no-prefill: off, no llama work after a reply)",
    )
    parser.add_argument(
        "--warm-up-slots",
        type=int,
        default=None,
        metavar="N",
        help="when llama-server is ready and after each restart, evaluate the system prompt into "
        "the first N slots, in the background, so a conversation's first turn evaluates only its "
        "question (default: all --parallel slots; 0: none, each slot's first turn pays for it)",
    )
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="CPU priority of llama-server, 0-19 (default 0: as the other services). Higher makes the LLM yield "
        "under load: speech-to-text gains ~0.06 s a final decode while another reply is written, LLM replies "
        "come seconds later on a busy small CPU (10: +4.2 s p50 in the room, session 19); no effect when idle",
    )
    parser.add_argument("--tail-nice", type=int, default=10, help="llama-server's nice while it writes only a reply's "
                        "rest or a prefill, 0-19 (default 10; <= --nice: off): the reply's first speech goes first")
    parser.add_argument("--system-prompt", default=env("LLM_SYSTEM_PROMPT", DEFAULT_SYSTEM_PROMPT))
    parser.add_argument(
        "--max-history-turns",
        type=int,
        default=10,
        help="turns kept per conversation (when full, the older half is dropped at once, so "
        "the prompt keeps its start for several turns and its cache stays valid)",
    )
    parser.add_argument(
        "--conversation-timeout",
        type=float,
        default=300.0,
        help="seconds after which an idle conversation is forgotten",
    )
    parser.add_argument("--health-interval", type=float, default=30.0, help="seconds between health checks")
    parser.add_argument(
        "--health-timeout",
        type=float,
        default=10.0,
        help="seconds a health check may take; two failures in a row count as a hang",
    )
    parser.add_argument(
        "--startup-timeout", type=float, default=120.0, help="seconds llama-server may take to become healthy"
    )
    parser.add_argument("--max-restarts", type=int, default=5, help="restart attempts before giving up")
    parser.add_argument(
        "--restart-delay",
        type=float,
        default=1.0,
        help="backoff before the 2nd restart attempt, doubling after (the 1st is immediate)",
    )
    parser.add_argument(
        "--max-tokens", type=int, default=80, help="longest reply in tokens (default 80: about 25 s spoken)"
    )
    parser.add_argument(
        "--max-sentences",
        type=int,
        default=3,
        help="stop a reply after this many sentences, as speech (0: no limit; default 3)",
    )
    parser.add_argument(
        "--temperature",
        type=float,
        default=0.0,
        help="sampling temperature (default 0: greedy; the small default model answers best so)",
    )
    parser.add_argument(
        "--llm-option",
        action="append",
        default=[],
        metavar="KEY=JSON",
        help="extra request field for the local provider, e.g. top_k=20 (repeatable)",
    )
    parser.add_argument("--max-transcript-chars", type=int, default=4000, help="longest transcript accepted")
    parser.add_argument("--languages", default="en", help="languages advertised, comma-separated")
    # Port 10450: not 10400 (openWakeWord's, and Porcupine's, in the Wyoming world) nor 10500 (the
    # satellite event/LED services of wyoming-satellite's examples): 10200 TTS, 10300 STT, 10400
    # wake word, 10500 events, 10600/10601 external mic/speaker, 10700 satellites.
    add_server_args(parser, default_uri="tcp://127.0.0.1:10450")
    return parse_checked(parser, argv)
