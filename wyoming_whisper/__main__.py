"""wyoming-whisper: flags (with env/.env defaults) -> config -> engine -> server."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import time
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np
from wyoming.info import AsrModel, AsrProgram, Attribution, Info

from voice_runtime.blas import single_blas_thread
from voice_runtime.cli import ATTRIBUTION, add_server_args, parse_checked, server_config
from voice_runtime.env import env
from voice_runtime.logs import restores_logging, setup_logging
from voice_runtime.memory import tune_malloc
from voice_runtime.modelctl import add_model_dir_args, dirs_from_args, resolve_or_fetch_whisper
from voice_runtime.models import ModelError, silero_vad
from voice_runtime.server import ServerConfig, require_listen, run_server

from . import __version__
from .commands import SHORT_COMMANDS
from .engine import GREEDY_SURE, SAMPLE_RATE, EngineConfig, WhisperEngine
from .handler import WhisperHandler
from .service import WhisperService
from .stream import StreamPolicy
from .vad import WINDOW, SileroVad, VadPolicy

_LOGGER = logging.getLogger("wyoming_whisper")
DEFAULT_MODEL = "tiny.en"
# The second opinion on a final tiny.en was unsure of (:mod:`.second`); "none": off. Off by default:
# on this 2-core CPU base's decode (~0.35 s p50 on the turns it is asked on) delays the end of turn of
# far or noisy whole commands tiny.en heard right but not surely (bench/results/s24_heard.md).
DEFAULT_SECOND = "none"


@dataclass(frozen=True)
class WhisperConfig:
    server: ServerConfig
    model_name: str
    engine: EngineConfig
    vad_model: Path
    policy: StreamPolicy
    max_seconds: float
    max_batch: int
    busy_beam_size: int | None
    warmup: bool
    second: EngineConfig | None = None  # the second opinion's model (None: off)
    second_name: str | None = None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="wyoming-whisper", description="Wyoming speech-to-text: faster-whisper with Silero VAD, streaming"
    )
    parser.add_argument("--model", default=env("WHISPER_MODEL", DEFAULT_MODEL),
                        help="model name (tiny.en, base, small.en, distil-small.en, medium.en, large-v3-turbo, ...; "
                        "fetched from the hub when missing) or a CTranslate2 model folder (env WHISPER_MODEL; "
                        f"default {DEFAULT_MODEL})")
    add_model_dir_args(parser)
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default=env("WHISPER_DEVICE", "auto"),
                        help="auto (default): CUDA float16 where CTranslate2 sees a GPU, else CPU int8")
    parser.add_argument("--compute-type", default=None,
                        help="CTranslate2 compute type (default int8 on cpu, float16 on cuda)")
    parser.add_argument("--beam-size", type=int, default=5, help="beam size of the final decode (default 5)")
    parser.add_argument("--greedy-sure", type=_logprob_or_off, default=GREEDY_SURE, metavar="LOGPROB|off",
                        help="greedy first: a final decode searches greedily and keeps that text when its "
                        "avg_logprob is at least LOGPROB, it ends in . ? ! and does not loop, else runs the beam "
                        f"on the same encoder output (default {GREEDY_SURE}; off: always the beam, as before "
                        "session 25)")
    parser.add_argument("--language", default=None,
                        help="default language (default: en for *.en models, auto-detect otherwise)")
    parser.add_argument("--initial-prompt", default=None, help="text that biases the decoding (names, terms)")
    parser.add_argument("--cpu-threads", type=int, default=min(4, os.cpu_count() or 1),
                        help="CPU threads per decode (default: min(4, cores))")
    parser.add_argument("--audio-context", type=float, default=10.0,
                        help="shortest encoder window in seconds: the encoder sees the audio plus 1 s but at "
                        "least this much (default 10; 30 = stock faster-whisper, slower on CPU)")
    parser.add_argument("--speech-threshold", type=float, default=0.45,
                        help="Silero VAD speech probability threshold (default 0.45)")
    parser.add_argument("--speech-pad", type=float, default=0.3,
                        help="seconds of audio kept after the speech (default 0.3; 0.5 s is kept before it)")
    parser.add_argument("--partial-interval", type=float, default=0.8,
                        help="seconds of new audio between partial decodes while the user speaks; 0 disables "
                        "partial transcripts (default 0.8)")
    parser.add_argument("--endpoint-silence", type=float, default=None,
                        help="end the utterance after this many seconds of silence following speech, "
                        "sending voice-started/voice-stopped and the transcript without waiting for "
                        "audio-stop (default: off, the client's VAD decides, or it asks with vad_sensitivity); "
                        "a request whose transcript is unfinished waits longer (--endpoint-max-silence)")
    parser.add_argument("--endpoint-max-silence", type=float, default=1.5,
                        help="with endpointing, the longest silence an unfinished request (\"turn on the ...\", "
                        "\"how far away ...\") is given to go on, in seconds; scaled by vad_sensitivity (x1 "
                        "aggressive, x1.25 default, x1.5 relaxed); 0: silence alone ends it (default 1.5)")
    parser.add_argument("--max-seconds", type=float, default=60.0,
                        help="longest utterance accepted, in seconds (default 60)")
    parser.add_argument("--max-batch", type=int, default=8,
                        help="decodes waiting at once (several satellites) are batched into one model call, "
                        "up to this many; 1 decodes one at a time (default 8)")
    parser.add_argument("--busy-beam-size", type=int, default=1,
                        help="beam size of final decodes that had to wait for another decode (several "
                        "satellites finishing at once on a small CPU): greedy is ~30%% faster (default 1; "
                        "0 = always --beam-size)")
    parser.add_argument("--second-opinion-model", default=env("WHISPER_SECOND_OPINION", DEFAULT_SECOND),
                        help="a second Whisper model (size name or CTranslate2 folder) that decodes again a final "
                        "the first decoded unsure (average log-probability below -0.4); its text is the transcript "
                        "('base': fewer mishearings, ~0.3 s more on those turns on 2 CPU cores; a GPU affords more). "
                        f"'none' turns it off (env WHISPER_SECOND_OPINION; default {DEFAULT_SECOND})")
    parser.add_argument("--short-commands", default=env("WHISPER_SHORT_COMMANDS", "off"), metavar="on|off|FILE",
                        help="an English final of 1-4 words the model was unsure of is scored against short home "
                        "commands (\"Pause.\", \"Cancel that.\", \"Lights off.\"; FILE: one per line) and the "
                        "likeliest is the transcript when nearly as likely as the free text (env "
                        "WHISPER_SHORT_COMMANDS; default off; bench/results/s31_asr.md)")
    parser.add_argument("--no-warmup", action="store_true", help="skip the warm-up decode at start")
    add_server_args(parser, default_uri="tcp://127.0.0.1:10300")
    return parse_checked(parser, argv)


def _logprob_or_off(value: str) -> float | None:
    if value.strip().lower() in ("off", "none"):
        return None
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a log-probability or 'off': {value!r}") from None


def short_commands(value: str) -> tuple[str, ...]:
    """``--short-commands``: on (:data:`.commands.SHORT_COMMANDS`), off (none) or a file of one per line."""
    choice = value.strip()
    if choice.lower() in ("off", "none", ""):
        return ()
    if choice.lower() == "on":
        return SHORT_COMMANDS
    try:
        lines = Path(choice).expanduser().read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise SystemExit(f"wyoming-whisper: --short-commands: {err}") from err
    found = tuple(line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#"))
    if not found:
        raise SystemExit(f"wyoming-whisper: --short-commands: no commands in {choice}")
    return found


def _windows(seconds: float) -> int:
    return max(1, round(seconds * SAMPLE_RATE / WINDOW))


def resolve_device(choice: str) -> str:
    """``auto``: ``cuda`` where CTranslate2 counts a CUDA device, else ``cpu``."""
    if choice != "auto":
        return choice
    import ctranslate2

    return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"


def make_config(args: argparse.Namespace) -> WhisperConfig:
    try:
        model_dir = resolve_or_fetch_whisper(args.model, dirs_from_args(args))  # a known size is fetched
        vad_model = silero_vad()
    except ModelError as err:
        raise SystemExit(f"wyoming-whisper: {err}") from err
    second_dir = None
    if str(args.second_opinion_model).lower() != "none":
        try:
            second_dir = resolve_or_fetch_whisper(args.second_opinion_model, dirs_from_args(args))
        except ModelError as err:
            raise SystemExit(f"wyoming-whisper: --second-opinion-model: {err} "
                             "(--second-opinion-model none: no second opinion)") from err
        if second_dir.resolve() == model_dir.resolve():
            second_dir = None  # the same model twice would hear the same
    if min(args.beam_size, args.max_batch) < 1 or args.busy_beam_size < 0 or args.max_seconds <= 0:
        raise SystemExit("--beam-size, --max-batch and --max-seconds must be positive, --busy-beam-size >= 0")
    if not 0.0 < args.speech_threshold < 1.0:
        raise SystemExit("--speech-threshold must be within (0, 1)")
    device = resolve_device(args.device)
    compute_type = args.compute_type or ("int8" if device == "cpu" else "float16")
    pad = _windows(args.speech_pad)
    endpoint = None if args.endpoint_silence is None else max(pad, _windows(args.endpoint_silence))
    if args.endpoint_max_silence < 0:
        raise SystemExit("--endpoint-max-silence must be >= 0")
    endpoint_max = _windows(args.endpoint_max_silence) if args.endpoint_max_silence > 0 else None
    engine = EngineConfig(
        model_dir=model_dir,
        device=device,
        compute_type=compute_type,
        cpu_threads=max(0, args.cpu_threads),
        beam_size=args.beam_size,
        language=args.language,
        initial_prompt=args.initial_prompt,
        audio_context=min(30.0, max(1.0, args.audio_context)),
        greedy_sure=args.greedy_sure,
        short_commands=short_commands(args.short_commands),
    )
    return WhisperConfig(
        server=server_config(args, "wyoming-whisper"),
        model_name=_name(args.model, model_dir),
        engine=engine,
        vad_model=vad_model,
        policy=StreamPolicy(
            vad=VadPolicy(threshold=args.speech_threshold, pad_windows=pad),
            settle_windows=pad,
            partial_interval=max(0.0, args.partial_interval),
            endpoint_windows=endpoint,
            endpoint_max_windows=endpoint_max,
        ),
        max_seconds=args.max_seconds,
        max_batch=args.max_batch,
        busy_beam_size=args.busy_beam_size or None,
        warmup=not args.no_warmup,
        second=None if second_dir is None else replace(engine, model_dir=second_dir, short_commands=()),
        second_name=None if second_dir is None else _name(args.second_opinion_model, second_dir),
    )


def _name(model: str, folder: Path) -> str:
    return folder.name if os.sep in model or Path(model).exists() else model


def build_info(config: WhisperConfig, engine: WhisperEngine) -> Info:
    return Info(
        asr=[
            AsrProgram(
                name="wyoming-whisper",
                description="faster-whisper speech-to-text with Silero VAD, decoding while you speak",
                attribution=ATTRIBUTION,
                installed=True,
                version=__version__,
                supports_transcript_streaming=True,
                requires_external_vad=config.policy.endpoint_windows is None,
                models=[
                    AsrModel(
                        name=config.model_name,
                        description=f"Whisper {config.model_name} ({config.engine.compute_type})",
                        attribution=Attribution(name="OpenAI", url="https://github.com/openai/whisper"),
                        installed=True,
                        version=None,
                        languages=engine.languages,
                    )
                ],
            )
        ]
    )


def load(config: WhisperConfig) -> tuple[WhisperEngine, SileroVad]:
    started = time.monotonic()
    engine = WhisperEngine(config.engine)
    vad = SileroVad(config.vad_model)
    if config.warmup:
        engine.transcribe(np.zeros(SAMPLE_RATE, dtype=np.float32))
    _LOGGER.info("loaded model=%s path=%s compute_type=%s threads=%d in %.1fs", config.model_name,
                 config.engine.model_dir, config.engine.compute_type, config.engine.cpu_threads,
                 time.monotonic() - started)
    return engine, vad


def load_second(config: WhisperConfig) -> WhisperEngine | None:
    """The second opinion's model (None: off); warmed up with the first."""
    if config.second is None:
        return None
    started = time.monotonic()
    second = WhisperEngine(config.second)
    if config.warmup:
        second.transcribe(np.zeros(SAMPLE_RATE, dtype=np.float32), "en" if second.multilingual else None)
    _LOGGER.info("loaded second opinion model=%s path=%s in %.1fs", config.second_name, config.second.model_dir,
                 time.monotonic() - started)
    return second


