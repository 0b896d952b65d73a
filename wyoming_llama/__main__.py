"""wyoming-llama: flags (``flags.py``, with env/.env defaults) -> config -> llama-server + provider -> server."""

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
from voice_runtime.cli import ATTRIBUTION, server_config
from voice_runtime.env import env
from voice_runtime.logs import restores_logging, setup_logging
from voice_runtime.memory import tune_malloc
from voice_runtime.modelctl import dirs_from_args, resolve_or_fetch_llm
from voice_runtime.models import ModelError, resolve_llama_server
from voice_runtime.server import require_listen, run_server
from voice_runtime.tasks import cancel_and_wait

from . import __version__
from .cloud import OpenAICompatibleProvider
from .config import DEFAULT_CLOUD_MODEL, LlamaConfig
from .flags import parse_args
from .handler import LlamaHandler, LlamaService
from .history import HistoryStore
from .llm import GenerationSettings, LocalProvider, Provider
from .prefill import Prefiller
from .priority import ServerPriority
from .process import LlamaServerConfig, LlamaServerProcess, LlamaUnavailable, default_flash_attn, default_threads

_LOGGER = logging.getLogger("wyoming_llama")
__all__ = ["make_config", "make_info", "parse_args", "run", "serve"]


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
            flash_attn=default_flash_attn(args.gpu_layers) if args.flash_attn is None else args.flash_attn,
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
