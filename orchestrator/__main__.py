"""``voice-orchestrator``: serve satellites, or ``ask`` one question from a WAV file.

  voice-orchestrator ask --wav question.wav --out reply.wav --asr tcp://… --handle tcp://… --tts tcp://…
  voice-orchestrator serve --satellite tcp://192.168.1.20:10700 --asr … --handle … --tts …
  voice-orchestrator serve --discover        (find services and satellites by zeroconf)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

from voice_runtime.cli import add_version_arg
from voice_runtime.client import describe
from voice_runtime.env import env
from voice_runtime.latency import LatencyMonitor
from voice_runtime.logs import add_logging_args, restores_logging, setup_logging
from voice_runtime.memory import tune_malloc
from voice_runtime.signals import on_stop_signal
from voice_runtime.tasks import TaskSet, cancel_and_wait

from .continuation import ContinuationPolicy
from .home.asr import with_names
from .home.ha import HaConfig, HomeAssistant
from .intents import NO_HOME_REPLY, IntentRecognizer
from .metrics import MetricsServer
from .pipeline import Pipeline, PipelineConfig, TurnResult
from .satellite_link import LinkConfig, SatelliteLink
from .satellite_watch import SatelliteWatch, WatchConfig
from .services import ServicePool, discover_services
from .state import LinkState
from .timers import DataDirBusy, TimerManager, claim_data_dir
from .warm_replies import keep_clock_warm, keep_warm
from .wavio import WavSink, wav_chunks, wav_problem

_LOGGER = logging.getLogger("orchestrator")


@dataclass(frozen=True)
class OrchestratorConfig:
    asr: tuple[str, ...]
    handle: tuple[str, ...]
    tts: tuple[str, ...]
    intent: tuple[str, ...]
    intents: tuple[Path, ...]
    use_intents: bool
    pipeline: PipelineConfig
    discover: bool
    discover_interface: str | None
    discover_seconds: float
    metrics_port: int | None
    data_dir: Path | None  # None: timers are not kept across restarts
    no_home_reply: str
    home_assistant: HaConfig | None


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--asr", action="append", default=[], help="speech-to-text URI (repeat for replicas)")
    parser.add_argument("--handle", action="append", default=[], help="conversation (LLM) URI (repeatable)")
    parser.add_argument("--tts", action="append", default=[], help="text-to-speech URI (repeatable)")
    parser.add_argument("--intent", action="append", default=[],
                        help="a Wyoming intent service asked before the LLM when no template matches")
    parser.add_argument("--discover", action="store_true", help="find the services not given by URI (and, for "
                        "serve, satellites) by zeroconf")
    parser.add_argument("--discover-interface", metavar="ADDRESS",
                        help="with --discover: browse only on the interface with this address (default: every one)")
    parser.add_argument("--discover-seconds", type=float, default=3.0,
                        help="with --discover: how long each zeroconf browse listens for answers")
    parser.add_argument("--intents", action="append", default=[], type=Path, help="extra sentence templates")
    parser.add_argument("--no-intents", action="store_true", help="send everything to the LLM")
    parser.add_argument("--data-dir", type=_user_path,
                        default=_user_path(env("HEARTH_DATA_DIR") or "~/.local/share/hearth"),
                        help="serve: where timers are kept across restarts, one orchestrator per folder "
                        "(default ~/.local/share/hearth); ask keeps no timers")
    parser.add_argument("--no-home-reply", default=NO_HOME_REPLY,
                        help="the answer to a device command when no home is connected")
    parser.add_argument("--home-assistant", metavar="URL", help="Home Assistant as the home backend, e.g. "
                        "http://homeassistant.local:8123 (token: HA_TOKEN or --ha-token-file)")
    parser.add_argument("--ha-token-file", type=Path, help="a file holding a long-lived access token")
    parser.add_argument("--ha-timeout", type=float, default=3.0, help="seconds to wait for Home Assistant")
    parser.add_argument("--ha-confirm-window", type=float, default=2.0,
                        help="seconds an action's new state may take to show in HA before the reply says it has "
                        "not changed (0: trust HA's answer)")
    parser.add_argument("--ha-names-to-asr", action="store_true",
                        help="send the home's device and room names to speech-to-text as its initial prompt (off by "
                        "default: in the room bench it did not lower tiny.en's errors, and it made whisper write "
                        "names into echo, bench/results/home_room_names.md)")
    parser.add_argument("--language", default="en")
    parser.add_argument("--voice", help="TTS voice name")
    parser.add_argument("--vad-sensitivity", choices=["aggressive", "default", "relaxed", "off"], default=None,
                        help="ask the speech-to-text service to end the utterance itself instead of waiting "
                        "for the satellite's own end of speech (Wyoming's vad_sensitivity; our wyoming-whisper "
                        "ends a finished request after 0.2/0.25/0.7 s of silence and waits up to 1.5/1.9/2.25 s "
                        "for an unfinished one, e.g. 'turn on the ...'); 'off' waits for audio-stop (default: "
                        "default for serve, off for ask)")
    parser.add_argument("--partial-transcripts", action="store_true",
                        help="let the speech-to-text service compute partial transcripts (unused here; off "
                        "saves CPU)")
    parser.add_argument("--no-preemptive", action="store_true",
                        help="do not prepare the LLM reply on the speech-to-text service's speculative transcript "
                        "while the end-of-turn silence runs (our wyoming-whisper sends one; commands are never "
                        "prepared)")
    parser.add_argument("--metrics-port", type=int, help="serve Prometheus latency text on this port")
    add_logging_args(parser)


def _user_path(text: str) -> Path:
    """A folder as users write it: ``~/x`` (from .env, or a quoted flag) means their home's x."""
    return Path(text).expanduser()