async def _loaded(config: WhisperConfig) -> tuple[WhisperEngine, SileroVad, WhisperEngine | None]:
    """Both models, or one line saying which could not be loaded (not CTranslate2's traceback)."""
    name, folder = config.model_name, config.engine.model_dir
    try:
        engine, vad = await asyncio.to_thread(load, config)
        if config.second is not None:
            name, folder = f"{config.second_name} (--second-opinion-model)", config.second.model_dir
        second = await asyncio.to_thread(load_second, config)
    except Exception as err:  # a corrupt or foreign model file
        _LOGGER.debug("loading failed", exc_info=True)
        raise SystemExit(f"wyoming-whisper: cannot load the model {name} from {folder}: "
                         f"{type(err).__name__}: {err}") from None
    return engine, vad, second


async def serve(config: WhisperConfig) -> None:
    engine, vad, second = await _loaded(config)
    info = build_info(config, engine)
    service = WhisperService(engine=engine, vad=vad, policy=config.policy, info=lambda: info,
                             max_seconds=config.max_seconds, max_batch=config.max_batch,
                             busy_beam_size=config.busy_beam_size, second=second)
    try:
        await run_server(config.server, partial(_handler, service=service, config=config))
    finally:
        await service.close()


def _handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, service: WhisperService,
             config: WhisperConfig) -> WhisperHandler:
    return WhisperHandler(reader, writer, service=service, limits=config.server.limits)


@restores_logging
def run() -> None:
    args = parse_args()
    setup_logging(args.debug, log_format=args.log_format)
    require_listen(args.uri, "wyoming-whisper")  # before the models load: a taken port fails at once
    tune_malloc()  # a months-long process: two malloc arenas, not 8 per core
    single_blas_thread()  # numpy's small products on this thread, not OpenBLAS's woken ones (.blas)
    if not args.debug:  # faster-whisper logs every decode at info level
        logging.getLogger("faster_whisper").setLevel(logging.WARNING)
    config = make_config(args)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(config))


if __name__ == "__main__":
    run()
