"""``voice-satellite``: flags (with env defaults) → frozen configs → the satellite server."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import shlex
import shutil
import sys
from pathlib import Path

from voice_runtime.blas import single_blas_thread
from voice_runtime.cli import add_server_args, parse_checked, server_config
from voice_runtime.env import env, env_bool, warn_ignored
from voice_runtime.logs import restores_logging, setup_logging
from voice_runtime.memory import tune_malloc
from voice_runtime.server import ServerConfig, run_server
from voice_runtime.tasks import cancel_and_wait, race
from voice_runtime.wavcheck import wav_problem

from .admission import SILENT_SECONDS
from .aec import AudioFrontend, FrontendConfig
from .announce import AnnounceConfig
from .audio_io import AudioConfig, check_audio, list_devices, open_audio
from .cloud import CloudAssistant, CloudConfig, cloud_config
from .core import Satellite, SatelliteConfig
from .echo import EchoConfig
from .echo_keeper import EchoKeeper, audio_key, default_state_dir
from .ha_turn import SENSITIVITIES, EndOfTurnConfig
from .handler import SatelliteHandler, satellite_info
from .hooks import HooksConfig
from .talker_gate import TalkerGateConfig
from .timer_voice import TimerVoiceConfig
from .timers import AlarmConfig
from .tones import ToneConfig
from .vad import VadConfig
from .wake import ENGINES as WAKE_ENGINES
from .wake import VERIFIERS as WAKE_VERIFIERS
from .wake import WakeConfig, WakeGate, check_models
from .write_ahead import DEFAULT_LEAD_MS

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
    parser.add_argument("--nice", type=int, default=int(env("SATELLITE_NICE") or 0),
                        help="scheduling niceness of the satellite and its mic/speaker commands (e.g. -10 on a busy "
                             "box: a starved satellite falls behind its mic and the echo path moves; negative values "
                             "need CAP_SYS_NICE, else logged and ignored)")
    snd = parser.add_argument_group("speaker (default: the default PortAudio output)")
    snd.add_argument("--snd-device", help="PortAudio output: index or part of the name")
    snd.add_argument("--snd-command", help="command playing raw PCM, e.g. "
                     "'aplay --buffer-time=100000 -r 22050 -c 1 -f S16_LE -t raw'")
    snd.add_argument("--snd-wav", help="write the speaker's output (silence included) to this WAV")
    snd.add_argument("--snd-rate", type=int, default=22050, help="speaker sample rate (16-bit mono)")
    snd.add_argument("--snd-lead-ms", type=float, default=DEFAULT_LEAD_MS,
                     help="20 (default): idle silence is trimmed so a sound starts this far (up to 20 ms more) "
                          "ahead of the device, the echo canceller told exactly (40 for 30 s after the "
                          "device ran dry); -1: every frame written as it comes, the device's queue stays as "
                          "full as past stalls left it")
    snd.add_argument("--echo-sim-delay-ms", type=float, help="testing: mix the speaker into the mic at this delay")
    snd.add_argument("--echo-sim-gain-db", type=float, default=-10.0, help="testing: level of that echo")
    front = parser.add_argument_group("mic front end (WebRTC audio processing)")
    front.add_argument("--aec", action=argparse.BooleanOptionalAction, default=env_bool("SATELLITE_AEC", True),
                       help="cancel the speaker's echo from the mic (AEC3, the playback is the reference)")
    front.add_argument("--aec-engine", choices=["speex", "webrtc"], default=env("SATELLITE_AEC_ENGINE", "speex"),
                       help="speex (libspeexdsp: keeps speech over the reply intact) or webrtc (AEC3)")
    front.add_argument("--aec-tail-ms", type=int, default=500, help="speex: echo delay + reverberation covered")
    front.add_argument("--aec-catch-up", action=argparse.BooleanOptionalAction,
                       default=env_bool("SATELLITE_AEC_CATCH_UP", False),
                       help="speex: fed the mic it waited on after a dry speaker (satellite.aec_catchup)")
    front.add_argument("--state-dir", default=env("SATELLITE_STATE_DIR", default_state_dir()), metavar="DIR",
                       help="keep the learned echo path here for the next start ('': nothing kept)")
    front.add_argument("--noise-suppression", type=int, default=0, choices=range(5), metavar="0-4",
                       help="noise suppression level (0 off)")
    front.add_argument("--auto-gain", type=int, default=0, metavar="DBFS",
                       help="automatic gain control, headroom below 0 dBFS 1-31 (0 off)")
    wake = parser.add_argument_group("wake word (default: microWakeWord, okay_nabu)")
    wake.add_argument("--wake-word", action="append", metavar="NAME",
                      help="a wake word model (repeatable): okay_nabu, hey_jarvis, alexa, hey_mycroft "
                           "(openWakeWord also hey_rhasspy)")
    wake.add_argument("--wake-word-model", action="append", default=[], metavar="PATH",
                      help="a custom model: microWakeWord JSON config, or an openWakeWord .tflite (repeatable)")
    wake.add_argument("--wake-engine", choices=WAKE_ENGINES, default=env("SATELLITE_WAKE_ENGINE", "micro"))
    wake.add_argument("--wake-uri", default=env("SATELLITE_WAKE_URI"),
                      help="a remote Wyoming wake service (e.g. wyoming-openwakeword) instead of a local engine")
    wake.add_argument("--no-wake-word", action="store_true", default=env_bool("SATELLITE_NO_WAKE_WORD"),
                      help="always listening: any speech the VAD hears starts a turn (no wake word)")
    wake.add_argument("--wake-threshold", type=float, metavar="0-1",
                      help="detection threshold (default: okay_nabu 0.65 as measured, other models their own)")
    wake.add_argument("--no-wake-cascade", action="store_true", default=env_bool("SATELLITE_NO_WAKE_CASCADE"),
                      help="microWakeWord alone: no openWakeWord check of its near misses (okay_nabu, hey_jarvis, "
                           "alexa, hey_mycroft)")
    wake.add_argument("--wake-verifier", choices=WAKE_VERIFIERS, default=env("SATELLITE_WAKE_VERIFIER", "ours"),
                      help="who confirms the cascade's candidates: ours (okay_nabu, trained on many synthetic voices "
                           "and near misses; other words: openWakeWord's), openWakeWord's model, or either")
    wake.add_argument("--wake-verify-all", action=argparse.BooleanOptionalAction,
                      default=env_bool("SATELLITE_WAKE_VERIFY_ALL", True),
                      help="the verifier checks microWakeWord's own detections too (default; fewer false accepts on "
                           "near misses such as 'Okay, Napoli.'); --no-wake-verify-all trusts microWakeWord's cutoff")
    wake.add_argument("--wake-refractory-seconds", type=float, default=1.5,
                      help="ignore the wake word this long after a detection")
    wake.add_argument("--talker-gate-db", type=float, default=float(env("SATELLITE_TALKER_GATE_DB") or 14.0),
                      metavar="DB", help="after the wake word, stream as the room's noise what never comes within DB "
                                         "of the wake word's level (a TV, a far talker); default 14 (12 in session "
                                         "19 streamed 5 of 37 requests said 12 dB under their wake word as silence, "
                                         "offline; 14: none, a TV 25 dB under still none); 0: off")
    wake.add_argument("--talker-gate-keep-db", type=float, default=20.0, metavar="DB",
                      help="once the talker was heard, frames this far under the wake word are silence")
    vad = parser.add_argument_group("voice activity detection")
    vad.add_argument("--vad-aggressiveness", type=int, default=2, choices=[0, 1, 2, 3])
    vad.add_argument("--vad-frame-ms", type=int, default=30, choices=[10, 20, 30])
    vad.add_argument("--speech-frames-required", type=int, default=3, help="voiced frames (of 5) to start")
    vad.add_argument("--silence-frames-required", type=int, default=20, help="unvoiced frames to end")
    vad.add_argument("--preroll-seconds", type=float, default=0.6)
    vad.add_argument("--vad-settle-seconds", type=float, default=0.3,
                     help="the VAD learns the room's noise floor this long before it may start a turn")
    turn = parser.add_argument_group("turns")
    turn.add_argument("--barge-in-min-seconds", type=float, default=0.4,
                      help="speech over a reply must last this long to interrupt it (ignores coughs)")
    turn.add_argument("--no-barge-in-hold", action="store_true",
                      help="keep the reply audible until barge-in is confirmed (default: silence it at once)")
    turn.add_argument("--no-echo-guard", action="store_true", help="let the speaker's echo trigger barge-in")
    turn.add_argument("--echo-margin-db", type=float, default=6.0)
    turn.add_argument("--echo-window-ms", type=int, default=300)
    turn.add_argument("--echo-coupling-db", type=float, default=0.0, help="initial echo coupling estimate")
    turn.add_argument("--onset-high-band", action=argparse.BooleanOptionalAction, default=True,
                      help="also hold a reply on a hiss ('s', 't') over its echo (faster barge-in at 0 dB echo)")
    turn.add_argument("--no-tones", action="store_true", help="no 880/440 Hz feedback tones (and no error tone)")
    turn.add_argument("--no-error-tone", action="store_true",
                      help="no falling two-note tone when a turn fails with an error and nothing was said")
    turn.add_argument("--reply-timeout", type=float, default=20.0,
                      help="give up on a turn after this many seconds without an event of it from the controller "
                           "(until its transcript)")
    turn.add_argument("--thinking-timeout", type=float, default=45.0,
                      help="after the transcript, give up after this many seconds without an event of the turn "
                           "(a local LLM on a busy box can take tens of seconds to its first audio)")
    turn.add_argument("--answer-timeout", type=float, default=5.0,
                      help="end the turn when Home Assistant's run (it sent `transcribe`) sends no `synthesize` or "
                           "audio this long after its transcript: a run with nothing to say sends nothing (0: off)")
    turn.add_argument("--controller-end-seconds", type=float, default=2.0,
                      help="silence after which the satellite itself ends a question streamed to a controller "
                      "(a fallback: the controller ends it from what was said; default 2.0)")
    turn.add_argument("--controller-silent-seconds", type=float, default=SILENT_SECONDS,
                      help="a second controller's run-satellite is refused (error satellite-busy) until the one "
                           "in charge disconnects or sends nothing (not even a ping) this long "
                           f"(default {SILENT_SECONDS:.0f})")
    turn.add_argument("--end-of-turn-uri", default=env("SATELLITE_END_OF_TURN_URI"), metavar="tcp://HOST:PORT",
                      help="Home Assistant runs: also stream the question to this wyoming_whisper, send HA "
                           "audio-stop when it says the request is complete and hold back pauses it has not "
                           "ended (default: off, HA's own silence detector alone)")
    turn.add_argument("--end-of-turn-sensitivity", choices=SENSITIVITIES, default=EndOfTurnConfig.sensitivity,
                      help="the vad_sensitivity asked of that server (default relaxed: a finished request ends "
                           "1.0 s after the speech, not 0.25 s, so a pause after words that read finished is kept)")
    turn.add_argument("--ha-finished-speaking", choices=SENSITIVITIES,
                      default=env("SATELLITE_HA_FINISHED_SPEAKING", EndOfTurnConfig.ha_sensitivity),
                      help="with --end-of-turn-uri: this satellite's 'Finished speaking detection' in Home Assistant "
                           "(HA does not send it); the pauses HA is sent never let its count of that length end the "
                           "question (default: default, HA's own default)")
    turn.add_argument("--max-speech-seconds", type=float, default=30.0, help="cut an utterance this long")
    home = parser.add_argument_group("announcements, timers, follow-ups, sounds and event hooks")
    home.add_argument("--no-announce-chime", action="store_true", help="no chime before an announcement")
    home.add_argument("--timer-alarm-seconds", type=float, default=30.0,
                      help="a finished timer rings at most this long (or until the wake word / a stop)")
    home.add_argument("--tts-uri", help="Wyoming TTS server (e.g. tcp://127.0.0.1:10200) that speaks a finished "
                      "timer's name ahead of the alarm (Home Assistant does not); default: beeps only")
    home.add_argument("--timer-name-template", default=TimerVoiceConfig.template,
                      help="what --tts-uri says for a named timer ({name}); an unnamed one: 'Your timer is done'")
    home.add_argument("--follow-up-seconds", type=float, default=5.0,
                      help="after a reply that asks a question, listen this long without the wake word (0: off)")
    home.add_argument("--awake-wav", help="WAV played when listening starts (replaces the 880 Hz tone)")
    home.add_argument("--done-wav", help="WAV played when the question is understood (replaces the 440 Hz tone)")
    home.add_argument("--error-wav", help="WAV played when a turn fails with nothing said (replaces the error tone)")
    home.add_argument("--timer-finished-wav", help="WAV repeated while a finished timer rings (replaces the beeps)")
    home.add_argument("--event-command", help="run for every event, the event as JSON on stdin (LED rings, sounds)")
    home.add_argument("--event-uri", help="send every event to this Wyoming service, e.g. tcp://127.0.0.1:10500")
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


def frontend_config(args: argparse.Namespace) -> FrontendConfig:
    return FrontendConfig(aec=args.aec, aec_engine=args.aec_engine, aec_tail_ms=args.aec_tail_ms,
                          aec_catch_up=args.aec_catch_up, state_dir=args.state_dir,
                          noise_suppression=args.noise_suppression, auto_gain_dbfs=args.auto_gain)


def wake_config(args: argparse.Namespace) -> WakeConfig:
    names = tuple(args.wake_word) if args.wake_word else (() if args.wake_word_model else ("okay_nabu",))
    return WakeConfig(enabled=not args.no_wake_word, engine=args.wake_engine, names=names,
                      model_paths=tuple(args.wake_word_model), uri=args.wake_uri,
                      refractory_seconds=args.wake_refractory_seconds, threshold=args.wake_threshold,
                      cascade=not args.no_wake_cascade, verifier=args.wake_verifier,
                      verify_all=args.wake_verify_all)


def configs(args: argparse.Namespace) -> tuple[SatelliteConfig, AudioConfig, CloudConfig | None, ServerConfig]:
    vad = VadConfig(aggressiveness=args.vad_aggressiveness, frame_ms=args.vad_frame_ms,
                    speech_frames_required=args.speech_frames_required,
                    silence_frames_required=args.silence_frames_required, preroll_seconds=args.preroll_seconds,
                    settle_seconds=args.vad_settle_seconds)
    echo = EchoConfig(enabled=not args.no_echo_guard, margin_db=args.echo_margin_db, window_ms=args.echo_window_ms,
                      initial_coupling_db=args.echo_coupling_db, onset_high_band=args.onset_high_band)
    satellite = SatelliteConfig(name=args.name, area=args.area, vad=vad, echo=echo, frontend=frontend_config(args),
                                wake=wake_config(args),
                                talker=TalkerGateConfig(open_db=args.talker_gate_db,
                                                        keep_db=max(args.talker_gate_keep_db, args.talker_gate_db)),
                                tones=ToneConfig(enabled=not args.no_tones),
                                barge_in_min_seconds=args.barge_in_min_seconds,
                                barge_in_hold=not args.no_barge_in_hold, reply_timeout=args.reply_timeout,
                                answer_timeout=args.answer_timeout, thinking_timeout=args.thinking_timeout,
                                controller_end_seconds=args.controller_end_seconds,
                                controller_silent_seconds=args.controller_silent_seconds,
                                max_speech_seconds=args.max_speech_seconds,
                                local_retry_seconds=args.local_retry_seconds,
                                announce=AnnounceConfig(chime=not args.no_announce_chime),
                                alarm=AlarmConfig(seconds=args.timer_alarm_seconds, voice=TimerVoiceConfig(
                                    uri=args.tts_uri, template=args.timer_name_template)),
                                follow_up_seconds=args.follow_up_seconds, awake_wav=args.awake_wav,
                                done_wav=args.done_wav, timer_finished_wav=args.timer_finished_wav,
                                error_tone=not args.no_error_tone, error_wav=args.error_wav,
                                hooks=HooksConfig(command=_argv(args.event_command), uri=args.event_uri),
                                end_of_turn=EndOfTurnConfig(uri=args.end_of_turn_uri,
                                                            sensitivity=args.end_of_turn_sensitivity,
                                                            ha_sensitivity=args.ha_finished_speaking))
    audio = AudioConfig(
        mic_device=args.mic_device, mic_command=_argv(args.mic_command), mic_wav=args.mic_wav,
        mic_wav_fast=args.mic_wav_fast, mic_rate=args.mic_rate, mic_width=args.mic_width,
        mic_channels=args.mic_channels, snd_device=args.snd_device, snd_command=_argv(args.snd_command),
        snd_wav=args.snd_wav, snd_rate=args.snd_rate, snd_lead_ms=args.snd_lead_ms,
        echo_sim_delay_ms=args.echo_sim_delay_ms,
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
    frontend = AudioFrontend(config.frontend, speaker.rate) if config.frontend.active else None
    if frontend is None:
        _LOGGER.info("mic front end off: no echo cancellation, the energy gate alone guards barge-in")
    wake = WakeGate(config.wake, config.vad.frame_seconds) if config.wake.enabled else None
    assistant = CloudAssistant(cloud) if cloud else None
    satellite = Satellite(config, mic, speaker, cloud=assistant, frontend=frontend, wake=wake)
    keeper = (EchoKeeper(Path(config.frontend.state_dir), audio_key(audio, speaker.rate), frontend, satellite.guard)
              if frontend is not None and config.frontend.state_dir else None)
    info = satellite_info(config.name, config.area, wake.programs() if wake else None)
    # The cloud client's imports load in the background: a fallback must not wait for them.
    preparing = asyncio.create_task(assistant.prepare(), name="cloud prepare") if assistant else None
    if keeper is not None:  # (satellite.aec_state: the echo path the last run learned; speex trained on it,
        # ~0.15 s of CPU: in a thread, off the loop, and done before the mic loop starts: no frame meets it half-set)
        await asyncio.to_thread(keeper.start)
    await satellite.start()
    serving = asyncio.create_task(run_server(server, lambda r, w: SatelliteHandler(
        r, w, satellite=satellite, info=lambda: info, limits=server.limits)), name="server")
    audio_ended = asyncio.create_task(satellite.stopped.wait(), name="audio ended")
    keeping = asyncio.create_task(keeper.run(), name="echo keeper") if keeper is not None else None
    first = None
    try:
        first = await race(serving, audio_ended)
    finally:
        await cancel_and_wait(serving)
        await cancel_and_wait(audio_ended)
        await cancel_and_wait(preparing)
        await cancel_and_wait(keeping)
        await satellite.stop()
    failure = None if first != 0 or serving.cancelled() else serving.exception()
    if failure is not None:  # race() reads no contender's outcome: the server's failure is ours to report
        _LOGGER.error("exiting: the server failed: %s", failure, exc_info=failure)
        raise SystemExit(f"voice-satellite: error: the server failed: {failure!r}")
    if first == 1:  # the audio ended and the server did not (both done: the server's end wins)
        _LOGGER.error("exiting: the microphone or speaker stopped")
        sys.exit(1)


@restores_logging
def run(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parse_checked(parser, argv)  # SATELLITE_AEC_ENGINE=… and other env defaults against their choices
    for flag in ("awake_wav", "done_wav", "error_wav", "timer_finished_wav"):
        path = getattr(args, flag)
        if path and not os.access(path, os.R_OK):
            parser.error(f"--{flag.replace('_', '-')} {path}: no such readable file")
    setup_logging(args.debug, log_format=args.log_format)
    warn_ignored("SERVER_URL")
    tune_malloc()  # a months-long process: two malloc arenas, not 8 per core
    single_blas_thread()  # the echo chain's small products on this thread, not OpenBLAS's woken ones
    if args.nice:
        try:
            os.setpriority(os.PRIO_PROCESS, 0, args.nice)
            _LOGGER.info("niceness %d", args.nice)
        except OSError as err:
            _LOGGER.warning("cannot set niceness %d (%s): running at %d", args.nice, err, os.getpriority(
                os.PRIO_PROCESS, 0))
    if args.list_devices:
        print("\n".join(list_devices()) or "no PortAudio devices found")
        sys.exit(0)
    try:
        config = configs(args)
        if config[0].wake.enabled and not config[0].wake.uri:
            check_models(config[0].wake)  # an unknown wake word is a start-up error listing the known ones
    except ValueError as err:
        print(f"voice-satellite: error: {err}", file=sys.stderr)
        sys.exit(2)
    if args.mic_wav and (problem := wav_problem(Path(args.mic_wav))):  # found at start, not when first armed
        parser.error(f"--mic-wav {problem}")
    if args.snd_wav and not os.path.isdir(os.path.dirname(os.path.abspath(args.snd_wav))):
        parser.error(f"--snd-wav {args.snd_wav}: no such folder")
    for flag in ("mic_command", "snd_command", "event_command"):  # found at start, not at first use
        command = _argv(getattr(args, flag))
        if command and shutil.which(command[0]) is None:
            parser.error(f"--{flag.replace('_', '-')}: {command[0]}: no such command")
    try:  # no sound card: an error now, not "listening" then exit 1 at the first connection
        check_audio(config[1])
    except ValueError as err:
        print(f"voice-satellite: error: {err}", file=sys.stderr)
        sys.exit(2)
    asyncio.run(serve(*config))


if __name__ == "__main__":
    run()
