"""wyoming-kokoro: flags (with env/.env defaults) -> config -> engines -> server."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from functools import partial
from pathlib import Path

import numpy as np

from voice_runtime.cli import add_server_args, parse_checked, server_config
from voice_runtime.env import env, warn_ignored
from voice_runtime.logs import restores_logging, setup_logging
from voice_runtime.memory import tune_malloc
from voice_runtime.modelctl import (
    add_model_dir_args,
    dirs_from_args,
    resolve_or_fetch_kokoro_model,
    resolve_or_fetch_kokoro_voice,
    resolve_or_fetch_piper,
)
from voice_runtime.models import (
    KOKORO_DEFAULT_VOICE,
    KOKORO_VOICE_RE,
    ModelError,
    kokoro_voice_files,
    piper_voices,
    resolve_kokoro_voices,
)
from voice_runtime.server import require_listen, run_server

from .handler import TtsHandler
from .service import TtsConfig, TtsService, build_service

_LOGGER = logging.getLogger("wyoming_kokoro")
PROVIDERS = ("kokoro", "piper")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="wyoming-kokoro", description="Wyoming text-to-speech: Kokoro and Piper")
    parser.add_argument("--provider", choices=("auto", *PROVIDERS), default=env("TTS_PROVIDER", "auto"),
                        help="engine of the default voice (env TTS_PROVIDER; default auto: Kokoro if a start-up "
                        "measurement shows it speaks a short first phrase within --auto-first-audio, else Piper)")
    parser.add_argument("--auto-first-audio", type=float, default=0.3,
                        help="with --provider auto: the most a 6-word first phrase may take Kokoro, s (default 0.3)")
    parser.add_argument("--engines", default="kokoro,piper",
                        help="engines to load, comma-separated; one whose model is missing is skipped "
                        "(the --provider one must load)")
    parser.add_argument("--voice", default=None,
                        help="default voice (default: KOKORO_VOICE or af_heart for kokoro, the --piper-model "
                        "voice for piper); a Kokoro voice not installed (e.g. bf_emma) is fetched from the hub")
    parser.add_argument("--kokoro-model", default=None,
                        help="Kokoro .onnx path or file name, or a hub name fetched when missing (kokoro-int8, "
                        "kokoro-fp32, ...; default: the prepared int8 model)")
    parser.add_argument("--kokoro-voices", default=None, help="Kokoro voices .npz (default: the English voices)")
    parser.add_argument("--piper-model", default=None,
                        help="Piper voice name or .onnx path (env PIPER_MODEL_PATH; default en_US-joe-medium)")
    parser.add_argument("--speed", type=float, default=1.0, help="Kokoro speaking speed, 0.5-2.0")
    parser.add_argument("--length-scale", type=float, default=None,
                        help="Piper phoneme length (<1 faster; default: the voice's own)")
    parser.add_argument("--piper-threads", type=int, default=1,
                        help="onnxruntime threads per Piper call (default 1: steadier on a busy small CPU; "
                        "0: one per core)")
    parser.add_argument("--piper-kept-arena-mb", type=int, default=96,
                        help="MB of Piper's onnxruntime memory kept between calls (the rest is given back after "
                        "each): a short first piece then maps no fresh pages (default 96; 0: all given back)")
    parser.add_argument("--samples-per-chunk", type=int, default=1024, help="samples per audio-chunk event")
    parser.add_argument("--first-subject-words", type=int, default=4,
                        help="a reply's first piece that starts with a noun phrase may end before its verb once "
                        "it has this many words (\"The capital of France | is Paris\"; 0: off; default 4)")
    parser.add_argument("--first-figure-words", type=int, default=2,
                        help="a reply's first piece may end before an approximate figure once it has this many "
                        "words (\"Mars is, | approximately 141,872,000 miles\"; 0: off; default 2)")
    parser.add_argument("--figure-tail-words", type=int, default=2,
                        help="after such a cut, the next piece ends after the figure and its unit once this many "
                        "more words of the sentence have come, and is an engine call of its own (\"approximately "
                        "141.2 million miles, | (238.6 million kilometers) away\": a slow Kokoro makes it while "
                        "the first piece plays; 0: the rest of the sentence; default 2)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--max-text-chars", type=int, default=20_000,
                        help="longest text accepted in one synthesize or synthesize-chunk event")
    parser.add_argument("--no-warmup", action="store_true", help="skip the warm-up synthesis at start")
    add_model_dir_args(parser)
    parser.add_argument("--cache-mb", type=float, default=16.0,
                        help="memory for the audio of short texts already spoken, per engine (0: off; default 16)")
    add_server_args(parser, default_uri="tcp://127.0.0.1:10200")
    return parse_checked(parser, argv)


def make_config(args: argparse.Namespace) -> TtsConfig:
    engines = tuple(e.strip() for e in args.engines.split(",") if e.strip())
    unknown = set(engines) - set(PROVIDERS)
    if unknown:
        raise SystemExit(f"unknown engine(s) {sorted(unknown)}; choose from {PROVIDERS}")
    if args.piper_threads < 0 or args.piper_kept_arena_mb < 0:
        raise SystemExit("--piper-threads and --piper-kept-arena-mb must be 0 or more")
    if args.provider == "auto":
        engines = tuple(dict.fromkeys((*engines, *PROVIDERS)))  # auto compares both
    elif args.provider not in engines:
        engines = (args.provider, *engines)
    if args.auto_first_audio <= 0:
        raise SystemExit("--auto-first-audio must be positive")
    if args.samples_per_chunk < 1 or args.max_text_chars < 1:
        raise SystemExit("--samples-per-chunk and --max-text-chars must be positive")
    if not 0.5 <= args.speed <= 2.0:
        raise SystemExit("--speed must be between 0.5 and 2.0")
    if args.cache_mb < 0:
        raise SystemExit("--cache-mb must be 0 (off) or more")
    if args.first_subject_words < 0 or args.first_figure_words < 0 or args.figure_tail_words < 0:
        raise SystemExit("--first-subject-words, --first-figure-words and --figure-tail-words must be 0 (off) or more")
    dirs = dirs_from_args(args)
    kokoro_voice = env("KOKORO_VOICE") or KOKORO_DEFAULT_VOICE
    kokoro_model = kokoro_voices = None
    kokoro_extra: dict[str, Path] = {}
    piper_models: dict[str, Path] = {}
    piper_default: str | None = None
    for engine in engines:
        try:
            if engine == "kokoro":
                kokoro_model = resolve_or_fetch_kokoro_model(args.kokoro_model, dirs)
                kokoro_voices = resolve_kokoro_voices(args.kokoro_voices, dirs)
                wanted = args.voice or kokoro_voice
                if KOKORO_VOICE_RE.fullmatch(wanted):  # a Kokoro voice not installed is fetched
                    with np.load(kokoro_voices) as packaged:
                        resolve_or_fetch_kokoro_voice(wanted, {*packaged.files, *kokoro_voice_files(dirs)}, dirs)
                kokoro_extra = kokoro_voice_files(dirs)
            else:
                chosen = resolve_or_fetch_piper(args.piper_model, dirs)  # a catalogue voice is fetched
                piper_default = chosen.stem
                piper_models = {**piper_voices(dirs), piper_default: chosen}
        except ModelError as err:
            if engine == args.provider or _asked_for(engine, args):
                raise SystemExit(f"{engine}: {err}") from err
            _LOGGER.warning("not loading %s: %s", engine, err)
    if args.provider == "auto" and kokoro_model is None and not piper_models:
        raise SystemExit("neither Kokoro nor Piper could be loaded; run scripts/setup.sh")
    voice = args.voice
    if voice is None and args.provider != "auto":
        voice = kokoro_voice if args.provider == "kokoro" else piper_default
    return TtsConfig(
        server=server_config(args, "wyoming-kokoro"),
        provider=args.provider,
        engines=tuple(e for e in engines if (e == "kokoro" and kokoro_model) or (e == "piper" and piper_models)),
        voice=voice,
        kokoro_model=kokoro_model,
        kokoro_voices=kokoro_voices,
        piper_models=piper_models,
        piper_default=piper_default,
        speed=args.speed,
        length_scale=args.length_scale,
        piper_threads=args.piper_threads,
        piper_kept_arena_mb=args.piper_kept_arena_mb,
        samples_per_chunk=args.samples_per_chunk,
        device=args.device,
        max_text_chars=args.max_text_chars,
        warmup=not args.no_warmup,
        cache_mb=args.cache_mb,
        kokoro_voice=kokoro_voice,
        auto_first_audio=args.auto_first_audio,
        kokoro_extra_voices=kokoro_extra,
        first_subject_words=args.first_subject_words,
        first_figure_words=args.first_figure_words,
        figure_tail_words=args.figure_tail_words,
    )


def _asked_for(engine: str, args: argparse.Namespace) -> bool:
    """Was this engine's model named by the user? A wrong path or name then stops the server (a
    typo must not leave a server that silently speaks with the other engine); only the default
    models may be missing, and then that engine is skipped."""
    if engine == "kokoro":  # a model, voices file, or a Kokoro voice by name (--voice af_hart, KOKORO_VOICE)
        return bool(args.kokoro_model or args.kokoro_voices or env("KOKORO_VOICE")
                    or (args.voice and KOKORO_VOICE_RE.fullmatch(args.voice)))
    return bool(args.piper_model or env("PIPER_MODEL_PATH"))


async def serve(config: TtsConfig) -> None:
    try:
        service = await build_service(config)
    except Exception as err:  # e.g. a corrupt Kokoro .onnx: one line, not onnxruntime's traceback
        _LOGGER.debug("loading failed", exc_info=True)
        raise SystemExit(f"wyoming-kokoro: cannot load the engines {', '.join(config.engines)}: "
                         f"{type(err).__name__}: {err}") from None
    await run_server(config.server, partial(_handler, service=service, config=config))


def _handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, service: TtsService,
             config: TtsConfig) -> TtsHandler:
    return TtsHandler(reader, writer, service=service, limits=config.server.limits)


@restores_logging
def run() -> None:
    args = parse_args()
    setup_logging(args.debug, log_format=args.log_format)
    require_listen(args.uri, "wyoming-kokoro")  # before the models load: a taken port fails at once
    warn_ignored("PIPER_EXE_PATH")
    tune_malloc()  # a months-long process: two malloc arenas, not 8 per core
    config = make_config(args)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(config))


if __name__ == "__main__":
    run()
