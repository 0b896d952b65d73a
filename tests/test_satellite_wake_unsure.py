"""An unsure wake word that no command follows ends its turn quietly; a false accept does not restart a request
(issue 17, session 22).

The cascade's verifier confirms some wake words microWakeWord scores low (``WakeGate.trusted`` False:
Kokoro af_heart's "Okay Nabu." peaks at 0.14) and some false accepts the same way. Before, such a turn
streamed whatever came after the wake word until the command timeout (5 s) and then ended it with
``audio-stop``: the controller answered what it heard (the wake word's tail, the room), and nobody had
asked. Now, when no command follows within ``UNSURE_COMMAND_SECONDS``, the satellite replaces the run by
one that ends at speech-to-text with no audio (no intent, no reply) and listens again, with no tone. A
command after a real but unsure wake word still goes through. The same for an unsure wake word over a reply,
where the VAD had opened a barge-in on its first syllables and the turn restarts at it.

A wake word heard in a turn the user is already speaking in (a barge-in over a reply) restarts that turn only
when openWakeWord's model hears it too (the cascade's second opinion): Piper's "What time is it?" is a sure
false accept of microWakeWord + our verifier at "it" in some alignments; before, the barge-in restarted there
and the request became what followed.

Real parts: Kokoro af_heart's "Okay Nabu." (stored clip), Piper's command, the satellite's default wake
word chain (microWakeWord okay_nabu + its verifier), its own turn driver frame by frame (talker gate on),
a recording controller link, and the streamed command transcribed by our whisper handler (tiny.en).
"""

from __future__ import annotations

import numpy as np
import pytest
from speech import speak
from test_satellite_talker_gate import floats, norm_words, pcm
from test_satellite_wake import Link
from test_satellite_wake_own_words import QuietMic, play
from whisper_clip import AUDIO, clip_pcm, transcript
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.pipeline import PipelineStage, RunPipeline
from wyoming.satellite import RunSatellite
from wyoming.tts import Synthesize
from wyoming.vad import VoiceStopped

from satellite.audio_io import MemorySink
from satellite.core import Satellite, SatelliteConfig
from satellite.echo import EchoConfig
from satellite.state import TurnState
from satellite.talker_gate import TalkerGateConfig
from satellite.tones import ToneConfig
from satellite.vad import VadConfig
from satellite.wake import WakeConfig, WakeGate
from satellite.wake_turn import UNSURE_COMMAND_SECONDS
from voice_runtime.clock import ManualClock

VAD = VadConfig()
WAKE = WakeConfig(names=("okay_nabu",))


def unsure_wake_word() -> np.ndarray:
    """Kokoro af_heart's "Okay Nabu." (microWakeWord peaks at 0.14: only the verifier's strict score confirms it)."""
    return floats(clip_pcm(AUDIO / "af_heart_okay_nabu.wav"))


async def as_home_assistant(sat: Satellite, link: Link, announced: list[int], audio_first: bool = False) -> None:
    """Home Assistant announces its speech-to-text stage (``transcribe``) for every run the satellite starts; a
    barge-in's run (the second) that the satellite ends gets its transcript and its TTS stage's ``synthesize``."""
    await sat.flush()
    types = link.types()
    runs = types.count("run-pipeline")
    if runs > len([n for n in announced if n > 0]):
        announced.append(runs)
        await sat.on_controller_event(link, Transcribe(language="en").event())
    second = [i for i, t in enumerate(types) if t == "run-pipeline"][1:2]
    if second and "audio-stop" in types[second[0] :] and -2 not in announced:
        announced.append(-2)  # (marks this as done)
        await sat.on_controller_event(link, Transcript(text="Okay, Nabu.").event())
        if audio_first:  # an agent that streams: HA starts the reply's audio before its TTS stage's synthesize
            await sat.on_controller_event(link, AudioStart(rate=16000, width=2, channels=1).event())
            await sat.on_controller_event(link, AudioChunk(rate=16000, width=2, channels=1,
                                                           audio=b"\x20\x00" * 16000 * 3).event())
        await sat.on_controller_event(link, Synthesize(text="Sorry, I couldn't understand that.").event())


def play_frames(sat: Satellite, wake: WakeGate, audio: bytes) -> list[bytes]:
    frame = VAD.frame_bytes
    audio += bytes(-len(audio) % frame)
    return [audio[i : i + frame] for i in range(0, len(audio), frame)]