def build_config(args: argparse.Namespace) -> OrchestratorConfig:
    # serve: "default" (bench/results/turn.md: of 43 paused requests 13 cut, against 42 with
    # "aggressive" silence alone, and finished requests end as fast: p50 0.62 s)
    sensitivity = args.vad_sensitivity or ("default" if args.command == "serve" else "off")
    pipeline = PipelineConfig(language=args.language, voice=args.voice,
                              vad_sensitivity=None if sensitivity == "off" else sensitivity,
                              partial_transcripts=args.partial_transcripts, preemptive=not args.no_preemptive)
    return OrchestratorConfig(
        asr=tuple(args.asr), handle=tuple(args.handle), tts=tuple(args.tts), intent=tuple(args.intent),
        intents=tuple(args.intents),
        use_intents=not args.no_intents, pipeline=pipeline,
        discover=args.discover, discover_interface=args.discover_interface, discover_seconds=args.discover_seconds,
        metrics_port=args.metrics_port,
        data_dir=args.data_dir,
        no_home_reply=args.no_home_reply, home_assistant=_ha_config(args),
    )


def _ha_config(args: argparse.Namespace) -> HaConfig | None:
    if not args.home_assistant:
        return None
    token = (args.ha_token_file.read_text(encoding="utf-8").strip() if args.ha_token_file
             else env("HA_TOKEN") or "")
    if not token:
        raise SystemExit("--home-assistant needs a token: set HA_TOKEN or use --ha-token-file")
    return HaConfig(args.home_assistant, token, timeout=args.ha_timeout, confirm_window=args.ha_confirm_window,
                    names_to_asr=args.ha_names_to_asr)


