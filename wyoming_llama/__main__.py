"""wyoming-llama: flags (with env/.env defaults) -> config -> llama-server + provider -> server."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import logging
from functools import partial
from typing import Any

from wyoming.info import Attribution, HandleModel, HandleProgram, Info

from voice_runtime.backoff import BackoffPolicy
from voice_runtime.cli import ATTRIBUTION, add_server_args, parse_checked, server_config
from voice_runtime.env import env
from voice_runtime.logs import restores_logging, setup_logging
from voice_runtime.memory import tune_malloc
from voice_runtime.modelctl import add_model_dir_args, dirs_from_args, resolve_or_fetch_llm
from voice_runtime.models import ModelError, resolve_llama_server
from voice_runtime.server import require_listen, run_server
from voice_runtime.tasks import cancel_and_wait

from . import __version__
from .cloud import OpenAICompatibleProvider
from .config import DEFAULT_BASE_URL, DEFAULT_CLOUD_MODEL, DEFAULT_SYSTEM_PROMPT, PROVIDERS, LlamaConfig
from .handler import LlamaHandler, LlamaService
from .history import HistoryStore
from .llm import GenerationSettings, LocalProvider, Provider
from .prefill import Prefiller
from .priority import ServerPriority
from .process import LlamaServerConfig, LlamaServerProcess, LlamaUnavailable, default_threads

_LOGGER = logging.getLogger("wyoming_llama")
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
                        help="llama-server's flash attention (default: its own, on here); off: its prompt evaluation "
                        "no longer slows as the conversation grows, other numerics (bench/results/s29_llm.md)")
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


def _options(values: list[str]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--llm-option {item!r}: use KEY=JSON")
        try:
            options[key] = json.loads(raw)
        except json.JSONDecodeError:
            options[key] = raw
    return options


def make_config(args: argparse.Namespace) -> LlamaConfig:
    if args.max_sentences < 0:
        raise SystemExit("--max-sentences must be 0 (no limit) or more")
    if args.context_size < 512 or args.max_tokens < 1 or args.max_tokens >= args.context_size:
        raise SystemExit("--context-size must be >= 512 and --max-tokens between 1 and the context size")
    if not 0 <= args.nice <= 19 or not 0 <= args.tail_nice <= 19:
        raise SystemExit("--nice and --tail-nice must be within 0-19")
    if args.poll is not None and not 0 <= args.poll <= 100:
        raise SystemExit("--poll must be within 0-100")
    if min(args.threads or 0, args.threads_batch or 0) < 0:
        raise SystemExit("--threads and --threads-batch must be >= 0")
    if args.warm_up_slots is not None and args.warm_up_slots < 0:
        raise SystemExit("--warm-up-slots must be 0 (none) or more")
    if args.max_history_turns < 0 or args.health_interval <= 0 or args.startup_timeout <= 0 or args.cache_ram < 0:
        raise SystemExit(
            "--max-history-turns and --cache-ram must be >= 0, --health-interval and --startup-timeout > 0"
        )
    llama: LlamaServerConfig | None = None
    if args.provider == "openai-compatible":
        model_name = args.model or DEFAULT_CLOUD_MODEL
        if not env(args.api_key_env):
            raise SystemExit(f"the openai-compatible provider needs an API key in {args.api_key_env}")
    elif args.llm_url:
        model_name = args.model or "llama-server"
    else:
        try:
            model = resolve_or_fetch_llm(args.model, dirs_from_args(args))
            exe = resolve_llama_server(args.llama_server)
        except ModelError as err:
            raise SystemExit(str(err)) from err
        model_name = model.stem
        llama = LlamaServerConfig(
            exe=exe,
            model=model,
            context_size=args.context_size,
            threads=default_threads() if args.threads is None else args.threads,
            threads_batch=args.threads_batch,
            poll=args.poll,
            flash_attn=args.flash_attn,
            gpu_layers=args.gpu_layers,
            parallel=args.parallel,
            cache_ram_mib=args.cache_ram,
            nice=args.nice,
            tail_nice=args.tail_nice,
            startup_timeout=args.startup_timeout,
            health_interval=args.health_interval,
            health_timeout=args.health_timeout,
            max_restarts=args.max_restarts,
            # the 1st restart at once, then --restart-delay doubling (voice_runtime.backoff)
            restart_delays=(0.0, *BackoffPolicy(first=args.restart_delay).schedule(max(0, args.max_restarts - 1))),
        )
    return LlamaConfig(
        server=server_config(args, "wyoming-llama"),
        provider=args.provider,
        model_name=model_name,
        llama=llama,
        llm_url=args.llm_url if args.provider == "local" else None,
        base_url=args.base_url,
        api_key_env=args.api_key_env,
        settings=GenerationSettings(
            max_tokens=args.max_tokens,
            temperature=args.temperature,
            model=model_name if args.provider == "openai-compatible" else None,
            extra=_options(args.llm_option) if args.provider == "local" else {},
        ),
        system_prompt=args.system_prompt,
        context_size=args.context_size,
        max_history_turns=args.max_history_turns,
        conversation_timeout=args.conversation_timeout,
        max_transcript_chars=args.max_transcript_chars,
        languages=tuple(lang.strip() for lang in args.languages.split(",") if lang.strip()) or ("en",),
        max_sentences=args.max_sentences,
        warm_up_slots=args.warm_up_slots,
        prefill=args.prefill,
        prefill_refresh=args.prefill_refresh,
    )


def make_info(config: LlamaConfig) -> Info:
    attribution = Attribution(
        name="llama.cpp" if config.provider == "local" else "OpenAI-compatible API",
        url="https://github.com/ggml-org/llama.cpp" if config.provider == "local" else config.base_url,
    )
    model = HandleModel(
        name=config.model_name,
        description=f"{config.model_name} ({config.provider})",
        attribution=attribution,
        installed=True,
        version=__version__,
        languages=list(config.languages),
    )
    return Info(
        handle=[
            HandleProgram(
                name="wyoming-llama",
                description="Conversation agent over a local LLM (llama.cpp)",
                attribution=ATTRIBUTION,
                installed=True,
                version=__version__,
                models=[model],
                supports_handled_streaming=True,
            )
        ]
    )


async def serve(config: LlamaConfig) -> None:
    process: LlamaServerProcess | None = None
    starter: asyncio.Task[None] | None = None
    provider: Provider
    if config.provider == "openai-compatible":
        provider = OpenAICompatibleProvider(base_url=config.base_url, api_key=env(config.api_key_env) or "")
    elif config.llama is not None:
        process = LlamaServerProcess(config.llama)
        priority = ServerPriority(lambda: process.pid if process is not None else None,
                                  base=config.llama.nice, low=config.llama.tail_nice)
        provider = LocalProvider(
            process=process, ready_timeout=config.llama.startup_timeout, slots=config.llama.parallel,
            priority=priority,
        )
        # describe answers meanwhile
        starter = asyncio.create_task(
            _start(process, provider, config.system_prompt, config.warm_up_slots), name="llama-server start"
        )
    else:
        assert config.llm_url is not None
        provider = LocalProvider(url=config.llm_url)
    info = make_info(config)
    service = LlamaService(
        provider=provider,
        info=lambda: info,
        system_prompt=config.system_prompt,
        settings=config.settings,
        context_size=config.context_size,
        history=HistoryStore(max_turns=config.max_history_turns, idle_seconds=config.conversation_timeout),
        max_transcript_chars=config.max_transcript_chars,
        max_sentences=config.max_sentences,
        prefiller=Prefiller(provider, now=dt.datetime.now if config.prefill_refresh else None)
        if config.prefill and isinstance(provider, LocalProvider) else None,
    )
    _LOGGER.info("provider=%s model=%s", config.provider, config.model_name)
    try:
        await run_server(config.server, partial(_handler, service=service, config=config))
    finally:
        await cancel_and_wait(starter)
        if service.prefiller is not None:
            await service.prefiller.aclose()
        if process is not None:
            await process.stop()
        await provider.aclose()


async def _start(
    process: LlamaServerProcess, provider: LocalProvider, system_prompt: str, slots: int | None = None
) -> None:
    """Start llama-server; warm its prompt cache now and after every restart (:meth:`LocalProvider.warm_up`,
    ``slots`` of them: None all, 0 none)."""
    try:
        await process.start()
    except LlamaUnavailable as err:
        _LOGGER.error("llama-server failed to start; every request will get an error: %s", err)
        return
    while process.state == "ready":
        await provider.warm_up(system_prompt, slots)
        await process.wait_for_state("restarting", "failed", "stopped", timeout=None)
        await process.wait_for_state("ready", "failed", "stopped", timeout=None)


def _handler(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, service: LlamaService, config: LlamaConfig
) -> LlamaHandler:
    return LlamaHandler(reader, writer, service=service, limits=config.server.limits)


@restores_logging
def run() -> None:
    args = parse_args()
    setup_logging(args.debug, log_format=args.log_format)
    require_listen(args.uri, "wyoming-llama")  # before the models load: a taken port fails at once
    tune_malloc()  # a months-long process: two malloc arenas, not 8 per core
    config = make_config(args)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(config))


if __name__ == "__main__":
    run()