async def hear(x: np.ndarray, ha: bool = False) -> tuple[Link, Satellite, list[tuple[float, TurnState]]]:
    """The satellite, armed and listening, hears ``x`` (2 s of a quiet mic first); the state after every frame.
    (microWakeWord's peak on af_heart's word depends on where its frames fall and on the noise before it:
    0.14-0.56; after 2 s of digital silence it is 0.14, an unsure detection, which the tests check.)"""
    wake = WakeGate(WAKE, VAD.frame_seconds)
    config = SatelliteConfig(vad=VAD, echo=EchoConfig(enabled=False), tones=ToneConfig(enabled=False), wake=WAKE,
                             talker=TalkerGateConfig())
    sat = Satellite(config, QuietMic(), MemorySink(16000), wake=wake, clock=ManualClock())
    link = Link()
    states: list[tuple[float, TurnState]] = []
    await sat.start()
    try:
        await sat.on_controller_event(link, RunSatellite().event())
        audio = bytes(64000) + pcm(x)
        first_sure, announced = None, list[int]()
        for i, frame in enumerate(play_frames(sat, wake, audio)):
            play(sat, wake, frame)
            states.append(((i + 1) * VAD.frame_seconds, sat.state))
            if ha:
                await as_home_assistant(sat, link, announced)
            if wake.detections == 1 and first_sure is None:
                first_sure = wake.trusted
        await sat.flush()
        assert first_sure is False  # the case at hand: the wake word's detection is unsure
        return link, sat, states
    finally:
        await sat.stop()


def turns_of(link: Link) -> list[bytes]:
    """The audio streamed in each turn (from its run-pipeline on)."""
    turns: list[bytearray] = []
    for event in link.received:
        if event.type == "run-pipeline":
            turns.append(bytearray())
        elif AudioChunk.is_type(event.type) and turns:
            turns[-1] += AudioChunk.from_event(event).audio
    return [bytes(t) for t in turns]


def runs(link: Link) -> list[RunPipeline]:
    return [RunPipeline.from_event(e) for e in link.received if RunPipeline.is_type(e.type)]


async def test_an_unsure_wake_word_with_nothing_after_it_ends_its_turn_quietly() -> None:
    said = unsure_wake_word()
    x = np.zeros(len(said) + 6 * 16000, np.float32)
    x[: len(said)] = said
    link, sat, states = await hear(x)
    types = link.types()
    assert types.count("detection") == 1, types
    first, *rest = runs(link)
    assert first.wake_word_name == "okay_nabu" and first.end_stage == PipelineStage.TTS
    # the run is replaced by one that ends at speech-to-text and gets no audio: no request, no reply
    assert [(r.start_stage, r.end_stage) for r in rest] == [(PipelineStage.ASR, PipelineStage.ASR)], types
    assert types[types.index("run-pipeline") + 1 :] == ["audio-start", "run-pipeline", "audio-start", "audio-stop"]
    assert turns_of(link)[-1] == b""
    # (before: 5 s of the room streamed, then audio-stop: the controller answered whatever it heard)
    streamed = [t for t, s in states if s == TurnState.STREAMING]
    assert streamed and streamed[-1] - streamed[0] < UNSURE_COMMAND_SECONDS + 0.2
    assert sat.state == TurnState.LISTENING
    assert not sat.playback.busy  # no error tone either


async def test_a_command_after_a_real_but_unsure_wake_word_still_goes_through() -> None:
    wake_word = unsure_wake_word()
    command = floats(speak("What time is it?"))
    command *= np.sqrt(np.mean(wake_word**2) / np.mean(command**2))  # the same talker's level
    gap = int(0.3 * 16000)
    x = np.zeros(len(wake_word) + gap + len(command) + 3 * 16000, np.float32)
    x[: len(wake_word)] = wake_word
    x[len(wake_word) + gap : len(wake_word) + gap + len(command)] = command
    link, _, _ = await hear(x)
    assert [(r.wake_word_name, r.end_stage) for r in runs(link)] == [("okay_nabu", PipelineStage.TTS)], link.types()
    assert "audio-stop" in link.types()
    words = norm_words(await transcript(turns_of(link)[-1]))
    assert "time" in words, words