async def build_pipeline(config: OrchestratorConfig, monitor: LatencyMonitor,
                         timers: TimerManager | None = None, home: HomeAssistant | None = None) -> Pipeline:
    uris = {"asr": list(config.asr), "handle": list(config.handle), "tts": list(config.tts),
            "intent": list(config.intent)}
    if config.discover:  # zeroconf fills in only the kinds not given: a service named is the one meant
        found = await discover_services(config.discover_seconds, interface=config.discover_interface)
        for kind, extra in found.items():
            if not uris[kind]:
                uris[kind].extend(extra)
            elif unused := [u for u in extra if u not in uris[kind]]:
                _LOGGER.info("zeroconf found %s=%s; not used: --%s is given", kind, ",".join(unused), kind)
    missing = [k for k, v in uris.items() if not v and k != "intent"]
    if missing and config.discover:
        raise SystemExit(f"no {', '.join(missing)} service configured or found by zeroconf (start each with "
                         f"--zeroconf, or use --{missing[0]} URI)")
    if missing:
        raise SystemExit(f"no {', '.join(missing)} service configured (use --{missing[0]} URI or --discover)")
    pools = {k: ServicePool(k, v) for k, v in uris.items()}
    if home is not None and home.config.names_to_asr:
        pools["asr"].rewrite = lambda event: with_names(event, home.slot_lists())
    with contextlib.suppress(Exception):
        pools["tts"].info = await describe(uris["tts"][0])
    intents = (IntentRecognizer(config.intents, timers=timers, home=home, no_home_reply=config.no_home_reply)
               if config.use_intents else None)
    return Pipeline(pools["asr"], pools["handle"], pools["tts"], intents=intents,
                    intent_service=pools["intent"] or None, config=config.pipeline, monitor=monitor)


def breakdown(result: TurnResult) -> str:
    order = ["transcript", "intent", "first_token", "first_tts_audio", "first_audio_sent", "reply_done", "audio_done"]
    parts = [f"{stage}={result.marks[stage] * 1000:.0f}ms" for stage in order if stage in result.marks]
    return "latency from end of speech: " + (", ".join(parts) or "-")


async def ask(args: argparse.Namespace) -> int:
    problem = wav_problem(args.wav)
    if problem is not None:  # before any service is asked
        print(f"voice-orchestrator: error: {problem}", file=sys.stderr)
        return 1
    config = build_config(args)
    monitor = LatencyMonitor()
    home = HomeAssistant(config.home_assistant) if config.home_assistant else None
    tasks = TaskSet()
    home_task = tasks.spawn(home.run(), name="home") if home else None
    if home is not None:
        with contextlib.suppress(TimeoutError):  # unreachable: commands get an honest answer
            async with asyncio.timeout(10):
                await home.loaded.wait()
    pipeline = await build_pipeline(config, monitor, home=home)
    sink = WavSink()
    try:
        result = await pipeline.run_turn(
            wav_chunks(args.wav, realtime=args.realtime), sink, conversation_id=args.conversation
        )
    finally:
        await pipeline.close()
        await cancel_and_wait(home_task)
        if home is not None:
            await home.close()
    if args.out:
        await asyncio.to_thread(sink.write, args.out)
    summary = {
        "transcript": result.transcript, "reply": result.reply,
        "intent": result.intent.name if result.intent else None,
        "error": {"code": result.error.code, "text": result.error.text} if result.error else None,
        "reply_seconds": round(sink.seconds, 3), "latency_ms": {k: round(v * 1000) for k, v in result.marks.items()},
        "out": str(args.out) if args.out else None,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"you said:  {result.transcript!r}")
        print(f"reply:     {result.reply!r}" + (f" (intent {result.intent.name})" if result.intent else ""))
        if result.error:
            print(f"error:     {result.error.code}: {result.error.text}")
        print(breakdown(result))
        if args.out:
            print(f"reply audio: {args.out} ({sink.seconds:.2f} s)")
    return 1 if result.error else 0


async def serve(args: argparse.Namespace) -> int:
    config = build_config(args)
    try:
        claim = claim_data_dir(config.data_dir)  # one orchestrator per timers file
    except DataDirBusy as err:
        raise SystemExit(str(err)) from None
    except OSError as err:
        raise SystemExit(f"--data-dir {config.data_dir}: timers cannot be kept there ({err.strerror or err})") from None
    stop = asyncio.Event()
    try:
        with on_stop_signal(stop.set):  # from the start: a signal while starting stops it too
            return await _serve(args, config, stop)
    finally:
        if claim is not None:
            claim.release()


