"""``voice-satellite``: flags (with env defaults) → frozen configs → the satellite server."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import shlex
import sys

from voice_runtime.cli import add_server_args, server_config
from voice_runtime.env import env, env_bool
from voice_runtime.logs import setup_logging
from voice_runtime.memory import tune_malloc
from voice_runtime.server import ServerConfig, run_server
from voice_runtime.tasks import cancel_and_wait

from .audio_io import AudioConfig, list_devices, open_audio
from .cloud import CloudAssistant, CloudConfig, cloud_config
from .core import Satellite, SatelliteConfig
from .echo import EchoConfig
from .handler import SatelliteHandler, satellite_info
from .tones import ToneConfig
from .vad import VadConfig

_LOGGER = logging.getLogger(__name__)
PROGRAM = "satellite"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="voice-satellite", description=__doc__)
    add_server_args(parser, default_uri="tcp://127.0.0.1:10700")
    # Home Assistant pings every 2 s: a controller silent for 15 s is gone (then: cloud fallback).
    parser.set_defaults(idle_timeout=15.0)
    parser.add_argument("--name", default=env("SATELLITE_NAME", "hearth-satellite"))
    parser.add_argument("--area", default=env("SATELLITE_AREA"))
    mic = parser.add_argument_group("microphone (default: the default PortAudio input)")
    mic.add_argument("--list-devices", action="store_true", help="list PortAudio devices and exit")
    mic.add_argument("--mic-device", help="PortAudio input: index or part of the name")
    mic.add_argument("--mic-command", help="command printing raw PCM, e.g. 'arecord -r 16000 -c 1 -f S16_LE -t raw'")
    mic.add_argument("--mic-wav", help="a WAV file as the mic (then silence)")
    mic.add_argument("--mic-wav-fast", action="store_true", help="stream the WAV as fast as possible")
    mic.add_argument("--mic-rate", type=int, default=16000)
    mic.add_argument("--mic-width", type=int, default=2)
    mic.add_argument("--mic-channels", type=int, default=1)
    snd = parser.add_argument_group("speaker (default: the default PortAudio output)")
    snd.add_argument("--snd-device", help="PortAudio output: index or part of the name")
    snd.add_argument("--snd-command", help="command playing raw PCM, e.g. 'aplay -r 22050 -c 1 -f S16_LE -t raw'")
    snd.add_argument("--snd-wav", help="write the speaker's output (silence included) to this WAV")
    snd.add_argument("--snd-rate", type=int, default=22050, help="speaker sample rate (16-bit mono)")
    snd.add_argument("--echo-sim-delay-ms", type=float, help="testing: mix the speaker into the mic at this delay")
    snd.add_argument("--echo-sim-gain-db", type=float, default=-10.0, help="testing: level of that echo")
    vad = parser.add_argument_group("voice activity detection")
    vad.add_argument("--vad-aggressiveness", type=int, default=2, choices=[0, 1, 2, 3])
    vad.add_argument("--vad-frame-ms", type=int, default=30, choices=[10, 20, 30])
    vad.add_argument("--speech-frames-required", type=int, default=3, help="voiced frames (of 5) to start")
    vad.add_argument("--silence-frames-required", type=int, default=20, help="unvoiced frames to end")
    vad.add_argument("--preroll-seconds", type=float, default=0.6)
    turn = parser.add_argument_group("turns")
    turn.add_argument("--barge-in-min-seconds", type=float, default=0.4,
                      help="speech over a reply must last this long to interrupt it (ignores coughs)")
    turn.add_argument("--no-barge-in-hold", action="store_true",
                      help="keep the reply audible until barge-in is confirmed (default: silence it at once)")
    turn.add_argument("--no-echo-guard", action="store_true", help="let the speaker's echo trigger barge-in")
    turn.add_argument("--echo-margin-db", type=float, default=6.0)
    turn.add_argument("--echo-window-ms", type=int, default=300)
    turn.add_argument("--echo-coupling-db", type=float, default=0.0, help="initial echo coupling estimate")
    turn.add_argument("--no-tones", action="store_true", help="no 880/440 Hz feedback tones")
    turn.add_argument("--reply-timeout", type=float, default=20.0,
                      help="give up on a turn after this many seconds without an event of it from the controller")
    turn.add_argument("--max-speech-seconds", type=float, default=30.0, help="cut an utterance this long")
    cloud = parser.add_argument_group("cloud fallback (keys from DEEPGRAM_API_KEY, DEEPSEEK_API_KEY)")
    cloud.add_argument("--enable-cloud-fallback", action="store_true", default=env_bool("ENABLE_CLOUD_FALLBACK"))
    cloud.add_argument("--deepgram-url", default=env("DEEPGRAM_URL", "https://api.deepgram.com"))
    cloud.add_argument("--deepseek-url", default=env("DEEPSEEK_URL", "https://api.deepseek.com/v1"))
    cloud.add_argument("--deepseek-model", default="deepseek-chat")
    cloud.add_argument("--deepgram-tts-model", default="aura-asteria-en")
    cloud.add_argument("--local-retry-seconds", type=float, default=30.0,
                       help="after services-unavailable, use the cloud this long before trying the controller")
    return parser


def _argv(command: str | None) -> tuple[str, ...]:
    return tuple(shlex.split(command)) if command else ()


def configs(args: argparse.Namespace) -> tuple[SatelliteConfig, AudioConfig, CloudConfig | None, ServerConfig]:
    vad = VadConfig(aggressiveness=args.vad_aggressiveness, frame_ms=args.vad_frame_ms,
                    speech_frames_required=args.speech_frames_required,
                    silence_frames_required=args.silence_frames_required, preroll_seconds=args.preroll_seconds)
    echo = EchoConfig(enabled=not args.no_echo_guard, margin_db=args.echo_margin_db, window_ms=args.echo_window_ms,
                      initial_coupling_db=args.echo_coupling_db)
    satellite = SatelliteConfig(name=args.name, area=args.area, vad=vad, echo=echo,
                                tones=ToneConfig(enabled=not args.no_tones),
                                barge_in_min_seconds=args.barge_in_min_seconds,
                                barge_in_hold=not args.no_barge_in_hold, reply_timeout=args.reply_timeout,
                                max_speech_seconds=args.max_speech_seconds,
                                local_retry_seconds=args.local_retry_seconds)
    audio = AudioConfig(
        mic_device=args.mic_device, mic_command=_argv(args.mic_command), mic_wav=args.mic_wav,
        mic_wav_fast=args.mic_wav_fast, mic_rate=args.mic_rate, mic_width=args.mic_width,
        mic_channels=args.mic_channels, snd_device=args.snd_device, snd_command=_argv(args.snd_command),
        snd_wav=args.snd_wav, snd_rate=args.snd_rate, echo_sim_delay_ms=args.echo_sim_delay_ms,
        echo_sim_gain_db=args.echo_sim_gain_db,
    )
    cloud = cloud_config(args.enable_cloud_fallback, env("DEEPGRAM_API_KEY"), env("DEEPSEEK_API_KEY"),
                         deepgram_url=args.deepgram_url, deepseek_url=args.deepseek_url,
                         chat_model=args.deepseek_model, tts_model=args.deepgram_tts_model)
    server = server_config(args, PROGRAM)
    server = dataclasses.replace(server, zeroconf_name=server.zeroconf_name or args.name)
    return satellite, audio, cloud, server


async def serve(config: SatelliteConfig, audio: AudioConfig, cloud: CloudConfig | None, server: ServerConfig) -> None:
    mic, speaker = open_audio(audio, config.vad.frame_bytes)
    assistant = CloudAssistant(cloud) if cloud else None
    satellite = Satellite(config, mic, speaker, cloud=assistant)
    info = satellite_info(config.name, config.area)
    # The cloud client's imports load in the background: a fallback must not wait for them.
    preparing = asyncio.create_task(assistant.prepare(), name="cloud prepare") if assistant else None
    await satellite.start()
    serving = asyncio.create_task(run_server(server, lambda r, w: SatelliteHandler(
        r, w, satellite=satellite, info=lambda: info, limits=server.limits)), name="server")
    audio_ended = asyncio.create_task(satellite.stopped.wait(), name="audio ended")
    done: set[asyncio.Task[object]] = set()
    try:
        done, _ = await asyncio.wait({serving, audio_ended}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        await cancel_and_wait(serving)
        await cancel_and_wait(audio_ended)
        await cancel_and_wait(preparing)
        await satellite.stop()
    if audio_ended in done and serving not in done:
        _LOGGER.error("exiting: the microphone or speaker stopped")
        sys.exit(1)


def run() -> None:
    args = build_parser().parse_args()
    setup_logging(args.debug)
    tune_malloc()  # a months-long process: two malloc arenas, not 8 per core
    if args.list_devices:
        print("\n".join(list_devices()) or "no PortAudio devices found")
        sys.exit(0)
    asyncio.run(serve(*configs(args)))


if __name__ == "__main__":
    run()