async def after_the_question(then: np.ndarray, ha: bool = False, reply: bytes = b"", audio_first: bool = False,
                             got: list[int] | None = None) -> tuple[Link, TurnState, WakeGate, Satellite]:
    """The question "Okay Nabu. Turn off the lights.": the controller ends it, a long reply plays, then
    ``then`` is heard (as ``test_satellite_talker_between.after_the_question``). ``got``: for each frame of
    ``then``, how many events the link had by its end (flushed frame by frame)."""
    wake = WakeGate(WAKE, VAD.frame_seconds)
    config = SatelliteConfig(
        vad=VAD, echo=EchoConfig(enabled=False), tones=ToneConfig(enabled=False), wake=WAKE, talker=TalkerGateConfig()
    )
    sat = Satellite(config, QuietMic(), MemorySink(16000), wake=wake, clock=ManualClock())
    link = Link()
    await sat.start()
    try:
        await sat.on_controller_event(link, RunSatellite().event())
        question = floats(speak("Okay Nabu. Turn off the lights."))
        announced: list[int] = []
        for frame in play_frames(sat, wake, pcm(np.concatenate([np.zeros(16000, np.float32), question]))):
            play(sat, wake, frame)
            if ha:
                await as_home_assistant(sat, link, announced)
        await sat.on_controller_event(link, VoiceStopped().event())  # the controller's end of turn
        await sat.on_controller_event(link, AudioStart(rate=16000, width=2, channels=1).event())
        long_reply = AudioChunk(rate=16000, width=2, channels=1, audio=b"\x10\x00" * 16000 * 20).event()
        await sat.on_controller_event(link, long_reply)
        assert sat.state == TurnState.SPEAKING
        for frame in play_frames(sat, wake, pcm(then)):
            play(sat, wake, frame)
            if ha:
                await as_home_assistant(sat, link, announced, audio_first)
            if got is not None:
                await sat.flush()
                got.append(len(link.received))
        if reply:  # the controller's reply to the last run, after it
            for event in (AudioStart(rate=16000, width=2, channels=1).event(),
                          AudioChunk(rate=16000, width=2, channels=1, audio=reply).event(), AudioStop().event()):
                await sat.on_controller_event(link, event)
        await sat.flush()
        return link, sat.state, wake, sat
    finally:
        await sat.stop()


async def test_an_unsure_wake_word_alone_over_a_reply_is_no_request() -> None:
    """The VAD opens a barge-in on its first syllables; the unsure detection 0.7 s in, the second model agrees:
    the turn restarts at the wake word, and with no command after it, ends quietly. Before: the barge-in went on
    ("if a command follows") and "Okay Nabu" was the request."""
    said = unsure_wake_word()
    at = int(0.9 * 16000)  # (at 0.5-0.8 s into the reply microWakeWord misses this clip altogether)
    x = np.zeros(at + len(said) + 4 * 16000, np.float32)
    x[at : at + len(said)] = said
    link, state, _, _ = await after_the_question(x)
    got = [(r.wake_word_name, r.end_stage) for r in runs(link)]
    assert got == [("okay_nabu", PipelineStage.TTS), (None, PipelineStage.TTS), ("okay_nabu", PipelineStage.TTS),
                   (None, PipelineStage.ASR)], link.types()
    assert turns_of(link)[-1] == b"" and state == TurnState.LISTENING
    types = link.types()
    assert "audio-stop" not in types[types.index("detection", 1) : -1]  # the barge-in was never sent as a request


async def test_a_false_accept_inside_a_barge_in_does_not_restart_it() -> None:
    """Piper's "What time is it?" then "in London and in Paris right now?" over a reply: our cascade hears the
    wake word at "it" (sure: microWakeWord 0.48), openWakeWord's model does not (0.001): the request goes on.
    Before: the barge-in restarted at "it" and the request was "and London and Paris right now"."""
    first = floats(speak("What time is it?"))
    first = first[: np.nonzero(np.abs(first) > 0.01)[0][-1] + 1]  # (its trailing silence cut: the rest follows)
    said = np.concatenate([first, floats(speak("in London and in Paris right now?"))])
    at = int(0.8 * 16000)
    x = np.zeros(at + len(said) + 4 * 16000, np.float32)
    x[at : at + len(said)] = said
    link, _, wake, _ = await after_the_question(x)
    assert [r.wake_word_name for r in runs(link)] == ["okay_nabu", None], link.types()
    assert wake.detections == 2 and link.types().count("detection") == 1  # heard at "it", not sent
    words = norm_words(await transcript(turns_of(link)[-1]))
    assert "time" in words, words