async def _serve(args: argparse.Namespace, config: OrchestratorConfig, stop: asyncio.Event) -> int:
    monitor = LatencyMonitor()
    timers = TimerManager(config.data_dir)
    home = HomeAssistant(config.home_assistant) if config.home_assistant else None
    pipeline = await build_pipeline(config, monitor, timers, home)
    satellites = list(dict.fromkeys(args.satellite))
    if not satellites and not args.discover:
        raise SystemExit("no satellite to serve (use --satellite URI or --discover)")
    tasks = TaskSet()
    merging = ContinuationPolicy(window=args.continuation_window, max_reply_seconds=args.continuation_max_reply)
    links: dict[str, tuple[SatelliteLink, asyncio.Task[None]]] = {}

    def start_link(uri: str) -> None:
        link = SatelliteLink(LinkConfig(uri, continuation=merging), pipeline, timers=timers)
        links[uri] = (link, tasks.spawn(link.run(), name=f"satellite {uri}"))

    async def stop_link(uri: str) -> None:
        link, task = links.pop(uri)
        await link.stop()
        await cancel_and_wait(task)

    watching: asyncio.Task[None] | None = None
    metrics = None
    try:
        tasks.spawn(timers.run(), name="timers")
        if pipeline.intents is not None:  # the known intent replies in the TTS cache before a turn needs them

            def idle() -> bool:  # no satellite in a turn or playing: a warm-up takes no core from a decode
                return all(link.machine.state is LinkState.IDLE for link, _ in links.values())

            warming = keep_warm(list(pipeline.tts.uris), pipeline.intents, pipeline.config.voice, idle=idle)
            tasks.spawn(warming, name="warm replies")

            clock_warming = keep_clock_warm(list(pipeline.tts.uris), pipeline.config.voice, idle)
            tasks.spawn(clock_warming, name="warm the clock's answer")
        if home is not None:
            tasks.spawn(home.run(), name="home-assistant")
        for uri in satellites:
            start_link(uri)
        if args.discover:  # now and later: a satellite started after us is picked up
            looking = WatchConfig(interval=args.discover_interval, browse_seconds=config.discover_seconds,
                                  interface=config.discover_interface)
            watch = SatelliteWatch(looking, start_link, stop_link, fixed=satellites)
            watching = tasks.spawn(watch.run(), name="satellite discovery")
        if config.metrics_port is not None:
            metrics = MetricsServer(monitor, port=config.metrics_port)
            await metrics.start()
            _LOGGER.info("metrics on http://127.0.0.1:%d/metrics", metrics.port)
        if satellites:
            _LOGGER.info("serving satellites=%s", ",".join(satellites))
        await stop.wait()
    finally:
        await cancel_and_wait(watching)  # first: it starts and stops links
        for uri in list(links):
            await stop_link(uri)
        await tasks.close()
        if metrics is not None:
            await metrics.stop()
        await pipeline.close()
        if home is not None:
            await home.close()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="voice-orchestrator", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_version_arg(parser)
    sub = parser.add_subparsers(dest="command", required=True)
    ask_p = sub.add_parser("ask", help="one turn from a WAV file")
    _common(ask_p)
    ask_p.add_argument("--wav", type=Path, required=True, help="the spoken question")
    ask_p.add_argument("--out", type=Path, help="write the reply audio here")
    ask_p.add_argument("--realtime", action="store_true", help="stream the WAV at speaking speed")
    ask_p.add_argument("--conversation", default="ask", help="conversation id (history is kept per id)")
    ask_p.add_argument("--json", action="store_true", help="print the result as JSON")
    serve_p = sub.add_parser("serve", help="drive satellites until stopped")
    _common(serve_p)
    serve_p.add_argument("--satellite", action="append", default=[], help="satellite URI (repeatable)")
    serve_p.add_argument("--discover-interval", type=float, default=15.0,
                         help="with --discover: browse for new satellites this often, in seconds")
    serve_p.add_argument("--continuation-window", type=float, default=1.5,
                         help="new speech this many seconds after the end of speech continues the same question "
                         "(cancel the pending answer, transcribe both parts as one); 0: never (a barge-in)")
    serve_p.add_argument("--continuation-max-reply", type=float, default=1.0,
                         help="... unless this many seconds of the reply were already heard")
    return parser


@restores_logging
def run(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.debug, log_format=args.log_format)
    tune_malloc()  # a months-long process: two malloc arenas, not 8 per core
    code = asyncio.run(ask(args) if args.command == "ask" else serve(args))
    sys.exit(code)


if __name__ == "__main__":
    run()