async def test_home_assistant_unsure_wake_word_with_nothing_after_it_ends_quietly() -> None:
    """Home Assistant's run is not replaced (HA 2026.2.3 would drop the new run's audio): it gets audio-stop with
    what the talker gate sent after the wake word (its quiet fill), and no second run-pipeline."""
    said = unsure_wake_word()
    x = np.zeros(len(said) + 6 * 16000, np.float32)
    x[: len(said)] = said
    link, sat, states = await hear(x, ha=True)
    types = link.types()
    assert types == ["detection", "run-pipeline", "audio-start", "audio-stop"], types
    streamed = [t for t, s in states if s == TurnState.STREAMING]
    assert streamed[-1] - streamed[0] < UNSURE_COMMAND_SECONDS + 0.2  # (before: 5 s, then audio-stop)
    assert sat.state == TurnState.LISTENING and not sat.playback.busy


@pytest.mark.parametrize("audio_first", [False, True])
async def test_home_assistant_restarts_the_barge_in_after_its_run_ends(audio_first: bool) -> None:
    """Over a reply in Home Assistant's run, the wake word and a command: HA's barge-in run is ended first
    (audio-stop), and once it is over (its synthesize) the turn restarts at the wake word with the audio kept
    from it on. Before: the new run-pipeline came while HA's run streamed, and HA 2026.2.3 dropped every
    audio-chunk of it (the real rig, bench/ha_restart.py): the command was lost. The restarted turn ends by
    itself after the command (session 31: its talker gate keyed to the wake word; before, to what came after the
    ended run, here the command, with the room's noise taken at the command's level too: the gate filled its
    silence with noise as loud as the command and the turn streamed on)."""
    said = floats(speak("Okay Nabu. What time is it?"))
    at = int(0.6 * 16000)
    x = np.zeros(at + len(said) + 3 * 16000, np.float32)
    x[at : at + len(said)] = said
    link, _, _, sat = await after_the_question(x, ha=True, audio_first=audio_first)
    types = link.types()
    assert [r.wake_word_name for r in runs(link)] == ["okay_nabu", None, "okay_nabu"], types
    third = [i for i, t in enumerate(types) if t == "run-pipeline"][2]
    assert "audio-stop" in types[types.index("run-pipeline", 1) : third]  # HA's run ended before the new one
    assert "audio-stop" in types[third:]  # the restarted turn ended after the command (main: streamed on)
    words = norm_words(await transcript(turns_of(link)[-1]))
    assert "time" in words and not {"okay", "ok", "nabu", "naboo"} & set(words), words


async def test_home_assistant_gets_no_speech_in_the_barge_in_run_the_wake_word_restarts() -> None:
    """The barge-in's own run (the one the wake word restarts) gets only silence before its audio-stop: its
    speech-to-text hears no words, so Home Assistant's agent gets no request from it. Before: it got the wake
    word and the command's first syllables, and on the real rig HA's agent answered 'Okay, Naboo. What?'
    (bench/ha_restart.py, sessions 22 and 29). The restarted run still gets the whole command."""
    said = floats(speak("Okay Nabu. What time is it?"))
    at = int(0.6 * 16000)
    x = np.zeros(at + len(said) + 3 * 16000, np.float32)
    x[at : at + len(said)] = said
    link, _, _, _ = await after_the_question(x, ha=True, reply=b"\x20\x00" * 16000)
    types = link.types()
    assert [r.wake_word_name for r in runs(link)] == ["okay_nabu", None, "okay_nabu"], types
    second, third = [i for i, t in enumerate(types) if t == "run-pipeline"][1:3]
    assert types[second:third].count("audio-stop") == 1, types[second:third]
    barge_in = turns_of(link)[1]
    assert barge_in and not any(barge_in), barge_in  # main's code: ~1 s of "Okay Nabu. What"
    words = norm_words(await transcript(turns_of(link)[-1]))
    assert "time" in words and not {"okay", "ok", "nabu", "naboo"} & set(words), words


async def test_home_assistant_wake_word_alone_over_a_reply_gets_no_reply() -> None:
    """The unsure wake word alone over a reply in Home Assistant's run: its run ends, the turn restarts at the
    wake word, no command follows: it ends quietly, and the reply HA sends to "Okay Nabu" is not played."""
    said = unsure_wake_word()
    at = int(0.9 * 16000)
    x = np.zeros(at + len(said) + 4 * 16000, np.float32)
    x[at : at + len(said)] = said
    link, state, _, sat = await after_the_question(x, ha=True, reply=b"\x20\x00" * 16000)
    assert [r.wake_word_name for r in runs(link)] == ["okay_nabu", None, "okay_nabu"], link.types()
    assert link.types()[-1] == "audio-stop"
    assert state == TurnState.LISTENING and not sat.playback.busy  # the reply to the wake word: not played
    assert "played" not in link.types()[link.types().index("run-pipeline", 1) :]
